from __future__ import annotations

import json
import os
from pathlib import Path

from nbt_testing import TESTS


def test_list_json_has_all_four_kinds_with_sources(cli) -> None:
    listing = json.loads(cli("list", "--json", check=True).stdout)
    assert set(listing) == {"spaces", "encodings", "strategies", "benchmarks"}
    rs = next(p for p in listing["strategies"] if p["name"] == "rs")
    assert rs["source"].startswith("nasbench-txf ") and rs["loaded"] and rs["description"]
    toy = next(p for p in listing["spaces"] if p["name"] == "toy-grid")
    assert toy["source"] == "nasbench-txf-toy 0.1"
    bench = next(p for p in listing["benchmarks"] if p["name"] == "toy-quadratic")
    assert {o["name"] for o in bench["options"]} == {"noise", "noisy_op", "bad_runs", "delay", "fail_op", "crash_op",
                                                      "crash_once", "log"}


def test_list_one_kind(cli) -> None:
    out = cli("list", "strategy", check=True).stdout
    assert out.startswith("strategies:") and "rs" in out and "spaces:" not in out


def test_a_broken_plugin_is_reported_and_the_others_still_work(cli, tmp_path: Path) -> None:
    env = {"PYTHONPATH": os.pathsep.join([str(TESTS / "plugins_broken"), os.environ["PYTHONPATH"]])}
    listing = json.loads(cli("list", "--json", env=env, check=True).stdout)
    broken = next(p for p in listing["strategies"] if p["name"] == "broken")
    assert not broken["loaded"]
    assert "ImportError: this plugin needs a library that is not installed" in broken["error"]
    assert any(p["name"] == "rs" and p["loaded"] for p in listing["strategies"])
    ok = cli("run", "--space", "toy-grid", "--benchmark", "toy-quadratic", "--strategy", "rs",
             "--budget", "3", "--store", str(tmp_path / "s.sqlite"), env=env)
    assert ok.returncode == 0, ok.stderr
    bad = cli("run", "--space", "toy-grid", "--benchmark", "toy-quadratic", "--strategy", "broken",
              "--budget", "3", env=env)
    assert bad.returncode == 2
    assert "strategy plugin 'broken' (nasbench-txf-broken 0.1) failed to load: ImportError" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_every_kind_has_a_loadable_plugin_so_contract_tests_run() -> None:
    from nbt_testing import loadable

    for kind in ("spaces", "encodings", "strategies", "benchmarks"):
        assert loadable(kind), f"no loadable {kind}: its contract tests would test nothing"
