"""The ablation views: the strategy × encoding grid [FLEXIBERT23 Fig. 3] and a strategy family
with its ablations (the BOSHNAS ablation of [FLEXIBERT23 Fig. 4(b)])."""

from __future__ import annotations

import dataclasses

import pandas as pd

from nasbench_txf.core.errors import UserError

from .collect import RunTable
from .stats import Interval

#: the family the ablation view shows by default
DEFAULT_FAMILY = "boshnas"


@dataclasses.dataclass(frozen=True)
class Grid:
    """Strategies (rows) × encodings (columns) of one measure: means and 90% half-widths."""

    measure: str
    mean: pd.DataFrame
    half: pd.DataFrame

    def text(self) -> pd.DataFrame:
        cells = {enc or "none": [Interval(m, h, 0).text() for m, h in zip(self.mean[enc], self.half[enc], strict=True)]
                 for enc in self.mean.columns}
        return pd.DataFrame(cells, index=self.mean.index).rename_axis("strategy").reset_index()


def grid(table: RunTable, frame: pd.DataFrame, measure: str = "score") -> Grid:
    """The grid of ``measure`` (``score``: best observed; ``regret``: regret at the horizon)
    from the table's leaderboard ``frame`` (:func:`~.aggregate.leaderboard`)."""
    column = {"score": "score", "regret": "regret@end"}.get(measure)
    if column is None:
        raise UserError(f"grid measure {measure!r}: choose score or regret")
    if frame["options"].astype(bool).any():
        raise UserError("the grid needs one row per strategy and encoding; this table has strategies run "
                        "with non-default options — filter them out or use leaderboard show")
    mean = frame.pivot(index="strategy", columns="encoding", values=column)
    half = frame.pivot(index="strategy", columns="encoding", values=f"{column}_ci")
    order = frame.groupby("strategy")[column].mean()
    order = order.sort_values(ascending=not (measure == "score" and table.maximize)).index
    return Grid(measure, mean.loc[order], half.loc[order])


def family(table: RunTable, name: str = DEFAULT_FAMILY) -> RunTable:
    """The runs of strategy ``name`` and its ablations (strategies named ``name-…``)."""
    runs = [r for r in table.runs if r.row.strategy == name or r.row.strategy.startswith(f"{name}-")]
    members = sorted({r.row.strategy for r in runs})
    if len(members) < 2:
        found = ", ".join(members) or "none"
        raise UserError(f"{table.key.title}: the ablation of {name} needs {name} and at least one {name}-… "
                        f"strategy in the store (found: {found})")
    return dataclasses.replace(table, runs=runs)
