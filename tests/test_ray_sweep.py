"""Sweeps on a local Ray instance with 2 CPUs: same trials as the local pool, dead workers
retried or recorded as failed, unreachable clusters refused; nothing left in the home directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from test_kill_resume import kill_after, stored_trials

from nasbench_txf.run.store import Store

GRID = ["sweep", "--space", "toy-grid", "--benchmark", "toy-quadratic", "--strategies", "rs,es,gp-bo",
        "--encodings", "onehot", "--seeds", "2", "--budget", "12", "--no-sim-overhead", "--workers", "2"]


def sweep(tmp_path: Path, store: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    ray_dir = tempfile.mkdtemp(prefix="nbt-ray-")  # short: Ray's socket paths must fit 107 bytes
    env = {**os.environ, "HOME": str(home), "RAY_TMPDIR": ray_dir}
    try:
        return subprocess.run([sys.executable, "-m", "nasbench_txf", *GRID, "--store", str(store), *extra],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    finally:
        shutil.rmtree(ray_dir, ignore_errors=True)


def trials(store: Path) -> dict[str, list[tuple[str, str]]]:
    with Store.open(store) as opened:
        return {c.cell_id: [(r.arch_id, r.status) for r in opened.trials(c.cell_id)] for c in opened.cells()}


def test_ray_runs_the_same_trials_as_the_local_pool_and_leaves_home_alone(tmp_path: Path) -> None:
    home_before = set(Path.home().iterdir())
    on_ray = sweep(tmp_path, tmp_path / "ray.sqlite", "--executor", "ray")
    assert on_ray.returncode == 0, on_ray.stderr
    local = sweep(tmp_path, tmp_path / "local.sqlite")
    assert local.returncode == 0, local.stderr
    assert trials(tmp_path / "ray.sqlite") == trials(tmp_path / "local.sqlite")
    assert len(trials(tmp_path / "ray.sqlite")) == 6
    assert set(Path.home().iterdir()) == home_before


def test_dead_workers_are_retried_then_recorded_as_failed(tmp_path: Path) -> None:
    marker = tmp_path / "died-once"
    store = tmp_path / "crash.sqlite"
    done = sweep(tmp_path, store, "--executor", "ray", "--ray-retries", "1", "--strategies", "rs",
                 "--benchmark-opt", f"crash_once={marker}", "--benchmark-opt", "crash_op=d")
    assert done.returncode == 0, done.stderr
    assert marker.exists()  # the first evaluation killed its worker, and was run again
    with Store.open(store) as opened:
        rows = [r for c in opened.cells() for r in opened.trials(c.cell_id)]
    assert len(rows) == 24  # nothing lost
    for row in rows:
        if "d" in row.card["ops"]:
            assert row.status == "failed" and row.reason.startswith("worker died 2 times")
        else:
            assert row.status == "ok", (row.card, row.reason)
    assert any(r.status == "failed" for r in rows) and any(r.status == "ok" for r in rows)


@pytest.mark.parametrize(("address", "message"), [("127.0.0.1:1", "cannot reach a Ray cluster at 127.0.0.1:1"),
                                                  ("nowhere", "must be auto or HOST:PORT")])
def test_unreachable_ray_address_is_refused_quickly(tmp_path: Path, address: str, message: str) -> None:
    started = time.monotonic()
    done = sweep(tmp_path, tmp_path / "x.sqlite", "--executor", "ray", "--ray-address", address)
    assert done.returncode == 2 and message in done.stderr
    assert "Traceback" not in done.stderr and time.monotonic() - started < 60


def test_ray_resumes_a_killed_sweep_to_the_same_trials(tmp_path: Path) -> None:
    killed, reference = tmp_path / "killed.sqlite", tmp_path / "reference.sqlite"
    slow = ("--benchmark-opt", "delay=0.03")
    proc = subprocess.Popen([sys.executable, "-m", "nasbench_txf", *GRID, "--store", str(killed), *slow],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_after(proc, killed, 10)
    assert 10 <= stored_trials(killed) < 72
    assert sweep(tmp_path, killed, "--executor", "ray", *slow).returncode == 0
    assert sweep(tmp_path, reference, *slow).returncode == 0
    assert trials(killed) == trials(reference)
