"""Drawing archs a strategy has not asked for yet."""

from __future__ import annotations

from collections.abc import Callable

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.errors import UserError
from nasbench_txf.core.space import Space

#: draws of an already-asked arch tolerated before the space counts as exhausted
MAX_REPEATS = 1000


def draw_unseen(space: Space, seen: set[Arch], draw: Callable[[], Arch]) -> Arch:
    """Call ``draw`` until it gives an arch not in ``seen``; add it to ``seen``."""
    for _ in range(MAX_REPEATS):
        arch = draw()
        if arch not in seen:
            seen.add(arch)
            return arch
    raise UserError(
        f"no unseen arch of space {space.name} found in {MAX_REPEATS} draws after "
        f"{len(seen)} distinct archs ({space.cardinality():,} in the space): lower the budget"
    )
