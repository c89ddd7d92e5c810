"""Strategies compared across the problems of a suite, with the statistics of [RLIABLE21].

Per problem, a run's *normalised regret* after the common budget B is its regret divided by
random search's mean regret after B queries on that problem: 0 is the best the benchmark
knows, 1 is what random search reaches with the same budget, so problems of different scales
average. A multi-objective problem's regret is the hypervolume the run's visited archs miss,
against the front of every arch the problem's runs visited (its best known front).

Across problems (each method's seeds shared by all problems): the interquartile mean (IQM)
of normalised regret with a stratified bootstrap confidence interval (runs resampled within
each problem), the mean rank (per problem, methods ranked by their mean normalised regret;
averaged over problems) with its interval from the same bootstrap, and performance profiles
(the share of runs with normalised regret ≤ τ) with theirs.

The bootstrap is written here, in a few lines of numpy, rather than taken from ``rliable``
(the reference implementation of [RLIABLE21]): rliable 1.2 requires ``arch<8``, and arch 7
does not import under pandas 3, which this package uses. It is the same estimator — seeds
resampled with replacement within each problem, percentile intervals — resampled jointly for
all methods, so that ranks compare methods on the same draw of seeds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from pymoo.indicators.hv import HV
from scipy import stats

from nasbench_txf.core.errors import UserError
from nasbench_txf.core.pareto import pareto_indices
from nasbench_txf.core.result import Metric
from nasbench_txf.run.problems import Problem
from nasbench_txf.run.variants import variant_label

from . import hypervolume
from .collect import BASELINE, RowKey, RunTable

#: coverage of the bootstrap intervals (as [RLIABLE21] reports them)
CONFIDENCE = 0.95
#: bootstrap replications: enough for stable 95% percentile intervals of a few dozen methods
REPS = 2000
#: the thresholds of the performance profiles, in normalised regret
TAUS = np.linspace(0.0, 1.5, 31)


@dataclass
class ProblemScores:
    """One problem's normalised regret per method and seed, after its common budget."""

    problem: Problem
    budget: int
    #: what normalised regret divides by: random search's mean regret (or missed hypervolume)
    baseline: float
    scores: dict[str, dict[int, float]]
    #: method → its strategy's name (for colours and descriptions)
    strategies: dict[str, str]
    #: runs with no successful trial by the budget, scored as the problem's worst regret
    failed_runs: int = 0


def method(row: RowKey, problem: Problem) -> str:
    """The row's name across problems: the strategy with the options the sweep gave it and its
    encoding, less the ``against`` the problem set to its costs (it differs per problem)."""
    options = {k: v for k, v in json.loads(row.strategy_options).items()
               if not (k == "against" and problem.costs and v == ",".join(problem.costs))}
    label = variant_label(row.strategy, options)
    if problem.costs and "against" in options and "against=" not in label:  # a default, but not the problem's
        shown = f"against={options['against']}"
        label = f"{label[:-1]}, {shown})" if label.endswith(")") else f"{label}({shown})"
    return f"{label}+{row.encoding}" if row.encoding else label


def objectives_of(problem: Problem, table: RunTable) -> tuple[Metric, ...]:
    """The problem's objective and its costs (minimised), refused where the runs lack a cost."""
    reported = {name for run in table.runs for metrics in run.metrics for name in metrics}
    missing = [c for c in problem.costs if c not in reported]
    if missing:
        raise UserError(f"problem {problem.name}: its runs report no {', '.join(missing)}; "
                        "they cannot be scored against its costs")
    return (Metric(table.objective, table.maximize), *(Metric(c, maximize=False) for c in problem.costs))


def problem_scores(problem: Problem, table: RunTable) -> ProblemScores:
    """Normalised regret of every run of ``table`` after the table's common budget.

    A run with no successful trial by then has no regret of its own; it is scored as the
    worst regret any run of the problem has at that budget (a failure is not a missing value:
    leaving it out would flatter the method).
    """
    budget = table.horizon
    raw = _missed_volume(table, objectives_of(problem, table), budget) if problem.multi_objective else {
        id(run): float(table.regret(run)[budget - 1]) for run in table.runs}
    finite = [v for v in raw.values() if math.isfinite(v)]
    if not finite:
        raise UserError(f"problem {problem.name}: no run has a successful trial within {budget} queries")
    failed = sum(not math.isfinite(v) for v in raw.values())
    raw = {k: v if math.isfinite(v) else max(finite) for k, v in raw.items()}
    base = [raw[id(r)] for r in table.runs if r.row.strategy == BASELINE]
    if not base:
        raise UserError(f"problem {problem.name}: no random search run to normalise by")
    baseline = float(np.mean(base))
    if baseline <= 0:
        raise UserError(f"problem {problem.name}: random search reached the best known value on every seed; "
                        "normalised regret is undefined")
    scores: dict[str, dict[int, float]] = {}
    strategies: dict[str, str] = {}
    rows: dict[str, RowKey] = {}
    for run in table.runs:
        name = method(run.row, problem)
        if rows.setdefault(name, run.row) != run.row:
            raise UserError(f"problem {problem.name}: rows {rows[name].name} and {run.row.name} would both be "
                            f"compared as {name}; sweep one of them into another folder")
        scores.setdefault(name, {})[run.seed] = raw[id(run)] / baseline
        strategies[name] = run.row.strategy
    return ProblemScores(problem, budget, baseline, scores, strategies, failed)


def _missed_volume(table: RunTable, objectives: tuple[Metric, ...], budget: int) -> dict[int, float]:
    """Per run: the hypervolume of the problem's best known front (every visited arch of every
    run, in the table's scaled objectives) minus that of the run's first ``budget`` trials."""
    scale = hypervolume.Scale(table.runs, objectives)
    every = np.vstack([scale(hypervolume.points(r, objectives)[:budget]) for r in table.runs])
    every = every[np.isfinite(every).all(axis=1) & (every < hypervolume.REFERENCE).all(axis=1)]
    best = float(HV(ref_point=np.full(len(objectives), hypervolume.REFERENCE))(every[pareto_indices(every)]))
    return {id(r): best - float(hypervolume.curve(r, objectives, scale)[budget - 1]) for r in table.runs}


@dataclass
class Aggregate:
    """The suite's comparison: per method, its IQM and mean rank with intervals, and its profile."""

    problems: list[str]
    methods: list[str]
    seeds: list[int]
    #: method → (IQM, low, high) of normalised regret
    iqm: dict[str, tuple[float, float, float]]
    #: method → (mean rank, low, high)
    rank: dict[str, tuple[float, float, float]]
    #: method → share of runs with normalised regret ≤ τ, for each τ of :data:`TAUS`, and its interval
    profile: dict[str, np.ndarray]
    profile_interval: dict[str, np.ndarray]
    #: methods left out, and why
    left_out: dict[str, str]
    #: method → its strategy's name
    strategies: dict[str, str]
    #: what the reader must know about the comparison (seeds left out, failed runs)
    notes: list[str]

    def order(self) -> list[str]:
        """Methods best first: least IQM, then best mean rank."""
        return sorted(self.methods, key=lambda m: (self.iqm[m][0], self.rank[m][0], m))


def scores_matrix(per_problem: Sequence[ProblemScores]) -> tuple[list[str], list[int], np.ndarray, dict[str, str]]:
    """(methods, seeds, seeds × problems × methods array, left out): the methods run on every
    problem, on the seeds every one of them has on every problem (a paired comparison)."""
    everywhere = set.intersection(*(set(p.scores) for p in per_problem))
    left_out = {name: f"not run on every problem (missing from {_missing(name, per_problem)})"
                for name in sorted(set().union(*(p.scores for p in per_problem)) - everywhere)}
    methods = sorted(everywhere)
    if not methods:
        raise UserError("no method was run on every problem of the suite")
    seeds = sorted(set.intersection(*(set(p.scores[m]) for p in per_problem for m in methods)))
    if len(seeds) < 2:
        raise UserError("fewer than two seeds are shared by every method and problem; the intervals need more")
    array = np.array([[[p.scores[m][s] for m in methods] for p in per_problem] for s in seeds], dtype=float)
    return methods, seeds, array, left_out


def _missing(name: str, per_problem: Sequence[ProblemScores]) -> str:
    return ", ".join(p.problem.name for p in per_problem if name not in p.scores)


def mean_rank(array: np.ndarray) -> np.ndarray:
    """Per problem, the methods ranked by mean normalised regret over seeds (1 = least; ties
    share the mean rank), averaged over problems: one value per method."""
    per_problem = np.nanmean(array, axis=0)  # problems × methods
    return np.asarray(stats.rankdata(per_problem, axis=1).mean(axis=0), dtype=float)


def iqm(array: np.ndarray) -> np.ndarray:
    """Per method (last axis): the mean of the middle half of every run on every problem (the
    25% trimmed mean over seeds × problems, as [RLIABLE21]'s IQM)."""
    return np.asarray(stats.trim_mean(array.reshape(-1, array.shape[-1]), 0.25, axis=0), dtype=float)


def profiles(array: np.ndarray) -> np.ndarray:
    """Per method, the share of runs (every problem together) with normalised regret ≤ τ, for
    each τ of :data:`TAUS` (methods × taus)."""
    flat = array.reshape(-1, array.shape[-1])
    return (flat[:, :, None] <= TAUS[None, None, :]).mean(axis=0)


def stratified_bootstrap(array: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray], reps: int,
                         seed: int, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval of ``statistic(array)`` when the runs (axis 0) are resampled with
    replacement within each problem (axis 1), independently per problem: (low, high)."""
    rng = np.random.default_rng(seed)
    runs, problems = array.shape[:2]
    columns = np.arange(problems)
    draws = np.array([statistic(array[rng.integers(0, runs, size=(runs, problems)), columns])
                      for _ in range(reps)])
    tail = (1 - confidence) / 2
    return np.quantile(draws, tail, axis=0), np.quantile(draws, 1 - tail, axis=0)


def aggregate(per_problem: Sequence[ProblemScores], reps: int = REPS, seed: int = 0) -> Aggregate:
    """IQM, mean rank and performance profiles over the suite (deterministic in ``seed``)."""
    methods, seeds, array, left_out = scores_matrix(per_problem)
    n, taus = len(methods), len(TAUS)

    def everything(x: np.ndarray) -> np.ndarray:
        return np.concatenate([iqm(x), mean_rank(x), profiles(x).ravel()])

    every_seed = sorted({s for p in per_problem for m in methods for s in p.scores[m]})
    notes = [f"seeds {', '.join(map(str, sorted(set(every_seed) - set(seeds))))} are left out: not every "
             "strategy has them on every problem"] if len(every_seed) > len(seeds) else []
    failed = sum(p.failed_runs for p in per_problem)
    if failed:
        notes.append(f"{failed} runs had no successful trial by their problem's budget; each counts as its "
                     "problem's worst regret")
    point = everything(array)
    low, high = stratified_bootstrap(array, everything, reps, seed)
    iqms = {m: (float(point[i]), float(low[i]), float(high[i])) for i, m in enumerate(methods)}
    rank = {m: (float(point[n + i]), float(low[n + i]), float(high[n + i])) for i, m in enumerate(methods)}
    shape = (n, taus)
    profile = dict(zip(methods, point[2 * n:].reshape(shape), strict=True))
    bands = zip(low[2 * n:].reshape(shape), high[2 * n:].reshape(shape), strict=True)
    interval = {m: np.vstack(band) for m, band in zip(methods, bands, strict=True)}
    strategies = {m: s for p in per_problem for m, s in p.strategies.items() if m in methods}
    return Aggregate([p.problem.name for p in per_problem], methods, seeds, iqms, rank, profile, interval, left_out,
                     strategies, notes)
