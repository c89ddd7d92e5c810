"""Leaderboard tables as text: Markdown (GitHub-flavoured), CSV and HTML fragments.

The numbers are formatted once here (mean ± 90% CI half-width) so every format shows the
same thing; CSV keeps the raw numeric columns for further analysis. Names come from the store
(task names, option values, commands), so Markdown escapes them with :func:`md_text` and
:func:`md_table` and HTML with :func:`html.escape`: a name never becomes markup.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from nasbench_txf import __version__

from .aggregate import Settings, budgets_of
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


def _code_block(lines: Sequence[str]) -> list[str]:
    """A fenced block of ``lines``, its fence longer than any run of backticks in them."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, *lines, fence]


def _interval(mean: float, half: float, digits: int = 4) -> str:
    if math.isnan(mean):
        return "—"
    return f"{mean:.{digits}f}" if math.isnan(half) else f"{mean:.{digits}f} ± {half:.{digits}f}"


def display(table: RunTable, frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """The formatted table: the columns a reader compares, in order."""
    horizon = table.horizon
    out = pd.DataFrame({"#": range(1, len(frame) + 1), "strategy": frame["strategy"],
                        "encoding": frame["encoding"]})
    if frame["options"].astype(bool).any():
        out["options"] = frame["options"]
    out["seeds"] = frame["seeds"]
    out[f"best {table.objective}"] = [_interval(m, h) for m, h in zip(frame["score"], frame["score_ci"], strict=True)]
    for b in budgets_of(table, settings):
        name = "end" if b == horizon else str(b)
        label = f"regret @{horizon} (end)" if b == horizon else f"regret @{b}"
        out[label] = [_interval(m, h) for m, h in zip(frame[f"regret@{name}"], frame[f"regret@{name}_ci"], strict=True)]
    out["regret AUC"] = [_interval(m, h) for m, h in zip(frame["regret_auc"], frame["regret_auc_ci"], strict=True)]
    if "hypervolume" in frame:
        out["hypervolume"] = [_interval(m, h, 3) for m, h in
                              zip(frame["hypervolume"], frame["hypervolume_ci"], strict=True)]
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


def header(table: RunTable, settings: Settings) -> list[str]:
    """The sentences that say what the numbers mean."""
    direction = "maximised" if table.maximize else "minimised"
    best = "the noise-free value of the arch with the best observation so far"
    reference = f"the reference {table.reference:.4f} ({table.reference_source})"
    gap = f"{reference} minus {best}" if table.maximize else f"{best} minus {reference}"
    lines = [
        f"Objective: {table.objective} ({direction}). Every row is compared after {table.horizon} queries "
        f"(the fewest any run has) and at fixed budgets below that.",
        f"Regret: {gap}; best score: that best observation. "
        "Mean ± 90% t-interval over seeds.",
        f"Queries to target: median over seeds of the queries until regret ≤ {settings.target_for(table):.4g} "
        "(seeds that reached it in brackets). Avg rank: over shared seeds and the budgets shown. "
        "≈ leader: ✓ where a one-sided paired Wilcoxon signed-rank test over shared seeds does not find "
        "the row's final regret larger than the leader's (p ≥ 0.05).",
    ]
    return lines + [f"Note: {n}" for n in table.notes]


def markdown(table: RunTable, frame: pd.DataFrame, settings: Settings, provenance: Provenance,
             images: Sequence[tuple[str, str]] = (), title: str | None = None) -> str:
    """A Markdown section: title, explanation, the table, images, and how to reproduce it."""
    parts = [f"## {md_text(title or table.key.title)}", "",
             *[f"{md_text(line)}  " for line in header(table, settings)], "",
             md_table(display(table, frame, settings)), ""]
    parts += [f"![{md_text(alt)}]({src})" for alt, src in images]
    parts += ["", "Reproduce:", "", *_code_block(provenance.lines(table)), ""]
    return "\n".join(parts)


def html_section(table: RunTable, frame: pd.DataFrame, settings: Settings, provenance: Provenance,
                 images: Sequence[tuple[str, str]] = (), title: str | None = None) -> str:
    """An HTML section of the same content (the page around it is :func:`html_page`)."""
    body = display(table, frame, settings).to_html(index=False, border=0, classes="leaderboard")
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in header(table, settings))
    figures = "".join(f'<figure><img src="{html.escape(src)}" alt="{html.escape(alt)}">'
                      f"<figcaption>{html.escape(alt)}</figcaption></figure>" for alt, src in images)
    repro = html.escape("\n".join(provenance.lines(table)))
    return (f"<section><h2>{html.escape(title or table.key.title)}</h2>{paragraphs}{body}{figures}"
            f"<h3>Reproduce</h3><pre>{repro}</pre></section>")


_STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 1400px; }
table.leaderboard { border-collapse: collapse; font-size: 0.9em; }
table.leaderboard th, table.leaderboard td { padding: 4px 8px; border-bottom: 1px solid #ccc; text-align: right; }
table.leaderboard td:nth-child(2), table.leaderboard td:nth-child(3) { text-align: left; }
figure { display: inline-block; margin: 1em; } img { max-width: 640px; }
pre { background: #f4f4f4; padding: 1em; overflow-x: auto; }
"""


def html_page(title: str, sections: list[str]) -> str:
    """A self-contained page: no scripts, no external resources (works from ``file://``)."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>\n")
