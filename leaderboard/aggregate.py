"""A table's runs aggregated into leaderboard rows (a pandas DataFrame, one row per
strategy × encoding).

Every row is compared at the same number of queries, the table's *horizon* (the fewest any
run has), and at each fixed budget below it. Ranks and significance use the seeds the rows
share, so a row with extra seeds is not favoured.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nasbench_txf.run.variants import option_changes

from . import hypervolume
from .collect import RowKey, Run, RunTable
from .stats import (
    ALPHA,
    area_under,
    average_ranks,
    mean_ci,
    median_queries,
    queries_to_target,
    wilcoxon_worse,
)

DEFAULT_BUDGETS = (25, 50, 100)
#: target of "queries to target" without random search in the table: regret within 1% of the reference
FALLBACK_TARGET_FRACTION = 0.01


@dataclass(frozen=True)
class Settings:
    """What the leaderboard measures at: fixed query budgets and the regret target."""

    budgets: tuple[int, ...] = DEFAULT_BUDGETS
    #: regret counted as "reached", in the objective's units (``None``: see :meth:`target_for`)
    target: float | None = None
    #: rank rows by the hypervolume of what they visited (a problem with costs), not by regret
    by_hypervolume: bool = False

    def target_for(self, table: RunTable) -> float:
        """The given target; by default the regret random search reaches after the common budget
        (so the target separates strategies: "as good as random search's full budget, how much
        sooner?"), or 1% of the reference where the table has no random search or it reached 0."""
        return self.target_and_source(table)[0]

    def target_and_source(self, table: RunTable) -> tuple[float, str]:
        """:meth:`target_for` and the words that say where it came from."""
        if self.target is not None:
            return self.target, "given"
        baseline = table.baseline_regret(table.horizon)
        if baseline is not None and baseline > 0:
            return baseline, f"random search's mean regret after {table.horizon} queries"
        return FALLBACK_TARGET_FRACTION * abs(table.reference), "1% of the reference"


DEFAULT_SETTINGS = Settings()


def budgets_of(table: RunTable, settings: Settings) -> list[int]:
    """The fixed budgets below the horizon, then the horizon itself ("end")."""
    horizon = table.horizon
    return [b for b in sorted(set(settings.budgets)) if 0 < b < horizon] + [horizon]


@dataclass
class Curves:
    """Per-seed curves of one row up to the horizon (seeds × queries)."""

    seeds: list[int]
    regret: np.ndarray
    score: np.ndarray
    hypervolume: np.ndarray | None


def curves(table: RunTable, runs: list[Run], upto: int | None = None,
           scale: hypervolume.Scale | None = None) -> Curves:
    n = upto or table.horizon
    hv = None
    if scale is not None:
        hv = np.vstack([hypervolume.curve(r, table.pareto_objectives, scale)[:n] for r in runs])
    return Curves([r.seed for r in runs], np.vstack([table.regret(r)[:n] for r in runs]),
                  np.vstack([table.score(r)[:n] for r in runs]), hv)


def leaderboard(table: RunTable, settings: Settings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """One row per strategy × encoding, best first (least mean regret at the horizon)."""
    grouped = table.rows()
    budgets = budgets_of(table, settings)
    scale = hypervolume.Scale(table.runs, table.pareto_objectives) if table.pareto_objectives else None
    per_row = {row: curves(table, runs, scale=scale) for row, runs in grouped.items()}
    target = settings.target_for(table)
    records = []
    varied = len({k.simulation for k in grouped}) > 1
    for row, runs in grouped.items():
        c = per_row[row]
        record: dict[str, object] = {"row": row.name, "strategy": row.strategy, "encoding": row.encoding or "",
                                     "options": _option_changes(row, varied), "seeds": len(runs),
                                     "failed": sum(r.failed for r in runs)}
        score = mean_ci(c.score[:, -1])
        record |= {"score": score.mean, "score_ci": score.half}
        for b in budgets:
            interval = mean_ci(c.regret[:, b - 1])
            name = "end" if b == table.horizon else str(b)
            record |= {f"regret@{name}": interval.mean, f"regret@{name}_ci": interval.half}
        auc = mean_ci(np.array([area_under(r) for r in c.regret]))
        record |= {"regret_auc": auc.mean, "regret_auc_ci": auc.half}
        reached = np.array([queries_to_target(r, target) for r in c.regret])
        record |= {"queries_to_target": median_queries(reached), "reached": int(np.isfinite(reached).sum())}
        record["overhead_s"] = float(np.mean(np.concatenate([r.strategy_seconds for r in runs])))
        own_end = min(r.queries for r in runs)
        own = mean_ci(np.array([table.regret(r)[own_end - 1] for r in runs]))
        record |= {"own_end": own_end, "regret@own_end": own.mean, "regret@own_end_ci": own.half}
        if c.hypervolume is not None:
            hv = mean_ci(c.hypervolume[:, -1])
            record |= {"hypervolume": hv.mean, "hypervolume_ci": hv.half}
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    frame["avg_rank"] = _ranks(per_row, budgets)
    by_volume = settings.by_hypervolume and scale is not None
    if by_volume:
        frame = frame.sort_values(["hypervolume", "regret@end", "row"], ascending=[False, True, True], kind="stable")
    else:
        frame = frame.sort_values(["regret@end", "regret_auc", "row"], kind="stable")
    keys = list(per_row)  # the records' order, which the sorted frame's index still holds
    ordered = [per_row[keys[i]] for i in frame.index]
    frame = frame.reset_index(drop=True)
    _mark_leader(frame, [-c.hypervolume if by_volume else c.regret for c in ordered],  # type: ignore[operator]
                 [c.seeds for c in ordered])
    noise = table.seed_noise
    gap = frame["regret@end"] - frame.loc[0, "regret@end"]
    frame["gap_in_noise"] = gap / noise if noise else math.nan
    return frame


def worse_than_leader(frame: pd.DataFrame) -> int:
    """How many rows of a leaderboard ``frame`` are significantly worse than its leader."""
    return int((~frame["not_worse"]).sum())


def _ranks(per_row: dict[RowKey, Curves], budgets: list[int]) -> list[float]:
    """Mean rank over (shared seed, budget) pairs."""
    shared = sorted(set.intersection(*(set(c.seeds) for c in per_row.values())))
    if not shared:
        return [math.nan] * len(per_row)
    columns = []
    for c in per_row.values():
        rows = [c.regret[c.seeds.index(s)] for s in shared]
        columns.append(np.concatenate([[r[b - 1] for r in rows] for b in budgets]))
    return list(average_ranks(np.vstack(columns)))


def _mark_leader(frame: pd.DataFrame, losses: list[np.ndarray], seeds: list[list[int]]) -> None:
    """p-values against the first row, and the mark for rows not significantly worse: each
    row's ``losses`` (seeds × queries; less is better) compared at the end, paired by seed."""
    ps = []
    for mine_all, mine_seeds in zip(losses, seeds, strict=True):
        shared = sorted(set(mine_seeds) & set(seeds[0]))
        mine = np.array([mine_all[mine_seeds.index(s), -1] for s in shared])
        theirs = np.array([losses[0][seeds[0].index(s), -1] for s in shared])
        ps.append(wilcoxon_worse(mine, theirs))
    frame["wilcoxon_p"] = ps
    frame["not_worse"] = [i == 0 or (not math.isnan(p) and p >= ALPHA) for i, p in enumerate(ps)]
    frame.loc[0, "wilcoxon_p"] = math.nan


def _option_changes(row: RowKey, show_simulation: bool) -> str:
    """The strategy's options that differ from its defaults, and the simulation where the
    table's rows do not share one."""
    parts = option_changes(row.strategy, json.loads(row.strategy_options))
    if show_simulation and row.simulation:
        parts.append(f"simulation={row.simulation}")
    return ", ".join(parts)
