"""Leaderboards: aggregation checked against hand-computed values on a synthetic store,
publishing, the ablation views and bad input."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from nasbench_txf.cli import main
from nasbench_txf.core.errors import UserError
from nasbench_txf.leaderboard.aggregate import Settings, leaderboard
from nasbench_txf.leaderboard.collect import read_tables
from nasbench_txf.leaderboard.plots import shows_front
from nasbench_txf.leaderboard.publish import MARKER
from nasbench_txf.leaderboard.stats import average_ranks, mean_ci, wilcoxon_worse
from nasbench_txf.run.store import Store, TrialRow, now

#: toy-quadratic's noise-free scores of these cards: 4.25 (the best), 3.25, 3.0, 1.0, 0.0
CARDS = {"A": {"n": 4, "ops": ["c", "a", "d", "b"]}, "B": {"n": 4, "ops": ["c", "a", "d", "a"]},
         "C": {"n": 3, "ops": ["c", "a", "d"]}, "D": {"n": 2, "ops": ["a", "a"]}, "E": {"n": 2, "ops": ["b", "b"]}}

#: (strategy, seconds per ask) → seed → trials as (card, observed score). The observations
#: are noisy: es seed 4 and reinforce seed 4 pick C on a lucky draw although B is better.
RUNS = {
    ("es", 0.1): {0: "B3.3 A4.2 C2.9", 1: "A4.1 D1.0 B3.4", 2: "D1.2 C3.1 A4.0", 3: "C2.9 A4.4 E0.0",
                  4: "E0.2 B3.3 C3.1"},
    ("reinforce", 0.2): {0: "A4.0 B3.1 C3.0", 1: "B3.0 A4.2 D1.0", 2: "C3.2 A4.3 B3.3", 3: "A4.1 E0.0 D1.0",
                         4: "D0.9 C3.5 B3.2"},
    ("rs", 0.01): {0: "D1.0 B3.1 E0.0", 1: "E0.1 C3.0 D0.8", 2: "E0.0 D1.1 E0.3", 3: "E0.1 E0.2 E0.0",
                   4: "D1.3 C3.3 B3.2"},
}


def key(strategy: str, seed: int, noise: float = 0.0, encoding: str | None = None) -> dict[str, object]:
    return {"space": {"name": "toy-grid", "options": {}},
            "benchmark": {"name": "toy-quadratic", "task": "match", "options": {"noise": noise}},
            "strategy": {"name": strategy, "options": {}},
            "encoding": {"name": encoding, "options": {}} if encoding else None, "seed": seed}


def add_run(store: Store, cell_key: dict[str, object], trials: str, seconds: float, *, failed: bool = False,
            version: str = "") -> None:
    cell_id = f"{cell_key['strategy']['name']}-{cell_key['encoding'] and cell_key['encoding']['name']}-" \
              f"{cell_key['seed']}-{cell_key['benchmark']['options']['noise']}"  # type: ignore[index]
    store.add_cell(cell_id, cell_key, "score", True, "nasbench-txf sweep --synthetic", version)
    for i, trial in enumerate(trials.split()):
        card, value = CARDS[trial[0]], float(trial[1:])
        store.add_trial(cell_id, TrialRow(
            trial=i, arch_id=f"{trial[0]}{i}", card=card, eval_seed=i, status="failed" if failed else "ok",
            reason="diverged" if failed else None, metrics={} if failed else {"score": value, "size": 4.0 - value},
            info={}, cost_seconds=10.0, strategy_seconds=seconds, started_at=now(), finished_at=now(),
            sim_start=10.0 * i, sim_end=10.0 * (i + 1)))


@pytest.fixture
def synthetic(tmp_path: Path) -> Path:
    path = tmp_path / "synthetic.sqlite"
    with Store.open(path) as store:
        for (strategy, seconds), seeds in RUNS.items():
            for seed, trials in seeds.items():
                add_run(store, key(strategy, seed), trials, seconds)
    return path


def test_interval_ranks_and_wilcoxon_by_hand() -> None:
    interval = mean_ci(np.array([4.2, 4.1, 4.0, 4.4, 3.3]))
    # sd = sqrt(0.70 / 4); t(0.95, 4) = 2.131847
    assert interval.mean == pytest.approx(4.0) and interval.half == pytest.approx(2.131847 * math.sqrt(0.175 / 5))
    assert math.isnan(mean_ci(np.array([1.0])).half) and mean_ci(np.array([np.nan])).n == 0
    assert list(average_ranks(np.array([[0.0, 1.0], [0.0, np.nan], [2.0, 0.5]]))) == [1.75, 2.25, 2.0]
    assert wilcoxon_worse(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.zeros(5)) == pytest.approx(1 / 32)
    assert wilcoxon_worse(np.ones(4), np.ones(4)) == 1.0
    assert math.isnan(wilcoxon_worse(np.array([]), np.array([])))


def test_aggregation_matches_hand_computed_values(synthetic: Path) -> None:
    (table,) = read_tables(synthetic)
    assert table.reference == 4.25 and "toy-quadratic knows over its space" in table.reference_source
    assert table.horizon == 3
    frame = leaderboard(table, Settings(budgets=(2, 50))).set_index("strategy")
    assert list(frame.index) == ["es", "reinforce", "rs"]  # least regret at the end first
    es, rei, rs = frame.loc["es"], frame.loc["reinforce"], frame.loc["rs"]
    assert es["score"] == pytest.approx(4.0) and es["score_ci"] == pytest.approx(2.131847 * math.sqrt(0.175 / 5))
    # regret uses the noise-free value of the best observation: C (3.0) for reinforce seed 4
    assert [es["regret@2"], rei["regret@2"], rs["regret@2"]] == pytest.approx([0.45, 0.25, 2.2])
    assert [es["regret@end"], rei["regret@end"], rs["regret@end"]] == pytest.approx([0.2, 0.25, 2.2])
    assert "regret@50" not in frame  # beyond the horizon
    assert [es["regret_auc"], rei["regret_auc"], rs["regret_auc"]] == pytest.approx([13 / 15, 8 / 15, 2.75])
    assert [es["avg_rank"], rei["avg_rank"], rs["avg_rank"]] == pytest.approx([1.45, 1.65, 2.9])
    # the default target is random search's mean regret at the end, 2.2: es comes within it after
    # 1, 1, 2, 1, 2 queries; rs after 2, 2, never, never, 2
    assert Settings().target_and_source(table) == (pytest.approx(2.2), "random search's mean regret after 3 queries")
    assert (es["queries_to_target"], es["reached"]) == (1.0, 5)
    assert (rs["queries_to_target"], rs["reached"]) == (2.0, 3)
    strict = leaderboard(table, Settings(budgets=(2,), target=0.0425)).set_index("strategy")
    # regret ≤ 1% of 4.25, so only A counts; es reaches it at 2, 1, 3, 2 and never
    assert (strict.loc["es", "queries_to_target"], strict.loc["es", "reached"]) == (2.0, 4)
    assert math.isinf(strict.loc["rs", "queries_to_target"]) and strict.loc["rs", "reached"] == 0
    assert [es["overhead_s"], rs["overhead_s"]] == pytest.approx([0.1, 0.01])
    assert math.isnan(es["wilcoxon_p"]) and es["not_worse"]
    assert rei["wilcoxon_p"] == pytest.approx(0.5) and rei["not_worse"]  # one seed worse, by 0.25
    assert rs["wilcoxon_p"] == pytest.approx(1 / 32) and not rs["not_worse"]  # worse on all 5 seeds
    looser = leaderboard(table, Settings(budgets=(2,), target=1.25)).set_index("strategy")
    # rs regrets within 1.25 after 2, 2, never, never, 2 queries
    assert looser.loc["rs", "queries_to_target"] == 2.0 and looser.loc["rs", "reached"] == 3


def test_show_prints_parseable_markdown_and_json(cli, synthetic: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("leaderboard", "show", str(synthetic), "--budgets", "2")
    assert result.returncode == 0, result.stderr
    table = [line for line in result.stdout.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in table]
    assert len({len(row) for row in cells}) == 1 and set(table[1]) <= set("|:- ")
    assert [row[1] for row in cells[2:]] == ["es", "reinforce", "rs"]
    assert cells[2][-1] == "leader" and cells[4][-1].startswith("✗ p=0.03")
    assert "nasbench-txf sweep --synthetic" in result.stdout  # how to reproduce the runs
    data = json.loads(cli("leaderboard", "show", str(synthetic), "--json").stdout)
    assert data[0]["reference"] == 4.25 and [r["strategy"] for r in data[0]["rows"]] == ["es", "reinforce", "rs"]


def test_publish_writes_every_file(cli, synthetic: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "site"
    out.mkdir()  # an empty folder is taken; one with other files is refused (tests/test_publish_safety.py)
    result = cli("leaderboard", "publish", str(synthetic), "--out", str(out), "--budgets", "2",
                 "--markdown", str(tmp_path / "docs" / "board.md"))
    assert result.returncode == 0, result.stderr
    copy = (tmp_path / "docs" / "board.md").read_text()
    assert "](../site/toy-grid-toy-quadratic-noise-0-0-match-regret-queries.png)" in copy
    assert copy.replace("../site/", "") == (out / "leaderboard.md").read_text()
    stem = "toy-grid-toy-quadratic-noise-0-0-match"
    assert sorted(p.name for p in out.iterdir()) == sorted([
        MARKER, "index.html", "leaderboard.md", f"{stem}.csv", f"{stem}-score-queries.png",
        f"{stem}-regret-queries.png", f"{stem}-regret-time.png"])
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    page = (out / "index.html").read_text()
    assert "<table" in page and page.count("<img") == 3 and "http" not in page.replace("nasbench-txf", "")
    assert "nasbench-txf sweep --synthetic" in page and "nasbench-txf 0.1.0" in page
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == []  # no work folder left


def test_grid_and_ablation_views(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "views.sqlite"
    with Store.open(path) as store:
        for seed in range(3):
            add_run(store, key("boshnas", seed, encoding="t2v"), f"B3.3 A{(4.2, 4.0, 4.1)[seed]}", 0.5)
            add_run(store, key("boshnas", seed, encoding="onehot"), "C3.0 B3.3", 0.5)
            add_run(store, key("boshnas-nosecond", seed, encoding="t2v"), "D1.0 C3.1", 0.5)
            add_run(store, key("rs", seed), "E0.0 D1.0", 0.0)
    grid = cli("leaderboard", "grid", str(path), "--out", str(tmp_path / "g"))
    assert grid.returncode == 0, grid.stderr
    rows = [[c.strip() for c in line.strip("|").split("|")]
            for line in grid.stdout.splitlines() if line.startswith("|")]
    assert rows[0] == ["strategy", "none", "onehot", "t2v"]
    # best scores 4.2, 4.0, 4.1 with t2v: 4.1 ± t(0.95, 2) × 0.1 / √3; 3.3 every time with onehot
    assert rows[2] == ["boshnas", "—", "3.3000 ± 0.0000", "4.1000 ± 0.1686"]
    assert (tmp_path / "g" / "grid.png").is_file()
    ablation = cli("leaderboard", "ablation", str(path), "--budgets", "1", "--out", str(tmp_path / "a"))
    assert ablation.returncode == 0, ablation.stderr
    lines = [line for line in ablation.stdout.splitlines() if line.startswith("|")]
    assert len(lines) == 2 + 3 and not any("| rs " in line for line in lines)  # boshnas×2 encodings + nosecond
    assert (tmp_path / "a" / "ablation.png").is_file()
    missing = cli("leaderboard", "ablation", str(path), "--family", "rs")
    assert missing.returncode == 2 and "needs rs and at least one rs-…" in missing.stderr


def test_multi_objective_runs_get_pareto_and_hypervolume(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = tmp_path / "mo.sqlite"
    result = cli("sweep", "--space", "toy-grid", "--benchmark", "toy-quadratic", "--strategies", "rs,nsga2",
                 "--seeds", "3", "--budget", "30", "--workers", "1", "--store", str(store), "--no-sim-overhead")
    assert result.returncode == 0, result.stderr
    (table,) = read_tables(store)
    assert [m.name for m in table.pareto_objectives] == ["score", "size"]
    frame = leaderboard(table)
    assert set(frame["strategy"]) == {"rs", "nsga2"} and (frame["hypervolume"] > 0).all()
    out = tmp_path / "site"
    assert cli("leaderboard", "publish", str(store), "--out", str(out)).returncode == 0
    assert len(list(out.glob("*-pareto.png"))) == 1 and len(list(out.glob("*-hypervolume.png"))) == 1


def test_a_strategy_multi_objective_by_its_options_gets_the_pareto_view(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    store = tmp_path / "mo.sqlite"
    assert main(["sweep", "--space", "toy-grid", "--benchmark", "toy-quadratic", "--strategies",
                 "rs, optuna(against=size), optuna", "--seeds", "2", "--budget", "12", "--workers", "1",
                 "--store", str(store), "--no-sim-overhead"]) == 0
    (table,) = read_tables(store)
    assert [m.name for m in table.pareto_objectives] == ["score", "size"]
    shown = {row.name: shows_front(row) for row in table.rows()}
    assert shown == {"rs": False, "optuna(against=size)": True, "optuna": False}


def test_a_minimised_objective_has_regret_above_the_reference(cli, toy_table: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = tmp_path / "size.sqlite"
    result = cli("sweep", "--space", "toy-grid", "--benchmark", "tabular", "--strategies", "rs,es", "--seeds", "3",
                 "--budget", "10", "--workers", "1", "--store", str(store), "--no-sim-overhead",
                 "--benchmark-opt", f"table={toy_table}", "--benchmark-opt", "objective=size")
    assert result.returncode == 0, result.stderr
    (table,) = read_tables(store)
    assert table.objective == "size" and not table.maximize
    assert (leaderboard(table)["regret@end"] >= 0).all()
    shown = cli("leaderboard", "show", str(store), check=True).stdout
    assert "Objective: size (minimised)" in shown and "so far minus the reference" in shown


def test_bad_stores_are_refused_with_a_message(cli, synthetic: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "empty.sqlite"
    Store.open(empty).close()
    failed = tmp_path / "failed.sqlite"
    with Store.open(failed) as store:
        add_run(store, key("rs", 0), "A4.0 B3.0", 0.0, failed=True)
    mixed = tmp_path / "mixed.sqlite"
    shutil.copy(synthetic, mixed)
    with Store.open(mixed) as store:
        add_run(store, key("rs", 0, noise=0.5), "A4.0 B3.0", 0.0)
    versions = tmp_path / "versions.sqlite"
    with Store.open(versions) as store:
        add_run(store, key("rs", 0), "A4.0", 0.0, version="rows-10")
        add_run(store, key("rs", 1), "A4.0", 0.0, version="rows-12")
    not_a_store = tmp_path / "notes.txt"
    not_a_store.write_text("hello")
    cases = [
        (["show", str(tmp_path / "nope.sqlite")], "does not exist"),
        (["show", str(not_a_store)], "not a nasbench-txf run store"),
        (["show", str(empty)], "holds no runs"),
        (["show", str(failed)], "every trial failed"),
        (["show", str(synthetic), "--benchmark", "live"], "no runs of space=any, benchmark=live"),
        (["grid", str(mixed)], "holds 2 benchmarks"),
        (["show", str(versions)], "different versions of the benchmark (rows-10 (1 runs), rows-12 (1 runs))"),
        (["show", str(synthetic), "--budgets", "a,b"], "--budgets 'a,b'"),
    ]
    for args, message in cases:
        result = cli("leaderboard", *args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert cli("leaderboard", "grid", str(synthetic)).returncode == 0  # one encoding-less column: still a grid
    before = empty.read_bytes()
    cli("leaderboard", "show", str(empty))
    assert empty.read_bytes() == before  # reading never writes
    assert cli("leaderboard", "show", str(mixed)).stdout.count("## toy-grid") == 2  # show: one table each


def chromium() -> str:
    """The Chromium to render pages with; the test skips where there is none."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("Chromium is not installed (Debian: apt install chromium); the pages were not rendered")
    return found


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files"]


def screenshot(browser: str, url: str, path: Path) -> Path:
    """The page at ``url`` rendered by headless Chromium into the PNG ``path``."""
    subprocess.run([browser, *CHROMIUM_FLAGS, f"--screenshot={path}", "--window-size=1400,2400", url],
                   check=True, capture_output=True, timeout=120)
    return path


def dump_dom(browser: str, url: str) -> str:
    """The page's DOM after its scripts ran."""
    return subprocess.run([browser, *CHROMIUM_FLAGS, "--dump-dom", url], check=True, capture_output=True,
                          text=True, timeout=120).stdout


@pytest.mark.browser
def test_the_published_page_renders_in_headless_chromium(cli, synthetic: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    browser = chromium()
    out = tmp_path / "site"
    assert cli("leaderboard", "publish", str(synthetic), "--out", str(out)).returncode == 0
    url = (out / "index.html").as_uri()
    shot = screenshot(browser, url, tmp_path / "shot.png")
    assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 20_000
    dom = dump_dom(browser, url)
    rows = len(re.findall(r"<tr[\s>]", dom))  # pandas writes the header row as <tr style="...">
    assert rows >= 4 and dom.count("<img") == 3 and ">es<" in dom


def test_user_errors_are_user_errors() -> None:
    with pytest.raises(UserError):
        read_tables(Path("/nonexistent/store.sqlite"))
