"""A run killed with SIGKILL at arbitrary points resumes with no trial lost or duplicated."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nasbench_txf.run.cell import CellSpec
from nasbench_txf.run.runner import run_cell
from nasbench_txf.run.store import Store
from nasbench_txf.run.trials import Budget

BUDGET = 30
ARGS = ["--space", "toy-grid", "--benchmark", "toy-quadratic", "--strategy", "rs",
        "--benchmark-opt", "delay=0.04", "--benchmark-opt", "noise=0.3", "--seed", "4",
        "--budget", str(BUDGET)]


def stored_trials(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        return sqlite3.connect(path).execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    except sqlite3.OperationalError:  # schema not created yet
        return 0


def start(path: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "nasbench_txf", "run", *ARGS, "--store", str(path), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=path.parent)


def children(pid: int) -> list[int]:
    """Child processes of ``pid`` (Linux /proc; empty elsewhere)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(c) for c in task.read_text().split()]
    return found


def kill_after(proc: subprocess.Popen[bytes], path: Path, trials: int) -> list[int]:
    """SIGKILL ``proc`` once the store has ``trials`` trials; returns the children it had."""
    deadline = time.monotonic() + 60
    while stored_trials(path) < trials:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.01)
    orphans = children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return orphans


def test_sigkill_then_resume_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "killed.sqlite"
    kill_after(start(path), path, 7)
    kill_after(start(path, "--resume"), path, 16)
    done = subprocess.run([sys.executable, "-m", "nasbench_txf", "run", *ARGS, "--store", str(path), "--resume"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr

    reference = run_cell(
        CellSpec(space="toy-grid", strategy="rs", benchmark="toy-quadratic", seed=4,
                 benchmark_options={"delay": "0.04", "noise": "0.3"}),
        tmp_path / "reference.sqlite", Budget(queries=BUDGET),
    )
    with Store.open(path) as killed, Store.open(tmp_path / "reference.sqlite") as ref:
        (cell,) = killed.cells()
        assert cell.cell_id == reference.cell_id
        rows, ref_rows = killed.trials(cell.cell_id), ref.trials(cell.cell_id)
    assert [r.trial for r in rows] == list(range(BUDGET))
    assert [(r.arch_id, r.metrics) for r in rows] == [(r.arch_id, r.metrics) for r in ref_rows]


MULTI = [*ARGS[:-4], "--seeds", "2", "--budget", "12"]


def trials_by_cell(path: Path) -> dict[str, list[tuple[int, str]]]:
    with Store.open(path, create=False) as store:
        return {c.key["seed"]: [(r.trial, r.arch_id) for r in store.trials(c.cell_id)] for c in store.cells()}


def run_multi(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nasbench_txf", "run", *MULTI, "--store", str(path), *extra],
                          capture_output=True, text=True, timeout=120, cwd=path.parent)


@pytest.mark.parametrize(("how", "workers"), [(signal.SIGKILL, "1"), (signal.SIGINT, "1"), (signal.SIGKILL, "2")])
def test_a_multi_seed_run_stopped_before_its_last_seed_starts_resumes(tmp_path: Path, how: int,
                                                                        workers: str) -> None:
    """Stopped during seed 0 (or during both seeds' first trials with two workers), ``--resume``
    finishes every seed with exactly the trials of an uninterrupted run."""
    path = tmp_path / "killed.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "nasbench_txf", "run", *MULTI, "--workers", workers,
                             "--store", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=tmp_path)
    deadline = time.monotonic() + 60
    while stored_trials(path) < 3:
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(how)
    proc.wait(timeout=30)
    assert stored_trials(path) < 24
    refused = run_multi(path)
    assert refused.returncode == 2 and "add --resume" in refused.stderr
    done = run_multi(path, "--resume", "--workers", workers)
    assert done.returncode == 0, done.stderr
    reference = tmp_path / "reference.sqlite"
    assert run_multi(reference).returncode == 0
    assert trials_by_cell(path) == trials_by_cell(reference)
    assert [len(rows) for rows in trials_by_cell(path).values()] == [12, 12]


def test_resume_of_a_run_stopped_before_its_first_trial(tmp_path: Path) -> None:
    """A store holding the cell but no trial (or no cell at all) is continued by ``--resume``."""
    path = tmp_path / "early.sqlite"
    with Store.open(path):
        pass  # a store killed before its first cell was recorded
    assert run_multi(path, "--resume").returncode == 0
    assert [len(rows) for rows in trials_by_cell(path).values()] == [12, 12]

    other = tmp_path / "cell-only.sqlite"
    from nasbench_txf.run.cell import open_cell
    from nasbench_txf.run.runner import open_in_store

    cell = open_cell(CellSpec(space="toy-grid", strategy="rs", benchmark="toy-quadratic", seed=0,
                              benchmark_options={"delay": "0.04", "noise": "0.3"}))
    with Store.open(other) as store:
        open_in_store(store, cell, False, None)  # the cell is recorded; the run dies before a trial
    done = run_multi(other, "--resume")
    assert done.returncode == 0, done.stderr
    assert trials_by_cell(other) == trials_by_cell(path)


def test_a_kill_in_the_first_milliseconds_of_a_store_leaves_nothing_unusable(tmp_path: Path) -> None:
    """Killed as the store is being created (its temporary file or the store itself has just
    appeared), the store is whole or absent, and the next run starts."""
    for attempt in range(8):
        path = tmp_path / f"fresh{attempt}.sqlite"
        proc = start(path)
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(f"*fresh{attempt}.sqlite*")):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.0002)
        time.sleep(attempt * 0.003)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if path.exists():
            with Store.open(path, create=False) as store:  # never "not a nasbench-txf run store"
                assert store.meta("format") == "nasbench-txf run store"
        done = subprocess.run([sys.executable, "-m", "nasbench_txf", "run", *ARGS[:-2], "--budget", "3",
                               "--store", str(path), *(["--resume"] if path.exists() else [])],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert done.returncode == 0, done.stderr


def test_an_uninitialised_sqlite_file_left_by_a_kill_is_reinitialised(tmp_path: Path) -> None:
    """Older versions could leave an SQLite file with no tables; it holds nothing, so it is set up."""
    path = tmp_path / "empty.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    assert path.stat().st_size > 0
    done = run_multi(path)
    assert done.returncode == 0, done.stderr
