"""Benchmarks: the ground truth (live training) or stored/predicted versions of it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.errors import UnknownNameError
from nasbench_txf.core.plugin import Plugin
from nasbench_txf.core.result import Metric, Result
from nasbench_txf.core.space import Space


class Benchmark(Plugin, ABC):
    """Evaluates archs of one space on one task.

    ``metrics[0]`` is the objective single-objective strategies optimise; the others (params,
    FLOPs, latency, ...) are recorded and available to multi-objective strategies.
    :meth:`evaluate` must be deterministic in ``(arch, seed)`` where the benchmark can be
    (tabular and surrogate benchmarks always are); only metrics marked ``timed`` and, where
    :attr:`measures_time`, the cost may differ between two evaluations with the same seed.
    """

    #: ``cost_seconds`` is measured wall-clock time (live training), not a stored value
    measures_time: ClassVar[bool] = False
    #: task names this benchmark answers for; ``None`` accepts any (checked by the benchmark)
    tasks: ClassVar[tuple[str, ...] | None] = None
    default_task: ClassVar[str | None] = None

    def __init__(self, space: Space, *, task: str | None = None, options: Any = None) -> None:
        self.space = space
        self.options = options if options is not None else self.make_options()
        self.task = self.check_task(task if task is not None else self.default_task)

    @classmethod
    def check_task(cls, task: str | None) -> str | None:
        if cls.tasks is not None and task not in cls.tasks:
            raise UnknownNameError(
                f"benchmark {cls.name} has no task {task!r}; tasks: {', '.join(cls.tasks)}"
            )
        return task

    @classmethod
    def unsupported(cls, space: Space) -> str | None:
        """Why this benchmark cannot evaluate archs of ``space``, or ``None``."""
        return None

    @classmethod
    def card_metrics(cls, space: Space, task: str | None,
                     options: Mapping[str, Any]) -> dict[str, Callable[[Arch], float]]:
        """Metrics this benchmark computes from the card alone under ``options``, with no
        training (a model's size, say), as functions of the arch.

        A table this benchmark measured can then answer them exactly for any card: the
        surrogate uses such a function where it reproduces every row of the table, instead
        of learning the metric. None by default.
        """
        return {}

    @classmethod
    def timed_metrics(cls, space: Space, task: str | None,
                      options: Mapping[str, Any]) -> dict[str, Callable[[Arch], float]]:
        """Timed metrics (``Metric.timed``) this benchmark can measure from the card alone
        under ``options``, on this machine (an untrained model's inference latency, say),
        as functions of the arch. ``options`` include the speed options (``device``,
        ``threads``) the timing runs with.

        A table built over several machines mixes their timings; ``bench retime`` measures
        these again for every row on one machine. None by default.
        """
        return {}

    @property
    @abstractmethod
    def metrics(self) -> tuple[Metric, ...]:
        """What :meth:`evaluate` reports; the first is the objective."""

    @property
    def objective(self) -> Metric:
        return self.metrics[0]

    @property
    def version(self) -> str:
        """What identifies this benchmark's answers beyond its name, task and options.

        A table-backed benchmark names its table's rows, which grow while a table is built;
        the store records this per cell, refuses to resume a cell on a changed benchmark, and
        leaderboards print it. Empty when the options say it all.
        """
        return ""

    def conditions(self) -> dict[str, str]:
        """How this benchmark measures on this machine, where that can move its answers a
        little without being one of its options (live training: the device, and whether it
        runs in bf16, which depends on the hardware). Each row's info records the same keys,
        and ``bench build`` says so when it resumes a table measured otherwise. None by
        default."""
        return {}

    def expected(self, archs: Sequence[Arch]) -> np.ndarray | None:
        """Noise-free objective values of ``archs`` (NaN where unknown), or ``None`` when this
        benchmark has no such values (live training).

        Leaderboards score the arch a run would return by this value, not by its lucky
        noisy observation: with seed noise, picking the best observation favours strategies
        that sample many near-best archs, whatever their true quality.
        """
        return None

    def best_known(self) -> float | None:
        """The best noise-free objective value this benchmark knows of over its search
        space (regret is measured against it), or ``None`` when it knows none."""
        return None

    def resources(self) -> dict[str, float]:
        """What one evaluation needs, as Ray resource counts (``num_cpus``, ``num_gpus``).

        Executors that place work on a cluster ask for these per cell; answering from a
        table takes one CPU.
        """
        return {"num_cpus": 1.0, "num_gpus": 0.0}

    def attach_run_dir(self, run_dir: Path) -> None:
        """Where this run keeps files beside its store (checkpoints); ignored by default."""

    def search_space(self) -> Space:
        """The space strategies search (a tabular benchmark narrows it to its rows)."""
        return self.space

    @abstractmethod
    def evaluate(self, arch: Arch, seed: int) -> Result:
        """Evaluate one arch; failures are returned as ``Result.failed``, not raised."""


@runtime_checkable
class KnowsSeedNoise(Protocol):
    """A benchmark that knows how much one observation of its objective varies with the
    training seed, so that a leaderboard can say whether two rows differ by more than luck."""

    def seed_noise(self) -> float | None:
        """The standard deviation of one observation of the objective around its noise-free
        value, pooled over the archs measured: 0 where observations are exact, ``None`` where
        it cannot be told (no arch measured twice)."""
        ...


@runtime_checkable
class LendsTraining(Protocol):
    """A benchmark that trains on a task and lends its training context (a
    :class:`nasbench_txf.training.context.TrainingContext`) to strategies that train, so that a
    one-shot search trains on the data, recipe and device its results are measured with."""

    def training_context(self) -> Any: ...


@runtime_checkable
class ScoresTrainedWeights(Protocol):
    """A benchmark that can score a card with super-network weights a strategy trained
    (:class:`~nasbench_txf.core.strategy.SharesWeights`) instead of its own."""

    def evaluate_with(self, arch: Arch, seed: int, weights: Path) -> Result: ...
