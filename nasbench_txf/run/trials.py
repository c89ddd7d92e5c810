"""Driving one cell's strategy on its simulated clock: ask, evaluate, tell.

:func:`cell_trials` is the one loop that turns a strategy's asks into trials; every
executor runs it (:mod:`nasbench_txf.run.executors`), and the driver stores what it yields
(:mod:`nasbench_txf.run.runner`). A resumed cell replays its stored trials through a fresh
strategy with the same seed, which must ask for the same archs (the determinism rule).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.benchmark import LendsTraining, ScoresTrainedWeights
from nasbench_txf.core.errors import StoreError, UserError
from nasbench_txf.core.result import Result
from nasbench_txf.core.strategy import ReportsCost, SharesWeights, TrainsModels
from nasbench_txf.run.cell import Cell
from nasbench_txf.run.simulation import Simulation, WorkerClock
from nasbench_txf.run.store import TrialRow, now

#: the largest query budget of a cell (far beyond any search, small enough to plan for)
MAX_QUERIES = 10_000_000


@dataclass(frozen=True)
class Budget:
    """When a cell stops: after ``queries`` trials and/or ``seconds`` of simulated time.

    Simulated time runs on the cell's :class:`~nasbench_txf.run.simulation.WorkerClock`: the
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


def evaluation_seed(cell_seed: int, trial: int) -> int:
    """Seed of one evaluation: fixed by the cell's seed and the trial number."""
    return int(np.random.SeedSequence([cell_seed, trial]).generate_state(1)[0])


def run_dir(store_path: str | Path) -> Path:
    """Files a run keeps beside its store (``runs/x.sqlite`` → ``runs/x.files/``)."""
    path = Path(store_path)
    return path.with_name(path.stem + ".files")


def prepare(cell: Cell, store_path: str | Path) -> None:
    """Give a cell about to run what it keeps beside its store: the benchmark its run folder
    (e.g. checkpoints of trained evaluations), and a strategy that trains its benchmark's
    training context and a folder of its own for checkpoints."""
    folder = run_dir(store_path)
    cell.benchmark.attach_run_dir(folder)
    if isinstance(cell.strategy, TrainsModels) and isinstance(cell.benchmark, LendsTraining):
        own = folder / "strategies" / cell.id
        own.mkdir(parents=True, exist_ok=True)
        cell.strategy.attach_training(cell.benchmark.training_context(), own)


def result_of(row: TrialRow) -> Result:
    return Result(row.metrics, row.cost_seconds, row.status, row.reason, row.info)  # type: ignore[arg-type]


def _evaluate(cell: Cell, arch: Arch, seed: int) -> Result:
    """Evaluate, turning a crash of the benchmark into a failed trial (user errors abort)."""
    weights = cell.strategy.trained_weights() if isinstance(cell.strategy, SharesWeights) else None
    try:
        if weights is not None and isinstance(cell.benchmark, ScoresTrainedWeights):
            return cell.benchmark.evaluate_with(arch, seed, weights)
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
    reported_seconds: float = 0.0

    def failed(self, reason: str) -> TrialRow:
        """The trial recorded as failed, costing nothing."""
        stamp = now()
        return TrialRow(trial=self.trial, arch_id=self.arch_id, card=self.card, eval_seed=self.eval_seed,
                        status="failed", reason=reason, metrics={}, info={}, cost_seconds=0.0,
                        strategy_seconds=self.strategy_seconds, started_at=stamp, finished_at=stamp,
                        sim_start=self.sim_start, sim_end=self.sim_start, reported_seconds=self.reported_seconds)


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
    trial, tell_seconds, charged = 0, 0.0, 0.0
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
                result = result_of(row)
                charged += row.reported_seconds
                clock.start(trial, _overhead(simulation, row.strategy_seconds, row.reported_seconds), row.cost_seconds)
            else:
                started_at = now()
                reported = max(0.0, cell.strategy.cost_seconds() - charged) if isinstance(
                    cell.strategy, ReportsCost) else 0.0
                charged += reported
                seed = evaluation_seed(cell.seed, trial)
                overhead = _overhead(simulation, strategy_seconds, reported)
                if announce:
                    yield Asked(trial, arch.id, arch.card, seed, strategy_seconds, clock.next_start + overhead,
                                reported)
                result = _evaluate(cell, arch, seed)
                sim_start, sim_end = clock.start(trial, overhead, float(result.cost_seconds))
                yield TrialRow(
                    trial=trial, arch_id=arch.id, card=arch.card, eval_seed=seed,
                    status=result.status, reason=result.reason, metrics=dict(result.metrics),
                    info=dict(result.info), cost_seconds=float(result.cost_seconds),
                    strategy_seconds=strategy_seconds, started_at=started_at, finished_at=now(),
                    sim_start=sim_start, sim_end=sim_end, reported_seconds=reported,
                )
            running[trial] = (arch, result)
            trial += 1
        if not clock.busy:
            return
        arch, result = running.pop(clock.finish_next())
        started = time.perf_counter()
        cell.strategy.tell(arch, result)
        tell_seconds += time.perf_counter() - started  # overhead before the freed worker's next trial


def _overhead(simulation: Simulation, measured: float, reported: float) -> float:
    """Simulated seconds before a trial starts: the compute the strategy reported (a one-shot
    strategy's training) always; its measured time too when the simulation counts it (the
    measurement includes the reported work, so the larger of the two)."""
    return max(measured, reported) if simulation.overhead else reported
