"""The surrogate benchmark: a model fitted on a table answers for every arch of the space.

The default for ``run``: with no options it uses the built-in FlexiBERT/SST-2 table and the
surrogate shipped beside it, so a fresh install runs with no data and no network. For
another table, the surrogate stored in ``<table>/surrogate/`` is used, or fitted once and
cached (see :mod:`nasbench_txf.surrogate.surrogate` for the model and its validation).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from nasbench_txf.benchmarks.tabular import TableBenchmark, table_id
from nasbench_txf.core.arch import Arch
from nasbench_txf.core.errors import DataError
from nasbench_txf.core.files import cache_root
from nasbench_txf.core.progress import announce
from nasbench_txf.core.result import Result
from nasbench_txf.core.space import Space
from nasbench_txf.surrogate.surrogate import Surrogate
from nasbench_txf.tables.table import Table

#: archs sampled to estimate the best prediction over a space too large to enumerate
REFERENCE_SAMPLE = 20_000


def load_or_fit(table: Table, space: Space) -> Surrogate:
    """The surrogate stored with the table if it was fitted on these rows, else a cached fit."""
    expected = table.meta.to_json(), len(table.rows)
    digest = hashlib.sha256(table_id(table).encode() + str(table.folder.resolve()).encode()).hexdigest()[:16]
    for folder in (table.folder / "surrogate", cache_root() / "surrogates" / digest):
        if (folder / "surrogate.json").is_file():
            try:
                surrogate = Surrogate.load(folder, space)
            except DataError:
                if folder.parent == table.folder:
                    raise  # a shipped or user-saved surrogate that is broken: say so
                continue  # a damaged cache entry: refit
            if (surrogate.meta["table"], surrogate.meta["table_rows"]) == expected:
                return surrogate
    announce(f"fitting a surrogate on the table in {table.folder} ({len(table.rows):,} rows); it is cached for "
             "later runs")
    surrogate = Surrogate.fit(table, space)
    surrogate.save(cache_root() / "surrogates" / digest)
    return surrogate


class SurrogateBenchmark(TableBenchmark):
    """Predicted evaluations for any arch, with the table's measured seed-to-seed noise."""

    name = "surrogate"

    def __init__(self, space: Space, *, task: str | None = None, options: Any = None) -> None:
        super().__init__(space, task=task, options=options)
        self.model = load_or_fit(self.table, space)
        self.noise_kind = self.model.noise_kind(self.objective.name)

    @property
    def version(self) -> str:
        """The table's rows, the metrics counted from the card (a surrogate of format 4 and
        older learned them: its answers differ), the objective's noise model where it is
        not one level for all, and whether trainings fail (format 5 and older never did)."""
        counted = "".join(f"/counted-{name}" for name in self.model.counted)
        noise = "" if self.noise_kind == "constant" else f"/{self.noise_kind}-noise"
        return super().version + counted + noise + ("/failures" if self.model.failure_rate else "")

    def evaluate(self, arch: Arch, seed: int) -> Result:
        predicted = {name: float(values[0]) for name, values in self.model.predict([arch]).items()}
        cost = max(0.0, predicted.pop("cost_seconds"))
        if self.model.fails(arch, seed):
            failures = self.model.meta["failures"]
            return Result.failed(f"the training failed, as {failures['rows']} of the table's {failures['of']} "
                                 "trainings did (the surrogate fails at their rate)", cost, predicted=True)
        objective = self.objective.name
        predicted[objective] += self.model.noise(arch, seed, objective)
        if not all(math.isfinite(v) for v in predicted.values()):
            return Result.failed("the surrogate predicted a non-finite value", cost)
        return Result(predicted, cost, info={"predicted": True})

    def expected(self, archs: Sequence[Arch]) -> np.ndarray:
        """The surrogate's predicted mean (before the per-seed noise)."""
        objective = self.objective.name
        return np.asarray(self.model.predict(list(archs), [objective])[objective], dtype=float)

    def seed_noise(self) -> float:
        """The table's pooled seed-to-seed standard deviation of the objective, the level the
        surrogate's noise is fitted to (:class:`~nasbench_txf.core.benchmark.KnowsSeedNoise`)."""
        return float(self.model.meta["noise"][self.objective.name]["std"])

    def reference_archs(self) -> list[Arch]:
        """The whole space where it can be enumerated; otherwise the table's archs and a
        fixed sample of :data:`REFERENCE_SAMPLE` archs (then the best is an estimate)."""
        if self.space.enumerable:
            return list(self.space.enumerate())
        rng = np.random.default_rng(0)
        sample = [self.space.sample(rng) for _ in range(REFERENCE_SAMPLE)]
        return list(dict.fromkeys([*super().reference_archs(), *sample]))
