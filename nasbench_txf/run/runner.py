"""Run cells and store their trials: the driver of every run and sweep.

The driver opens the cells (refusing a bad combination before a store is made), records
them in the store, hands them to an executor (:mod:`nasbench_txf.run.executors`: this process,
a local pool, or Ray) and alone writes each trial the moment it comes back, so a run killed
at any point resumes from the store with nothing lost or duplicated.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tqdm import tqdm

from nasbench_txf.core.arch import canonical_json
from nasbench_txf.core.errors import StoreError, UserError
from nasbench_txf.core.pareto import minimisation_matrix, pareto_indices
from nasbench_txf.core.result import Metric
from nasbench_txf.run.cell import Cell, CellSpec, open_cell
from nasbench_txf.run.executors import Done, Executor, Finished, Job, LocalPool, Lost, Sequential
from nasbench_txf.run.store import Store, TrialRow
from nasbench_txf.run.trials import Asked, Budget, cell_trials, prepare, result_of


@dataclass(frozen=True)
class CellSummary:
    """What a finished cell found."""

    cell_id: str
    seed: int
    trials: int
    failed: int
    objective: str
    maximize: bool
    best_value: float | None
    best_card: dict[str, Any] | None
    best_arch_id: str | None
    simulated_seconds: float
    #: for a multi-objective strategy: its objectives and the Pareto set of the run's trials
    #: (cards with those objectives' values); empty otherwise
    pareto_objectives: list[str] = field(default_factory=list)
    pareto: list[dict[str, Any]] = field(default_factory=list)


def summarise(cell: Cell, rows: list[TrialRow]) -> CellSummary:
    objective = cell.benchmark.objective
    best: TrialRow | None = None
    best_value: float | None = None
    for row in rows:
        value = result_of(row).value(objective.name)
        if value is None:
            continue
        if best_value is None or (value > best_value if objective.maximize else value < best_value):
            best, best_value = row, value
    return CellSummary(
        cell_id=cell.id, seed=cell.seed, trials=len(rows),
        failed=sum(r.status != "ok" for r in rows), objective=objective.name,
        maximize=objective.maximize,
        best_value=best_value, best_card=best.card if best else None,
        best_arch_id=best.arch_id if best else None,
        simulated_seconds=simulated_seconds(rows),
        **_pareto(cell.strategy.objectives, rows),
    )


def simulated_seconds(rows: Sequence[TrialRow]) -> float:
    """When the last trial ended on the simulated clock (the sum of costs for old stores)."""
    ends = [r.sim_end for r in rows if r.sim_end is not None]
    return max(ends) if len(ends) == len(rows) and ends else sum(r.cost_seconds for r in rows)


def _pareto(objectives: tuple[Metric, ...], rows: list[TrialRow]) -> dict[str, Any]:
    if len(objectives) < 2:
        return {}
    front = pareto_indices(minimisation_matrix([result_of(r) for r in rows], objectives))
    members = {rows[i].arch_id: rows[i] for i in front}  # an arch measured twice counts once
    return {
        "pareto_objectives": [m.name for m in objectives],
        "pareto": [{"card": r.card, **{m.name: r.metrics[m.name] for m in objectives}} for r in members.values()],
    }


def describe_difference(store: Store, key: dict[str, Any]) -> str:
    """A message naming what differs between ``key`` and the cells already in the store."""
    cells = store.cells()
    if not cells:
        return f"{store.path} holds no runs: nothing to resume"
    parts = []
    for name in ("space", "benchmark", "strategy", "encoding", "seed"):
        stored = sorted({canonical_json(c.key.get(name)) for c in cells})
        if (mine := canonical_json(key.get(name))) not in stored:
            parts.append(f"{name}: command has {mine}, store has {' or '.join(stored)}")
    detail = "; ".join(parts) if parts else "the combination of keys differs"
    return f"{store.path} holds no run with this command's keys ({detail})"


def _same_run(stored: Mapping[str, Any], key: Mapping[str, Any], seeds: Collection[int]) -> bool:
    """Whether ``stored`` is the cell of one of ``seeds`` of the run whose cell key is ``key``."""
    return stored.get("seed") in seeds and {**stored, "seed": None} == {**key, "seed": None}


def open_in_store(store: Store, cell: Cell, resume: bool | Literal["auto"],
                  command: str | None, run_seeds: Collection[int] = ()) -> list[TrialRow]:
    """Check the store against ``resume``, record the cell; return its stored trials.

    ``resume``: ``False`` refuses a store that already has trials of this cell; ``True``
    continues the run, whose cells are this one's at ``run_seeds``: a cell that had not
    started (or had no finished trial) starts now, provided the store holds a cell of this run
    or no cell at all; ``"auto"`` (sweeps) continues whatever is there. Open the cells first
    (:func:`~nasbench_txf.run.cell.open_cell`), so that a combination that cannot work is
    refused before a store is created.
    """
    stored = store.cell(cell.id)
    rows = store.trials(cell.id) if stored else []
    if resume is True and stored is None:
        seeds = {*run_seeds, cell.seed}
        cells = store.cells()
        if cells and not any(_same_run(c.key, cell.key, seeds) for c in cells):
            raise StoreError(describe_difference(store, cell.key))
    if resume is False and rows:
        raise StoreError(
            f"{store.path} already has {len(rows)} trials of this run; add --resume to "
            "continue it, or give another --store"
        )
    version = cell.benchmark.version
    if rows and stored is not None and stored.benchmark_version not in (None, version):
        raise StoreError(
            f"{store.path}: benchmark {cell.benchmark.name} changed since this run started "
            f"(stored {stored.benchmark_version}, now {version}); its trials would mix two "
            "benchmarks: give another --store"
        )
    objective = cell.benchmark.objective
    store.add_cell(cell.id, cell.key, objective.name, objective.maximize, command, version)
    return rows


def done_by_budget(rows: Sequence[TrialRow], budget: Budget) -> bool:
    """Whether stored trials already meet a query budget (the cell then needs no replay)."""
    return budget.queries is not None and len(rows) >= budget.queries


def _next_ask(spec: CellSpec, stored: list[TrialRow], budget: Budget, store_path: str | Path) -> Asked | None:
    """The trial that follows ``stored``, found by replaying the strategy here without
    evaluating it (the generator is closed at its announcement); ``None`` when the budget
    or the strategy has ended the cell."""
    cell = open_cell(spec)
    prepare(cell, store_path)
    for event in cell_trials(cell, stored, budget, announce=True):
        if isinstance(event, Asked):
            return event
    return None


def run_cells(
    specs: Sequence[CellSpec],
    store_path: str | Path,
    budget: Budget,
    *,
    resume: bool | Literal["auto"] = False,
    workers: int = 1,
    executor: Executor | None = None,
    retries: int = 1,
    command: str | None = None,
    progress: bool | None = None,
    on_trial: Callable[[], None] | None = None,
) -> list[CellSummary]:
    """Run (or resume, see :func:`open_in_store`) ``specs`` to their budget; return their summaries.

    ``executor``: where the trials are computed; by default this process, or a local pool of
    ``workers`` processes. Each cell is seeded by its own seed, so the trials do not depend
    on the executor. A job whose worker died (Ray) is run again from its stored trials; after
    ``retries`` deaths at the same trial, that trial is stored as failed and the cell goes on.
    ``progress=None`` shows a bar on a terminal only.
    """
    if executor is None:
        executor = LocalPool(workers) if workers > 1 and len(specs) > 1 else Sequential()
    cells = [open_cell(spec) for spec in specs]
    seeds = {spec.seed for spec in specs}
    total = budget.queries * len(specs) if budget.queries is not None else None
    failures: dict[tuple[int, int], int] = {}
    with Store.open(store_path) as store, executor, tqdm(  # the bar starts once the cells are ready
            total=total, unit="trial", disable=None if progress is None else not progress, desc="trials",
            dynamic_ncols=True, leave=False) as bar:
        rows = [open_in_store(store, cell, resume, command, seeds) for cell in cells]
        bar.update(sum(map(len, rows)))

        def record(index: int, row: TrialRow) -> None:
            store.add_trial(cells[index].id, row)
            rows[index].append(row)
            bar.update(1)
            if on_trial is not None:
                on_trial()

        def submit(index: int) -> None:
            if not done_by_budget(rows[index], budget):
                executor.submit(Job(index, specs[index], list(rows[index]), budget, str(store_path),
                                    _resources(cells[index])))

        for index in range(len(specs)):
            submit(index)
        try:
            for event in executor.events():
                if isinstance(event, Finished):
                    record(event.index, event.row)
                elif isinstance(event, Lost):
                    index = event.index
                    key = (index, len(rows[index]))
                    failures[key] = failures.get(key, 0) + 1
                    if failures[key] > retries:
                        asked = _next_ask(specs[index], rows[index], budget, store_path)
                        if asked is None:
                            raise UserError(f"cell {cells[index].id}: its worker died {failures[key]} times "
                                            f"({type(event.error).__name__}: {event.error})")
                        record(index, asked.failed(f"worker died {failures[key]} times: "
                                                   f"{type(event.error).__name__}"))
                    submit(index)
                else:
                    assert isinstance(event, Done)
        except KeyboardInterrupt:
            for event in executor.stop():  # every trial a worker finished is kept
                if isinstance(event, Finished):
                    record(event.index, event.row)
            raise
    return [summarise(cell, cell_rows) for cell, cell_rows in zip(cells, rows, strict=True)]


def _resources(cell: Cell) -> dict[str, float]:
    """What a cell's job asks of a machine: the most its benchmark or its strategy asks."""
    needs = dict(cell.benchmark.resources())
    for name, amount in cell.strategy.resources().items():
        needs[name] = max(needs.get(name, 0.0), amount)
    return needs


def run_cell(spec: CellSpec, store_path: str | Path, budget: Budget, *, resume: bool | Literal["auto"] = False,
             command: str | None = None) -> CellSummary:
    """Run (or resume) one cell in this process."""
    (summary,) = run_cells([spec], store_path, budget, resume=resume, command=command, progress=False)
    return summary
