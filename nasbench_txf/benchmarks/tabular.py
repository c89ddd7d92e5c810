"""The tabular benchmark: answers with measured rows of a table, nothing predicted.

Strategies search the table's archs (:class:`~nasbench_txf.tables.space.TableSpace`); an
evaluation returns the row of that arch at the evaluation seed, or at a measured seed the
evaluation seed picks, so repeated runs see the measured seed-to-seed noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.benchmark import Benchmark
from nasbench_txf.core.errors import IncompatibleError, OptionError
from nasbench_txf.core.options import option
from nasbench_txf.core.result import Metric, Result
from nasbench_txf.core.space import Space
from nasbench_txf.surrogate.noise import noise_level
from nasbench_txf.tables.builtin import resolve_table
from nasbench_txf.tables.space import TableSpace
from nasbench_txf.tables.table import Table, lookup


@dataclass(frozen=True)
class TableOptions:
    table: str = option("", "table folder (metadata.json + rows.jsonl); "
                            "empty = the built-in table of the space and task")
    objective: str = option("", "the metric to optimise; empty = the table's first (e.g. accuracy)")


def table_id(table: Table) -> str:
    return f"{table.meta.space['name']}/{table.meta.task}/{table.meta.created}/{len(table.rows)}"


def open_table(space: Space, task: str | None, options: TableOptions) -> Table:
    table = resolve_table(options.table, space, task)
    if table.meta.space != space.key():
        raise IncompatibleError(f"table {table.folder} measured space {table.meta.space}, "
                                f"not {space.key()}; give --space-opt to match")
    if task is not None and task != table.meta.task:
        raise IncompatibleError(f"table {table.folder} measured task {table.meta.task}, not {task}")
    return table


class TableBenchmark(Benchmark):
    """A benchmark that answers from a table: its task and metrics are the table's."""

    Options = TableOptions

    def __init__(self, space: Space, *, task: str | None = None, options: Any = None) -> None:
        super().__init__(space, task=task, options=options)
        self.table = open_table(space, task, self.options)
        self.task = self.table.meta.task
        names = [m.name for m in self.table.meta.metrics]
        if self.options.objective and self.options.objective not in names:
            raise OptionError(f"objective {self.options.objective!r} is not a metric of table "
                              f"{self.table.folder}; its metrics: {', '.join(names)}")

    @property
    def metrics(self) -> tuple[Metric, ...]:
        """The table's metrics, the chosen objective first."""
        metrics = self.table.meta.metrics
        chosen = [m for m in metrics if m.name == self.options.objective]
        return (*chosen, *(m for m in metrics if m not in chosen))

    @property
    def version(self) -> str:
        return table_id(self.table)

    def best_known(self) -> float | None:
        values = self.expected(self.reference_archs())
        values = values[np.isfinite(values)] if values is not None else np.array([])
        if not values.size:
            return None
        return float(values.max() if self.objective.maximize else values.min())

    def reference_archs(self) -> list[Arch]:
        """The archs :meth:`best_known` searches: the table's archs here."""
        return [self.space.arch(rows[0].card) for rows in self.table.by_arch().values()]


class Tabular(TableBenchmark):
    """Measured evaluations of a table's archs (several seeds where measured)."""

    name = "tabular"

    def __init__(self, space: Space, *, task: str | None = None, options: Any = None) -> None:
        super().__init__(space, task=task, options=options)
        self.rows = self.table.by_arch()

    @cached_property
    def table_space(self) -> TableSpace:
        archs = [self.space.arch(rows[0].card) for rows in self.rows.values()]
        return TableSpace(self.space, archs, table_id(self.table))

    def search_space(self) -> Space:
        return self.table_space

    def evaluate(self, arch: Arch, seed: int) -> Result:
        return lookup(self.rows, arch, seed).result()

    def seed_noise(self) -> float | None:
        """The pooled seed-to-seed standard deviation of the objective over the archs measured
        with several seeds (failed and at-chance trainings left out; ``None`` where no arch has
        two) (:class:`~nasbench_txf.core.benchmark.KnowsSeedNoise`)."""
        objective = self.objective.name
        by_seed = [np.array([r.metrics[objective] for r in rows if r.measured and objective in r.metrics])
                   for rows in self.rows.values()]
        return noise_level(by_seed) if any(len(x) >= 2 for x in by_seed) else None

    def expected(self, archs: Sequence[Arch]) -> np.ndarray:
        """The mean of each arch's measured seeds, failed and at-chance trainings left out (NaN for none)."""
        objective = self.objective.name
        values = []
        for arch in archs:
            ok = [r.metrics[objective] for r in self.rows.get(arch.id, ())
                  if r.measured and objective in r.metrics]
            values.append(float(np.mean(ok)) if ok else math.nan)
        return np.asarray(values, dtype=float)
