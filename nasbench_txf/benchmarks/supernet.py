"""The supernet benchmark: score a card with the weights it inherits from a trained super-network.

One-shot NAS [EFTNAS24 §3.3] evaluates a subnetwork without training it: the card's
subnetwork is activated in the trained super-network and scored on the task's dev split (and
the holdout, where the super-network's build held rows out of training). The space is a
:class:`~nasbench_txf.core.space.SuperNetwork` that also says which task and data its
super-network was trained on and what a card costs (:class:`TrainedSupernet`, which the
``eftnas`` space implements); this module does not import the space, as plugins of one kind
import none of another.

Metrics: the task's GLUE metrics (the first is the objective), the loss, ``macs`` and ``params``
from the space (counted from the card), and ``latency_ms``, the median time of one inference
forward pass of the **extracted** subnetwork (the standalone smaller model, as it would be
deployed; the activated super-network would time the slicing as well). ``cost_seconds`` is the
measured time of the evaluation. An evaluation is deterministic per card: the rows are scored
in a fixed order in fp32, and the seed matters only with ``subsample``, where it draws which
dev rows are scored, or ``bootstrap``, where it draws a resample of them with replacement. A
trained super-network gives a card one score on a given set of rows; how far that score would
move on another sample of the task's sentences is what bootstrap seeds measure, so a table built
with ``bootstrap`` has seed noise that says how many of its differences the dev set's size can
resolve (the standard error of an accuracy ``p`` on ``n`` rows is about ``sqrt(p(1-p)/n)``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.benchmark import Benchmark
from nasbench_txf.core.errors import UserError
from nasbench_txf.core.options import option
from nasbench_txf.core.result import Metric, Result
from nasbench_txf.core.space import Space, SuperNetwork
from nasbench_txf.core.threads import torch_threads
from nasbench_txf.tables.machine import describe
from nasbench_txf.training.context import TaskOptions, TrainingContext, training_device
from nasbench_txf.training.loop import Encoded, latency_ms, predict
from nasbench_txf.training.metrics import task_scores
from nasbench_txf.training.tasks import TaskSpec

#: where the latency is measured (recorded in each result's info)
LATENCY_ON = "extracted subnetwork"


@runtime_checkable
class TrainedSupernet(Protocol):
    """A super-network space that knows what its super-network was trained on and what a card costs."""

    def supernet_task(self) -> tuple[str, Mapping[str, Any]]:
        """The task and the options of its :class:`TaskOptions` (data folder, subset, vocabulary…)."""
        ...

    def supernet_costs(self, arch: Arch) -> Mapping[str, float]:
        """``macs`` and ``params`` of the card's subnetwork."""
        ...


@dataclass(frozen=True)
class SupernetOptions:
    """How the super-network's subnetworks are scored."""

    data_dir: str = option("", "GLUE TSV folder; empty = the one the super-network was built with")
    subsample: int = option(0, "score this many dev rows, drawn by the seed; 0 = every row (the seed is unused)")
    bootstrap: bool = option(False, "score a bootstrap resample of the dev rows (with replacement, as many as "
                                    "subsample or dev has), drawn by the seed")
    eval_batch: int = option(64, "rows per forward pass when scoring")
    latency_batch: int = option(1, "sequences per forward pass when measuring latency")
    threads: int = option(0, "CPU threads for torch; 0 = torch's default")
    device: Literal["auto", "cpu", "cuda"] = option("auto", "auto = cuda when present")

    def __post_init__(self) -> None:
        if self.subsample < 0 or self.threads < 0 or self.eval_batch < 1 or self.latency_batch < 1:
            raise ValueError("subsample and threads must be >= 0, eval_batch and latency_batch >= 1")


def score_model(model: nn.Module, context: TrainingContext, batch_size: int,
                rows: Mapping[str, np.ndarray] | None = None) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """The task's metrics and loss of ``model`` (called ``model(ids, mask, types)`` → logits) on
    every evaluation split of ``context`` (only ``rows[split]`` where given), in fp32 and a fixed
    order: over all splits together, and per split (with its number of rows)."""
    spec, tokenized, device = context.spec, context.tokenized, context.device
    splits = {name: _rows(split, rows.get(name) if rows else None) for name, split in tokenized.evaluations.items()}
    labels, predictions, losses, per_split = [], [], [], {}
    for name, split in splits.items():
        loss, predicted = predict(model, split, spec, batch_size, tokenized.pad, device, False)
        per_split[name] = {**task_scores(spec.metrics, split.labels, predicted), "loss": loss, "rows": len(split)}
        labels.append(split.labels)
        predictions.append(predicted)
        losses.append(loss)
    scores = task_scores(spec.metrics, np.concatenate(labels), np.concatenate(predictions))
    scores["loss"] = float(np.average(losses, weights=[len(s) for s in splits.values()]))
    return scores, per_split


def _rows(split: Encoded, rows: np.ndarray | None) -> Encoded:
    if rows is None:
        return split
    return Encoded(tuple(split.ids[i] for i in rows), tuple(split.types[i] for i in rows), split.labels[rows])


class SupernetBenchmark(Benchmark):
    """Scores cards with the inherited weights of a trained super-network (one-shot evaluation) [EFTNAS24]."""

    name = "supernet"
    Options = SupernetOptions
    measures_time = True

    def __init__(self, space: Space, *, task: str | None = None, options: Any = None) -> None:
        if reason := self.unsupported(space):
            raise UserError(f"benchmark supernet cannot evaluate space {space.name}: {reason}")
        built_for, given = space.supernet_task()  # type: ignore[attr-defined]
        if task is not None and task.lower().replace("-", "") != built_for:
            raise UserError(f"benchmark supernet: the super-network of space {space.name} was trained on "
                            f"{built_for}, not {task}; leave --task out or give {built_for}")
        super().__init__(space, task=built_for, options=options)
        o = self.options
        task_options = {**given, **({"data_dir": o.data_dir} if o.data_dir else {}), "threads": o.threads,
                        "device": o.device}
        try:
            self.context = TrainingContext(built_for, TaskOptions(**task_options))
        except (TypeError, ValueError) as exc:
            raise UserError(f"benchmark supernet: the space's training options are not usable ({exc})") from None
        self.spec: TaskSpec = self.context.spec
        self._loaded: tuple[tuple[str, int, int], nn.Module] | None = None

    @classmethod
    def unsupported(cls, space: Space) -> str | None:
        if not isinstance(space, SuperNetwork):
            return "the space is no super-network (it implements no build_supernet, activate and extract)"
        if not isinstance(space, TrainedSupernet):
            return "the space does not say which task its super-network was trained on (supernet_task, supernet_costs)"
        return None

    @classmethod
    def card_metrics(cls, space: Space, task: str | None,
                     options: Mapping[str, Any]) -> dict[str, Callable[[Arch], float]]:
        """``macs`` and ``params``, counted by the space from the card."""
        if cls.unsupported(space) is not None:
            return {}
        costs: Callable[[Arch], Mapping[str, float]] = space.supernet_costs  # type: ignore[attr-defined]
        return {"macs": lambda arch: float(costs(arch)["macs"]), "params": lambda arch: float(costs(arch)["params"])}

    @property
    def metrics(self) -> tuple[Metric, ...]:
        return (
            *(Metric(name, maximize=True) for name in self.spec.metrics),
            Metric("loss", maximize=False),
            Metric("macs", maximize=False, unit="MACs/sequence (encoder layers)"),
            Metric("params", maximize=False),
            Metric("latency_ms", maximize=False, unit="ms", timed=True),
        )

    @property
    def version(self) -> str:
        """The space's key names the build; nothing else changes the answers."""
        return ""

    def conditions(self) -> dict[str, str]:
        device = training_device(self.context.options)
        return {"device": device.type, "precision": "fp32",
                "timed_on": describe(device, self.options.threads or torch.get_num_threads())}

    def resources(self) -> dict[str, float]:
        return self.context.resources()

    def training_context(self) -> TrainingContext:
        """The context the super-network was trained with: its task, data split and tokenizer
        (:class:`~nasbench_txf.core.benchmark.LendsTraining`)."""
        return self.context

    @cached_property
    def supernet(self) -> nn.Module:
        """The trained super-network, loaded once, on the evaluation device."""
        model = self.space.build_supernet(num_labels=self.spec.num_labels)  # type: ignore[attr-defined]
        return model.to(self.context.device)

    def scored_rows(self, seed: int) -> dict[str, np.ndarray] | None:
        """The dev rows seed ``seed`` scores (``None``: all of them, once each)."""
        count, rows = self.options.subsample, len(self.context.tokenized.evaluations["dev"])
        rng = np.random.default_rng(seed)
        if self.options.bootstrap:
            return {"dev": np.sort(rng.integers(0, rows, count or rows))}
        if not count or count >= rows:
            return None
        return {"dev": np.sort(rng.choice(rows, count, replace=False))}

    def evaluate(self, arch: Arch, seed: int) -> Result:
        with torch_threads(self.options.threads):
            return self._score(self.supernet, arch, seed, time.perf_counter())

    def evaluate_with(self, arch: Arch, seed: int, weights: Path) -> Result:
        """Score ``arch`` with the super-network weights in ``weights`` (safetensors), which a
        one-shot strategy trained (:class:`~nasbench_txf.core.benchmark.ScoresTrainedWeights`)."""
        started = time.perf_counter()
        with torch_threads(self.options.threads):
            result = self._score(self.trained_supernet(weights), arch, seed, started)
        return Result(result.metrics, result.cost_seconds, result.status, result.reason,
                      {**result.info, "weights": "trained by the strategy"})

    def trained_supernet(self, weights: Path) -> nn.Module:
        """The super-network holding ``weights`` (the last one loaded is kept)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        stat = weights.stat()
        ident = (str(weights), stat.st_mtime_ns, stat.st_size)
        if self._loaded is None or self._loaded[0] != ident:
            model = self.space.build_supernet(num_labels=self.spec.num_labels)  # type: ignore[attr-defined]
            try:
                model.load_state_dict(load_file(weights))
            except (RuntimeError, OSError, SafetensorError) as exc:
                raise UserError(f"benchmark supernet: {weights} does not hold weights of this super-network "
                                f"({str(exc).splitlines()[0]})") from None
            self._loaded = (ident, model.to(self.context.device).eval())
        return self._loaded[1]

    def _score(self, supernet: nn.Module, arch: Arch, seed: int, started: float) -> Result:
        o = self.options
        self.space.activate(supernet, arch)  # type: ignore[attr-defined]
        scores, splits = score_model(supernet, self.context, o.eval_batch, self.scored_rows(seed))
        small = self.space.extract(supernet, arch)  # type: ignore[attr-defined]
        latency = latency_ms(small, self.context.options.max_len, o.latency_batch, self.context.device)
        costs = self.space.supernet_costs(arch)  # type: ignore[attr-defined]
        metrics = {**scores, "macs": float(costs["macs"]), "params": float(costs["params"]), "latency_ms": latency}
        info = {"splits": splits, "latency_on": LATENCY_ON, "device": self.context.device.type}
        return Result(metrics, time.perf_counter() - started, info=info)
