"""The FlexiBERT pipeline: levels searched coarse to fine, one store, resumable, transfer measured."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nbt_testing import space

from nasbench_txf.benchmarks.live import Live
from nasbench_txf.core.errors import IncompatibleError, InvalidCardError, OptionError, StoreError, UserError
from nasbench_txf.core.registry import get_space
from nasbench_txf.run.cell import CellSpec
from nasbench_txf.run.pipeline import META_KEY, PipelineSpec, run_pipeline
from nasbench_txf.run.pipeline_report import pipeline_report, to_markdown, transfer_report
from nasbench_txf.run.store import Store, TrialRow

FLEXIBERT = space("flexibert")


def toy_task(folder: Path) -> Path:
    """A small learnable task (a few dev rows), so that a three-level live pipeline takes seconds."""
    rng = np.random.default_rng(0)
    words = {"good": "pos", "fine": "pos", "bad": "neg", "dull": "neg"}
    fillers = ["the film", "this story", "a plot", "the cast"]
    rows = [f"{fillers[rng.integers(4)]} was {w}\t{words[w]}" for w in rng.choice(list(words), 200)]
    folder.mkdir(exist_ok=True)
    (folder / "train.tsv").write_text("text\tlabel\n" + "\n".join(rows) + "\n")
    (folder / "dev.tsv").write_text("text\tlabel\n" + "\n".join(rows[:12]) + "\n")
    return folder


def live_options(data: Path, **extra: str) -> dict[str, str]:
    return {"data_dir": str(data), "text_columns": "text", "epochs": "2", "max_len": "16", "batch_size": "32",
            "lr": "1e-3", "vocab_size": "100", "threads": "1", "transfer": "true", "tau": "0.25",
            "transfer_epochs": "1", **extra}


def pipeline(data: Path, budgets: tuple[int, ...] = (4, 3, 3), **changes: Any) -> PipelineSpec:
    cell = CellSpec(space="flexibert", strategy="rs", benchmark="live", task="toy", seed=0,
                    benchmark_options=live_options(data))
    return PipelineSpec(cell, budgets, **{"top_k": 2, "neighbours": 1, **changes})


def comparable(report: Any) -> dict[str, Any]:
    """The report without what a live benchmark measures in wall-clock seconds."""
    out = report.as_dict()
    out.pop("store")
    for level in out["levels"]:
        level.pop("simulated_seconds")
    out["transfer"] = {k: v for k, v in out["transfer"].items() if "seconds" not in k and k != "time_saved"}
    return out


# -- the child space as an option -------------------------------------------------------------
def test_a_child_space_reopens_by_name_from_its_options() -> None:
    parents = [FLEXIBERT.resolve("bert-tiny"), FLEXIBERT.resolve("fnet-mini")]
    options = FLEXIBERT.child_options(parents)
    assert options["level"] == 2 and sorted(map(json.dumps, json.loads(options["parents"]))) == sorted(
        json.dumps(p.card) for p in parents)
    assert FLEXIBERT.child_options(parents[::-1] + parents) == options  # the parents are a set
    cls = get_space("flexibert")
    child = cls(cls.make_options({k: str(v) for k, v in options.items()}))
    assert child.key() == FLEXIBERT.child_space(parents).key() and child.depths == (2, 4)
    assert {child.check(child.arch(p.card)).id for p in parents} == {p.id for p in parents}
    assert child.cardinality() == len(list(child.enumerate()))
    assert child.models_key() == FLEXIBERT.models_key()  # a child builds its cards' models like level 1
    assert "parents" not in FLEXIBERT.key()["options"]  # a whole level keeps its key (tables, stores)
    with pytest.raises(InvalidCardError, match="finest level"):
        cls(cls.make_options({"level": "3"})).child_options(parents)


@pytest.mark.parametrize(("options", "message"), [
    ({"level": "1", "parents": "[]"}, "level 1 has no parents"),
    ({"level": "2", "parents": "not json"}, "JSON list of cards"),
    ({"level": "2", "parents": "[]"}, "non-empty"),
])
def test_bad_parents_are_refused_with_one_line(options: dict[str, str], message: str) -> None:
    cls = get_space("flexibert")
    with pytest.raises(OptionError, match=message):
        cls(cls.make_options(options))


def test_a_parent_outside_the_coarser_level_is_refused() -> None:
    card = FLEXIBERT.resolve("bert-tiny").card
    card["f"] = [[512], [1024]]  # untied: not a level-1 card
    cls = get_space("flexibert")
    with pytest.raises(InvalidCardError, match="ties layers"):
        cls(cls.make_options({"level": "2", "parents": json.dumps([card])}))


def test_a_finer_level_starts_from_a_coarser_levels_trained_model(tmp_path: Path) -> None:
    """Knowledge transfer across levels: a level-2 child arch takes the first layers of a
    level-1 model trained in the same run folder, and fine-tunes for transfer_epochs."""
    data = toy_task(tmp_path / "toy")
    first = FLEXIBERT.arch({"l": 4, "o": ["SA"] * 4, "p": ["SDP"] * 4, "h": [128] * 4, "n": [2] * 4,
                            "f": [[512]] * 4})
    second = FLEXIBERT.arch({**first.card, "n": [2, 2, 4, 4]})
    child = FLEXIBERT.child_space([first, second])
    query = child.arch({**first.card, "n": [2, 2, 2, 4]})  # layers 1-3 of the first, a level-2 card
    with pytest.raises(InvalidCardError):
        FLEXIBERT.check(query)
    trained = Live(FLEXIBERT, task="toy", options=Live.make_options(live_options(data)))
    trained.attach_run_dir(tmp_path / "run")
    assert trained.evaluate(first, seed=0).ok
    bench = Live(child, task="toy", options=Live.make_options(live_options(data)))
    bench.attach_run_dir(tmp_path / "run")
    result = bench.evaluate(query, seed=0)
    assert result.ok, result.reason
    assert result.info["transferred_from"] == first.id and result.info["transferred_layers"] == 3
    scratch = Live(child, task="toy", options=Live.make_options(live_options(data, transfer="false")))
    alone = scratch.evaluate(query, seed=0)
    assert "transferred_from" not in alone.info
    assert result.info["steps"] * 2 == alone.info["steps"]  # one epoch instead of the recipe's two


# -- the pipeline -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The toy task and the store of an uninterrupted three-level pipeline on it."""
    folder = tmp_path_factory.mktemp("whole")
    data = toy_task(folder / "toy")
    run_pipeline(pipeline(data), folder / "whole.sqlite")
    return data, folder / "whole.sqlite"


def test_three_levels_in_one_store_each_spanned_by_the_last(whole: tuple[Path, Path]) -> None:
    _, store = whole
    with Store.open(store, create=False) as opened:
        report = pipeline_report(opened)
        record = json.loads(opened.meta(META_KEY) or "")
        assert len(opened.cells()) == 3
        rows = {e["cell_id"]: opened.trials(e["cell_id"]) for e in record["levels"]}
    assert [lv.level for lv in report.levels] == [1, 2, 3] and [lv.trials for lv in report.levels] == [4, 3, 3]
    cls = get_space("flexibert")
    spaces = [cls(cls.make_options({k: str(v) for k, v in e["space_options"].items()})) for e in record["levels"]]
    assert [s.level for s in spaces] == [1, 2, 3]
    for entry, level_space, finer in zip(record["levels"], spaces, [*spaces[1:], None], strict=True):
        level_rows = rows[entry["cell_id"]]
        for row in level_rows:  # every trial is a member of its level's space
            level_space.check(level_space.arch(row.card))
        if finer is None:
            assert entry["parents"] == []
            continue
        parents = entry["parents"]
        values = sorted((r.metrics["accuracy"] for r in level_rows if r.status == "ok"), reverse=True)
        tops = [p for p in parents if p["role"] == "top"]
        assert [p["value"] for p in tops] == values[:2]  # the two best archs of the level
        assert 2 <= len(parents) <= 4 and len({json.dumps(p["card"], sort_keys=True) for p in parents}) == len(parents)
        spanned = level_space.child_space([level_space.arch(p["card"]) for p in parents])
        assert finer.key() == spanned.key() and finer.cardinality() == spanned.cardinality()
    assert report.best is not None
    earlier: set[str] = set()
    for entry, lv in zip(record["levels"], report.levels, strict=True):
        assert lv.repeats == sum(r.arch_id in earlier for r in rows[entry["cell_id"]])
        earlier |= {r.arch_id for r in rows[entry["cell_id"]]}
    curve = [p["best"] for p in report.curve]
    assert curve == list(np.maximum.accumulate([p["value"] for p in report.curve]))
    assert report.transfer.trials <= sum(lv.trials - lv.failed for lv in report.levels)
    moved = [r for level_rows in rows.values() for r in level_rows if r.info.get("transferred_from")]
    assert report.transfer.transferred == len(moved) > 0  # finer levels start from coarser levels' models
    text = to_markdown(report)
    assert "Level 3" in text and "Knowledge transfer" in text


def test_a_killed_pipeline_resumes_to_the_report_of_an_uninterrupted_one(
        whole: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data, uninterrupted = whole
    evaluate = Live.evaluate
    calls = []

    def dies_at_the_sixth(self: Live, arch: Any, seed: int) -> Any:
        calls.append(arch.id)
        if len(calls) == 6:  # during level 2 (level 1 has 4 trials)
            raise KeyboardInterrupt
        return evaluate(self, arch, seed)

    killed = tmp_path / "killed.sqlite"
    monkeypatch.setattr(Live, "evaluate", dies_at_the_sixth)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(pipeline(data), killed)
    with sqlite3.connect(killed) as conn:
        assert conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 5
    monkeypatch.setattr(Live, "evaluate", evaluate)
    with pytest.raises(StoreError, match="--resume"):
        run_pipeline(pipeline(data), killed)  # not without --resume
    run_pipeline(pipeline(data), killed, resume=True)
    with Store.open(uninterrupted, create=False) as a, Store.open(killed, create=False) as b:
        assert comparable(pipeline_report(a)) == comparable(pipeline_report(b))
    with Store.open(killed, create=False) as b:
        assert sum(len(b.trials(c.cell_id)) for c in b.cells()) == 10  # nothing trained twice or lost


def test_resuming_with_other_settings_is_refused_and_keeps_the_store(tmp_path: Path) -> None:
    data = toy_task(tmp_path / "toy")
    store = tmp_path / "p.sqlite"
    run_pipeline(pipeline(data, budgets=(3, 2)), store)
    before = store.read_bytes()
    other_seed = pipeline(data, budgets=(3, 2))
    other_seed = dataclasses.replace(other_seed, cell=dataclasses.replace(other_seed.cell, seed=1))
    with pytest.raises(StoreError, match=r"other settings \(seed differ\)"):
        run_pipeline(other_seed, store, resume=True)
    assert store.read_bytes() == before

    def trials() -> list[tuple[Any, ...]]:
        with sqlite3.connect(store) as conn:
            return conn.execute("SELECT cell_id, trial, arch_id, metrics FROM trials ORDER BY 1, 2").fetchall()

    stored = trials()
    wider = pipeline(data, budgets=(3, 2), neighbours=0)  # level 2 ran: its space would change
    with pytest.raises(StoreError, match="pipeline level 2 of the stored run searched another space"):
        run_pipeline(wider, store, resume=True)
    assert trials() == stored
    # the same settings spelled otherwise resume; a larger budget of the last level continues it
    cell = pipeline(data).cell
    spelled = dataclasses.replace(cell, benchmark_options={**cell.benchmark_options, "transfer": "1", "tau": 0.25})
    run_pipeline(PipelineSpec(spelled, (3, 4), top_k=2, neighbours=1), store, resume=True)
    with Store.open(store, create=False) as opened:
        assert [lv.trials for lv in pipeline_report(opened).levels] == [3, 4] and len(opened.cells()) == 2


def test_a_command_refused_for_bad_input_writes_nothing(tmp_path: Path) -> None:
    data = toy_task(tmp_path / "toy")
    store = tmp_path / "p.sqlite"
    spec = pipeline(data, budgets=(3, 2))
    typo = dataclasses.replace(spec, cell=dataclasses.replace(spec.cell, strategy_options={"bogus": "1"}))
    with pytest.raises(OptionError, match="bogus"):
        run_pipeline(typo, store)
    assert not store.exists()
    run_pipeline(spec, store)  # the corrected command starts, no --resume needed
    with Store.open(store, create=False) as opened:
        assert [lv.trials for lv in pipeline_report(opened).levels] == [3, 2]


def test_a_benchmark_without_the_finer_levels_is_refused_before_anything_runs(tmp_path: Path) -> None:
    cell = CellSpec(space="flexibert", strategy="rs", benchmark="surrogate", seed=0)
    with pytest.raises(IncompatibleError, match=r"cannot answer the cards of pipeline level 2.*--benchmark live"):
        run_pipeline(PipelineSpec(cell, (4, 2)), tmp_path / "p.sqlite")
    assert not (tmp_path / "p.sqlite").exists()
    flat = dataclasses.replace(cell, space="toy-grid", benchmark="toy-quadratic")
    with pytest.raises(IncompatibleError, match="not hierarchical"):
        run_pipeline(PipelineSpec(flat, (4, 2)), tmp_path / "q.sqlite")


def test_top_k_larger_than_a_levels_budget_is_refused() -> None:
    cell = CellSpec(space="flexibert", strategy="rs", benchmark="surrogate", seed=0)
    with pytest.raises(UserError, match="--top-k 5 is larger than pipeline level 1's budget of 4"):
        PipelineSpec(cell, (4, 2), top_k=5)
    PipelineSpec(cell, (5, 2), top_k=5)  # the last level's budget bounds nothing
    with pytest.raises(UserError, match="at least 1 query"):
        PipelineSpec(cell, (4, 0))


def test_one_level_on_the_built_in_surrogate(tmp_path: Path) -> None:
    cell = CellSpec(space="flexibert", strategy="rs", benchmark="surrogate", seed=0)
    store = tmp_path / "p.sqlite"
    run_pipeline(PipelineSpec(cell, (6,)), store)
    with Store.open(store, create=False) as opened:
        report = pipeline_report(opened)
    assert [lv.trials for lv in report.levels] == [6] and report.levels[0].parents == []
    assert report.transfer.transferred == 0 and report.transfer.pairs == 0


# -- the transfer measurement, worked out by hand ------------------------------------------------
def row(trial: int, params: float, seconds: float, accuracy: float, moved: bool = False) -> TrialRow:
    return TrialRow(trial=trial, arch_id=f"a{trial}", card={}, eval_seed=0, status="ok", reason=None,
                    metrics={"accuracy": accuracy, "params": params},
                    info={"train_seconds": seconds, **({"transferred_from": "x"} if moved else {})},
                    cost_seconds=seconds + 1, strategy_seconds=0.0, started_at="", finished_at="")


def test_transfer_pairs_each_transferred_trial_with_the_nearest_scratch_trial_in_size() -> None:
    rows = [row(0, 1e6, 10.0, 0.80), row(1, 4e6, 40.0, 0.85),
            row(2, 1.2e6, 6.0, 0.79, moved=True), row(3, 3.5e6, 24.0, 0.86, moved=True)]
    report = transfer_report(rows, "accuracy")
    assert (report.trials, report.transferred, report.share, report.pairs) == (4, 2, 0.5, 2)
    assert report.seconds_transferred == pytest.approx(15.0) and report.seconds_scratch == pytest.approx(25.0)
    assert report.time_saved == pytest.approx(1 - 30 / 50)
    assert report.score_difference == pytest.approx(((0.79 - 0.80) + (0.86 - 0.85)) / 2)
    assert transfer_report(rows[2:], "accuracy").pairs == 0  # nothing trained from scratch to compare with


# -- the command line -----------------------------------------------------------------------------
def test_the_command_writes_the_report_and_refuses_bad_input(tmp_path: Path, cli: Callable[..., Any]) -> None:
    data = toy_task(tmp_path / "toy")
    opts = [a for k, v in live_options(data).items() for a in ("--benchmark-opt", f"{k}={v}")]
    base = ["pipeline", "flexibert", "--strategy", "rs", "--task", "toy", "--store", "p.sqlite", *opts]
    done = cli(*base, "--budgets", "3,2", "--top-k", "2", "--out", "report", check=True)
    assert "level 2: 2 trials" in done.stdout
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert [lv["level"] for lv in report["levels"]] == [1, 2] and report["best_level"] in (1, 2)
    assert "## Level 2" in (tmp_path / "report" / "report.md").read_text()
    before = (tmp_path / "p.sqlite").read_bytes()
    for args, message in [
        (["--budgets", "3,2", "--top-k", "4"], "--top-k 4 is larger than pipeline level 1's budget of 3"),
        (["--budgets", "3,x"], "--budgets must be whole numbers"),
        (["--budgets", "3,2", "--top-k", "2", "--space-opt", "level=4"], "option level='4' is not a valid 1|2|3"),
        (["--budgets", "3,2", "--top-k", "2", "--strategy-opt", "bogus=1"], "bogus"),
        (["--budgets", "3,2", "--top-k", "2"], "already holds a pipeline; add --resume"),
    ]:
        bad = cli(*base, *args)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
    assert (tmp_path / "p.sqlite").read_bytes() == before
    again = cli(*base, "--budgets", "3,2", "--top-k", "2", "--resume", "--json", check=True)
    assert json.loads(again.stdout)["levels"][1]["best_card"] == report["levels"][1]["best_card"]
    published = cli("leaderboard", "publish", "p.sqlite", "--out", "site", check=True)
    assert "pipeline-1-best-so-far.png" in published.stdout
    assert "Pipeline: accuracy" in (tmp_path / "site" / "index.html").read_text()
