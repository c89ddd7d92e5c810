"""Write leaderboards to a folder: Markdown, CSV, PNG plots and a static HTML page.

Files are written into a temporary folder beside ``out`` and moved into place at the end,
so an interrupted publish never leaves a half-written site where a complete one was.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from nasbench_txf.errors import UserError

from . import plots, views
from .aggregate import Settings, leaderboard
from .collect import RunTable
from .render import Provenance, html_page, html_section, markdown

TITLE = "nasbench-txf leaderboard"
#: curves per plot; a table with more rows plots its best ones
CURVES = 8


@dataclass
class Page:
    """What a publish writes, collected before anything is moved into place."""

    markdown: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]


def publish(tables: Sequence[RunTable], out: Path, settings: Settings, provenance: Provenance,
            family: str = views.DEFAULT_FAMILY, markdown_copy: Path | None = None) -> list[str]:
    """Every table with its plots, plus the grid and the ablation where the table has them.

    ``markdown_copy``: also write the Markdown page there, its images linked relative to it
    (e.g. ``docs/leaderboard.md`` beside ``--out docs/leaderboard``). Returns the names of
    the files written into ``out``.
    """
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        page = Page()
        for table in tables:
            _table_sections(table, work, settings, provenance, family, page)
        _write(work / "leaderboard.md", f"# {TITLE}\n\n" + "\n".join(page.markdown), page)
        _write(work / "index.html", html_page(TITLE, page.html), page)
        if out.exists():
            shutil.rmtree(out)
        work.rename(out)
        if markdown_copy is not None:
            _relinked_copy(out / "leaderboard.md", markdown_copy, page.files)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return sorted(page.files)


def _relinked_copy(source: Path, copy: Path, files: list[str]) -> None:
    prefix = Path(os.path.relpath(source.parent.resolve(), copy.parent.resolve()))
    text = source.read_text(encoding="utf-8")
    for name in files:
        text = text.replace(f"]({name})", f"]({(prefix / name).as_posix()})")
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(text, encoding="utf-8")


def _write(path: Path, text: str, page: Page) -> None:
    path.write_text(text, encoding="utf-8")
    page.files.append(path.name)


def _table_sections(table: RunTable, work: Path, settings: Settings, provenance: Provenance,
                    family: str, page: Page) -> None:
    name = slug(table.key.title)
    frame = leaderboard(table, settings)
    frame.to_csv(work / f"{name}.csv", index=False)
    page.files.append(f"{name}.csv")
    shown, which = _curve_rows(frame)
    title = f"{table.key.title}{which}"
    images = [(f"best {table.objective} so far against queries, {title}",
               plots.by_queries(table, work / f"{name}-score-queries.png", what="score", rows=shown)),
              (f"regret against queries, {title}",
               plots.by_queries(table, work / f"{name}-regret-queries.png", rows=shown)),
              (f"regret against simulated time, {title}",
               plots.by_time(table, work / f"{name}-regret-time.png", rows=shown))]
    if table.pareto_objectives:
        images += [(f"Pareto fronts, {table.key.title} (multi-objective rows and rs)",
                    plots.pareto(table, work / f"{name}-pareto.png")),
                   (f"hypervolume against queries, {title}",
                    plots.hypervolume_by_queries(table, work / f"{name}-hypervolume.png", rows=shown))]
    _section(table, frame, settings, provenance, images, page)
    encodings = {r.row.encoding for r in table.runs if r.row.encoding}
    if len(encodings) > 1 and not frame["options"].astype(bool).any():
        _grid_section(table, frame, work / f"{name}-grid.png", page)
    try:
        members = views.family(table, family)
    except UserError:
        return
    _ablation_section(members, settings, provenance, work / f"{name}-ablation.png", page)


def _curve_rows(frame: pd.DataFrame) -> tuple[list[str] | None, str]:
    """The rows a curve plot can show legibly: all of up to :data:`CURVES` rows, else the
    best :data:`CURVES` and random search, named in the caption."""
    names = list(dict.fromkeys(frame["row"]))
    if len(names) <= CURVES:
        return None, ""
    shown = names[:CURVES]
    if plots.BASELINE in names and plots.BASELINE not in shown:
        shown.append(plots.BASELINE)
    return shown, f" (the {CURVES} best rows and {plots.BASELINE})"


def _section(table: RunTable, frame: pd.DataFrame, settings: Settings, provenance: Provenance,
             images: list[tuple[str, Path]], page: Page, title: str | None = None) -> None:
    refs = [(alt, path.name) for alt, path in images]
    page.markdown.append(markdown(table, frame, settings, provenance, refs, title))
    page.html.append(html_section(table, frame, settings, provenance, refs, title))
    page.files += [path.name for _, path in images]


def _grid_section(table: RunTable, frame: pd.DataFrame, png: Path, page: Page) -> None:
    grid = views.grid(table, frame)
    label = f"best {table.objective}"
    plots.grid_bars(grid.mean, grid.half, f"{label}: strategy × encoding", label, png)
    text = grid.text()
    page.markdown.append("\n".join([
        f"### Strategy × encoding grid — {table.key.title}", "",
        f"Best {table.objective} (mean ± 90% CI over seeds), as in seed 000 Fig. 3.", "",
        text.to_markdown(index=False), "", f"![strategy × encoding grid]({png.name})", ""]))
    table_html = text.to_html(index=False, border=0, classes="leaderboard")
    page.html.append(f"<section><h3>Strategy × encoding grid</h3>{table_html}"
                     f'<figure><img src="{png.name}" alt="strategy × encoding grid"></figure></section>')
    page.files.append(png.name)


def _ablation_section(members: RunTable, settings: Settings, provenance: Provenance, png: Path, page: Page) -> None:
    plots.by_queries(members, png, what="score")
    frame = leaderboard(members, settings)
    family = frame["strategy"].min()
    _section(members, frame, settings, provenance, [(f"ablation of {family}: best score against queries", png)],
             page, title=f"Ablation of {family} — {members.key.title}")
