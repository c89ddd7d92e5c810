"""Read a run store into leaderboard tables: one per (space, benchmark, task), one curve per run.

Each run's *incumbent* after t queries is the arch with the best observed objective so far —
what the strategy would return. Its *score* is that observation; its *regret* is measured
with the arch's noise-free value where the benchmark knows it
(:meth:`~nasbench_txf.core.benchmark.Benchmark.expected`), so that a lucky observation of a
mediocre arch does not count as a find. The reference is the benchmark's
:meth:`~nasbench_txf.core.benchmark.Benchmark.best_known` value (tabular: the best measured mean;
surrogate: the best prediction over the enumerated space); benchmarks without one (live
training) are measured against the best value observed in the store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nasbench_txf.core.arch import Arch, canonical_json
from nasbench_txf.core.benchmark import Benchmark, KnowsSeedNoise
from nasbench_txf.core.errors import StoreError, UserError
from nasbench_txf.core.registry import get_strategy, open_benchmark
from nasbench_txf.core.result import Metric
from nasbench_txf.core.strategy import optimises_several
from nasbench_txf.run.cell import CellSpec, open_cell
from nasbench_txf.run.store import CellRow, Store, TrialRow
from nasbench_txf.run.sweep import MACHINE_META
from nasbench_txf.run.variants import variant_label

#: the row that normalises regret and sets the default target: random search
BASELINE = "rs"


@dataclass(frozen=True, order=True)
class TableKey:
    """What one leaderboard table compares on: a space, a benchmark and a task."""

    space: str
    space_options: str
    benchmark: str
    benchmark_options: str
    task: str | None

    @classmethod
    def of(cls, key: dict[str, Any]) -> TableKey:
        return cls(key["space"]["name"], canonical_json(key["space"]["options"]), key["benchmark"]["name"],
                   canonical_json(key["benchmark"]["options"]), key["benchmark"]["task"])

    @property
    def title(self) -> str:
        space = f"{self.space} {_options_text(self.space_options)}".strip()
        bench = f"{self.benchmark} {_options_text(self.benchmark_options)}".strip()
        return f"{space} · {bench} · {self.task or 'no task'}"


@dataclass(frozen=True, order=True)
class RowKey:
    """One leaderboard row: a strategy with its options, an encoding, a simulation."""

    strategy: str
    encoding: str | None
    strategy_options: str
    encoding_options: str | None
    simulation: str | None

    @classmethod
    def of(cls, key: dict[str, Any]) -> RowKey:
        enc = key.get("encoding")
        return cls(key["strategy"]["name"], enc["name"] if enc else None,
                   canonical_json(key["strategy"]["options"]), canonical_json(enc["options"]) if enc else None,
                   canonical_json(key["simulation"]) if key.get("simulation") else None)

    @property
    def name(self) -> str:
        """The strategy (with the options that differ from its defaults) and the encoding."""
        label = variant_label(self.strategy, json.loads(self.strategy_options))
        return f"{label}+{self.encoding}" if self.encoding else label


@dataclass
class Run:
    """One cell's trials as curves over queries (index t = after t+1 queries)."""

    row: RowKey
    seed: int
    cell_id: str
    observed: np.ndarray  #: objective per trial (NaN where it failed)
    truth: np.ndarray  #: noise-free objective of each trial's arch where known, else observed
    sim_end: np.ndarray  #: end of each trial on the simulated clock
    strategy_seconds: np.ndarray
    metrics: list[dict[str, float]]
    failed: int
    #: each trial's card
    cards: list[dict[str, Any]] = field(default_factory=list)

    @property
    def queries(self) -> int:
        return len(self.observed)

    def incumbent(self, maximize: bool) -> np.ndarray:
        """Index of the best observation so far after each query (-1 before the first success)."""
        best, index, out = None, -1, np.empty(self.queries, dtype=int)
        for t, value in enumerate(self.observed):
            if np.isfinite(value) and (best is None or (value > best if maximize else value < best)):
                best, index = value, t
            out[t] = index
        return out


@dataclass
class RunTable:
    """The runs of one (space, benchmark, task) and what they are measured against."""

    key: TableKey
    objective: str
    maximize: bool
    runs: list[Run]
    reference: float
    reference_source: str
    benchmark_version: str | None
    commands: list[str]
    package_versions: list[str]
    #: the objectives of the multi-objective strategies in the table (empty when there are none)
    pareto_objectives: tuple[Metric, ...] = ()
    notes: list[str] = field(default_factory=list)
    #: one observation's seed-to-seed standard deviation, where the benchmark knows it
    seed_noise: float | None = None
    #: the machine the runs' sweep ran on, where the store recorded it
    machine: str | None = None

    @property
    def fraction(self) -> bool:
        """Whether the objective is a fraction to maximise (accuracy): then tables, plots and
        notes show it and its regret in percentage points."""
        values = np.concatenate([r.observed for r in self.runs])
        values = values[np.isfinite(values)]
        return self.maximize and values.size > 0 and bool(((values >= 0) & (values <= 1)).all())

    @property
    def unit_scale(self) -> float:
        """Multiply objective values and regrets by this to show them (100 for a fraction)."""
        return 100.0 if self.fraction else 1.0

    @property
    def unit(self) -> str:
        """The unit values are shown in after :attr:`unit_scale`: ``"pts"`` or ``""``."""
        return "pts" if self.fraction else ""

    def score(self, run: Run) -> np.ndarray:
        """The incumbent's observed objective after each query (best so far; NaN before any)."""
        inc = run.incumbent(self.maximize)
        return np.where(inc >= 0, run.observed[np.maximum(inc, 0)], np.nan)

    def regret(self, run: Run) -> np.ndarray:
        """Reference minus the incumbent's noise-free value (≥ 0; NaN before any success)."""
        inc = run.incumbent(self.maximize)
        truth = np.where(inc >= 0, run.truth[np.maximum(inc, 0)], np.nan)
        return self.reference - truth if self.maximize else truth - self.reference

    @property
    def horizon(self) -> int:
        """The queries every run has: tables compare runs at equal budgets."""
        return min(r.queries for r in self.runs)

    @property
    def mixed_budgets(self) -> bool:
        """Whether some runs went further than the common budget :attr:`horizon`."""
        return max(r.queries for r in self.runs) > self.horizon

    def baseline_regret(self, upto: int) -> float | None:
        """Random search's mean regret after ``upto`` queries over its seeds (``None`` without
        random search in the table)."""
        ends = [self.regret(r)[upto - 1] for r in self.runs if r.row.strategy == BASELINE and r.queries >= upto]
        ends = [e for e in ends if np.isfinite(e)]
        return float(np.mean(ends)) if ends else None

    def rows(self) -> dict[RowKey, list[Run]]:
        grouped: dict[RowKey, list[Run]] = defaultdict(list)
        for run in sorted(self.runs, key=lambda r: (r.row, r.seed)):
            grouped[run.row].append(run)
        return dict(grouped)


#: the longest JSON option value a title shows whole
TITLE_VALUE_CHARS = 40


def _options_text(options_json: str) -> str:
    """Options as ``(k=v, ...)``; a long JSON value (a child space's parent cards) as its
    digest, which keeps titles short and distinct."""
    options = {k: v for k, v in json.loads(options_json).items() if v != ""}
    shown = {k: f"#{hashlib.sha256(v.encode()).hexdigest()[:8]}"
             if isinstance(v, str) and v.startswith(("[", "{")) and len(v) > TITLE_VALUE_CHARS else v
             for k, v in options.items()}
    return "(" + ", ".join(f"{k}={v}" for k, v in shown.items()) + ")" if shown else ""


def read_tables(path: Path, *, space: str | None = None, benchmark: str | None = None,
                task: str | None = None) -> list[RunTable]:
    """The store's tables, filtered by space/benchmark/task names; refuses what it cannot compare."""
    if not path.is_file():
        raise StoreError(f"{path} does not exist")
    with Store.open(path, create=False) as store:
        cells = [c for c in store.cells() if _wanted(c, space, benchmark, task)]
        if not store.cells():
            raise StoreError(f"{path} holds no runs")
        if not cells:
            raise StoreError(f"{path} holds no runs of space={space or 'any'}, benchmark={benchmark or 'any'}, "
                             f"task={task or 'any'}")
        machine = store.meta(MACHINE_META)
        by_table: dict[TableKey, list[tuple[CellRow, list[TrialRow]]]] = defaultdict(list)
        for cell in cells:
            trials = store.trials(cell.cell_id)
            if trials:
                by_table[TableKey.of(cell.key)].append((cell, trials))
    if not by_table:
        raise StoreError(f"{path}: the selected runs have no finished trial yet")
    return [dataclasses.replace(_table(key, members), machine=machine) for key, members in sorted(by_table.items())]


def _wanted(cell: CellRow, space: str | None, benchmark: str | None, task: str | None) -> bool:
    key = cell.key
    return ((space is None or key["space"]["name"] == space)
            and (benchmark is None or key["benchmark"]["name"] == benchmark)
            and (task is None or key["benchmark"]["task"] == task))


def one_table(tables: Sequence[RunTable]) -> RunTable:
    """The single table a view needs; several are refused with their names."""
    if len(tables) > 1:
        names = "; ".join(t.key.title for t in tables)
        raise UserError(f"the store holds {len(tables)} benchmarks ({names}); choose one with "
                        "--space, --benchmark and --task")
    return tables[0]


def _table(key: TableKey, members: list[tuple[CellRow, list[TrialRow]]]) -> RunTable:
    versions = sorted({c.benchmark_version for c, _ in members if c.benchmark_version is not None})
    if len(versions) > 1:
        counts = {v: sum(c.benchmark_version == v for c, _ in members) for v in versions}
        listed = ", ".join(f"{v} ({n} runs)" for v, n in counts.items())
        raise UserError(f"{key.title}: the runs used different versions of the benchmark ({listed}); "
                        "their scores are not comparable — sweep again into one store per version")
    objectives = {(c.objective, c.maximize) for c, _ in members}
    if len(objectives) > 1:
        raise UserError(f"{key.title}: the runs optimised different objectives {sorted(objectives)}")
    (objective, maximize), = objectives
    notes: list[str] = []
    bench = _benchmark(key, versions[0] if versions else None, notes)
    runs = [_run(cell, trials, objective, bench) for cell, trials in members]
    if not any(np.isfinite(r.observed).any() for r in runs):
        raise UserError(f"{key.title}: every trial failed; there is nothing to rank")
    reference, source = _reference(runs, bench, maximize)
    return RunTable(
        key=key, objective=objective, maximize=maximize, runs=runs, reference=reference,
        reference_source=source, benchmark_version=versions[0] if versions else None,
        commands=list(dict.fromkeys(c.command for c, _ in members if c.command)),
        package_versions=sorted({c.package_version for c, _ in members if c.package_version}),
        pareto_objectives=_pareto_objectives(members, notes), notes=notes,
        seed_noise=bench.seed_noise() if isinstance(bench, KnowsSeedNoise) else None,
    )


def _benchmark(key: TableKey, version: str | None, notes: list[str]) -> Benchmark | None:
    """The benchmark the runs used, when it can be opened here and is still the same version."""
    try:
        bench = open_benchmark(key.space, json.loads(key.space_options), key.benchmark, key.task,
                               json.loads(key.benchmark_options))
    except UserError as exc:
        notes.append(f"benchmark not available here ({exc}); regret uses observed values")
        return None
    if version is not None and bench.version != version:
        notes.append(f"benchmark changed since the runs (runs: {version}, here: {bench.version}); "
                     "regret uses observed values")
        return None
    return bench


def _run(cell: CellRow, trials: list[TrialRow], objective: str, bench: Benchmark | None) -> Run:
    observed = np.array([t.metrics.get(objective, np.nan) if t.status == "ok" else np.nan for t in trials])
    truth = observed
    if bench is not None:
        archs = [Arch.from_card(bench.space.name, t.card) for t in trials]
        expected = bench.expected(archs)
        if expected is not None:
            truth = np.where(np.isfinite(observed), np.asarray(expected, dtype=float), np.nan)
    ends = np.array([t.sim_end if t.sim_end is not None else np.nan for t in trials])
    if np.isnan(ends).any():  # stores before schema 2: trials one after another
        ends = np.cumsum([t.cost_seconds + t.strategy_seconds for t in trials])
    return Run(row=RowKey.of(cell.key), seed=int(cell.key["seed"]), cell_id=cell.cell_id, observed=observed,
               truth=truth, sim_end=np.maximum.accumulate(ends),
               strategy_seconds=np.array([t.strategy_seconds for t in trials]),
               metrics=[dict(t.metrics) if t.status == "ok" else {} for t in trials],
               failed=sum(t.status != "ok" for t in trials), cards=[t.card for t in trials])


def _reference(runs: list[Run], bench: Benchmark | None, maximize: bool) -> tuple[float, str]:
    pick = np.nanmax if maximize else np.nanmin
    seen = float(pick(np.concatenate([r.truth for r in runs])))
    known = bench.best_known() if bench is not None else None
    if bench is None or known is None:
        return seen, "the best value observed in this store"
    return float(pick([known, seen])), f"the best value benchmark {bench.name} knows over its space"


def _pareto_objectives(members: list[tuple[CellRow, list[TrialRow]]], notes: list[str]) -> tuple[Metric, ...]:
    """The objectives of the first strategy in the table that names several (its cell opened
    here, once per strategy setting); a search that optimises several objectives scalarised into
    one (a one-shot search's λ) names none and is passed over."""
    failure, tried = "", set()
    for cell, _ in members:
        key = cell.key
        setting = json.dumps(key["strategy"], sort_keys=True)
        if setting in tried:
            continue
        tried.add(setting)
        try:
            cls = get_strategy(key["strategy"]["name"])
            if not optimises_several(cls, cls.make_options(dict(key["strategy"]["options"]))):
                continue
            enc = key.get("encoding")
            opened = open_cell(CellSpec(
                space=key["space"]["name"], strategy=key["strategy"]["name"], benchmark=key["benchmark"]["name"],
                seed=int(key["seed"]), encoding=enc["name"] if enc else None, task=key["benchmark"]["task"],
                space_options=key["space"]["options"], strategy_options=key["strategy"]["options"],
                encoding_options=enc["options"] if enc else {}, benchmark_options=key["benchmark"]["options"]))
        except UserError as exc:
            failure = failure or f"no Pareto view: cannot open {key['strategy']['name']} here ({exc})"
            continue
        if len(opened.strategy.objectives) > 1:
            return opened.strategy.objectives
    if failure:
        notes.append(failure)
    return ()
