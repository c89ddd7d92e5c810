"""Benchmark problems and suites: the registry, `sweep --suite`, the statistics across
problems (checked against values worked out by hand), the suite's site and its bad input."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_leaderboard import add_run, chromium, dump_dom, key, screenshot

from nasbench_txf.core.errors import OptionError, UnknownNameError, UserError
from nasbench_txf.leaderboard.across import (
    TAUS,
    ProblemScores,
    aggregate,
    iqm,
    mean_rank,
    problem_scores,
    stratified_bootstrap,
)
from nasbench_txf.leaderboard.aggregate import Settings, leaderboard
from nasbench_txf.leaderboard.collect import read_tables
from nasbench_txf.leaderboard.publish import MARKER
from nasbench_txf.leaderboard.render import display, header
from nasbench_txf.run.problems import Problem, get_problem, get_suite
from nasbench_txf.run.store import Store


def scores(name: str, values: dict[str, list[float]]) -> ProblemScores:
    problem = Problem(name, name, "toy-grid", "toy-quadratic")
    return ProblemScores(problem, 10, 1.0, {m: dict(enumerate(v)) for m, v in values.items()},
                         {m: m for m in values})


#: normalised regret of three methods on two problems, four seeds each
HAND = [scores("p", {"a": [0.0, 0.2, 0.4, 1.0], "b": [0.5, 0.5, 0.5, 0.5], "rs": [1.0, 0.8, 1.2, 1.0]}),
        scores("q", {"a": [0.9, 1.1, 1.0, 1.0], "b": [0.1, 0.3, 0.0, 0.2], "rs": [1.0, 1.0, 1.0, 1.0]})]


def test_aggregate_statistics_match_hand_computed_values() -> None:
    agg = aggregate(HAND, reps=500)
    assert agg.methods == ["a", "b", "rs"] and agg.seeds == [0, 1, 2, 3] and agg.problems == ["p", "q"]
    # IQM: the 8 runs of a sorted are 0, .2, .4, .9, 1, 1, 1, 1.1; the middle half .4, .9, 1, 1
    assert agg.iqm["a"][0] == pytest.approx(3.3 / 4)
    assert agg.iqm["b"][0] == pytest.approx((0.2 + 0.3 + 0.5 + 0.5) / 4)  # of 0, .1, .2, .3, .5 ×4
    assert agg.iqm["rs"][0] == pytest.approx(1.0)
    # mean ranks: on p the means are a .4, b .5, rs 1.0; on q a 1.0, b .15, rs 1.0 (a and rs tie)
    assert [agg.rank[m][0] for m in ("a", "b", "rs")] == pytest.approx([(1 + 2.5) / 2, 1.5, (3 + 2.5) / 2])
    # profile at τ = 0.5: a has 0, .2, .4 (3 of 8); b all but none above .5 (8 of 8); rs none
    at = int(np.flatnonzero(np.isclose(TAUS, 0.5))[0])
    assert [agg.profile[m][at] for m in ("a", "b", "rs")] == pytest.approx([3 / 8, 1.0, 0.0])
    assert agg.order() == ["b", "a", "rs"]
    for m in agg.methods:  # every interval holds its estimate
        point, low, high = agg.iqm[m]
        assert low <= point <= high
        point, low, high = agg.rank[m]
        assert low <= point <= high
    assert agg.iqm["b"][1] < agg.iqm["rs"][1]  # b's interval lies below random search's
    again = aggregate(HAND, reps=500)
    assert again.iqm == agg.iqm and again.rank == agg.rank  # deterministic


def test_the_bootstrap_resamples_within_problems() -> None:
    constant_per_problem = np.array([[[1.0], [5.0]]] * 6)  # seeds × problems × methods
    low, high = stratified_bootstrap(constant_per_problem, lambda x: x.mean(axis=(0, 1)), reps=200, seed=0)
    # a resample never mixes the problems, so the mean of the two is always 3
    assert low == pytest.approx([3.0]) and high == pytest.approx([3.0])
    spread = np.arange(12, dtype=float).reshape(12, 1, 1)
    low, high = stratified_bootstrap(spread, lambda x: iqm(x), reps=400, seed=1)
    assert 1.5 < low[0] < 5.5 < high[0] < 9.5  # around the IQM of 0..11, 5.5
    assert list(mean_rank(np.array([[[0.1, 0.2, 0.3]], [[0.3, 0.2, 0.1]]]))) == [2.0, 2.0, 2.0]


def test_methods_missing_from_a_problem_are_left_out_and_said() -> None:
    partial = [HAND[0], scores("q", {"a": [0.9, 1.1, 1.0, 1.0], "rs": [1.0, 1.0, 1.0, 1.0]})]
    agg = aggregate(partial, reps=50)
    assert agg.methods == ["a", "rs"] and "missing from q" in agg.left_out["b"]
    with pytest.raises(UserError, match="two seeds"):
        aggregate([scores("p", {"a": [0.1], "rs": [1.0]})], reps=10)


def test_normalised_regret_divides_by_random_search(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    with Store.open(path) as store:  # regret after 2 queries: rs 1.0 and 3.25 (mean 2.125), es 0 and 1.0
        for strategy, seed, trials in (("rs", 0, "D1.0 B3.3"), ("rs", 1, "E0.0 D1.2"),
                                       ("es", 0, "A4.2 C2.9"), ("es", 1, "E0.3 B3.1")):
            add_run(store, key(strategy, seed), trials, 0.1)
        add_run(store, key("reinforce", 0), "A4.2 B3.3", 0.1, failed=True)  # no success: the worst regret
    (table,) = read_tables(path)
    result = problem_scores(Problem("t", "t", "toy-grid", "toy-quadratic", "match"), table)
    assert result.baseline == pytest.approx(2.125)
    assert result.scores["rs"] == pytest.approx({0: 1 / 2.125, 1: 3.25 / 2.125})
    assert result.scores["es"] == pytest.approx({0: 0.0, 1: 1 / 2.125})
    assert result.scores["reinforce"] == pytest.approx({0: 3.25 / 2.125}) and result.failed_runs == 1
    assert result.strategies == {"rs": "rs", "es": "es", "reinforce": "reinforce"}


def test_a_problem_sets_against_only_where_it_is_valid_and_names_rows_apart() -> None:
    from nasbench_txf.leaderboard.across import method
    from nasbench_txf.leaderboard.collect import RowKey
    from nasbench_txf.run.sweep import SweepRequest, plan

    size = get_problem("toy-size")
    assert size.strategy_options("optuna", {"sampler": "cmaes"}) == {"sampler": "cmaes"}  # one objective only
    assert size.strategy_options("optuna", {}) == {"against": "size"}
    cells = plan(SweepRequest.of_problem(size, "nsga2,nsga2(against=size)", "", range(2)), {"queries": 3}).cells
    assert len(cells) == 2  # the two spellings are one setting on this problem: run once per seed
    rows = [RowKey("nsga2", None, json.dumps(options), None, None)
            for options in ({"against": "size"}, {"against": "auto"}, {})]
    assert [method(r, size) for r in rows] == ["nsga2", "nsga2(against=auto)", "nsga2"]
    with pytest.raises(OptionError, match="problem name 'Bad Name'"):
        Problem("Bad Name", "", "toy-grid", "toy-quadratic")
    with pytest.raises(OptionError, match="none of aggregate"):
        Problem("index", "", "toy-grid", "toy-quadratic")


def test_problems_and_suites_are_registered_and_listed(cli) -> None:  # type: ignore[no-untyped-def]
    suite, problems = get_suite("toy")
    assert suite.problems == ("toy-score", "toy-size") and problems[1].costs == ("size",)
    assert get_suite("default")[0].problems[0] == "flexibert-sst2"
    assert get_suite("all")[0].problems == tuple(sorted(get_suite("all")[0].problems))
    with pytest.raises(UnknownNameError, match="did you mean 'toy-score'"):
        get_problem("toy-scor")
    size = get_problem("toy-size")
    assert size.strategy_options("nsga2", {}) == {"against": "size"}
    assert size.strategy_options("nsga2", {"against": "score"}) == {"against": "score"}  # the variant's own
    assert size.strategy_options("rs", {}) == {} and get_problem("toy-score").strategy_options("nsga2", {}) == {}
    listing = cli("list", "problems")
    assert listing.returncode == 0 and "toy-size" in listing.stdout and "against size" in listing.stdout
    data = json.loads(cli("list", "problems", "--json").stdout)
    assert {"toy", "default", "all"} <= {s["name"] for s in data["suites"]}


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small suite sweep of the toy problems (run once for the tests that read it)."""
    folder = tmp_path_factory.mktemp("suite") / "runs"
    done = subprocess.run([sys.executable, "-m", "nasbench_txf", "sweep", "--suite", "toy",
                           "--strategies", "rs,es,nsga2", "--seeds", "3", "--workers", "1", "--store", str(folder)],
                          capture_output=True, text=True, timeout=300, cwd=folder.parent,  # not the checkout
                          env={**os.environ, "NASBENCH_TXF_CACHE": str(folder.parent / "cache")})
    assert done.returncode == 0, done.stderr
    return folder


def test_sweep_suite_writes_one_store_per_problem_and_resumes(cli, swept: Path) -> None:  # type: ignore[no-untyped-def]
    assert sorted(p.name for p in swept.glob("*.sqlite")) == ["toy-score.sqlite", "toy-size.sqlite"]
    (table,) = read_tables(swept / "toy-size.sqlite")
    assert {r.row.name for r in table.runs} == {"rs", "es", "nsga2(against=size)"} and table.horizon == 12
    assert table.seed_noise == 0.0 and read_tables(swept / "toy-score.sqlite")[0].seed_noise == pytest.approx(0.3)
    assert table.machine and "cores" in table.machine
    before = {p.name: p.read_bytes() for p in swept.glob("*.sqlite")}
    again = cli("sweep", "--suite", "toy", "--strategies", "rs,es,nsga2", "--seeds", "3", "--workers", "1",
                "--store", str(swept))
    assert again.returncode == 0, again.stderr
    assert {p.name: len(read_tables(p)[0].runs) for p in swept.glob("*.sqlite")} == {n: 9 for n in before}
    quiet = cli("sweep", "--suite", "toy", "--strategies", "rs,es,nsga2", "--seeds", "3", "--workers", "1",
                "--store", str(swept), "--json")
    assert set(json.loads(quiet.stdout)["problems"]) == {"toy-score", "toy-size"}  # one JSON document


def test_publish_suite_writes_the_overview_and_a_page_per_problem(cli, swept: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "site"
    result = cli("leaderboard", "publish", str(swept), "--suite", "toy", "--out", str(out),
                 "--markdown", str(tmp_path / "docs" / "board.md"))
    assert result.returncode == 0, result.stderr
    names = {p.name for p in out.iterdir()}
    assert {"index.html", "toy-score.html", "toy-size.html", "toy-score.csv", "toy-size.json", "aggregate.csv",
            "aggregate.json", "aggregate.png", "profiles.png", "toy-size-pareto.png", MARKER} <= names
    assert set(json.loads((out / MARKER).read_text())["files"]) == names - {MARKER}
    overview = (out / "index.html").read_text()
    assert "IQM normalised regret" in overview and 'href="toy-size.html"' in overview
    assert "<script" in overview and "http://" not in overview and "https://" not in overview  # file:// works
    page = (out / "toy-size.html").read_text()
    assert 'class="leader"' in page and "ranked by the hypervolume" in page and "mean regret after 12 queries" in page
    assert "Published by nasbench-txf" in page and "cores" in page  # the footer names the machine
    aggregate_json = json.loads((out / "aggregate.json").read_text())
    assert set(aggregate_json["methods"]) == {"rs", "es", "nsga2"} and aggregate_json["seeds"] == [0, 1, 2]
    assert aggregate_json["methods"]["rs"]["normalised_regret"]["toy-score"]  # per seed, for re-analysis
    copy = (tmp_path / "docs" / "board.md").read_text()
    assert "](../site/aggregate.png)" in copy and "## toy-score" in copy
    shown = cli("leaderboard", "show", str(swept), "--suite", "toy", "--json")
    numbers = json.loads(shown.stdout)["methods"]
    assert set(numbers) == {"rs", "es", "nsga2"} and numbers["rs"]["iqm"] == aggregate_json["methods"]["rs"]["iqm"]


def test_suite_bad_input_is_one_line_and_keeps_the_site(cli, swept: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "site"
    assert cli("leaderboard", "publish", str(swept), "--suite", "toy", "--out", str(out)).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(swept / "toy-score.sqlite", partial)
    afile = tmp_path / "afile"
    afile.write_text("mine")
    cases = [
        (("leaderboard", "publish", str(partial), "--suite", "toy", "--out", str(out)), "no runs of problem toy-size"),
        (("leaderboard", "publish", str(swept), "--suite", "nope", "--out", str(out)), "unknown suite 'nope'"),
        (("leaderboard", "publish", str(swept), "--suite", "toy", "--out", str(afile)), "is a file"),
        (("leaderboard", "publish", str(afile), "--suite", "toy", "--out", str(out)), "not a folder"),
        (("leaderboard", "publish", str(swept), "--suite", "toy", "--space", "x", "--out", str(out)), "--space"),
        (("leaderboard", "publish", str(swept), "--suite", "toy", "--out", str(tmp_path / "s2"), "--markdown",
          str(swept / "toy-score.sqlite")), "inside the folder of input stores"),
        (("leaderboard", "show", str(swept), "--suite", "toy", "--target", "0.1"), "--target"),
        (("sweep", "--suite", "nope", "--store", str(tmp_path / "x")), "unknown suite"),
        (("sweep", "--suite", "toy", "--store", str(afile)), "is a file"),
        (("sweep", "--suite", "toy", "--task", "match", "--store", str(tmp_path / "y")), "--task"),
        (("sweep", "--suite", "toy", "--store", str(swept), "--seeds", "2", "--strategies", "rs",
          "--budget", "5"), "belongs to another sweep"),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert afile.read_text() == "mine" and not (tmp_path / "x").exists()
    assert len(read_tables(swept / "toy-score.sqlite")[0].runs) == 9  # the store under --markdown is intact


def test_a_problem_whose_costs_the_benchmark_lacks_is_refused() -> None:
    from nasbench_txf.run.sweep import SweepRequest, plan

    bad = Problem("bad", "costs the benchmark does not report", "toy-grid", "toy-quadratic", "match",
                  costs=("latency",))
    with pytest.raises(UserError, match="its costs latency are not metrics the benchmark reports"):
        plan(SweepRequest.of_problem(bad, "rs", "", range(1)), {"queries": 3})


def test_a_store_swept_on_other_terms_is_refused(swept: Path, tmp_path: Path) -> None:
    from nasbench_txf.leaderboard.suite import read_suite
    from nasbench_txf.run.sweep import SWEEP_META

    moved = tmp_path / "moved"
    shutil.copytree(swept, moved)
    with Store.open(moved / "toy-size.sqlite", create=False) as store:
        recorded = json.loads(store.meta(SWEEP_META) or "{}")
        recorded["key"]["problem"]["budget"] = 99
        store.set_meta(SWEEP_META, json.dumps(recorded))
    with pytest.raises(UserError, match="not swept on the terms problem toy-size has"):
        read_suite(moved, "toy")
    shutil.copy(swept / "toy-size.sqlite", moved)
    with Store.open(moved / "toy-score.sqlite", create=False) as store:  # as if swept to 20 queries, not done
        recorded = json.loads(store.meta(SWEEP_META) or "{}")
        recorded["key"]["budget"]["queries"] = 20
        store.set_meta(SWEEP_META, json.dumps(recorded))
    with pytest.raises(UserError, match="9 runs have fewer than the sweep's 20 queries"):
        read_suite(moved, "toy")


def test_tables_show_points_resolution_and_mixed_budgets(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    with Store.open(path) as store:  # es ran one query further than rs
        for strategy, seed, trials in (("rs", 0, "D1.0 B3.3"), ("rs", 1, "E0.0 D1.2"),
                                       ("es", 0, "A4.2 C2.9 B3.0"), ("es", 1, "E0.3 B3.1 A4.0")):
            add_run(store, key(strategy, seed, noise=0.25), trials, 0.1)
    (table,) = read_tables(path)
    assert table.mixed_budgets and table.horizon == 2 and table.seed_noise == 0.25
    frame = leaderboard(table, Settings(budgets=(1,)))
    text = " ".join(header(table, Settings(), frame))
    assert "Mixed budgets: the runs have 2 to 3 queries" in text
    assert "seed noise is σ = 0.25" in text and "span" in text
    shown = display(table, frame, Settings(budgets=(1,))).set_index("strategy")
    # after 2 queries (all share) es has regret 0 and 1, rs 1 and 3.25; es's own end is 3: A on both seeds
    assert shown.loc["es", "regret @2 (end)"].startswith("0.5000 ±") and shown.loc["es", "regret at own end"] == \
        "0.0000 ± 0.0000 @3"
    rs_end = shown.loc["rs", "regret at own end"]
    assert rs_end.startswith("2.1250 ±") and rs_end.endswith("@2")
    assert not table.fraction and "(pts)" not in " ".join(shown.columns)
    for run in table.runs:  # the same runs as fractions of 5
        run.observed, run.truth = run.observed / 5, run.truth / 5
    table.reference, table.seed_noise = table.reference / 5, 0.05
    assert table.fraction and table.unit_scale == 100
    frame = leaderboard(table, Settings(budgets=(1,)))
    shown = display(table, frame, Settings(budgets=(1,)))
    assert "regret @2 (end) (pts)" in shown.columns and "best score (pts)" in shown.columns
    assert shown.loc[0, "regret @2 (end) (pts)"].startswith("10.00 ±")  # es: regret 0.5 / 5 = 10 points
    assert "σ = 5.00 points" in " ".join(header(table, Settings(), frame))


def test_table_benchmarks_know_their_seed_noise(toy_table: Path) -> None:
    from nasbench_txf.core.registry import open_benchmark

    tabular = open_benchmark("toy-grid", {}, "tabular", "match", {"table": str(toy_table)})
    by_arch = [[r.metrics["score"] for r in rows if r.measured] for rows in tabular.rows.values()]
    repeated = [np.array(x) for x in by_arch if len(x) >= 2]
    pooled = math.sqrt(sum(((x - x.mean()) ** 2).sum() for x in repeated) / sum(len(x) - 1 for x in repeated))
    assert repeated and tabular.seed_noise() == pytest.approx(pooled) and pooled > 0
    surrogate = open_benchmark("toy-grid", {}, "surrogate", "match", {"table": str(toy_table)})
    assert surrogate.seed_noise() == pytest.approx(pooled)  # the level its noise model was fitted to


@pytest.mark.browser
def test_every_suite_page_renders_and_its_tables_sort_in_chromium(cli, swept: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    browser = chromium()
    out = tmp_path / "site"
    assert cli("leaderboard", "publish", str(swept), "--suite", "toy", "--out", str(out)).returncode == 0

    def dom(url: str) -> str:
        return dump_dom(browser, url)

    def column(html: str, table_id: str, index: int) -> list[str]:
        body = html.split(f'id="{table_id}"', 1)[1].split("</tbody>", 1)[0].split("<tbody>", 1)[1]
        rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body)
        return [re.sub(r"<[^>]+>", "", re.findall(r"<td[^>]*>(.*?)</td>", row)[index]) for row in rows]

    def hidden_rows(html: str, table_id: str) -> int:
        body = html.split(f'id="{table_id}"', 1)[1].split("</tbody>", 1)[0].split("<tbody>", 1)[1]
        return sum("hidden" in attributes for attributes in re.findall(r"<tr([^>]*)>", body))

    for name in ("index", "toy-score", "toy-size"):
        url = (out / f"{name}.html").as_uri()
        shot = screenshot(browser, url, tmp_path / f"{name}.png")
        assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 30_000
        page = dom(url)
        assert page.count("<img") >= 2 and "Published by nasbench-txf" in page
    # the fragment sorts and filters when the page opens, as a click would
    table = "aggregate"
    plain = column(dom((out / "index.html").as_uri()), table, 1)
    by_name = column(dom((out / "index.html").as_uri() + "#sort=1:asc"), table, 1)
    backwards = column(dom((out / "index.html").as_uri() + "#sort=1:desc"), table, 1)
    assert by_name == sorted(plain) and backwards == sorted(plain, reverse=True)
    ranks = column(dom((out / "index.html").as_uri() + "#sort=3:desc"), table, 3)
    values = [float(r.split()[0]) for r in ranks]
    assert values == sorted(values, reverse=True)
    both = dom((out / "index.html").as_uri() + "#problems.sort=0:desc&sort=1:asc&filter=zzz-no-match")
    assert column(both, "problems", 0) == ["toy-size", "toy-score"] and column(both, "aggregate", 1) == by_name
    assert hidden_rows(both, "aggregate") == len(plain) and hidden_rows(both, "problems") == 0  # first table only
    broken = dom((out / "index.html").as_uri() + "#sort=99&filter=%E0%A4%A")  # out of range, malformed
    assert column(broken, "aggregate", 1) == plain
    filtered = dom((out / "toy-size.html").as_uri() + "#filter=nsga2")
    assert hidden_rows(filtered, "leaderboard") == 2  # of rs, es and nsga2
