"""The example plugin package installs, registers through its entry point, and runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from nbt_testing import TOY

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plugin"


def test_example_plugin_installs_lists_and_runs(cli, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(EXAMPLE)],
        check=True, capture_output=True, timeout=300,
    )
    env = {"PYTHONPATH": os.pathsep.join([str(target), os.environ["PYTHONPATH"]])}
    listing = json.loads(cli("list", "strategies", "--json", env=env, check=True).stdout)
    plugin = next(p for p in listing["strategies"] if p["name"] == "local-search")
    assert plugin["source"] == "nasbench-txf-localsearch 0.1.0" and plugin["loaded"]
    assert plugin["options"][0]["name"] == "restart_after"

    done = cli("run", *TOY, "--strategy", "local-search", "--strategy-opt", "restart_after=15",
               "--budget", "60", "--json", "--store", str(tmp_path / "s.sqlite"), env=env, check=True)
    result = json.loads(done.stdout)
    assert result["cells"][0]["trials"] == 60
    # local search climbs to the known optimum of the test problem within 60 queries
    assert result["best"]["best_value"] == 4.25
