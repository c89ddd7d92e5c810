"""Run cells: ask, evaluate, store, tell; resume by replaying the store.

A killed run resumes without re-evaluating anything: a fresh strategy with the same seed is
fed the stored trials in order (it must ask for the same archs, which the determinism rule
guarantees), then the run goes on from the first trial that is not in the store.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.managers import SyncManager
from pathlib import Path
from queue import Empty
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from nasbench_txf.arch import Arch, canonical_json
from nasbench_txf.cell import Cell, CellSpec, open_cell
from nasbench_txf.errors import StoreError, UserError
from nasbench_txf.orphans import pool_worker
from nasbench_txf.pareto import minimisation_matrix, pareto_indices
from nasbench_txf.result import Metric, Result
from nasbench_txf.simulation import WorkerClock
from nasbench_txf.store import Store, TrialRow, now

#: the largest query budget of a cell (far beyond any search, small enough to plan for)
MAX_QUERIES = 10_000_000


@dataclass(frozen=True)
class Budget:
    """When a cell stops: after ``queries`` trials and/or ``seconds`` of simulated time.

    Simulated time runs on the cell's :class:`~nasbench_txf.simulation.WorkerClock`: the
    benchmark's cost per trial (real for live training, recorded or predicted otherwise)
    plus, unless the cell's simulation says otherwise, the strategy's measured compute time.
    No trial starts once the clock has reached ``seconds``. Without the compute time the
    clock is deterministic for tabular and surrogate benchmarks, and so is a seconds budget.
    """

    queries: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.queries is None and self.seconds is None:
            raise UserError("a budget needs a number of queries, simulated seconds, or both")
        if self.queries is not None and self.queries < 1:
            raise UserError(f"--budget must be at least 1 query, got {self.queries}")
        if self.queries is not None and self.queries > MAX_QUERIES:
            raise UserError(f"--budget must be at most {MAX_QUERIES:,} queries, got {self.queries:,}")
        if self.seconds is not None and not (math.isfinite(self.seconds) and self.seconds > 0):
            raise UserError(f"--budget-seconds must be a positive, finite number, got {self.seconds}")

    def exhausted(self, trials: int, simulated_seconds: float) -> bool:
        return (self.queries is not None and trials >= self.queries) or (
            self.seconds is not None and simulated_seconds >= self.seconds
        )


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


def evaluation_seed(cell_seed: int, trial: int) -> int:
    """Seed of one evaluation: fixed by the cell's seed and the trial number."""
    return int(np.random.SeedSequence([cell_seed, trial]).generate_state(1)[0])


def run_dir(store_path: str | Path) -> Path:
    """Files a run keeps beside its store (``runs/x.sqlite`` → ``runs/x.files/``)."""
    path = Path(store_path)
    return path.with_name(path.stem + ".files")


def _result_of(row: TrialRow) -> Result:
    return Result(row.metrics, row.cost_seconds, row.status, row.reason, row.info)  # type: ignore[arg-type]


def _evaluate(cell: Cell, arch: Arch, seed: int) -> Result:
    """Evaluate, turning a crash of the benchmark into a failed trial (user errors abort)."""
    try:
        return cell.benchmark.evaluate(arch, seed)
    except UserError:
        raise
    except Exception as exc:  # recorded with its reason; the run goes on
        return Result.failed(f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class Asked:
    """A trial about to be evaluated (announced by :func:`cell_trials` on request), so that
    an executor whose worker dies during the evaluation knows which trial was lost."""

    trial: int
    arch_id: str
    card: dict[str, Any]
    eval_seed: int
    strategy_seconds: float
    sim_start: float

    def failed(self, reason: str) -> TrialRow:
        """The trial recorded as failed, costing nothing."""
        stamp = now()
        return TrialRow(trial=self.trial, arch_id=self.arch_id, card=self.card, eval_seed=self.eval_seed,
                        status="failed", reason=reason, metrics={}, info={}, cost_seconds=0.0,
                        strategy_seconds=self.strategy_seconds, started_at=stamp, finished_at=stamp,
                        sim_start=self.sim_start, sim_end=self.sim_start)


def cell_trials(cell: Cell, stored: Sequence[TrialRow], budget: Budget, *,
                announce: bool = False) -> Iterator[TrialRow | Asked]:
    """Drive the cell's strategy on its simulated clock; yield each new trial as it is asked.

    The ``stored`` trials of an earlier run are replayed first — their results fed back, in
    the order and at the simulated times they had — without being evaluated again; the
    strategy must ask for the same archs, which the determinism rule guarantees. Evaluation
    happens when a trial is asked (a tabular or surrogate answer is instant; its cost is
    simulated), so every yielded row is complete and can be stored in trial order.
    """
    simulation = cell.simulation
    clock = WorkerClock(simulation.workers)
    running: dict[int, tuple[Arch, Result]] = {}
    trial, tell_seconds = 0, 0.0
    while True:
        while (clock.has_free_worker and not cell.strategy.finished
               and not budget.exhausted(trial, clock.next_start)):
            started = time.perf_counter()
            (arch,) = cell.strategy.ask(1)
            cell.strategy.space.check(arch)
            strategy_seconds = tell_seconds + time.perf_counter() - started
            tell_seconds = 0.0
            if trial < len(stored):
                row = stored[trial]
                if arch.id != row.arch_id:
                    raise StoreError(
                        f"cannot resume cell {cell.id}: at trial {row.trial} the strategy asks for "
                        f"{arch.canonical} but the store has {row.card}; the strategy is not "
                        "deterministic for its seed, or its code changed since the run started"
                    )
                result = _result_of(row)
                clock.start(trial, row.strategy_seconds if simulation.overhead else 0.0, row.cost_seconds)
            else:
                started_at = now()
                seed = evaluation_seed(cell.seed, trial)
                overhead = strategy_seconds if simulation.overhead else 0.0
                if announce:
                    yield Asked(trial, arch.id, arch.card, seed, strategy_seconds, clock.next_start + overhead)
                result = _evaluate(cell, arch, seed)
                sim_start, sim_end = clock.start(trial, overhead, float(result.cost_seconds))
                yield TrialRow(
                    trial=trial, arch_id=arch.id, card=arch.card, eval_seed=seed,
                    status=result.status, reason=result.reason, metrics=dict(result.metrics),
                    info=dict(result.info), cost_seconds=float(result.cost_seconds),
                    strategy_seconds=strategy_seconds, started_at=started_at, finished_at=now(),
                    sim_start=sim_start, sim_end=sim_end,
                )
            running[trial] = (arch, result)
            trial += 1
        if not clock.busy:
            return
        arch, result = running.pop(clock.finish_next())
        started = time.perf_counter()
        cell.strategy.tell(arch, result)
        tell_seconds += time.perf_counter() - started  # overhead before the freed worker's next trial


def summarise(cell: Cell, rows: list[TrialRow]) -> CellSummary:
    objective = cell.benchmark.objective
    best: TrialRow | None = None
    best_value: float | None = None
    for row in rows:
        value = _result_of(row).value(objective.name)
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
    front = pareto_indices(minimisation_matrix([_result_of(r) for r in rows], objectives))
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
    started (or had no finished trial) starts now, provided the store holds no other run's
    cells only; ``"auto"`` (sweeps) continues whatever is there. Open the cells first
    (:func:`~nasbench_txf.cell.open_cell`), so that a combination that cannot work is
    refused before a store is created.
    """
    cell.benchmark.attach_run_dir(run_dir(store.path))
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


def run_cell(
    spec: CellSpec,
    store_path: str | Path,
    budget: Budget,
    *,
    resume: bool | Literal["auto"] = False,
    command: str | None = None,
    on_trial: Callable[[int], None] | None = None,
    run_seeds: Collection[int] = (),
) -> CellSummary:
    """Run (or resume, see :func:`open_in_store`) one cell to its budget in this process,
    storing every trial as it finishes."""
    cell = open_cell(spec)
    with Store.open(store_path) as store:
        rows = open_in_store(store, cell, resume, command, run_seeds)
        if on_trial is not None and rows:
            on_trial(len(rows))
        if done_by_budget(rows, budget):
            return summarise(cell, rows)
        for row in cell_trials(cell, list(rows), budget):
            assert isinstance(row, TrialRow)
            store.add_trial(cell.id, row)
            rows.append(row)
            if on_trial is not None:
                on_trial(1)
        return summarise(cell, rows)


def _stream_cell(index: int, spec: CellSpec, stored: list[TrialRow], budget: Budget, store_path: str,
                 queue: Any) -> None:
    """A pool worker's job: run one cell, sending each new trial to the driver."""
    cell = open_cell(spec)
    cell.benchmark.attach_run_dir(run_dir(store_path))
    for row in cell_trials(cell, stored, budget):
        queue.put((index, row))


def run_cells(
    specs: Sequence[CellSpec],
    store_path: str | Path,
    budget: Budget,
    *,
    resume: bool | Literal["auto"] = False,
    workers: int = 1,
    command: str | None = None,
    progress: bool | None = None,
) -> list[CellSummary]:
    """Run cells one after another, or on a local process pool with ``workers`` > 1.

    Each cell is independent and seeded by its own seed, so the trials do not depend on the
    worker count. Pool workers send their trials to this process, which alone writes the
    store, as with Ray (:mod:`nasbench_txf.ray_executor`). ``progress=None`` shows a bar on
    a terminal only.
    """
    total = budget.queries * len(specs) if budget.queries is not None else None
    seeds = {spec.seed for spec in specs}
    bar = tqdm(total=total, unit="trial", disable=None if progress is None else not progress,
               desc="trials", dynamic_ncols=True, leave=False)
    try:
        if workers <= 1 or len(specs) <= 1:
            return [run_cell(spec, store_path, budget, resume=resume, command=command,
                             on_trial=bar.update, run_seeds=seeds) for spec in specs]
        # spawn, not fork: forked torch/OpenMP thread pools can deadlock in the child
        context = multiprocessing.get_context("spawn")
        cells = [open_cell(spec) for spec in specs]
        manager = SyncManager(ctx=context)
        manager.start(pool_worker)  # its server process, like the workers, ends with this one
        with Store.open(store_path) as store, manager, ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=pool_worker
        ) as pool:
            opened = [(cell, open_in_store(store, cell, resume, command, seeds)) for cell in cells]
            bar.update(sum(len(rows) for _, rows in opened))
            queue = manager.Queue()
            running = {pool.submit(_stream_cell, i, spec, rows, budget, str(store_path), queue)
                       for i, (spec, (_, rows)) in enumerate(zip(specs, opened, strict=True))
                       if not done_by_budget(rows, budget)}


            def store_queued(block: bool) -> None:
                for index, row in _drain(queue, block=block):
                    cell, rows = opened[index]
                    store.add_trial(cell.id, row)
                    rows.append(row)
                    bar.update(1)

            try:
                while running:
                    finished = {future for future in running if future.done()}
                    store_queued(block=not finished)
                    for future in finished:  # all its trials were queued before it finished
                        if future.exception() is not None:
                            pool.shutdown(cancel_futures=True)
                            raise future.exception()  # type: ignore[misc]  # a worker's error is the run's
                    running -= finished
            except KeyboardInterrupt:
                store_queued(block=False)  # every trial a worker finished is kept
                _end_workers(pool)
                raise
            return [summarise(cell, rows) for cell, rows in opened]
    finally:
        bar.close()


def _end_workers(pool: ProcessPoolExecutor) -> None:
    """End the pool's workers now, losing only their trials in flight: waiting for them could
    take as long as a training. (The executor has no public way to do this before 3.14.)"""
    for process in list(getattr(pool, "_processes", {}).values()):
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


def _drain(queue: Any, *, block: bool) -> list[tuple[int, TrialRow]]:
    """What is in ``queue`` now; waits up to 0.2 s for a first item when ``block``."""
    items = []
    try:
        if block:
            items.append(queue.get(timeout=0.2))
        while True:
            items.append(queue.get_nowait())
    except Empty:
        return items
