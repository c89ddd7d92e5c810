"""Fine-tune a classifier/regressor on tokenised examples: the live benchmark's training loop.

AdamW with linear warm-up then linear decay to zero, dynamic padding (each batch is padded
to its longest row) with length-grouped batches, gradient clipping, and early stopping on
the selection split's loss: the weights of the best epoch are the ones scored. Everything
random is fixed by one seed (initialisation is the caller's; data order and dropout are
seeded here). Written with plain torch rather than ``transformers.Trainer``: the models are
not Hugging Face models, and the loop must stop on a diverging loss and report its curve,
which is a few lines here.

The defaults follow [FLEXIBERT23 App. B.5] (AdamW, beta2 0.98, eps 1e-6, weight decay 0.01,
five fine-tuning epochs, early stopping, per-task learning rate and batch size of Table 6).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from nasbench_txf.core.options import option
from nasbench_txf.training.tasks import TaskSpec


@dataclass(frozen=True)
class Recipe:
    """How a model is trained; every value is a benchmark option (``--benchmark-opt``)."""

    epochs: int = option(5, "training epochs (App. B.5: 5)")
    batch_size: int = option(0, "batch size; 0 = the task's value in Table 6")
    lr: float = option(0.0, "peak learning rate; 0 = the task's value in Table 6")
    warmup: float = option(0.1, "fraction of the steps spent warming up")
    weight_decay: float = option(0.01, "AdamW weight decay")
    adam_beta1: float = option(0.9, "AdamW beta1")
    adam_beta2: float = option(0.98, "AdamW beta2 (App. B.5)")
    adam_eps: float = option(1e-6, "AdamW epsilon (App. B.5)")
    clip: float = option(1.0, "gradient norm clipping; 0 = none")
    patience: int = option(2, "stop after this many epochs without a better selection loss")
    max_len: int = option(128, "tokens per input; longer inputs are truncated")
    dropout: float = option(0.1, "dropout probability")
    threads: int = option(0, "CPU threads for torch; 0 = torch's default")
    device: Literal["auto", "cpu", "cuda"] = option("auto", "auto = cuda when present")
    bf16: bool = option(True, "bf16 autocast on CUDA and on CPUs with native bf16 (AVX-512 BF16)")
    group_by_length: bool = option(True, "batch training rows of similar length together (less padding)")

    def __post_init__(self) -> None:
        for name in ("epochs", "max_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("batch_size", "threads", "patience"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.lr < 0 or not 0 <= self.warmup < 1 or not 0 <= self.dropout < 1:
            raise ValueError("lr must be >= 0, warmup and dropout in [0, 1)")


# [FLEXIBERT23 Table 6]: fine-tuning learning rate and batch size per GLUE task.
TABLE6 = {"cola": (2.0e-4, 64), "mrpc": (2.23e-5, 32), "qnli": (5.03e-5, 128), "rte": (1.9e-4, 128),
          "sst2": (1.2e-4, 128), "stsb": (7.0e-5, 32), "wnli": (4.0e-5, 128)}


@dataclass(frozen=True)
class Encoded:
    """Token ids (without padding) and labels of one split."""

    ids: tuple[tuple[int, ...], ...]
    types: tuple[tuple[int, ...], ...]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Outcome:
    """What training found: loss and predictions per evaluation split at the selected epoch."""

    losses: dict[str, float]
    predictions: dict[str, np.ndarray]
    best_epoch: int
    selection_loss: list[float]
    train_loss: list[float]
    steps: int
    seconds: float
    cpu_seconds: float
    precision: str


class Diverged(RuntimeError):
    """The training loss became NaN or infinite."""


def chunks(order: np.ndarray, size: int) -> list[np.ndarray]:
    """``order`` cut into consecutive batches of ``size`` rows (the last may be smaller)."""
    return [order[start:start + size] for start in range(0, len(order), size)]


def length_grouped(lengths: np.ndarray, size: int, rng: np.random.Generator, megabatch: int = 50) -> list[np.ndarray]:
    """Shuffled batches whose rows have similar lengths.

    The rows are shuffled, cut into megabatches of ``megabatch`` batches, each megabatch is
    sorted by length and cut into batches, and the batches are shuffled. This is the scheme of
    ``transformers``' ``group_by_length``, written here because transformers is not a
    dependency of the package. With dynamic padding, a batch of similar lengths carries little
    padding, so little training time is spent on padded tokens.
    """
    groups: list[np.ndarray] = []
    for mega in chunks(rng.permutation(len(lengths)), size * megabatch):
        groups += chunks(mega[np.argsort(lengths[mega], kind="stable")], size)
    return [groups[i] for i in rng.permutation(len(groups))]


def batches(data: Encoded, groups: list[np.ndarray], pad: int, device: torch.device) -> Iterator[
        tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(ids, mask, token types, labels) of each group of rows, padded to its longest row."""
    for rows in groups:
        width = max(len(data.ids[i]) for i in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        types = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):
            n = len(data.ids[i])
            ids[r, :n] = torch.tensor(data.ids[i])
            types[r, :n] = torch.tensor(data.types[i])
            mask[r, :n] = 1
        labels = torch.from_numpy(data.labels[rows])
        yield ids.to(device), mask.to(device), types.to(device), labels.to(device)


def resolve_device(recipe: Recipe) -> torch.device:
    if recipe.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if recipe.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device=cuda but torch sees no CUDA device")
    return torch.device(recipe.device)


def uses_bf16(recipe: Recipe, device: torch.device) -> bool:
    """Whether training and evaluation autocast to bf16 (weights and optimiser stay fp32).

    On CUDA, and on CPUs with native bf16 arithmetic (AVX-512 BF16), where it makes training
    faster; elsewhere bf16 is emulated, and slower than fp32. torch exposes the CPU check
    only as ``torch.cpu._is_avx512_bf16_supported``.
    """
    if not recipe.bf16:
        return False
    if device.type == "cuda":
        return True
    supported = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return device.type == "cpu" and supported is not None and bool(supported())


def chance_loss(train_labels: np.ndarray, scored_labels: np.ndarray, task: TaskSpec) -> float:
    """The loss on ``scored_labels`` of a model that learned only how the training labels are
    distributed, not what the text says: the cross-entropy of the training label frequencies
    (add-one smoothed, so that a label missing from training costs a finite loss) or, for a
    regression, the squared error of the training mean.

    A trained model whose loss comes no closer than this learned nothing from the text: it
    stayed at chance (:attr:`~nasbench_txf.tables.table.Row.stayed_at_chance`).
    """
    if task.regression:
        return float(np.mean((scored_labels - train_labels.mean()) ** 2))
    counts = np.bincount(train_labels, minlength=task.num_labels) + 1
    return float(-np.mean(np.log(counts / counts.sum())[scored_labels]))


def task_loss(logits: torch.Tensor, labels: torch.Tensor, task: TaskSpec) -> torch.Tensor:
    """The task's training loss: cross-entropy, or the squared error of a regression."""
    if task.regression:
        return nn.functional.mse_loss(logits.squeeze(-1).float(), labels.float())
    return nn.functional.cross_entropy(logits.float(), labels)


def predict(model: nn.Module, data: Encoded, task: TaskSpec, batch_size: int, pad: int,
            device: torch.device, autocast: bool) -> tuple[float, np.ndarray]:
    """Mean loss and predictions (class indices, or values) on ``data``, in its row order.

    Rows are batched in length order so that batches need little padding.
    """
    model.eval()
    order = np.argsort([len(x) for x in data.ids], kind="stable")
    loss, outputs = 0.0, []
    with torch.no_grad(), torch.autocast(device.type, torch.bfloat16, enabled=autocast):
        for ids, mask, types, labels in batches(data, chunks(order, batch_size), pad, device):
            logits = model(ids, mask, types)
            loss += float(task_loss(logits, labels, task)) * len(labels)
            outputs.append(logits.float().cpu())
    logits = torch.cat(outputs)
    sorted_predictions = logits.squeeze(-1).numpy() if task.regression else logits.argmax(-1).numpy()
    predictions = np.empty_like(sorted_predictions)
    predictions[order] = sorted_predictions
    return loss / len(data), predictions


def train(model: nn.Module, data: Encoded, evaluations: Mapping[str, Encoded], task: TaskSpec,
          recipe: Recipe, seed: int, pad: int) -> Outcome:
    """Train ``model`` in place and predict every evaluation split with the selected weights.

    The first evaluation split selects the epoch (lowest loss; early stopping after
    ``patience`` epochs without improvement). Raises :class:`Diverged` when the training
    loss stops being finite.
    """
    device = resolve_device(recipe)
    autocast = uses_bf16(recipe, device)
    lr, batch_size = TABLE6.get(task.name, (1e-4, 32))
    lr, batch_size = recipe.lr or lr, recipe.batch_size or batch_size
    model.to(device)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "norm" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2 or "norm" in n]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": recipe.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, betas=(recipe.adam_beta1, recipe.adam_beta2), eps=recipe.adam_eps,
    )
    total = recipe.epochs * math.ceil(len(data) / batch_size)
    warm = max(1, round(recipe.warmup * total))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warm, max(0.0, (total - step) / max(1, total - warm))))
    rng = np.random.default_rng(seed)
    lengths = np.array([len(row) for row in data.ids])
    torch.manual_seed(seed)
    started, cpu_started = time.perf_counter(), time.process_time()
    selection = next(iter(evaluations))
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    curve: list[float] = []
    train_curve: list[float] = []
    step = 0
    for epoch in range(recipe.epochs):
        model.train()
        epoch_losses = []
        groups = (length_grouped(lengths, batch_size, rng) if recipe.group_by_length
                  else chunks(rng.permutation(len(data)), batch_size))
        for ids, mask, types, labels in batches(data, groups, pad, device):
            with torch.autocast(device.type, torch.bfloat16, enabled=autocast):
                loss = task_loss(model(ids, mask, types), labels, task)
            if not torch.isfinite(loss):
                raise Diverged(f"training diverged at step {step} (epoch {epoch + 1}): loss {loss.item()}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if recipe.clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), recipe.clip)
            optimizer.step()
            schedule.step()
            epoch_losses.append(loss.item())
            step += 1
        train_curve.append(statistics.fmean(epoch_losses))
        selection_loss, _ = predict(model, evaluations[selection], task, batch_size, pad, device, autocast)
        curve.append(selection_loss)
        if best is None or selection_loss < best[0]:
            best = (selection_loss, epoch, {k: v.detach().clone() for k, v in model.state_dict().items()})
        elif epoch - best[1] >= recipe.patience > 0:
            break
    assert best is not None  # epochs >= 1
    model.load_state_dict(best[2])
    predicted = {name: predict(model, split, task, batch_size, pad, device, autocast)
                 for name, split in evaluations.items()}
    return Outcome(
        losses={name: loss for name, (loss, _) in predicted.items()},
        predictions={name: predictions for name, (_, predictions) in predicted.items()},
        best_epoch=best[1] + 1, selection_loss=curve, train_loss=train_curve, steps=step,
        seconds=time.perf_counter() - started, cpu_seconds=time.process_time() - cpu_started,
        precision="bf16" if autocast else "fp32",
    )


def latency_ms(model: nn.Module, seq_len: int, batch: int, device: torch.device, repeats: int = 10) -> float:
    """Median wall-clock milliseconds of one inference forward pass on ``batch`` x ``seq_len`` tokens."""
    model.eval()
    ids = torch.ones((batch, seq_len), dtype=torch.long, device=device)
    timings = []
    with torch.no_grad():
        model(ids)  # warm-up
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            model(ids)
            if device.type == "cuda":
                torch.cuda.synchronize()
            timings.append(time.perf_counter() - started)
    return 1000 * statistics.median(timings)
