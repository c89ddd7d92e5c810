"""Knowledge distillation from a teacher's logits, the loss of Lagunas et al. (2021) that
[EFTNAS24 Eqs. 4-6] trains its super-network with and that the one-shot searches can add to
their task loss::

    L    = α_KD · L_KD + α_ce · L_ce                               (Eq. 4)
    L_KD = T² · Σ_i p_i^t(T) · log(p_i^t(T) / p_i^s(T))            (Eq. 5)
    p_i(T) = softmax(z / T)_i                                       (Eq. 6)

L_KD is the Kullback-Leibler divergence of the student's softened distribution from the
teacher's, averaged over the batch; L_ce is the cross-entropy with the labels. A one-output
model (a regression) has a constant softmax, so Eq. 5 would vanish: there the squared
difference to the teacher's output takes its place, and L_ce is the squared error to the labels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def distillation_loss(logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor, *,
                      temperature: float, alpha_kd: float, alpha_ce: float) -> torch.Tensor:
    """Eq. 4: ``α_KD · L_KD + α_ce · L_ce`` of a student's ``logits``."""
    if logits.shape[-1] == 1:
        kd = F.mse_loss(logits.float(), teacher_logits.float())
        ce = F.mse_loss(logits.squeeze(-1).float(), labels.float())
    else:
        t = temperature
        kd = F.kl_div(F.log_softmax(logits.float() / t, dim=-1), F.log_softmax(teacher_logits.float() / t, dim=-1),
                      reduction="batchmean", log_target=True) * t * t
        ce = F.cross_entropy(logits.float(), labels)
    return alpha_kd * kd + alpha_ce * ce
