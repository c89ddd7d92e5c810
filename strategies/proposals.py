"""Asking an outside optimiser (Optuna, NNI) for archs without asking one arch twice.

An adapter's optimiser proposes decision vectors; the decision mapping is many-to-one and
optimisers repeat themselves, so a proposal may be an arch already asked. :class:`Proposals`
keeps what was asked, what has a result and which of the optimiser's handles (an Optuna
trial, an NNI parameter id, an NNI model) wait for each arch, so that a repeat is answered
from the stored result at once (or when the result arrives) and the optimiser is asked again.
When it proposes the same vector twice within one ask (it is stuck: a converged CMA-ES, a GP
whose acquisition peaks at the incumbent), after :data:`MAX_REPEATS` proposals of known
archs, or when it has nothing to propose, the ask is a random unseen arch instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import numpy as np

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.result import Result
from nasbench_txf.core.space import Space
from nasbench_txf.strategies.unseen import draw_unseen

#: proposals of already-asked archs tolerated in one ask before it is a random unseen arch
MAX_REPEATS = 20

Handle = TypeVar("Handle")


class Proposals(Generic[Handle]):
    """The archs asked through an optimiser's handles, their results, and who waits for them."""

    def __init__(self, space: Space, rng: np.random.Generator) -> None:
        self.space = space
        self.rng = rng
        #: every arch asked; those with a result; the handles waiting for an arch's result
        self.seen: set[Arch] = set()
        self.known: dict[Arch, Result] = {}
        self.waiting: dict[Arch, list[Handle]] = {}

    def ask(self, propose: Callable[[], tuple[tuple[int, ...], Handle] | None],
            answer: Callable[[Handle, Result], None]) -> tuple[Arch, Handle | None]:
        """The next unseen arch and the handle it came from (``None`` for a random arch).

        ``propose`` gives the optimiser's next (decision vector, handle), or ``None`` when it
        has nothing to give now; ``answer`` tells a handle the stored result of its arch.
        """
        proposed: set[tuple[int, ...]] = set()
        for _ in range(MAX_REPEATS):
            proposal = propose()
            if proposal is None:
                break
            vector, handle = proposal
            arch = self.space.from_decisions(vector)
            if arch not in self.seen:
                self.seen.add(arch)
                self.waiting[arch] = [handle]
                return arch, handle
            if arch in self.known:  # asked before: answered from its result, and the optimiser asked again
                answer(handle, self.known[arch])
            else:  # still being evaluated (a random arch has no handle yet): answered when its result arrives
                self.waiting.setdefault(arch, []).append(handle)
            if vector in proposed:  # the same vector again, after its answer: the optimiser is stuck
                break
            proposed.add(vector)
        return draw_unseen(self.space, self.seen, lambda: self.space.sample(self.rng)), None

    def wait(self, arch: Arch, handle: Handle) -> None:
        """``handle`` is answered when ``arch``'s result arrives (a random arch given to the optimiser)."""
        self.waiting.setdefault(arch, []).append(handle)

    def record(self, arch: Arch, result: Result) -> list[Handle] | None:
        """Store ``arch``'s result; the handles that waited for it (``None``: none proposed it)."""
        self.seen.add(arch)
        self.known[arch] = result
        return self.waiting.pop(arch, None)
