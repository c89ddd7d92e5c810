"""Tables: the format, build/resume, the tabular and surrogate benchmarks, import/export."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from nbt_testing import space

from nasbench_txf.benchmarks.surrogate import SurrogateBenchmark
from nasbench_txf.benchmarks.tabular import Tabular
from nasbench_txf.core.errors import DataError, InvalidCardError, OptionError
from nasbench_txf.surrogate.models import CANDIDATES
from nasbench_txf.surrogate.surrogate import Surrogate
from nasbench_txf.tables.build import BuildRequest, build, plan
from nasbench_txf.tables.info import describe
from nasbench_txf.tables.table import ROWS, Table

TOY = space("toy-grid")


def test_plan_spreads_repeated_seeds_and_is_deterministic() -> None:
    flexibert = space("flexibert")
    jobs = plan(flexibert, 600, 3, 100, 0)
    archs = list(dict.fromkeys(a for a, _ in jobs))
    assert len(jobs) == 800 and len(archs) == 600
    assert archs[0] == flexibert.resolve("bert-tiny")  # presets first
    per_arch = {a: [s for b, s in jobs if b == a] for a in archs}
    repeated = [i for i, a in enumerate(archs) if per_arch[a] == [0, 1, 2]]
    assert len(repeated) == 100 and repeated[:3] == [0, 6, 12]
    assert jobs == plan(flexibert, 600, 3, 100, 0)


def test_given_cards_follow_the_presets_and_leave_the_random_plan_alone(tmp_path: Path) -> None:
    flexibert = space("flexibert")
    alone = plan(flexibert, 40, 2, 10, 0)
    rng = np.random.default_rng(5)
    extra = [flexibert.sample(rng) for _ in range(3)]
    cards = [extra[0].card, extra[1].card, alone[-1][0].card, extra[2].card, extra[0].card]  # one planned, one twice
    jobs = plan(flexibert, 40, 2, 10, 0, cards)
    presets = set()
    for card in flexibert.presets().values():
        try:
            presets.add(flexibert.arch(card))
        except InvalidCardError:  # a level-2 preset is no card of the level-1 space
            continue
    first = jobs.index((extra[0], 0))
    assert jobs[:first] == alone[:first] and {a for a, _ in jobs[:first]} == presets
    assert jobs[first:first + 3] == [(a, 0) for a in extra]  # after the presets, seed 0, once each
    assert [j for j in jobs if j[0] not in extra] == alone  # the random part and its repeated seeds unchanged
    lines = tmp_path / "cards.jsonl"
    lines.write_text(json.dumps({"card": cards[0], "accuracy": 0.8}) + "\n\n" + json.dumps(cards[1]) + "\n")
    from nasbench_txf.core.errors import UserError
    from nasbench_txf.tables.build import read_cards

    assert read_cards(lines) == (cards[0], cards[1])
    lines.write_text(json.dumps(cards[0]) + "\n[1, 2]\n")
    with pytest.raises(UserError, match=r"cards.jsonl: line 2: not a card \(a JSON object\), got \[1, 2\]"):
        read_cards(lines)
    lines.write_text("{nope\n")
    with pytest.raises(UserError, match="line 1"):
        read_cards(lines)
    with pytest.raises(UserError, match="--cards: card 2: "):
        plan(flexibert, 40, 2, 10, 0, [cards[0], {"layers": "many"}])


def test_build_resumes_where_it_stopped(toy_table: Path, tmp_path: Path) -> None:
    full = Table.read(toy_table)
    assert len(full.rows) == 80 + 30 * 2 and len(full.by_arch()) == 80
    folder = tmp_path / "t"
    shutil.copytree(toy_table, folder)
    rows = (folder / ROWS).read_text().splitlines(keepends=True)
    (folder / ROWS).write_text("".join(rows[:50]) + rows[50][:25])  # killed mid-line
    measured = []
    request = BuildRequest("toy-grid", {}, "toy-quadratic", None, {"noise": "0.3"}, n=80, seeds=3, repeated=30)
    build(request, folder, progress=False, on_row=measured.append)
    assert len(measured) == len(full.rows) - 50
    resumed = Table.read(folder)
    key = lambda r: (r.arch_id, r.seed)  # noqa: E731
    assert sorted(resumed.rows, key=key) == sorted(full.rows, key=key)


def test_build_refuses_a_table_of_another_recipe(toy_table: Path, tmp_path: Path) -> None:
    folder = tmp_path / "t"
    shutil.copytree(toy_table, folder)
    request = BuildRequest("toy-grid", {}, "toy-quadratic", None, {"noise": "0.5"}, n=80)
    before = (folder / ROWS).read_bytes()
    with pytest.raises(DataError, match="another space, task, recipe or metrics"):
        build(request, folder, progress=False)
    assert (folder / ROWS).read_bytes() == before


def test_tabular_answers_with_measured_rows_and_searches_the_table(toy_table: Path) -> None:
    bench = Tabular(TOY, options=Tabular.make_options({"table": str(toy_table)}))
    table_space = bench.search_space()
    assert table_space.enumerable and table_space.cardinality() == 80
    rows = bench.table.by_arch()
    arch = next(a for a in table_space.enumerate() if len(rows[a.id]) == 3)
    measured = {r.metrics["score"] for r in rows[arch.id]}
    assert bench.evaluate(arch, seed=1).metrics["score"] == rows[arch.id][1].metrics["score"]
    seen = {bench.evaluate(arch, seed=s).metrics["score"] for s in range(10, 40)}
    assert seen == measured  # unmeasured seeds map onto the measured ones
    rng = np.random.default_rng(0)
    for _ in range(20):
        child = table_space.mutate(arch, rng)
        assert child in table_space.members and child != arch
        assert table_space.from_decisions(TOY.to_decisions(TOY.sample(rng))) in table_space.members
    outside = next(a for a in TOY.enumerate() if a not in table_space.members)
    with pytest.raises(InvalidCardError, match="not in the table"):
        table_space.check(outside)
    with pytest.raises(DataError, match="not in the table"):
        bench.evaluate(outside, seed=0)


def test_surrogate_validation_noise_and_storage(toy_table: Path, tmp_path: Path) -> None:
    table = Table.read(toy_table)
    surrogate = Surrogate.fit(table, TOY)
    meta = surrogate.meta
    assert meta["archs"] == 80 and meta["config"] in meta["validation"]["cv_kendall_tau"]
    assert set(meta["configs"]) == {"score", "size", "cost_seconds"}  # each metric its own choice
    # toy-quadratic's noise is 0.3, the same for every arch: the pooled seed-to-seed spread
    # measures it, and one level beats a level per arch on held-out archs
    assert meta["noise_std"] == pytest.approx(0.3, abs=0.08)
    assert meta["noise"]["score"]["model"] == surrogate.noise_kind("score") == "constant"
    scores = meta["noise"]["score"]["log_likelihood"]
    assert scores["constant"] > scores["per-arch"]
    assert meta["noise"]["size"] == {"std": 0.0, "typical_std": 0.0, "model": "constant",
                                     "log_likelihood": {}}  # the same at every seed
    # every arch is held out once (nested cross-validation)
    assert meta["validation"]["kendall_tau"] > 0.5 and meta["validation"]["held_out_archs"] == 80
    surrogate.save(tmp_path / "s")
    loaded = Surrogate.load(tmp_path / "s", TOY)
    archs = list(TOY.enumerate())[:30]
    for name, values in surrogate.predict(archs).items():
        assert np.array_equal(values, loaded.predict(archs)[name])
    bench = SurrogateBenchmark(TOY, options=SurrogateBenchmark.make_options({"table": str(toy_table)}))
    unseen = next(a for a in TOY.enumerate() if a.id not in table.by_arch())
    first, again, other = (bench.evaluate(unseen, seed=s) for s in (0, 0, 1))
    assert first == again and first.metrics["score"] != other.metrics["score"]
    assert first.cost_seconds > 0 and set(first.metrics) == {"score", "size"}
    # no training of the toy table failed, so none of the surrogate's does
    assert meta["failures"] == {"rows": 0, "of": 140, "rate": 0.0} and not bench.version.endswith("/failures")


def test_surrogate_counts_what_the_benchmark_computes_from_the_card(toy_table: Path, tmp_path: Path) -> None:
    """toy-quadratic computes ``size`` from the card: the surrogate answers it exactly, for
    archs it never saw as well, where the count reproduces every row; else it learns it."""
    from nasbench_txf_toy import size_of

    surrogate = Surrogate.fit(Table.read(toy_table), TOY)
    assert surrogate.meta["counted"] == ["size"] and surrogate.meta["configs"]["size"] == "counted"
    everything = list(TOY.enumerate())
    assert surrogate.predict(everything)["size"].tolist() == [size_of(a) for a in everything]
    surrogate.save(tmp_path / "s")
    loaded = Surrogate.load(tmp_path / "s", TOY)
    assert loaded.predict(everything).keys() == surrogate.predict(everything).keys()
    assert loaded.predict(everything)["size"].tolist() == [size_of(a) for a in everything]
    # one row the count does not reproduce (measured with another recipe, say): learned
    tampered = tmp_path / "tampered"
    shutil.copytree(toy_table, tampered)
    lines = (tampered / ROWS).read_text().splitlines()
    row = json.loads(lines[0])
    row["metrics"]["size"] += 1
    (tampered / ROWS).write_text("\n".join([json.dumps(row), *lines[1:]]) + "\n")
    learned = Surrogate.fit(Table.read(tampered), TOY)
    assert learned.meta["counted"] == [] and learned.meta["configs"]["size"] in CANDIDATES
    # the benchmark that counts is gone (a plugin uninstalled): refused with a message
    meta = json.loads((tmp_path / "s" / "surrogate.json").read_text())
    meta["table"]["source"]["benchmark"] = "gone"
    (tmp_path / "s" / "surrogate.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="counts size as benchmark 'gone' does, which is not installed"):
        Surrogate.load(tmp_path / "s", TOY)


def test_any_metric_of_the_table_can_be_the_objective(toy_table: Path) -> None:
    options = {"table": str(toy_table), "objective": "size"}
    tab = Tabular(TOY, options=Tabular.make_options(options))
    sur = SurrogateBenchmark(TOY, options=SurrogateBenchmark.make_options(options))
    for bench in (tab, sur):
        assert [m.name for m in bench.metrics] == ["size", "score"] and not bench.objective.maximize
    sizes = tab.expected(list(tab.search_space().enumerate()))
    assert tab.best_known() == sizes.min()
    arch = next(iter(tab.search_space().enumerate()))
    # size is the same at every seed: the surrogate adds no noise to it
    assert len({sur.evaluate(arch, seed=s).metrics["size"] for s in range(5)}) == 1
    with pytest.raises(OptionError, match=r"'speed' is not a metric of table .*its metrics: score, size"):
        Tabular(TOY, options=Tabular.make_options({"table": str(toy_table), "objective": "speed"}))


def test_table_benchmarks_know_noise_free_values_and_the_best(toy_table: Path) -> None:
    tab = Tabular(TOY, options=Tabular.make_options({"table": str(toy_table)}))
    rows = tab.table.by_arch()
    archs = list(tab.search_space().enumerate())
    means = tab.expected(archs)
    arch = next(a for a in archs if len(rows[a.id]) == 3)
    assert means[archs.index(arch)] == pytest.approx(np.mean([r.metrics["score"] for r in rows[arch.id]]))
    assert tab.best_known() == pytest.approx(means.max())
    assert np.isnan(tab.expected([next(a for a in TOY.enumerate() if a.id not in rows)])[0])
    sur = SurrogateBenchmark(TOY, options=SurrogateBenchmark.make_options({"table": str(toy_table)}))
    everything = list(TOY.enumerate())
    predicted = sur.expected(everything)
    assert sur.best_known() == pytest.approx(predicted.max())  # toy-grid is enumerable: all of it
    noisy = np.array([sur.evaluate(a, seed=3).metrics["score"] for a in everything[:20]])
    assert np.abs(noisy - predicted[:20]).max() > 0  # expected() leaves the seed noise out
    assert tab.version.endswith(f"/{len(tab.table.rows)}")
    assert sur.version == f"{tab.version}/counted-size"  # size is counted from the card, not learned


def test_surrogate_files_from_a_newer_version_are_refused(toy_table: Path, tmp_path: Path) -> None:
    Surrogate.fit(Table.read(toy_table), TOY).save(tmp_path / "s")
    meta = json.loads((tmp_path / "s" / "surrogate.json").read_text())
    (tmp_path / "s" / "surrogate.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(DataError, match="newer than this nasbench-txf reads"):
        Surrogate.load(tmp_path / "s", TOY)
    damaged_linear = {"kind": "linear", "coef": [0.5], "intercept": 1.0}
    (tmp_path / "s" / "surrogate.json").write_text(json.dumps({**meta, "models": {"score": damaged_linear}}))
    with pytest.raises(DataError, match=r"damaged surrogate model.*coefficients"):
        Surrogate.load(tmp_path / "s", TOY)
    (tmp_path / "s" / "garbage.lgb.txt").write_text("garbage")
    damaged_trees = {"kind": "trees", "file": "garbage.lgb.txt", "offset": 0.0}
    (tmp_path / "s" / "surrogate.json").write_text(json.dumps({**meta, "models": {"score": damaged_trees}}))
    with pytest.raises(DataError, match="damaged surrogate model"):
        Surrogate.load(tmp_path / "s", TOY)


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ("{ not json", "not valid JSON"),
        ('{"format": "something else"}', "not a nasbench-txf table"),
        ('{"format": "nasbench-txf table", "format_version": 7}', "newer than this nasbench-txf reads"),
        ('{"format": "nasbench-txf table", "format_version": 1}', "malformed table metadata"),
    ],
)
def test_bad_table_metadata(tmp_path: Path, meta: str, message: str) -> None:
    (tmp_path / "metadata.json").write_text(meta)
    with pytest.raises(DataError, match=message):
        Table.read(tmp_path)


def test_bad_row_is_named_with_its_line(toy_table: Path, tmp_path: Path) -> None:
    shutil.copytree(toy_table, tmp_path / "t")
    with (tmp_path / "t" / ROWS).open("a") as handle:
        handle.write('{"arch_id": 1}\n')
    with pytest.raises(DataError, match=rf"line {80 + 60 + 1}: not a table row"):
        Table.read(tmp_path / "t")


def test_the_built_in_table_is_a_valid_flexibert_sst2_table() -> None:
    from nasbench_txf.tables.builtin import builtin_folders

    (folder,) = [f for f in builtin_folders() if f.name == "flexibert-sst2"]
    table = Table.read(folder)
    flexibert = space("flexibert")
    assert table.meta.space == flexibert.key() and table.meta.task == "sst2"
    assert table.meta.metrics[0].name == "accuracy" and table.meta.source["benchmark"] == "live"
    recipe = table.meta.source["options"]
    assert (recipe["train_size"], recipe["epochs"], recipe["lr"], recipe["holdout_size"]) == (40000, 1, 3e-4, 27349)
    assert recipe["group_by_length"] is True
    for row in table.rows:
        assert flexibert.arch(row.card).id == row.arch_id and row.seed in (0, 1, 2)
        assert row.status == "failed" or 0.4 < row.metrics["accuracy"] < 1
    presets = []  # the build plans every preset that is a level-1 card
    for card in flexibert.presets().values():
        try:
            presets.append(flexibert.arch(card).id)
        except InvalidCardError:
            continue
    assert len(presets) >= 3 and set(presets) <= set(table.by_arch())
    # the size it must have: 600 archs, 100 of them measured at 3 seeds
    measured_seeds = [sum(row.measured for row in rows) for rows in table.by_arch().values()]
    assert len(measured_seeds) >= 600 and sum(n >= 3 for n in measured_seeds) >= 100
    shipped = Surrogate.load(folder / "surrogate", flexibert)  # fitted on exactly these rows: `run` never refits
    assert (shipped.meta["table"], shipped.meta["table_rows"]) == (table.meta.to_json(), len(table.rows))
    # every row says where it was trained: bf16 depends on the machine, not the recipe
    measured_with = describe(table)["measured_with"]
    assert sum(measured_with.values()) == len(table.rows)
    assert set(measured_with) <= {f"{d}/{p}" for d in ("cpu", "cuda") for p in ("bf16", "fp32", "unrecorded")}
    # parameters and FLOPs are counted from the card, and reproduce every measured row
    assert shipped.meta["counted"] == ["params", "flops"]
    ok = [row for row in table.rows if row.status == "ok"]
    counted = shipped.predict([flexibert.arch(row.card) for row in ok], ["params", "flops"])
    for metric, values in counted.items():
        assert values.tolist() == [row.metrics[metric] for row in ok]


def test_the_built_in_surrogate_answers_what_a_real_run_could_measure() -> None:
    """Table archs and sampled ones, 5 seeds each: no answer better than the best measured
    run by more than 4 typical seed deviations, none under chance (a symmetric model of the
    rare bad runs would answer scores above any real run)."""
    flexibert = space("flexibert")
    bench = SurrogateBenchmark(flexibert)
    measured = np.array([r.metrics["accuracy"] for r in bench.table.rows if r.status == "ok"])
    rng = np.random.default_rng(0)
    archs = [*bench.reference_archs()[:150], *(flexibert.sample(rng) for _ in range(150))]
    results = [bench.evaluate(arch, seed) for arch in archs for seed in range(5)]
    answers = np.array([r.metrics["accuracy"] for r in results if r.ok])
    # failed trainings only at the table's rate of them (none where none failed)
    rate = bench.model.failure_rate
    assert len(results) - len(answers) <= rate * len(results) + 4 * np.sqrt(rate * len(results))
    typical = bench.model.meta["noise"]["accuracy"]["typical_std"]
    assert answers.min() > 0.5 and answers.max() < measured.max() + 4 * typical
    assert abs(np.mean(answers) - np.mean(bench.expected(archs))) < typical  # noise centred on the prediction


def test_run_against_a_table_from_the_cli(cli, toy_table: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for bench in ("tabular", "surrogate"):
        done = cli("run", "--space", "toy-grid", "--strategy", "rs", "--benchmark", bench, "--budget", "15",
                   "--benchmark-opt", f"table={toy_table}", "--store", str(tmp_path / f"{bench}.sqlite"), "--json")
        assert done.returncode == 0, done.stderr
        cell = json.loads(done.stdout)["cells"][0]
        assert cell["trials"] == 15 and cell["objective"] == "score"
    by_size = cli("run", "--space", "toy-grid", "--strategy", "rs", "--benchmark", "surrogate", "--budget", "5",
                  "--benchmark-opt", f"table={toy_table}", "--benchmark-opt", "objective=size", "--json",
                  "--store", str(tmp_path / "size.sqlite"))
    assert by_size.returncode == 0, by_size.stderr
    assert json.loads(by_size.stdout)["cells"][0]["objective"] == "size"
    unknown = cli("run", "--space", "toy-grid", "--strategy", "rs", "--benchmark", "tabular",
                  "--benchmark-opt", f"table={toy_table}", "--benchmark-opt", "objective=speed",
                  "--store", str(tmp_path / "speed.sqlite"))
    assert unknown.returncode == 2 and "its metrics: score, size" in unknown.stderr
    assert "Traceback" not in unknown.stderr and not (tmp_path / "speed.sqlite").exists()
    wrong = cli("run", "--space", "flexibert", "--strategy", "rs", "--benchmark", "tabular",
                "--benchmark-opt", f"table={toy_table}", "--store", str(tmp_path / "x.sqlite"))
    assert wrong.returncode == 2 and "measured space" in wrong.stderr and not (tmp_path / "x.sqlite").exists()


def test_a_surrogate_counting_with_a_recipe_its_benchmark_no_longer_takes_is_refused(tmp_path: Path) -> None:
    from nasbench_txf.tables.builtin import builtin_folders

    (folder,) = [f for f in builtin_folders() if f.name == "flexibert-sst2"]
    shutil.copytree(folder / "surrogate", tmp_path / "s")
    meta = json.loads((tmp_path / "s" / "surrogate.json").read_text())
    meta["table"]["source"]["options"]["retired"] = 1  # an option of an older nasbench-txf
    (tmp_path / "s" / "surrogate.json").write_text(json.dumps(meta))
    refused = r"counts params, flops as benchmark 'live' does, which cannot here \(.*retired"
    with pytest.raises(DataError, match=refused):
        Surrogate.load(tmp_path / "s", space("flexibert"))
