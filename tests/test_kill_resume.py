"""A run killed with SIGKILL at arbitrary points resumes with no trial lost or duplicated."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from nasbench_txf.cell import CellSpec
from nasbench_txf.runner import Budget, run_cell
from nasbench_txf.store import Store

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
