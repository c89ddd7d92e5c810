"""Leaderboard figures as PNG files (matplotlib, no display needed).

Curves are means over seeds with shaded 90% t-intervals ([FLEXIBERT23 Figs. 3–4] plot 90%
intervals); the time axis is each run's simulated clock.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from nasbench_txf.core.errors import UserError
from nasbench_txf.core.registry import get_strategy
from nasbench_txf.core.strategy import optimises_several

from . import hypervolume
from .aggregate import curves
from .collect import RowKey, Run, RunTable
from .stats import LEVEL

#: the row every Pareto plot shows beside the multi-objective ones
BASELINE = "rs"


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


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _legend(ax: plt.Axes, **kwargs: str) -> None:
    """Beside the axes, so that it never hides a curve."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), **kwargs)


def _figure(title: str, xlabel: str, ylabel: str) -> tuple[plt.Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def by_queries(table: RunTable, path: Path, *, what: str = "regret",
               rows: Sequence[str] | None = None) -> Path:
    """Regret (or best score) against queries, one line and band per row."""
    ylabel = f"regret ({table.objective})" if what == "regret" else f"best {table.objective}"
    fig, ax = _figure(table.key.title, "queries", ylabel)
    for row, runs in table.rows().items():
        if rows is not None and row.name not in rows:
            continue
        longest = max(r.queries for r in runs)
        mean, half = _band(_padded(table, runs, longest, what))
        x = np.arange(1, longest + 1)
        ax.plot(x, mean, label=f"{row.name} ({len(runs)} seeds)")
        ax.fill_between(x, mean - half, mean + half, alpha=0.2)
    _legend(ax)
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
    fig, ax = _figure(table.key.title, "simulated seconds", f"regret ({table.objective})")
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
        mean, half = _band(values)
        ax.plot(grid, mean, label=row.name)
        ax.fill_between(grid, mean - half, mean + half, alpha=0.2)
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
                label=f"{row.name} (seed {median_run.seed})")
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
        ax.plot(x, mean, label=row.name)
        ax.fill_between(x, mean - half, mean + half, alpha=0.2)
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
