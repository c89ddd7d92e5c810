"""Write leaderboards to a folder: Markdown, CSV, PNG plots and a static HTML page.

Publishing only ever replaces what an earlier publish wrote. Every site holds a marker file,
:data:`MARKER`, listing the files publish wrote there; ``--out`` may name a new folder, an
empty one, or a site with that marker and nothing else in it. Anything else is refused
before anything is written — a folder of other files, one that holds the input store or the
current folder, a file — because replacing it would delete what publish did not write. A
site that has gained files publish did not write is refused too, not pruned: they are the
user's, and moving them into the new site would hide them in a folder publish replaces.

Files are written into a temporary folder beside ``out`` and swapped in at the end (the old
site renamed away, the new one renamed in, the old one's listed files deleted), so an
interrupted publish never leaves a half-written or mixed site where a complete one was.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from nasbench_txf import __version__
from nasbench_txf.core.errors import UserError
from nasbench_txf.core.files import umask, write_atomic
from nasbench_txf.run.pipeline_report import PipelineReport

from . import pipeline, plots, site, views
from .aggregate import Settings, leaderboard
from .collect import BASELINE, RunTable
from .render import Provenance, html_section, markdown, md_table, md_text

TITLE = "nasbench-txf leaderboard"
#: curves per plot; a table with more rows plots its best ones
CURVES = 8
#: the file in every published site that lists what publish wrote there (and so may replace)
MARKER = ".nasbench-txf-site.json"


@dataclass(frozen=True)
class Targets:
    """Where a publish writes, checked by :func:`check_targets`."""

    site: Path  #: the site folder, resolved
    previous: list[str] | None  #: what publish may replace there (see :func:`_previous_site`)
    copy: Path | None  #: the Markdown copy, resolved


@dataclass
class Page:
    """What a publish writes, collected before anything is moved into place."""

    markdown: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]


def publish(tables: Sequence[RunTable], out: Path, settings: Settings, provenance: Provenance,
            family: str = views.DEFAULT_FAMILY, markdown_copy: Path | None = None,
            store: Path | None = None, pipelines: Sequence[PipelineReport] = ()) -> list[str]:
    """Every table with its plots, plus the grid and the ablation where the table has them,
    and the report of each pipeline in ``pipelines``.

    ``markdown_copy``: also write the Markdown page there (atomically), its images linked
    relative to it (e.g. ``docs/leaderboard.md`` beside ``--out docs/leaderboard``).
    ``store``: the store the tables came from, which neither target may replace or hold.
    Refuses with :class:`UserError`, before writing anything, any target that would replace
    a file publish did not write (see the module's docstring). Returns the names of the
    files written into ``out``.
    """
    def build(work: Path, page: Page) -> str:
        for number, report in enumerate(pipelines, start=1):
            image = pipeline.curve_plot(report, work / f"pipeline-{number}-best-so-far.png")
            page.markdown.append(pipeline.markdown_section(report, image.name))
            page.html.append(pipeline.html_section(report, image.name))
            page.files.append(image.name)
        for table in tables:
            _table_sections(table, work, settings, provenance, family, page)
        text = f"# {TITLE}\n\n" + "\n".join(page.markdown)
        write(work / "leaderboard.md", text, page)
        footer = site.footer({t.key.title: t.benchmark_version for t in tables},
                             [t.machine for t in tables if t.machine], sorted({v for t in tables
                                                                               for v in t.package_versions}))
        write(work / "index.html", site.page(TITLE, "".join(page.html), footer), page)
        return text

    return written(out, build, markdown_copy, store)


def written(out: Path, build: Callable[[Path, Page], str], markdown_copy: Path | None = None,
            store: Path | None = None) -> list[str]:
    """Publish what ``build(work, page)`` writes into the temporary folder ``work`` (listing
    each file in ``page.files``; it returns the Markdown page) as the site ``out``, safely
    (see the module's docstring); the Markdown also to ``markdown_copy``. Returns the files."""
    where = check_targets(out, markdown_copy, store)
    site = where.site
    site.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{site.name}-", dir=site.parent))
    try:
        work.chmod(0o777 & ~umask())  # mkdtemp's 0700 would hide the site from a web server or other users
        page = Page()
        text = build(work, page)
        marker = {"written_by": "nasbench-txf leaderboard publish", "version": __version__,
                  "files": sorted(set(page.files))}
        (work / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
        _swap(work, site, where.previous)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if where.copy is not None:
        write_atomic(where.copy, _relinked(text, site, where.copy, page.files))
    return sorted(page.files)


def check_targets(out: Path, markdown_copy: Path | None = None, store: Path | None = None) -> Targets:
    """``--out`` and ``--markdown`` resolved, or :class:`UserError` where writing there could
    replace a file publish did not write. Publishing checks them itself; a caller checks them
    first to refuse before reading a store."""
    site = _target(out, "--out", store)
    previous = _previous_site(out, site)
    return Targets(site, previous, None if markdown_copy is None else _copy_target(markdown_copy, site, store))


def _target(path: Path, flag: str, store: Path | None) -> Path:
    """``path`` resolved, refused where nothing can be written (a parent is a file) or where
    writing would replace or swallow the current folder or the input ``store``."""
    target = path.resolve()
    parent = next((p for p in target.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise UserError(f"{flag} {path}: {parent} is a file, not a folder")
    cwd = Path.cwd().resolve()
    if target == cwd or target in cwd.parents:
        raise UserError(f"{flag} {path} is the current folder or holds it; choose another path")
    if store is not None:
        source = store.resolve()
        if target == source or target in source.parents:
            relation = "is" if target == source else "holds"
            raise UserError(f"{flag} {path} {relation} the input store {store}; choose another path")
        if source.is_dir() and source in target.parents:  # a suite's folder: its stores are in it
            raise UserError(f"{flag} {path} is inside the folder of input stores {store}; choose another path")
    return target


def _previous_site(out: Path, site: Path) -> list[str] | None:
    """The entries of the folder ``site`` that publish may replace: ``None`` where there is no
    folder yet, ``[]`` for an empty one, else a previous site's files (all of them listed in
    its marker). Refuses a file, and a folder holding anything publish did not write."""
    if not site.exists():
        return None
    if not site.is_dir():
        raise UserError(f"--out {out} is a file, not a folder")
    entries = sorted(p.name for p in site.iterdir())
    if not entries:
        return entries
    if MARKER not in entries:
        raise UserError(f"--out {out} is not empty and was not written by `leaderboard publish`; "
                        "choose an empty or new folder")
    listed = _listed(out, site / MARKER) | {MARKER}
    foreign = [name for name in entries if name not in listed or not _plain_file(site / name)]
    if foreign:
        shown = ", ".join(repr(name) for name in foreign[:3]) + (", …" if len(foreign) > 3 else "")
        raise UserError(f"--out {out} holds {len(foreign)} entries `leaderboard publish` did not write ({shown}); "
                        "move them away or choose another folder")
    return entries


def _listed(out: Path, marker: Path) -> set[str]:
    """The file names a site's marker lists; a marker publish cannot have written is refused."""
    try:
        files = json.loads(marker.read_text(encoding="utf-8"))["files"] if _plain_file(marker) else None
        if not isinstance(files, list) or not all(isinstance(name, str) for name in files):
            raise TypeError(marker)
    except (OSError, ValueError, TypeError, KeyError):
        raise UserError(f"--out {out}: its {MARKER} is not one `leaderboard publish` wrote; "
                        "choose an empty or new folder") from None
    return set(files)


def _plain_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _copy_target(path: Path, site: Path, store: Path | None) -> Path:
    """Where ``--markdown`` writes: refused where it is not a file name or overlaps the site."""
    target = _target(path, "--markdown", store)
    if target.is_dir():
        raise UserError(f"--markdown {path} is a folder; give a file name, e.g. {path / 'leaderboard.md'}")
    if target.exists() and not target.is_file():
        raise UserError(f"--markdown {path} is not a regular file")
    if target == site or site in target.parents or target in site.parents:
        raise UserError(f"--markdown {path} overlaps --out {site}; write the copy beside the site")
    return target


def _swap(work: Path, site: Path, previous: list[str] | None) -> None:
    """Move the finished ``work`` folder to ``site``; the previous site there (its ``previous``
    entries) is renamed away first and deleted file by file afterwards, so nothing else is."""
    if previous is None:
        work.rename(site)
        return
    old = work.with_name(f"{work.name}-previous")
    site.rename(old)
    try:
        work.rename(site)
    except BaseException:
        old.rename(site)
        raise
    for name in previous:
        (old / name).unlink(missing_ok=True)
    try:
        old.rmdir()
    except OSError:
        raise UserError(f"published {site}; the previous site, moved to {old}, gained files while publishing "
                        "and was kept") from None


def _relinked(text: str, site: Path, copy: Path, files: list[str]) -> str:
    """The site's Markdown ``text`` with its links to ``files`` made relative to ``copy``."""
    prefix = Path(os.path.relpath(site, copy.parent))
    for name in files:
        text = text.replace(f"]({name})", f"]({(prefix / name).as_posix()})")
    return text


def write(path: Path, text: str, page: Page) -> None:
    """Write a page's file and list it."""
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
    if BASELINE in names and BASELINE not in shown:
        shown.append(BASELINE)
    return shown, f" (the {CURVES} best rows and {BASELINE})"


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
        f"### Strategy × encoding grid — {md_text(table.key.title)}", "",
        f"Best {table.objective} (mean ± 90% CI over seeds), as in [FLEXIBERT23 Fig. 3].", "",
        md_table(text), "", f"![strategy × encoding grid]({png.name})", ""]))
    table_html = site.sortable(text, f"grid-{slug(table.key.title)}", text_columns=("strategy",), leader=None)
    page.html.append(f"<section><h3>Strategy × encoding grid</h3>{table_html}"
                     f'<figure><img src="{png.name}" alt="strategy × encoding grid"></figure></section>')
    page.files.append(png.name)


def _ablation_section(members: RunTable, settings: Settings, provenance: Provenance, png: Path, page: Page) -> None:
    plots.by_queries(members, png, what="score")
    frame = leaderboard(members, settings)
    family = frame["strategy"].min()
    _section(members, frame, settings, provenance, [(f"ablation of {family}: best score against queries", png)],
             page, title=f"Ablation of {family} — {members.key.title}")
