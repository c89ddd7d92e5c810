"""``nasbench-txf study encodings``: predictors fitted on n archs of a table rank the rest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from nbt_testing import ENCODING_OPTIONS, shared_toy_table

from nasbench_txf.run.variants import Variant
from nasbench_txf.study.encodings import StudySpec, measured_archs, ranking_quality, run_study, training_draw
from nasbench_txf.study.report import interval
from nasbench_txf.tables.table import Table
from nasbench_txf.testing import toy_space

T2V = "t2v(" + ", ".join(f"{k}={v}" for k, v in ENCODING_OPTIONS["t2v"].items()) + ")"
#: a small real study: every model kind on two encodings, with short trainings
SMALL = ["--encodings", f"onehot,{T2V}", "--models", "ridge,lightgbm,knn,gp-bo,bananas(epochs=30),boshnas(epochs=60)",
         "--sizes", "8,20", "--seeds", "2", "--top", "0.2"]


def test_ranking_quality_worked_out_by_hand() -> None:
    measured = np.array([1.0, 2.0, 4.0, 3.0, 0.0])
    predicted = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    # pairs: 10; discordant: (2,3) and the four pairs of index 4 with the others → 5 of 10
    quality = ranking_quality(predicted, measured, top=0.4)
    assert quality["kendall_tau"] == pytest.approx((5 - 5) / 10)
    # top 40% = 2 archs: measured best {2, 3}, predicted best {4, 3}: one in common
    assert quality["top_overlap"] == 0.5
    assert ranking_quality(measured, measured, 0.2) == pytest.approx(
        {"kendall_tau": 1.0, "spearman_rho": 1.0, "top_overlap": 1.0})
    flat = ranking_quality(np.zeros(5), measured, 0.2)
    assert flat["kendall_tau"] == 0.0 and flat["spearman_rho"] == 0.0  # a constant prediction ranks nothing


def test_interval_is_the_t_interval_of_the_mean() -> None:
    # values 1, 2, 3: mean 2, sd 1, t(0.975, 2) = 4.3027 → half-width 4.3027 / sqrt(3)
    assert interval(pd.Series([1.0, 2.0, 3.0])) == pytest.approx(4.302653 / 3**0.5, rel=1e-5)
    assert np.isnan(interval(pd.Series([1.0])))


def test_measured_archs_average_seeds_and_turn_minimised_metrics_round() -> None:
    table = Table.read(shared_toy_table())
    space = toy_space()
    scores = measured_archs(table, space, None)
    by_arch = table.by_arch()
    assert len(scores.archs) == len(by_arch) == 80
    first = scores.archs[0]
    expected = np.mean([r.metrics["score"] for r in by_arch[first.id] if r.measured])
    assert scores.scores[0] == pytest.approx(expected)
    size = measured_archs(table, space, "size")  # minimised: the study maximises its negation
    assert not size.maximize and size.scores[0] == -by_arch[first.id][0].metrics["size"]


def test_training_draws_are_shared_and_seeded() -> None:
    assert np.array_equal(training_draw(80, 10, 0), training_draw(80, 10, 0))
    assert not np.array_equal(training_draw(80, 10, 0), training_draw(80, 10, 1))
    assert len(set(training_draw(80, 20, 3).tolist())) == 20


def test_a_small_study_on_a_table(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    table = str(shared_toy_table())
    done = cli("study", "encodings", table, *SMALL, "--out", "study", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    frame = pd.DataFrame(report["summary"])
    assert len(frame) == 2 * 6 * 2 and set(frame["seeds"]) == {2}
    assert set(frame["model"]) == {"ridge", "lightgbm", "knn", "gp-bo", "bananas(epochs=30)", "boshnas(epochs=60)"}
    assert frame["kendall_tau"].between(-1, 1).all() and frame["top_overlap"].between(0, 1).all()
    # the toy score is a sum of per-position op effects: a linear model on one-hot features ranks it
    ridge = frame[(frame["model"] == "ridge") & (frame["encoding"] == "onehot") & (frame["size"] == 20)]
    assert ridge["kendall_tau"].item() > 0.3
    folder = tmp_path / "study"
    assert {p.name for p in folder.iterdir()} == {"study.json", "fits.jsonl", "summary.csv", "report.md", "tau.png"}
    assert len((folder / "fits.jsonl").read_text().splitlines()) == 2 * 6 * 2 * 2
    assert "Kendall τ" in (folder / "report.md").read_text()

    # same settings again: nothing refitted, the same summary; a fit cut by a kill is redone alike
    fits = (folder / "fits.jsonl").read_text().splitlines()
    (folder / "fits.jsonl").write_text("\n".join(fits[:-3]) + "\n" + fits[-3][:20])
    again = cli("study", "encodings", table, *SMALL, "--out", "study", "--json")
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("fit ") == 3  # the two lost fits and the one cut in half
    lines = (folder / "fits.jsonl").read_text().splitlines()  # the refits on lines of their own
    assert len(lines) == 2 * 6 * 2 * 2 and all(json.loads(line) for line in lines)
    drop = ["seconds"]
    pd.testing.assert_frame_equal(pd.DataFrame(json.loads(again.stdout)["summary"]).drop(columns=drop),
                                  frame.drop(columns=drop))


def test_the_same_seeds_give_the_same_fits(tmp_path: Path) -> None:
    table, space = Table.read(shared_toy_table()), toy_space()
    spec = StudySpec(encodings=(Variant("onehot"),), models=(Variant("gp-bo"), Variant("bananas", {"epochs": "20"})),
                     sizes=(10,), seeds=2)
    first, second = (run_study(spec, table, space, tmp_path / name) for name in ("a", "b"))
    strip = lambda fits: [{k: v for k, v in f.items() if k != "seconds"} for f in fits]  # noqa: E731
    assert strip(first) == strip(second)


@pytest.mark.parametrize(("args", "message"), [
    (["--models", "rs"], "strategy rs has no score predictor to study"),
    (["--models", "ridge(alpha=1)"], "model ridge takes no options"),
    (["--models", "gp-bo(nonsense=1)"], "nonsense"),
    (["--models", "bananaz"], "unknown strategy 'bananaz'"),
    (["--encodings", "onehto"], "unknown encoding 'onehto'"),
    (["--sizes", "10,x"], "--sizes: '10,x' is not a comma-separated list"),
    (["--sizes", "75"], "the table measured 80 archs; training sizes must leave at least 10"),
    (["--sizes", "2"], "at least 3"),
    (["--top", "0.9"], "--top must be a fraction"),
    (["--seeds", "0"], "--seeds must be at least 1"),
    (["--metric", "accuracy"], "the table measured score, size"),
    (["--models", "ridge,gp-bo,gp-bo(initial=10)"], "--models names gp-bo more than once"),
    (["--encodings", "onehot,onehot"], "--encodings names onehot more than once"),
], ids=["no-predictor", "baseline-options", "bad-option", "unknown-model", "unknown-encoding", "sizes-text",
        "sizes-too-large", "sizes-too-small", "top", "seeds", "metric", "same-model", "same-encoding"])
def test_bad_requests_are_one_line_and_write_nothing(cli, tmp_path: Path, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    base = ["--encodings", "onehot", "--models", "ridge", "--sizes", "10", "--seeds", "1"]
    done = cli("study", "encodings", str(shared_toy_table()), *base, *args, "--out", "study")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "study").exists()


def test_a_folder_of_another_study_or_a_file_is_refused_and_kept(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    table = str(shared_toy_table())
    base = ["--encodings", "onehot", "--models", "ridge", "--sizes", "10", "--seeds", "1", "--out", "study"]
    assert cli("study", "encodings", table, *base).returncode == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "study").iterdir()}
    other = cli("study", "encodings", table, *base, "--top", "0.2")
    assert other.returncode == 2 and "holds a study with other settings (top)" in other.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "study").iterdir()} == before
    (tmp_path / "file").write_text("mine")
    refused = cli("study", "encodings", table, *base[:-1], "file")
    assert refused.returncode == 2 and "is a file" in refused.stderr
    assert (tmp_path / "file").read_text() == "mine"
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    full = cli("study", "encodings", table, *base[:-1], "full")
    assert full.returncode == 2 and "holds no study" in full.stderr
    assert (tmp_path / "full" / "notes.txt").read_text() == "mine"


def test_one_seed_gives_strict_json_and_a_model_predicting_nan_is_refused(cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def strict(text: str) -> None:
        raise ValueError(f"not JSON: {text}")

    done = cli("study", "encodings", str(shared_toy_table()), "--encodings", "onehot", "--models", "ridge",
               "--sizes", "10", "--seeds", "1", "--out", "one", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout, parse_constant=strict)["summary"]
    assert summary[0]["kendall_tau_ci"] is None  # one seed: no interval

    import nasbench_txf.study.encodings as study
    from nasbench_txf.core.errors import DataError

    monkeypatch.setattr(study, "make_predictor", lambda *args, **kwargs: lambda x, y, test: np.full(len(test), np.nan))
    spec = StudySpec(encodings=(Variant("onehot"),), models=(Variant("ridge"),), sizes=(10,), seeds=1)
    with pytest.raises(DataError, match=r"model ridge on onehot .* not 70 finite ones"):
        run_study(spec, Table.read(shared_toy_table()), toy_space(), tmp_path / "nan")
    assert not (tmp_path / "nan" / "fits.jsonl").read_text()
