"""Movement importance of the elastic weights, accumulated while the base model is fine-tuned.

EFTNAS scores every weight of the elastic linear layers with its movement [EFTNAS24 §3.1,
Eq. 3], the first-order importance of movement pruning::

    S_ij(T) = -α_S · Σ_{t<T} (∂L/∂W_ij)(t) · W_ij(t)

A weight moving away from zero during training gets a positive score, one shrinking towards
zero a negative one. The scores of a head (the rows of Q, K and V that produce it and the
columns of the attention output projection that read it) and of an FFN channel (its row of
the intermediate layer and its column of the output layer) are reduced to their mean, as the
paper reduces each column of S to its mean to sort W's columns [EFTNAS24 §3.3]: a head and a
channel hold different numbers of weights, and the mean makes their scores comparable under
one threshold (Algorithm 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from nasbench_txf.core.errors import UserError
from nasbench_txf.spaces.eftnas.base import (
    LINEARS,
    Batch,
    batch_labels,
    device_of,
    encoder_layers,
    linear,
    model_inputs,
)
from nasbench_txf.spaces.eftnas.config import Shape

if TYPE_CHECKING:
    from transformers import BertForSequenceClassification


class MovementImportance:
    """Accumulates the movement scores S of a BERT model's elastic weights over training steps.

    Call :meth:`accumulate` once per step, after ``loss.backward()`` and before the optimiser
    changes the weights: Eq. 3 multiplies each gradient by the weights it was computed at.
    """

    def __init__(self, model: nn.Module, alpha: float = 1.0) -> None:
        self.shape = Shape.of(model)
        self.alpha = alpha
        self.steps = 0
        self.scores = [{role: torch.zeros_like(linear(layer, role).weight, dtype=torch.float32) for role in LINEARS}
                       for layer in encoder_layers(model)]

    def accumulate(self, model: nn.Module) -> None:
        """Add ``-α_S · ∂L/∂W · W`` of the current step to S."""
        with torch.no_grad():
            for layer, scores in zip(encoder_layers(model), self.scores, strict=True):
                for role, score in scores.items():
                    weight = linear(layer, role).weight
                    if weight.grad is None:
                        raise UserError(f"no gradient on the {role} weights: call accumulate after loss.backward()")
                    score -= self.alpha * (weight.grad * weight).float()
        self.steps += 1

    def _check(self) -> None:
        if not self.steps:
            raise UserError("no movement scores yet: accumulate them over training steps first")

    def head_scores(self) -> torch.Tensor:
        """Mean score of each head's weights: a (layers, heads) tensor on the CPU."""
        self._check()
        shape = self.shape
        rows = []
        for scores in self.scores:
            per_head = sum(scores[role].reshape(shape.heads, -1).sum(dim=1) for role in ("query", "key", "value"))
            per_head = per_head + scores["attention_output"].reshape(shape.hidden, shape.heads, -1).sum(dim=(0, 2))
            rows.append(per_head / (4 * shape.head_dim * shape.hidden))
        return torch.stack(rows).cpu()

    def channel_scores(self) -> torch.Tensor:
        """Mean score of each FFN channel's weights: a (layers, intermediate) tensor on the CPU."""
        self._check()
        rows = [(scores["intermediate"].sum(dim=1) + scores["output"].sum(dim=0)) / (2 * self.shape.hidden)
                for scores in self.scores]
        return torch.stack(rows).cpu()


def cosine_lr(lr: float, step: int, steps: int) -> float:
    """The learning rate of ``step`` (from 0) of ``steps`` under cosine annealing from ``lr`` to 0
    [EFTNAS24 §4]."""
    return lr * 0.5 * (1 + math.cos(math.pi * step / steps))


def fine_tune_and_score(model: BertForSequenceClassification, batches: Sequence[Batch], steps: int,
                        lr: float = 2e-5, alpha: float = 1.0, weight_decay: float = 0.0,
                        seed: int = 0) -> tuple[BertForSequenceClassification, MovementImportance]:
    """Fine-tune ``model`` in place for ``steps`` steps and score its weights on the way.

    Step ``t`` trains on ``batches[t % len(batches)]`` with the model's own loss (cross-entropy,
    or squared error for one output). AdamW with cosine annealing and no weight decay is the
    setting of [EFTNAS24 §4] (learning rates 2e-5 to 3e-5 on GLUE); ``seed`` fixes dropout.
    Returns the fine-tuned model, in eval mode (the teacher of super-network training), and its
    scores.
    """
    if steps < 1 or not batches:
        raise UserError(f"fine-tuning needs at least one step and one batch, got {steps} steps, {len(batches)} batches")
    device = device_of(model)
    importance = MovementImportance(model, alpha)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    torch.manual_seed(seed)
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(lr, step, steps)
        batch = batches[step % len(batches)]
        loss = model(**model_inputs(batch, device), labels=batch_labels(batch, device)).loss
        loss.backward()
        importance.accumulate(model)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    model.eval()
    return model, importance
