"""Super-network training: the sandwich rule with knowledge distillation [EFTNAS24 §3.3, §4, Eqs. 4-6].

Each step trains the largest and the smallest subnetwork of the search space and ``random_subnets``
subnetworks drawn uniformly from it (the sandwich rule of Yu and Huang 2019, which [EFTNAS24
§4] applies; two random ones by default, as in that paper, where the authors' implementation
draws one), and sums their gradients into one optimiser step. Every subnetwork learns from
the labels and from the teacher, the fine-tuned base model, with the loss of Lagunas et al.
(2021) that the paper follows (Eqs. 4-6, :mod:`nasbench_txf.training.distillation`; Eq. 6 as
printed lacks the ``exp`` in its denominator, and a softmax is meant). The paper gives no values
for T, α_KD and α_ce; the defaults are those of the authors' public implementation (T = 2,
α_KD = 0.9, α_ce = 0.1).

AdamW with cosine annealing and no weight decay [EFTNAS24 §4]. The learning rate is a function
of the step, and step ``t`` draws its random subnetworks and its dropout from ``(seed, t)``, so a
training restored from :meth:`SandwichTrainer.save` (:mod:`.resume`) goes on exactly as it
would have without the interruption.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nasbench_txf.core.errors import DataError, UserError
from nasbench_txf.core.options import option
from nasbench_txf.spaces.eftnas.base import Batch, batch_labels, device_of, model_inputs
from nasbench_txf.spaces.eftnas.config import SubnetConfig
from nasbench_txf.spaces.eftnas.elastic import ElasticBert
from nasbench_txf.spaces.eftnas.generation import SearchSpace
from nasbench_txf.spaces.eftnas.importance import Schedule, cosine_lr
from nasbench_txf.spaces.eftnas.resume import (
    load_optimizer,
    optimizer_tensors,
    restore_training,
    save_training,
    seed_step,
)
from nasbench_txf.training.distillation import distillation_loss
from nasbench_txf.training.loop import Diverged

#: the format tag of a saved training state
FORMAT = "nasbench-txf/eftnas-supernet-training/1"


@dataclass(frozen=True)
class SandwichSettings(Schedule):
    """How the super-network is trained."""

    random_subnets: int = option(2, "random subnetworks per step besides the largest and the smallest")
    temperature: float = option(2.0, "distillation temperature T (Eqs. 5-6)")
    alpha_kd: float = option(0.9, "weight of the distillation loss, α_KD (Eq. 4)")
    alpha_ce: float = option(0.1, "weight of the loss on the labels, α_ce (Eq. 4)")
    seed: int = option(0, "seed of the random subnetworks and of dropout")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.random_subnets < 0 or self.temperature <= 0 or min(self.alpha_kd, self.alpha_ce) < 0:
            raise ValueError(f"random_subnets, alpha_kd and alpha_ce must not be negative and temperature must be "
                             f"positive, got {self.random_subnets}, {self.alpha_kd}, {self.alpha_ce} and "
                             f"{self.temperature}")


class SandwichTrainer:
    """Trains an elastic super-network over a search space, distilling from ``teacher`` (which it
    puts in eval mode: the teacher's soft targets are computed without dropout)."""

    def __init__(self, supernet: ElasticBert, teacher: nn.Module, space: SearchSpace,
                 settings: SandwichSettings) -> None:
        supernet.shape.check(space.largest())
        self.supernet, self.teacher, self.space, self.settings = supernet, teacher.eval(), space, settings
        self.optimizer = torch.optim.AdamW(supernet.model.parameters(), lr=settings.lr,
                                           weight_decay=settings.weight_decay)
        self.step = 0
        #: wall-clock seconds spent training, over every run of this training (restores included)
        self.seconds = 0.0

    def subnetworks(self, step: int) -> list[SubnetConfig]:
        """The subnetworks step ``step`` trains: the largest, the smallest, then the random ones."""
        rng = np.random.default_rng([self.settings.seed, step])
        drawn = [self.space.sample(rng) for _ in range(self.settings.random_subnets)]
        return [self.space.largest(), self.space.smallest(), *drawn]

    def train(self, batches: Sequence[Batch], steps: int | None = None) -> list[float]:
        """Run ``steps`` more steps (by default up to ``settings.steps``); step ``t`` trains on
        ``batches[t % len(batches)]``. Returns each step's mean loss over its subnetworks and
        leaves the full model active."""
        if not batches:
            raise UserError("super-network training needs at least one batch")
        end = self.settings.steps if steps is None else min(self.settings.steps, self.step + steps)
        model, device = self.supernet.model, device_of(self.supernet.model)
        losses = []
        started = time.perf_counter()
        try:
            while self.step < end:
                batch = batches[self.step % len(batches)]
                inputs, labels = model_inputs(batch, device), batch_labels(batch, device)
                with torch.no_grad():
                    teacher_logits = self.teacher(**inputs).logits
                for group in self.optimizer.param_groups:
                    group["lr"] = cosine_lr(self.settings.lr, self.step, self.settings.steps)
                seed_step(self.settings.seed, self.step)
                model.train()
                total = 0.0
                for config in self.subnetworks(self.step):
                    self.supernet.activate(config)
                    loss = distillation_loss(model(**inputs).logits, teacher_logits, labels,
                                             temperature=self.settings.temperature,
                                             alpha_kd=self.settings.alpha_kd, alpha_ce=self.settings.alpha_ce)
                    loss.backward()
                    total += loss.item()
                if not math.isfinite(total):
                    raise Diverged(f"the super-network's loss became {total} at step {self.step}")
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                losses.append(total / (2 + self.settings.random_subnets))
                self.step += 1
        finally:
            self.supernet.deactivate()
            self.seconds += time.perf_counter() - started
        return losses

    def _identity(self) -> dict[str, object]:
        """What a restored training must share with the saved one."""
        return {"settings": asdict(self.settings), "space": self.space.to_dict()}

    def save(self, directory: Path | str) -> None:
        """Write the training state (:func:`~.resume.save_training`) so that :meth:`restore` resumes it."""
        save_training(Path(directory), FORMAT, self.step, self.seconds, self._identity(),
                      {"model": self.supernet.model.state_dict(), "optimizer": optimizer_tensors(self.optimizer)})

    def restore(self, directory: Path | str) -> None:
        """Continue the training :meth:`save` wrote to ``directory``: a :class:`UserError` if it
        was a training with other settings or another search space."""
        saved = restore_training(Path(directory), FORMAT, self._identity(), ("model", "optimizer"),
                                 device_of(self.supernet.model))
        try:
            self.supernet.model.load_state_dict(saved.tensors["model"])
        except RuntimeError as exc:
            reason = str(exc).splitlines()[0]
            raise DataError(f"{directory}: the saved weights do not fit the model ({reason})") from None
        load_optimizer(self.optimizer, saved.tensors["optimizer"])
        self.step, self.seconds = saved.step, saved.seconds
