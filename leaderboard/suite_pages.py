"""The published site of a suite: an overview across its problems and one page per problem.

The overview ranks the strategies over the whole suite (:mod:`.across`: IQM of normalised
regret and mean rank with bootstrap intervals, performance profiles) and lists the problems
with how well each one resolves its rows. A problem's page holds its sortable leaderboard (the
leader highlighted; each row's strategy described with its paper, and the best arch it found
with its size), plots legible with two dozen rows, and links to the table as CSV and JSON.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nasbench_txf.core.errors import UserError
from nasbench_txf.core.registry import get_strategy
from nasbench_txf.run.problems import Suite

from . import plots, site
from .across import CONFIDENCE, REPS, TAUS, Aggregate, ProblemScores, aggregate, problem_scores
from .aggregate import Settings, leaderboard, worse_than_leader
from .collect import RunTable
from .publish import check_targets, write, written
from .render import Provenance, code_block, display, header, markdown, md_table, md_text, table_json
from .suite import ProblemRuns, read_suite

#: a paper key in a docstring, as docs/references.md names them: [FLEXIBERT23 §4], [RS19]
_REFERENCE = re.compile(r"\[([A-Z][A-Z0-9-]*\d{2}[a-z]?)\b")


def about(strategy: str) -> str:
    """The strategy's one-line description and the first paper its docstring cites."""
    try:
        cls = get_strategy(strategy)
    except UserError:
        return "(not installed here)"
    found = _REFERENCE.search(cls.__doc__ or "")
    return f"{cls.description()}{f' [{found.group(1)}]' if found else ''}"


def best_arch(table: RunTable, runs: Sequence[Any]) -> str:
    """The best arch the row's runs returned (the incumbent at the common budget with the best
    noise-free value), as its card, with its parameter count where the benchmark reports one."""
    best, best_value = None, -math.inf
    for run in runs:
        index = int(run.incumbent(table.maximize)[table.horizon - 1])
        if index < 0:
            continue
        value = run.truth[index] if table.maximize else -run.truth[index]
        if value > best_value:
            best, best_value = (run, index), value
    if best is None:
        return "—"
    run, index = best
    card = json.dumps(run.cards[index], separators=(",", ":")) if run.cards else "?"
    params = run.metrics[index].get("params")
    return f"{params / 1e6:.2f} M params · {card}" if params else card


def build_suite(work: Path, files: list[str], suite: Suite, runs: Sequence[ProblemRuns], settings: Settings,
                provenance: Provenance, reps: int) -> tuple[str, str]:
    """Write every page and figure into ``work`` (naming each in ``files``); return the
    overview's HTML and the whole suite's Markdown."""
    per_problem = [problem_scores(r.problem, r.table) for r in runs]
    agg = aggregate(per_problem, reps=reps)
    footer = site.footer({r.problem.name: r.table.benchmark_version for r in runs},
                         [r.machine or "not recorded" for r in runs],
                         sorted({v for r in runs for v in r.table.package_versions}))
    nav = [("overview", "index.html"), *[(r.problem.name, f"{r.problem.name}.html") for r in runs]]
    terms = [dataclasses.replace(settings, by_hypervolume=r.problem.multi_objective) for r in runs]
    frames = [leaderboard(r.table, t) for r, t in zip(runs, terms, strict=True)]
    sections = [_problem_page(work, files, r, t, f, provenance, footer, nav)
                for r, t, f in zip(runs, terms, frames, strict=True)]
    plots.aggregate_intervals(agg, work / "aggregate.png")
    plots.performance_profiles(agg, work / "profiles.png")
    files += ["aggregate.png", "profiles.png"]
    overall = aggregate_frame(agg, per_problem)
    overall.to_csv(work / "aggregate.csv", index=False)
    (work / "aggregate.json").write_text(
        json.dumps(aggregate_json(agg, per_problem), indent=1, sort_keys=True, allow_nan=False) + "\n",
        encoding="utf-8")
    files += ["aggregate.csv", "aggregate.json"]
    problems = _problems_frame(runs, per_problem, frames)
    intro = _intro(suite, agg, per_problem)
    body = (f'<p class="lead">{html.escape(intro)}</p><h2>Ranking across the suite</h2>'
            + site.sortable(overall, "aggregate", text_columns=("strategy",))
            + '<p><a href="aggregate.csv">aggregate.csv</a> · <a href="aggregate.json">aggregate.json</a></p>'
            + site.figure("aggregate.png", "IQM of normalised regret and mean rank, 95% intervals", "wide")
            + site.figure("profiles.png", "performance profiles: the share of runs within τ of the best known, "
                          "in units of random search's regret")
            + "<h2>Problems</h2>"
            + site.sortable(problems, "problems", leader=None,
                            text_columns=("problem", "about", "objective", "leader", "resolution"),
                            links={"problem": [f"{r.problem.name}.html" for r in runs]})
            + f"<h3>Reproduce</h3><pre>{html.escape(chr(10).join(_suite_commands(suite, runs, provenance)))}</pre>")
    overview = site.page(f"nasbench-txf leaderboard — suite {suite.name}", body, footer, nav)
    text = "\n".join([f"# nasbench-txf leaderboard — suite {md_text(suite.name)}", "", md_text(intro), "",
                      "## Ranking across the suite", "", md_table(overall), "",
                      "![IQM of normalised regret and mean rank](aggregate.png)", "",
                      "![performance profiles](profiles.png)", "", "## Problems", "",
                      md_table(problems.drop(columns=["about"])), "", *sections, "Reproduce:", "",
                      *code_block(_suite_commands(suite, runs, provenance)), ""])
    return overview, text


def _intro(suite: Suite, agg: Aggregate, per_problem: Sequence[ProblemScores]) -> str:
    left = "".join(f" Left out: {m} ({why})." for m, why in sorted(agg.left_out.items()))
    left += "".join(f" Note: {note}." for note in agg.notes)
    budgets = sorted({p.budget for p in per_problem})
    shown = f"{budgets[0]}" if len(budgets) == 1 else f"{budgets[0]}–{budgets[-1]}"
    return (f"Suite {suite.name}: {suite.description}. {len(agg.methods)} strategies on {len(agg.problems)} "
            f"problems, {len(agg.seeds)} seeds each, after {shown} queries. Normalised regret: a run's regret "
            "divided by random search's mean regret on the same problem at the same budget (0 = the best the "
            "benchmark knows, 1 = random search); on a problem with costs, regret is the hypervolume the run "
            "misses against the front of every arch the problem's runs visited. IQM: the interquartile mean "
            "over every run of every problem [RLIABLE21]; mean rank: per problem, strategies ranked by their "
            f"mean normalised regret, averaged over problems. Intervals: {CONFIDENCE:.0%} stratified bootstrap "
            f"(seeds resampled within each problem).{left}")


def aggregate_frame(agg: Aggregate, per_problem: Sequence[ProblemScores]) -> pd.DataFrame:
    order = agg.order()
    out = pd.DataFrame({"#": range(1, len(order) + 1), "strategy": order})
    out["IQM normalised regret [95% CI]"] = [_bracket(agg.iqm[m], 3) for m in order]
    out["mean rank [95% CI]"] = [_bracket(agg.rank[m], 2) for m in order]
    for p in per_problem:  # each problem's mean, so a reader sees where the rankings change
        out[p.problem.name] = [f"{np.mean([p.scores[m][s] for s in agg.seeds]):.3f}" for m in order]
    return out


def _bracket(value: tuple[float, float, float], digits: int) -> str:
    point, low, high = value
    return f"{point:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def aggregate_json(agg: Aggregate, per_problem: Sequence[ProblemScores]) -> dict[str, Any]:
    return {"problems": agg.problems, "seeds": agg.seeds, "confidence": CONFIDENCE, "taus": list(TAUS),
            "left_out": agg.left_out, "notes": agg.notes, "strategies": agg.strategies,
            "budgets": {p.problem.name: p.budget for p in per_problem},
            "baselines": {p.problem.name: p.baseline for p in per_problem},
            "methods": {m: {"iqm": agg.iqm[m], "mean_rank": agg.rank[m], "profile": list(agg.profile[m]),
                            "normalised_regret": {p.problem.name: {str(s): p.scores[m][s] for s in agg.seeds}
                                                  for p in per_problem}}
                        for m in agg.order()}}


def _problems_frame(runs: Sequence[ProblemRuns], per_problem: Sequence[ProblemScores],
                    frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    records = []
    for r, scores, frame in zip(runs, per_problem, frames, strict=True):
        worse = worse_than_leader(frame)
        noise = r.table.seed_noise
        shown = "—" if noise is None else f"{noise * r.table.unit_scale:.3g} {r.table.unit}".strip()
        records.append({"problem": r.problem.name, "about": r.problem.description,
                        "objective": r.table.objective + "".join(f" vs {c}" for c in r.problem.costs),
                        "budget": scores.budget, "rows": len(frame), "leader": frame.loc[0, "row"],
                        "seed noise σ": shown,
                        "resolution": f"{worse} of {len(frame) - 1} rows worse than the leader"
                                      + ("" if worse else ": the rows cannot be told apart")})
    return pd.DataFrame.from_records(records)


def _suite_commands(suite: Suite, runs: Sequence[ProblemRuns], provenance: Provenance) -> list[str]:
    lines = [f"nasbench-txf rendered this with: {provenance.command}"]
    return lines + [f"runs: {c}" for c in dict.fromkeys(c for r in runs for c in r.table.commands)]


def _problem_page(work: Path, files: list[str], runs: ProblemRuns, settings: Settings, frame: pd.DataFrame,
                  provenance: Provenance, footer: str, nav: Sequence[tuple[str, str]]) -> str:
    """Write the problem's page, CSV, JSON and figures from its leaderboard ``frame``; return
    its Markdown section."""
    table, name = runs.table, runs.problem.name
    frame.to_csv(work / f"{name}.csv", index=False)
    (work / f"{name}.json").write_text(
        json.dumps(table_json(table, frame, settings), indent=1, allow_nan=False) + "\n",
        encoding="utf-8")
    grouped = {row.name: runs_ for row, runs_ in table.rows().items()}
    shown = display(table, frame, settings)
    shown["about"] = [about(s) for s in frame["strategy"]]
    shown["best arch found"] = [best_arch(table, grouped[row]) for row in frame["row"]]
    images = [(f"{name}-regret.png", "regret against queries, one panel per row, random search in grey",
               plots.small_multiples(table, work / f"{name}-regret.png", list(frame["row"])), "wide"),
              (f"{name}-time.png", "regret against simulated time (the 8 best rows and random search)",
               plots.by_time(table, work / f"{name}-time.png", rows=_best_rows(frame)), "half")]
    if table.pareto_objectives:
        images += [(f"{name}-pareto.png", "Pareto fronts (multi-objective rows and random search, median seed)",
                    plots.pareto(table, work / f"{name}-pareto.png"), "half"),
                   (f"{name}-hypervolume.png", "hypervolume against queries (the 8 best rows and random search)",
                    plots.hypervolume_by_queries(table, work / f"{name}-hypervolume.png", rows=_best_rows(frame)),
                    "half")]
    files += [f"{name}.csv", f"{name}.json", *(src for src, _, _, _ in images)]
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in header(table, settings, frame))
    body = (f'<p class="lead">{html.escape(runs.problem.description)}. {html.escape(table.key.title)}.</p>'
            f"{paragraphs}"
            + site.sortable(shown, "leaderboard", text_columns=("strategy", "about", "best arch found"),
                            wide_columns=("best arch found",))
            + f'<p><a href="{name}.csv">{name}.csv</a> · <a href="{name}.json">{name}.json</a></p>'
            + "".join(site.figure(src, caption, kind) for src, caption, _, kind in images)
            + f"<h3>Reproduce</h3><pre>{html.escape(chr(10).join(provenance.lines(table)))}</pre>")
    (work / f"{name}.html").write_text(site.page(f"{name} — nasbench-txf leaderboard", body, footer, nav),
                                       encoding="utf-8")
    files.append(f"{name}.html")
    return markdown(table, frame, settings, provenance, [(caption, src) for src, caption, _, _ in images],
                    title=f"{name}: {table.key.title}")


def _best_rows(frame: pd.DataFrame, best: int = 8) -> list[str]:
    names = list(dict.fromkeys(frame["row"]))
    shown = names[:best]
    return shown + [n for n in names if n == plots.BASELINE and n not in shown]


def publish_suite(folder: Path, name: str, out: Path, settings: Settings, provenance: Provenance,
                  markdown_copy: Path | None = None, reps: int = REPS) -> list[str]:
    """Read the suite's runs from ``folder`` and publish its site into ``out`` (safely: see
    :mod:`.publish`)."""
    check_targets(out, markdown_copy, folder)  # refuse before reading the stores
    suite, runs = read_suite(folder, name)

    def build(work: Path, page: Any) -> str:
        overview, text = build_suite(work, page.files, suite, runs, settings, provenance, reps)
        write(work / "index.html", overview, page)
        write(work / "leaderboard.md", text, page)
        return text

    return written(out, build, markdown_copy, folder)
