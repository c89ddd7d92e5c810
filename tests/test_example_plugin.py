"""The example plugin package installs, registers through its entry point, runs, and passes
the contract checks of the test kit with its own test (as in its own repository)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nbt_testing import TOY

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plugin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The example installed into a folder of its own; the environment that puts it on the path."""
    target = tmp_path_factory.mktemp("example") / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(EXAMPLE)],
        check=True, capture_output=True, timeout=300,
    )
    return {"PYTHONPATH": os.pathsep.join([str(target), os.environ["PYTHONPATH"]])}


def test_example_plugin_installs_lists_and_runs(cli, installed: dict[str, str], tmp_path: Path) -> None:
    listing = json.loads(cli("list", "strategies", "--json", env=installed, check=True).stdout)
    plugin = next(p for p in listing["strategies"] if p["name"] == "local-search")
    assert plugin["source"] == "nasbench-txf-localsearch 0.1.0" and plugin["loaded"]
    assert plugin["options"][0]["name"] == "restart_after"

    done = cli("run", *TOY, "--strategy", "local-search", "--strategy-opt", "restart_after=15",
               "--budget", "60", "--json", "--store", str(tmp_path / "s.sqlite"), env=installed, check=True)
    result = json.loads(done.stdout)
    assert result["cells"][0]["trials"] == 60
    # local search climbs to the known optimum of the test problem within 60 queries
    assert result["best"]["best_value"] == 4.25


def test_example_plugins_own_test_runs_the_contract_checks(installed: dict[str, str]) -> None:
    """``pytest`` in the plugin's folder, as its author runs it: the kit's checks on its strategy."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", "tests"],
        cwd=EXAMPLE, capture_output=True, text=True, timeout=600,
        env={**os.environ, **installed, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED tests/test_contract.py::test_contract[local-search-check_never_asks_twice]" in done.stdout
    assert "6 passed" in done.stdout  # the plugin check and the five strategy checks
