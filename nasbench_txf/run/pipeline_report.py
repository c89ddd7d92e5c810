"""What a pipeline found, level by level, and what knowledge transfer saved [FLEXIBERT23 App. B.2].

The report is computed from the run store alone (its ``pipeline`` entry and the levels'
trials), so ``nasbench-txf pipeline``, a resumed pipeline and the leaderboard site show the
same numbers. Knowledge transfer is measured on the trials themselves: each trial that
started from a trained neighbour's weights is paired with the from-scratch trial of the
pipeline nearest to it in parameters, and the report gives their training seconds and
score difference (the paper reports 38% less training time, its Fig. 7). The pairs are
observational, not a controlled experiment: the transferred trials are the ones that had a
close trained neighbour.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from nasbench_txf.core.arch import canonical_json
from nasbench_txf.run.pipeline import open_space, pipeline_record
from nasbench_txf.run.store import Store, TrialRow
from nasbench_txf.run.trials import result_of


@dataclass(frozen=True)
class LevelReport:
    level: int
    space: str
    cardinality: int
    trials: int
    failed: int
    best_value: float | None
    best_card: dict[str, Any] | None
    #: simulated seconds the level's search took (its trials' costs and the strategy's time)
    simulated_seconds: float
    #: trials of archs a coarser level measured already (a level searches its space afresh)
    repeats: int = 0
    #: the archs chosen to span the next level (empty for the last level)
    parents: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class TransferReport:
    trials: int
    transferred: int
    share: float
    #: transferred trials paired with a from-scratch trial
    pairs: int
    seconds_transferred: float | None
    seconds_scratch: float | None
    #: 1 - (training seconds of the transferred trials) / (those of their from-scratch pairs)
    time_saved: float | None
    #: mean objective of a transferred trial minus its pair's
    score_difference: float | None


@dataclass(frozen=True)
class PipelineReport:
    store: str
    objective: str
    maximize: bool
    levels: list[LevelReport]
    transfer: TransferReport
    #: each successful trial in pipeline order: level, value, best so far
    curve: list[dict[str, Any]]

    @property
    def best(self) -> LevelReport | None:
        found = [lv for lv in self.levels if lv.best_value is not None]
        sign = 1.0 if self.maximize else -1.0
        return max(found, key=lambda lv: sign * float(lv.best_value), default=None)  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "best_level": self.best.level if self.best else None}


def _train_seconds(row: TrialRow) -> float:
    return float(row.info.get("train_seconds", row.cost_seconds))


def transfer_report(rows: Sequence[TrialRow], objective: str) -> TransferReport:
    """Transferred trials against their nearest-in-size from-scratch trials; an evaluation
    repeated with the same arch and seed (a live benchmark answers it from its checkpoint)
    counts once."""
    unique = {(r.arch_id, r.eval_seed): r for r in reversed(rows)}  # the first of each
    ok = [r for r in unique.values() if result_of(r).value(objective) is not None]
    moved = [r for r in ok if r.info.get("transferred_from")]
    scratch = [r for r in ok if not r.info.get("transferred_from")]

    def size(row: TrialRow) -> float:
        return math.log(max(float(row.metrics.get("params", 1.0)), 1.0))

    pairs = [(r, min(scratch, key=lambda s: (abs(size(s) - size(r)), s.arch_id))) for r in moved] if scratch else []
    if not pairs:
        return TransferReport(len(ok), len(moved), len(moved) / len(ok) if ok else 0.0, 0, None, None, None, None)
    mine = sum(_train_seconds(r) for r, _ in pairs)
    theirs = sum(_train_seconds(s) for _, s in pairs)
    return TransferReport(
        trials=len(ok), transferred=len(moved), share=len(moved) / len(ok), pairs=len(pairs),
        seconds_transferred=mine / len(pairs), seconds_scratch=theirs / len(pairs),
        time_saved=1.0 - mine / theirs if theirs > 0 else None,
        score_difference=sum(float(r.metrics[objective]) - float(s.metrics[objective]) for r, s in pairs) / len(pairs),
    )


def pipeline_report(store: Store) -> PipelineReport:
    """The report of the pipeline in ``store``, over the levels it has run so far."""
    record = pipeline_record(store)
    space_name = record["cell"]["space"]["name"]
    levels, curve, every = [], [], []
    measured: set[str] = set()
    objective, maximize = "", True
    best: float | None = None
    for entry in record["levels"]:
        cell = store.cell(entry["cell_id"])
        if cell is None:
            continue
        objective, maximize = cell.objective, cell.maximize
        rows = store.trials(entry["cell_id"])
        every += rows
        sign = 1.0 if maximize else -1.0
        level_best: tuple[float, dict[str, Any]] | None = None
        for row in rows:
            value = result_of(row).value(objective)
            if value is None:
                continue
            if level_best is None or sign * value > sign * level_best[0]:
                level_best = (value, row.card)
            best = value if best is None or sign * value > sign * best else best
            curve.append({"level": entry["level"], "trial": row.trial, "value": value, "best": best})
        options = entry["space_options"]
        space = open_space(space_name, options)
        shown = {k: v for k, v in options.items() if k != "parents"}
        if options.get("parents"):
            shown["parents"] = f"{len(json.loads(options['parents']))} cards"
        levels.append(LevelReport(
            level=entry["level"], space=f"{space_name} {canonical_json(shown)}", cardinality=space.cardinality(),
            trials=len(rows), failed=sum(r.status != "ok" for r in rows),
            best_value=level_best[0] if level_best else None, best_card=level_best[1] if level_best else None,
            simulated_seconds=max((r.sim_end or 0.0 for r in rows), default=0.0),
            parents=list(entry["parents"]), repeats=sum(r.arch_id in measured for r in rows),
        ))
        measured |= {r.arch_id for r in rows}
    return PipelineReport(str(store.path), objective, maximize, levels, transfer_report(every, objective), curve)


def _number(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def levels_frame(report: PipelineReport) -> pd.DataFrame:
    """One row per level: its space, size, trials, best value and simulated seconds."""
    return pd.DataFrame([{"level": lv.level, "space": lv.space, "cards": f"{lv.cardinality:,}", "trials": lv.trials,
                          "failed": lv.failed, "repeats": lv.repeats,
                          f"best {report.objective}": _number(lv.best_value),
                          "simulated s": f"{lv.simulated_seconds:,.0f}"} for lv in report.levels])


def transfer_lines(report: PipelineReport) -> list[str]:
    """What knowledge transfer did, in sentences."""
    t = report.transfer
    lines = [f"{t.transferred} of {t.trials} successful trials ({t.share:.0%}) started from a trained "
             "neighbour's weights."]
    if t.pairs:
        saved = _number(None if t.time_saved is None else 100 * t.time_saved, 1)
        lines.append(f"Paired with the from-scratch trial nearest in parameters ({t.pairs} pairs), they trained "
                     f"{_number(t.seconds_transferred, 1)} s against {_number(t.seconds_scratch, 1)} s on average "
                     f"(training time saved: {saved}%), and their {report.objective} differs by "
                     f"{_number(t.score_difference)} on average (transferred − scratch).")
    return lines


def to_markdown(report: PipelineReport, heading: str = "#") -> str:
    """The report as Markdown: levels, their best cards, the parents, transfer."""
    sub = heading + "#"
    lines = [f"{heading} Pipeline: {report.objective} ({'higher' if report.maximize else 'lower'} is better)", "",
             levels_frame(report).to_markdown(index=False), ""]
    for lv in report.levels:
        best = f"Best card ({_number(lv.best_value)}): `{canonical_json(lv.best_card)}`"
        lines += [f"{sub} Level {lv.level}", "", best, ""]
        if lv.parents:
            lines += ["Parents of the next level:", ""]
            lines += [f"- {p['role']} ({_number(p['value'])}): `{canonical_json(p['card'])}`" for p in lv.parents]
            lines.append("")
    lines += [f"{sub} Knowledge transfer", "", *transfer_lines(report)]
    return "\n".join(lines) + "\n"
