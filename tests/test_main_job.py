"""The main job gives the trials it is known to give.

``tests/data/main_job_16_queries.json`` holds the first 16 trials of the README's main job
(seed 0). The same command must ask the same archs, with the same evaluation seeds, and get
the same answers: a change of layout or refactoring must not change what a run does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nasbench_txf.run.store import Store

REFERENCE = Path(__file__).parent / "data" / "main_job_16_queries.json"


def test_the_main_job_asks_and_scores_what_it_did_before_the_restructuring(cli, tmp_path: Path) -> None:
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    store = tmp_path / "main.sqlite"
    cli("run", "--space", "flexibert", "--strategy", "boshnas", "--encoding", "t2v", "--budget", "16",
        "--store", str(store), check=True)
    with Store.open(store, create=False) as opened:
        (cell,) = opened.cells()
        assert cell.key == reference["key"]
        trials = opened.trials(cell.cell_id)
    assert [(t.trial, t.arch_id, t.eval_seed, t.status) for t in trials] == \
           [(t["trial"], t["arch_id"], t["eval_seed"], t["status"]) for t in reference["trials"]]
    for got, want in zip(trials, reference["trials"], strict=True):
        assert got.metrics == pytest.approx(want["metrics"], rel=1e-9)
        assert got.cost_seconds == pytest.approx(want["cost_seconds"], rel=1e-9)
