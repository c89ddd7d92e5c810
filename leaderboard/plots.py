"""Leaderboard figures as PNG files (matplotlib, no display needed).

Curves are means over seeds with shaded 90% t-intervals ([FLEXIBERT23 Figs. 3–4] plot 90%
intervals), regret bands clipped at zero (regret cannot be negative); the time axis is each
run's simulated clock. A strategy has the same colour in every plot of every page
(:func:`colour`), and a fraction objective is plotted in percentage points.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from nasbench_txf.core.errors import UserError
from nasbench_txf.core.registry import get_strategy, registry
from nasbench_txf.core.strategy import optimises_several

from . import hypervolume
from .across import TAUS, Aggregate
from .aggregate import curves
from .collect import BASELINE, RowKey, Run, RunTable
from .stats import LEVEL


def _band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds (axis 0) and the 90% t half-width, ignoring missing values."""
    n = np.isfinite(values).sum(axis=0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # columns with fewer than two seeds
        mean = np.nanmean(values, axis=0)
        sd = np.nanstd(values, axis=0, ddof=1)
    t = stats.t.ppf(0.5 + LEVEL / 2, np.maximum(n - 1, 1))
    half = np.where(n > 1, t * np.nan_to_num(sd) / np.sqrt(np.maximum(n, 1)), 0.0)
    return mean, half


#: the palette strategies' colours come from: matplotlib's tab10 without its grey (grey is
#: random search's in the small multiples), then Dark2's and Set1's without their greys
PALETTE = (*[c for i, c in enumerate(plt.get_cmap("tab10").colors) if i != 7],
           *plt.get_cmap("Dark2").colors[:7], *[c for i, c in enumerate(plt.get_cmap("Set1").colors) if i != 8])
#: line styles that tell a strategy's encodings and variants apart
STYLES = ("-", "--", ":", "-.")
FONT = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 9}


def colour(strategy: str) -> tuple[float, float, float]:
    """The strategy's colour on every plot: black for random search, else its place among the
    registered strategies (one not registered here takes one from its name's digest)."""
    if strategy == BASELINE:
        return (0.0, 0.0, 0.0)
    names = _colour_order()
    index = names.index(strategy) if strategy in names else int(hashlib.sha256(strategy.encode()).hexdigest(), 16)
    return PALETTE[index % len(PALETTE)]


@cache
def _colour_order() -> tuple[str, ...]:
    """The registered strategies in the order they take colours (read from the entry points
    once): NNI's adapters last, so that the built-ins compared most often take the first."""
    return tuple(sorted((n for n in registry("strategies").names() if n != BASELINE),
                        key=lambda n: (n.startswith("nni-"), n)))


def _style(table: RunTable, row: RowKey) -> dict[str, object]:
    """Colour by strategy, line style by the row's place among that strategy's rows."""
    same = sorted(r for r in table.rows() if r.strategy == row.strategy)
    return {"color": colour(row.strategy), "linestyle": STYLES[same.index(row) % len(STYLES)]}


def _scale(table: RunTable, what: str) -> tuple[float, str]:
    """The factor and the axis label of a curve of ``what`` (regret or score)."""
    unit = f" ({table.unit})" if table.unit else ""
    label = f"regret{unit}, {table.objective}" if what == "regret" else f"best {table.objective}{unit}"
    return table.unit_scale, label


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _legend(ax: plt.Axes, **kwargs: str) -> None:
    """Beside the axes, so that it never hides a curve."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), **kwargs)


def _figure(title: str, xlabel: str, ylabel: str) -> tuple[plt.Figure, plt.Axes]:
    with plt.rc_context(FONT):
        fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.set_title(title, fontsize=FONT["axes.titlesize"])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def by_queries(table: RunTable, path: Path, *, what: str = "regret",
               rows: Sequence[str] | None = None) -> Path:
    """Regret (or best score) against queries, one line and band per row."""
    factor, ylabel = _scale(table, what)
    fig, ax = _figure(table.key.title, "queries", ylabel)
    for row, runs in table.rows().items():
        if rows is not None and row.name not in rows:
            continue
        longest = max(r.queries for r in runs)
        mean, half = _band(factor * _padded(table, runs, longest, what))
        x = np.arange(1, longest + 1)
        style = _style(table, row)
        ax.plot(x, mean, label=f"{row.name} ({len(runs)} seeds)", **style)  # type: ignore[arg-type]
        _fill(ax, x, mean, half, style, clip=what == "regret")
    _legend(ax)
    return _save(fig, path)


def _fill(ax: plt.Axes, x: np.ndarray, mean: np.ndarray, half: np.ndarray, style: dict[str, object],
          clip: bool) -> None:
    low = np.maximum(mean - half, 0.0) if clip else mean - half
    ax.fill_between(x, low, mean + half, alpha=0.15, color=style["color"])


def small_multiples(table: RunTable, path: Path, order: Sequence[str], columns: int = 4) -> Path:
    """Regret against queries, one small panel per row in ``order`` (row names, best first as
    the table ranks them) with random search in grey in every panel: legible with two dozen rows."""
    factor, ylabel = _scale(table, "regret")
    grouped = table.rows()
    by_name = {row.name: row for row in grouped}
    panels = [by_name[name] for name in order]
    baseline = next((row for row in grouped if row.strategy == BASELINE), None)
    rows_n = math.ceil(len(panels) / columns)
    with plt.rc_context(FONT):
        fig, axes = plt.subplots(rows_n, columns, figsize=(3.2 * columns, 2.4 * rows_n + 0.6), sharex=True,
                                 sharey=True, squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, row in zip(axes.flat, panels, strict=False):
        if baseline is not None and row != baseline:
            mean, _ = _band(factor * _padded(table, grouped[baseline], table.horizon, "regret"))
            ax.plot(np.arange(1, table.horizon + 1), mean, color="0.6", linewidth=1, label=BASELINE)
        mean, half = _band(factor * _padded(table, grouped[row], table.horizon, "regret"))
        x = np.arange(1, table.horizon + 1)
        style = {"color": colour(row.strategy), "linestyle": "-"}
        ax.plot(x, mean, **style)  # type: ignore[arg-type]
        _fill(ax, x, mean, half, style, clip=True)
        ax.set_title(row.name, fontsize=10)
        ax.grid(alpha=0.3)
    fig.supxlabel("queries")
    fig.supylabel(ylabel)
    fig.suptitle(f"{table.key.title}: regret, each row against {BASELINE} (grey)", fontsize=12)
    return _save(fig, path)


def _padded(table: RunTable, runs: list[Run], longest: int, what: str) -> np.ndarray:
    """Seeds × queries; a run shorter than the longest is missing after its end."""
    out = np.full((len(runs), longest), np.nan)
    for i, r in enumerate(runs):
        values = table.regret(r) if what == "regret" else table.score(r)
        out[i, : len(values)] = values
    return out


def by_time(table: RunTable, path: Path, points: int = 200, rows: Sequence[str] | None = None) -> Path:
    """Regret against simulated seconds (log axis): each run's value at a time is the one after
    its last trial that had ended by then. The axis starts when every run has a first result,
    so that the mean is always over the same runs."""
    factor, ylabel = _scale(table, "regret")
    fig, ax = _figure(table.key.title, "simulated seconds", ylabel)
    start = max(float(r.sim_end[0]) for r in table.runs)
    stop = max(float(r.sim_end[-1]) for r in table.runs)
    grid = np.geomspace(max(start, 1e-3), max(stop, start * 1.001, 1e-3 * 1.001), points)
    for row, runs in table.rows().items():
        if rows is not None and row.name not in rows:
            continue
        values = np.full((len(runs), points), np.nan)
        for i, run in enumerate(runs):
            done = np.searchsorted(run.sim_end, grid, side="right")
            regret = table.regret(run)
            values[i] = np.where(done > 0, regret[np.maximum(done - 1, 0)], np.nan)
        mean, half = _band(factor * values)
        style = _style(table, row)
        ax.plot(grid, mean, label=row.name, **style)  # type: ignore[arg-type]
        _fill(ax, grid, mean, half, style, clip=True)
    ax.set_xscale("log")
    _legend(ax)
    return _save(fig, path)


def pareto(table: RunTable, path: Path) -> Path:
    """The Pareto front after the horizon of each multi-objective row, and of random search as
    the baseline, for the seed with the median hypervolume (first two objectives)."""
    objectives = table.pareto_objectives[:2]
    fig, ax = _figure(table.key.title, objectives[1].name, objectives[0].name)
    scale = hypervolume.Scale(table.runs, table.pareto_objectives)
    for row, runs in table.rows().items():
        if not (row.strategy == BASELINE or shows_front(row)):
            continue
        volumes = [hypervolume.curve(r, table.pareto_objectives, scale)[table.horizon - 1] for r in runs]
        median_run = runs[int(np.argsort(volumes)[len(volumes) // 2])]
        pts = hypervolume.front(median_run, objectives, table.horizon)
        pts = pts[np.argsort(pts[:, 1])]
        ax.step(pts[:, 1], pts[:, 0], where="post", marker="o", markersize=3,
                label=f"{row.name} (seed {median_run.seed})", **_style(table, row))  # type: ignore[arg-type]
    if objectives[1].name in ("params", "flops"):
        ax.set_xscale("log")
    _legend(ax)
    return _save(fig, path)


def shows_front(row: RowKey) -> bool:
    """Whether the row optimises several objectives (its Pareto front is drawn)."""
    try:
        cls = get_strategy(row.strategy)
        return optimises_several(cls, cls.make_options(json.loads(row.strategy_options)))
    except UserError:
        return False


def hypervolume_by_queries(table: RunTable, path: Path, rows: Sequence[str] | None = None) -> Path:
    fig, ax = _figure(table.key.title, "queries", "hypervolume (scaled objectives)")
    scale = hypervolume.Scale(table.runs, table.pareto_objectives)
    for row, runs in table.rows().items():
        if rows is not None and row.name not in rows:
            continue
        mean, half = _band(curves(table, runs, scale=scale).hypervolume)  # type: ignore[arg-type]
        x = np.arange(1, table.horizon + 1)
        style = _style(table, row)
        ax.plot(x, mean, label=row.name, **style)  # type: ignore[arg-type]
        _fill(ax, x, mean, half, style, clip=True)
    _legend(ax)
    return _save(fig, path)


def grid_bars(grid: pd.DataFrame, errors: pd.DataFrame, title: str, ylabel: str, path: Path) -> Path:
    """Grouped bars, strategies × encodings, with 90% interval error bars [FLEXIBERT23 Fig. 3]."""
    fig, ax = _figure(title, "strategy", ylabel)
    width = 0.8 / max(len(grid.columns), 1)
    x = np.arange(len(grid.index))
    for i, encoding in enumerate(grid.columns):
        ax.bar(x + i * width, grid[encoding].to_numpy(dtype=float), width,
               yerr=np.nan_to_num(errors[encoding].to_numpy(dtype=float)), capsize=3, label=encoding or "none")
    ax.set_xticks(x + width * (len(grid.columns) - 1) / 2, grid.index, rotation=30, ha="right")
    finite = grid.to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size:
        low, high = finite.min(), finite.max()
        ax.set_ylim(low - 0.5 * (high - low + 1e-9), high + 0.5 * (high - low + 1e-9))
    _legend(ax, title="encoding")
    return _save(fig, path)


def aggregate_intervals(agg: Aggregate, path: Path) -> Path:
    """IQM of normalised regret and mean rank across problems, each with its 95% interval,
    methods best first (top)."""
    order = agg.order()[::-1]
    y = np.arange(len(order))
    with plt.rc_context(FONT):
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 0.42 * len(order) + 1.6), sharey=True)
    for ax, values, label in ((left, agg.iqm, "IQM of normalised regret (0 = best known, 1 = random search)"),
                              (right, agg.rank, f"mean rank over {len(agg.problems)} problems")):
        for i, m in enumerate(order):
            point, low, high = values[m]
            ax.errorbar(point, i, xerr=[[point - low], [high - point]], fmt="o", capsize=4,
                        color=colour(agg.strategies[m]))
        ax.set_xlabel(label)
        ax.grid(alpha=0.3, axis="x")
    left.axvline(1.0, color="0.5", linestyle=":", linewidth=1)
    left.set_yticks(y, order)
    fig.suptitle(f"across {len(agg.problems)} problems, {len(agg.seeds)} seeds each: 95% stratified "
                 "bootstrap intervals", fontsize=12)
    return _save(fig, path)


def performance_profiles(agg: Aggregate, path: Path, best: int = 8) -> Path:
    """The share of runs with normalised regret ≤ τ against τ, for the ``best`` methods and
    random search, with 95% bands."""
    shown = agg.order()[:best]
    shown += [m for m in agg.methods if agg.strategies[m] == BASELINE and m not in shown]
    fig, ax = _figure(f"performance profiles across {len(agg.problems)} problems",
                      "τ (normalised regret)", "share of runs with normalised regret ≤ τ")
    for m in shown:
        same = sorted(n for n in shown if agg.strategies[n] == agg.strategies[m])
        style = {"color": colour(agg.strategies[m]), "linestyle": STYLES[same.index(m) % len(STYLES)]}
        ax.plot(TAUS, agg.profile[m], label=m, **style)  # type: ignore[arg-type]
        ax.fill_between(TAUS, agg.profile_interval[m][0], agg.profile_interval[m][1], alpha=0.12,
                        color=style["color"])
    ax.set_ylim(0, 1.02)
    _legend(ax)
    return _save(fig, path)
