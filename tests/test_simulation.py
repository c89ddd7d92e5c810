"""The simulated clock of asynchronous workers, and cells run on it."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

from nasbench_txf.run.cell import CellSpec
from nasbench_txf.run.runner import run_cell
from nasbench_txf.run.simulation import Simulation, WorkerClock
from nasbench_txf.run.store import Store, TrialRow
from nasbench_txf.run.trials import Budget


def test_clock_orders_events_by_end_time() -> None:
    clock = WorkerClock(2)
    assert clock.start(0, overhead=1.0, cost=10.0) == (1.0, 11.0)
    assert clock.start(1, overhead=0.0, cost=4.0) == (0.0, 4.0)
    assert not clock.has_free_worker
    assert clock.finish_next() == 1  # ends first although started second
    assert clock.next_start == 4.0
    assert clock.start(2, overhead=0.5, cost=1.0) == (4.5, 5.5)
    assert [clock.finish_next(), clock.finish_next()] == [2, 0]
    assert not clock.busy


def spec(workers: int, overhead: bool = False, seed: int = 0) -> CellSpec:
    return CellSpec(space="toy-grid", strategy="es", benchmark="toy-quadratic", seed=seed,
                    strategy_options={"population": "6", "sample_size": "2"},
                    simulation=Simulation(workers=workers, overhead=overhead))


def rows_of(path: Path, cell_id: str) -> list[TrialRow]:
    with Store.open(path) as store:
        return store.trials(cell_id)


def test_async_workers_follow_the_benchmark_costs(tmp_path: Path) -> None:
    path = tmp_path / "async.sqlite"
    summary = run_cell(spec(3), path, Budget(queries=20))
    rows = rows_of(path, summary.cell_id)
    # replay the time line by hand: each trial starts when the earliest worker is free
    free = [0.0, 0.0, 0.0]
    for row in rows:
        start = min(free)
        assert row.sim_start == start and row.sim_end == start + row.cost_seconds
        free[free.index(start)] = row.sim_end
    assert summary.simulated_seconds == max(r.sim_end for r in rows)  # type: ignore[type-var]
    assert summary.simulated_seconds < sum(r.cost_seconds for r in rows) / 2.5


def test_async_runs_are_deterministic_and_resume_exactly(tmp_path: Path) -> None:
    whole = run_cell(spec(4), tmp_path / "a.sqlite", Budget(queries=24))
    run_cell(spec(4), tmp_path / "b.sqlite", Budget(queries=9))
    resumed = run_cell(spec(4), tmp_path / "b.sqlite", Budget(queries=24), resume=True)
    assert resumed.cell_id == whole.cell_id
    first, second = rows_of(tmp_path / "a.sqlite", whole.cell_id), rows_of(tmp_path / "b.sqlite", whole.cell_id)
    assert [(r.arch_id, r.sim_start, r.sim_end) for r in first] == [(r.arch_id, r.sim_start, r.sim_end) for r in second]
    sequential = run_cell(spec(1), tmp_path / "c.sqlite", Budget(queries=24))
    assert sequential.cell_id != whole.cell_id  # the simulation is part of the cell's key


def test_seconds_budget_with_more_workers_runs_more_trials(tmp_path: Path) -> None:
    one = run_cell(spec(1), tmp_path / "one.sqlite", Budget(seconds=300.0))
    four = run_cell(spec(4), tmp_path / "four.sqlite", Budget(seconds=300.0))
    assert four.trials > 3 * one.trials
    rows = rows_of(tmp_path / "four.sqlite", four.cell_id)
    assert all(r.sim_start < 300.0 for r in rows)  # type: ignore[operator]


def test_measured_overhead_delays_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "overhead.sqlite"
    summary = run_cell(spec(1, overhead=True), path, Budget(queries=5))
    rows = rows_of(path, summary.cell_id)
    for before, row in itertools.pairwise(rows):
        assert row.sim_start == before.sim_end + row.strategy_seconds  # type: ignore[operator]


def test_a_schema_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    summary = run_cell(spec(1), path, Budget(queries=3))
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE trials DROP COLUMN sim_start")
    conn.execute("ALTER TABLE trials DROP COLUMN sim_end")
    conn.execute("ALTER TABLE cells DROP COLUMN benchmark_version")
    conn.execute("ALTER TABLE trials DROP COLUMN reported_seconds")
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    rows = rows_of(path, summary.cell_id)
    assert len(rows) == 3 and rows[0].sim_end is None
    resumed = run_cell(spec(1), path, Budget(queries=5), resume=True)
    assert resumed.trials == 5 and rows_of(path, summary.cell_id)[4].sim_end is not None
    with Store.open(path) as store:
        assert store.meta("schema_version") == "4"
        assert store.cells()[0].benchmark_version is None  # unknown for cells started before
