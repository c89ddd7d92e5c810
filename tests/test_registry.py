from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from nbt_testing import TESTS

from nasbench_txf.cli import main
from nasbench_txf.core.registry import registry


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


def test_a_plugin_whose_library_is_missing_is_listed_as_not_installed_and_left_out_of_all(
        cli, tmp_path: Path) -> None:
    env = {"PYTHONPATH": os.pathsep.join([str(TESTS / "plugins_broken"), os.environ["PYTHONPATH"]])}
    listing = json.loads(cli("list", "--json", env=env, check=True).stdout)
    unavailable = next(p for p in listing["strategies"] if p["name"] == "unavailable")
    broken = next(p for p in listing["strategies"] if p["name"] == "broken")
    assert (unavailable["status"], broken["status"]) == ("not installed", "failed to load")
    assert unavailable["error"] == ("strategy unavailable needs nasbench_txf_no_such_library: "
                                    "nasbench_txf_no_such_library is not installed; install it with "
                                    "pip install 'nasbench-txf[nothing]'")
    text = cli("list", "strategies", env=env, check=True).stdout
    assert re.search(r"^  unavailable +not installed: strategy unavailable needs", text, re.MULTILINE), text
    bad = cli("run", "--space", "toy-grid", "--benchmark", "toy-quadratic", "--strategy", "unavailable",
              "--budget", "3", env=env)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        f"nasbench-txf: error: {unavailable['error']}"], bad.stderr
    swept = cli("sweep", "--space", "toy-grid", "--benchmark", "toy-quadratic", "--strategies", "all",
                "--encodings", "onehot", "--seeds", "1", "--budget", "2", "--store", str(tmp_path / "s.sqlite"),
                "--json", env=env)
    assert swept.returncode == 0, swept.stderr
    skipped = {s["strategy"]: s["reason"] for s in json.loads(swept.stdout)["skipped"]}
    assert skipped["unavailable"] == f"not installed: {unavailable['error']}"
    assert skipped["broken"].startswith("failed to load: ImportError")


@pytest.fixture
def without_optuna(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process as it is where Optuna is not installed: ``import optuna`` fails, and the
    registry loads its plugins afresh (and again after the test)."""
    monkeypatch.setitem(sys.modules, "optuna", None)
    monkeypatch.delitem(sys.modules, "nasbench_txf.strategies.optuna_samplers", raising=False)
    registry.cache_clear()
    yield
    registry.cache_clear()


def test_without_optuna_its_strategy_says_how_to_install_it_and_the_rest_works(
        without_optuna: None, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    toy = ["--space", "toy-grid", "--benchmark", "toy-quadratic", "--budget", "2"]
    assert main(["run", *toy, "--strategy", "optuna", "--store", str(tmp_path / "o.sqlite")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "nasbench-txf: error: strategy optuna needs optuna: optuna is not installed; install it with "
        "pip install 'nasbench-txf[optuna]'"]
    assert not (tmp_path / "o.sqlite").exists()
    assert main(["list", "strategies"]) == 0
    assert re.search(r"^  optuna +not installed: strategy optuna needs optuna", capsys.readouterr().out, re.MULTILINE)
    assert main(["sweep", *toy, "--strategies", "all", "--encodings", "onehot", "--seeds", "1", "--workers", "1",
                 "--store", str(tmp_path / "s.sqlite"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "optuna" in [s["strategy"] for s in report["skipped"] if s["reason"].startswith("not installed")]
    assert "rs" in {r["strategy"] for r in report["rows"]}
