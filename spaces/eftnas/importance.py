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
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from nasbench_txf.core.errors import DataError, UserError
from nasbench_txf.core.options import option
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
from nasbench_txf.spaces.eftnas.resume import (
    load_optimizer,
    optimizer_tensors,
    restore_training,
    save_training,
    seed_step,
)
from nasbench_txf.training.loop import Diverged

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


#: the format tag of a saved fine-tuning state
FORMAT = "nasbench-txf/eftnas-finetuning/1"


@dataclass(frozen=True)
class Schedule:
    """The optimiser steps of a training stage: AdamW with cosine annealing from ``lr`` to 0 over
    ``steps`` and no weight decay [EFTNAS24 §4]; ``seed`` fixes dropout."""

    steps: int = option(1000, "optimiser steps in all (the cosine schedule runs over them)")
    lr: float = option(2e-5, "peak learning rate ([EFTNAS24 §4]: 2e-5 to 3e-5 on GLUE)")
    weight_decay: float = option(0.0, "AdamW weight decay ([EFTNAS24 §4]: 0 for BERT)")
    seed: int = option(0, "seed of dropout")

    def __post_init__(self) -> None:
        if self.steps < 1 or self.lr <= 0 or self.weight_decay < 0:
            raise ValueError(f"steps must be at least 1, lr positive and weight_decay not negative, got "
                             f"{self.steps}, {self.lr} and {self.weight_decay}")


@dataclass(frozen=True)
class FineTuneSettings(Schedule):
    """How the base is fine-tuned, and its weights scored."""

    alpha: float = option(1.0, "α_S of Eq. 3 (scales every score alike, so it does not change their order)")


class FineTuner:
    """Fine-tunes a BERT classifier in place and accumulates its movement importance, resumably.

    Step ``t`` trains on ``batches[t % len(batches)]`` with the model's own loss (cross-entropy,
    or squared error for one output), its dropout drawn from ``(seed, t)``; :meth:`save` writes
    the weights, the optimiser's state and the scores accumulated so far (:mod:`.resume`), so a
    killed fine-tuning continues from its last save and ends where an uninterrupted one would.
    """

    def __init__(self, model: nn.Module, settings: FineTuneSettings) -> None:
        self.model, self.settings = model, settings
        self.importance = MovementImportance(model, settings.alpha)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
        self.step = 0
        #: wall-clock seconds spent training, over every run of this fine-tuning (restores included)
        self.seconds = 0.0

    def train(self, batches: Sequence[Batch], steps: int | None = None) -> None:
        """Run ``steps`` more steps (by default up to ``settings.steps``); leaves the model in eval mode."""
        if not batches:
            raise UserError("fine-tuning needs at least one batch")
        end = self.settings.steps if steps is None else min(self.settings.steps, self.step + steps)
        model, device = self.model, device_of(self.model)
        started = time.perf_counter()
        try:
            model.train()
            while self.step < end:
                for group in self.optimizer.param_groups:
                    group["lr"] = cosine_lr(self.settings.lr, self.step, self.settings.steps)
                seed_step(self.settings.seed, self.step)
                batch = batches[self.step % len(batches)]
                loss = model(**model_inputs(batch, device), labels=batch_labels(batch, device)).loss
                if not math.isfinite(loss.item()):
                    raise Diverged(f"the fine-tuning loss became {loss.item()} at step {self.step}")
                loss.backward()
                self.importance.accumulate(model)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.step += 1
        finally:
            model.eval()
            self.seconds += time.perf_counter() - started

    def _identity(self) -> dict[str, object]:
        return {"settings": asdict(self.settings)}

    def save(self, directory: Path | str) -> None:
        """Write the fine-tuning's state so that :meth:`restore` resumes it."""
        scores = {f"{layer}.{role}": score for layer, per_role in enumerate(self.importance.scores)
                  for role, score in per_role.items()}
        save_training(Path(directory), FORMAT, self.step, self.seconds, self._identity(),
                      {"model": self.model.state_dict(), "optimizer": optimizer_tensors(self.optimizer),
                       "scores": scores})

    def restore(self, directory: Path | str) -> None:
        """Continue the fine-tuning :meth:`save` wrote to ``directory`` (a :class:`UserError` if
        its settings differ, a :class:`DataError` if it cannot be read)."""
        saved = restore_training(Path(directory), FORMAT, self._identity(), ("model", "optimizer", "scores"),
                                 device_of(self.model))
        try:
            self.model.load_state_dict(saved.tensors["model"])
            for layer, per_role in enumerate(self.importance.scores):
                for role in per_role:
                    per_role[role].copy_(saved.tensors["scores"][f"{layer}.{role}"])
        except (RuntimeError, KeyError) as exc:
            raise DataError(f"{directory}: the saved weights or scores do not fit the model ({exc})") from None
        load_optimizer(self.optimizer, saved.tensors["optimizer"])
        self.step, self.seconds = saved.step, saved.seconds
        self.importance.steps = saved.step


def fine_tune_and_score(model: BertForSequenceClassification, batches: Sequence[Batch], steps: int,
                        lr: float = 2e-5, alpha: float = 1.0, weight_decay: float = 0.0,
                        seed: int = 0) -> tuple[BertForSequenceClassification, MovementImportance]:
    """Fine-tune ``model`` in place for ``steps`` steps in one go (:class:`FineTuner`) and score
    its weights on the way. Returns the fine-tuned model, in eval mode (the teacher of
    super-network training), and its scores."""
    if steps < 1 or not batches:
        raise UserError(f"fine-tuning needs at least one step and one batch, got {steps} steps, {len(batches)} batches")
    tuner = FineTuner(model, FineTuneSettings(steps=steps, lr=lr, alpha=alpha, weight_decay=weight_decay, seed=seed))
    tuner.train(batches)
    return model, tuner.importance
