"""Leaderboard tables as text: Markdown (GitHub-flavoured), CSV and HTML fragments.

The numbers are formatted once here (mean ± 90% CI half-width) so every format shows the
same thing; CSV keeps the raw numeric columns for further analysis. Names come from the store
(task names, option values, commands), so Markdown escapes them with :func:`md_text` and
:func:`md_table` and HTML with :func:`html.escape`: a name never becomes markup.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from nasbench_txf import __version__

from . import site
from .aggregate import Settings, budgets_of, worse_than_leader
from .collect import RunTable


@dataclass(frozen=True)
class Provenance:
    """What reproduces a page: the commands and versions behind it."""

    command: str  #: the leaderboard command itself

    def lines(self, table: RunTable) -> list[str]:
        out = [f"nasbench-txf {__version__} rendered this with: {self.command}",
               f"runs made by nasbench-txf {', '.join(table.package_versions) or 'unknown'}",
               f"benchmark: {table.key.title}; version {table.benchmark_version or 'not recorded'}"]
        out += [f"runs: {c}" for c in table.commands] or ["runs: commands not recorded"]
        return out


#: characters that can start Markdown markup inside a line (GitHub-flavoured: tables, strikethrough, math)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<#|~&$])")


def md_text(text: str) -> str:
    """``text`` as literal Markdown on one line: markup characters backslash-escaped, line breaks as spaces,
    so a name from the store cannot end a heading, split a table row or open a link."""
    return _MD_SPECIAL.sub(r"\\\1", re.sub(r"[\r\n]+", " ", text))


def md_table(frame: pd.DataFrame) -> str:
    """``frame`` as a Markdown table whose header and text cells are :func:`md_text`."""
    escaped = frame.map(lambda v: md_text(v) if isinstance(v, str) else v)
    return escaped.rename(columns=lambda c: md_text(str(c))).to_markdown(index=False)


def code_block(lines: Sequence[str]) -> list[str]:
    """A fenced block of ``lines``, its fence longer than any run of backticks in them."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, *lines, fence]


def _interval(mean: float, half: float, digits: int = 4) -> str:
    if math.isnan(mean):
        return "—"
    return f"{mean:.{digits}f}" if math.isnan(half) else f"{mean:.{digits}f} ± {half:.{digits}f}"


def value_label(table: RunTable, what: str) -> str:
    """A column label with the unit values are shown in (``regret @25 (pts)``)."""
    return f"{what} ({table.unit})" if table.unit else what


def display(table: RunTable, frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """The formatted table: the columns a reader compares, in order; objective values and
    regrets in percentage points where the objective is a fraction."""
    horizon, k = table.horizon, table.unit_scale
    digits = 2 if table.fraction else 4

    def cells(column: str) -> list[str]:
        return [_interval(m * k, h * k, digits) for m, h in zip(frame[column], frame[f"{column}_ci"], strict=True)]

    out = pd.DataFrame({"#": range(1, len(frame) + 1), "strategy": frame["strategy"],
                        "encoding": frame["encoding"]})
    if frame["options"].astype(bool).any():
        out["options"] = frame["options"]
    out["seeds"] = frame["seeds"]
    out[value_label(table, f"best {table.objective}")] = [
        _interval(m * k, h * k, digits) for m, h in zip(frame["score"], frame["score_ci"], strict=True)]
    for b in budgets_of(table, settings):
        name = "end" if b == horizon else str(b)
        label = f"regret @{horizon} (end)" if b == horizon else f"regret @{b}"
        out[value_label(table, label)] = cells(f"regret@{name}")
    if table.mixed_budgets:
        out[value_label(table, "regret at own end")] = [
            f"{_interval(m * k, h * k, digits)} @{n}"
            for m, h, n in zip(frame["regret@own_end"], frame["regret@own_end_ci"], frame["own_end"], strict=True)]
    out[value_label(table, "regret AUC")] = cells("regret_auc")
    if "hypervolume" in frame:
        out["hypervolume"] = [_interval(m, h, 3) for m, h in
                              zip(frame["hypervolume"], frame["hypervolume_ci"], strict=True)]
    if table.seed_noise:
        out["gap to leader (noise σ)"] = [f"{g:.1f}" for g in frame["gap_in_noise"]]
    out["avg rank"] = [f"{r:.2f}" if not math.isnan(r) else "—" for r in frame["avg_rank"]]
    out["queries to target"] = [_queries(q, n, s, horizon) for q, n, s in
                                zip(frame["queries_to_target"], frame["reached"], frame["seeds"], strict=True)]
    out["overhead s/query"] = [f"{s:.3f}" for s in frame["overhead_s"]]
    marks = zip(frame["not_worse"], frame["wilcoxon_p"], strict=True)
    out["≈ leader"] = [_mark(i, ok, p) for i, (ok, p) in enumerate(marks)]
    return out


def _queries(median: float, reached: int, seeds: int, horizon: int) -> str:
    shown = f"> {horizon}" if math.isinf(median) else f"{median:g}"
    return f"{shown} ({reached}/{seeds})"


def _mark(index: int, not_worse: bool, p: float) -> str:
    if index == 0:
        return "leader"
    if math.isnan(p):
        return "? (no shared seeds)"
    return f"{'✓' if not_worse else '✗'} p={p:.2f}"


def _amount(table: RunTable, value: float) -> str:
    """An objective difference in the units the table shows."""
    return f"{value * table.unit_scale:.2f} points" if table.fraction else f"{value:.4g}"


def header(table: RunTable, settings: Settings, frame: pd.DataFrame | None = None) -> list[str]:
    """The sentences that say what the numbers mean and, given the table's ``frame``, how well
    its rows are resolved."""
    direction = "maximised" if table.maximize else "minimised"
    best = "the noise-free value of the arch with the best observation so far"
    shown = table.reference * table.unit_scale
    reference = f"the reference {shown:.4g}{' %' if table.fraction else ''} ({table.reference_source})"
    gap = f"{reference} minus {best}" if table.maximize else f"{best} minus {reference}"
    target, source = settings.target_and_source(table)
    units = " Values are in percentage points (accuracy 0.8712 is 87.12)." if table.fraction else ""
    lines = [
        f"Objective: {table.objective} ({direction}). Every row is compared after {table.horizon} queries "
        f"(the fewest any run has) and at fixed budgets below that.{units}",
        f"Regret: {gap}; best score: that best observation. "
        "Mean ± 90% t-interval over seeds.",
        f"Queries to target: median over seeds of the queries until regret ≤ {_amount(table, target)} "
        f"({source}; seeds that reached it in brackets). Avg rank: over shared seeds and the budgets shown. "
        "≈ leader: ✓ where a one-sided paired Wilcoxon signed-rank test over shared seeds does not find "
        "the row's final regret larger than the leader's (p ≥ 0.05).",
    ]
    if settings.by_hypervolume and table.pareto_objectives:
        names = ", ".join(m.name for m in table.pareto_objectives)
        lines.append(f"Rows are ranked by the hypervolume of the archs their runs visited ({names}, each scaled "
                     "to the table's range), and ≈ leader compares that hypervolume.")
    if table.mixed_budgets:
        ends = sorted({r.queries for r in table.runs})
        lines.append(f"Mixed budgets: the runs have {ends[0]} to {ends[-1]} queries. Every row is compared at "
                     f"{table.horizon}, the budget all runs share; 'regret at own end' shows each row after "
                     "the queries all of its own runs have.")
    if frame is not None:
        lines += _resolution(table, frame)
    return lines + [f"Note: {n}" for n in table.notes]


def _resolution(table: RunTable, frame: pd.DataFrame) -> list[str]:
    """How far apart the rows are against the benchmark's own seed noise, and whether the
    significance tests tell any of them from the leader."""
    spread = float(frame["regret@end"].max() - frame["regret@end"].min())
    worse = worse_than_leader(frame)
    lines = []
    if table.seed_noise is not None:
        noise = table.seed_noise
        if noise > 0:
            lines.append(f"Resolution: one observation's seed noise is σ = {_amount(table, noise)} (the benchmark's); "
                         f"the rows' final regrets span {_amount(table, spread)} ({spread / noise:.1f} σ).")
        else:
            lines.append(f"Resolution: this benchmark's observations are exact (no seed noise); the rows' final "
                         f"regrets span {_amount(table, spread)}.")
        if (frame["score"] > table.reference).any() and table.maximize:
            lines.append("The best observation can exceed the noise-free reference: it is one noisy draw, and "
                         "the best of many draws is lucky; regret uses the arch's noise-free value instead.")
    if len(frame) > 1 and worse == 0:
        lines.append("No row can be told apart from the leader: on these seeds no difference is significant, "
                     "so the order of the rows is not a finding.")
    elif len(frame) > 1:
        lines.append(f"{worse} of {len(frame) - 1} rows are significantly worse than the leader (✗); the other "
                     f"{len(frame) - 1 - worse} cannot be told apart from it.")
    return lines


def markdown(table: RunTable, frame: pd.DataFrame, settings: Settings, provenance: Provenance,
             images: Sequence[tuple[str, str]] = (), title: str | None = None) -> str:
    """A Markdown section: title, explanation, the table, images, and how to reproduce it."""
    parts = [f"## {md_text(title or table.key.title)}", "",
             *[f"{md_text(line)}  " for line in header(table, settings, frame)], "",
             md_table(display(table, frame, settings)), ""]
    parts += [f"![{md_text(alt)}]({src})" for alt, src in images]
    parts += ["", "Reproduce:", "", *code_block(provenance.lines(table)), ""]
    return "\n".join(parts)


def table_json(table: RunTable, frame: pd.DataFrame, settings: Settings) -> dict[str, Any]:
    """A table's leaderboard as JSON values: what it compares, on what terms, and its rows."""
    target, source = settings.target_and_source(table)
    return {"space": table.key.space, "space_options": json.loads(table.key.space_options),
            "benchmark": table.key.benchmark, "benchmark_options": json.loads(table.key.benchmark_options),
            "task": table.key.task, "benchmark_version": table.benchmark_version, "objective": table.objective,
            "maximize": table.maximize, "horizon": table.horizon, "reference": table.reference,
            "reference_source": table.reference_source, "target": target, "target_source": source,
            "seed_noise": table.seed_noise, "machine": table.machine, "notes": table.notes,
            "commands": table.commands, "rows": json.loads(frame.to_json(orient="records"))}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def html_section(table: RunTable, frame: pd.DataFrame, settings: Settings, provenance: Provenance,
                 images: Sequence[tuple[str, str]] = (), title: str | None = None) -> str:
    """An HTML section of the same content, its table sortable (the page around it is
    :func:`~.site.page`)."""
    body = site.sortable(display(table, frame, settings), f"table-{_digest(title or table.key.title)}",
                         text_columns=("strategy", "encoding", "options"))
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in header(table, settings, frame))
    figures = "".join(f'<figure><img src="{html.escape(src)}" alt="{html.escape(alt)}">'
                      f"<figcaption>{html.escape(alt)}</figcaption></figure>" for alt, src in images)
    repro = html.escape("\n".join(provenance.lines(table)))
    return (f"<section><h2>{html.escape(title or table.key.title)}</h2>{paragraphs}{body}{figures}"
            f"<h3>Reproduce</h3><pre>{repro}</pre></section>")
