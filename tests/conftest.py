"""Test set-up: the test plugins under tests/plugins are put on the path (for this process
and for the CLI subprocesses tests start), so they register through entry points."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
PLUGINS = TESTS / "plugins"
sys.path.insert(0, str(PLUGINS))
sys.path.insert(0, str(TESTS))  # for nbt_testing; the package under test is the installed one
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(PLUGINS), os.environ.get("PYTHONPATH", "")) if p
)
# A shell starts background jobs with Ctrl-C (SIGINT) ignored, and an ignored signal stays
# ignored in every process started from them: the CLI subprocesses of the Ctrl-C tests would
# never see it. Handled, it is reset to the default in each subprocess, as in a terminal.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Encodings cache under a temporary directory, never the home directory."""
    monkeypatch.setenv("NASBENCH_TXF_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


CliResult = subprocess.CompletedProcess[str]


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., CliResult]:
    """Run ``nasbench-txf`` in a subprocess (as users do), in a temporary directory."""

    def run(*args: str, env: dict[str, str] | None = None, check: bool = False) -> CliResult:
        done = subprocess.run(
            [sys.executable, "-m", "nasbench_txf", *args],
            cwd=tmp_path, capture_output=True, text=True, env={**os.environ, **(env or {})},
            timeout=300,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"exit {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    return run


@pytest.fixture(scope="session")
def toy_table() -> Path:
    """A small measured table (toy-grid archs, toy-quadratic with noise), built once (shared
    with the contract checks of the table benchmarks)."""
    from nbt_testing import shared_toy_table

    return shared_toy_table()
