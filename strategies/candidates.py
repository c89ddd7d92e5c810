"""Candidate archs for strategies that maximise an acquisition function over a discrete space.

A discrete space has no gradient to follow, so model-based strategies score a finite set of
candidates and ask the best unseen ones. Two ways to build that set, shared here:

- :class:`CandidatePool` (GP-BO, BOSHNAS): the whole space when it is small enough to
  enumerate (encoded once and kept), else random archs plus mutations of the best observed
  archs, drawn afresh per ask;
- :func:`mutations_of_best` (BANANAS): mutations of the best observed archs only, the
  "mutation" acquisition optimisation of White et al. 2021 (§4).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nasbench_txf.arch import Arch
from nasbench_txf.encoding import Encoding
from nasbench_txf.space import Space


def informative_features(observed: np.ndarray) -> np.ndarray:
    """Mask of the encoding features that vary among the observed archs.

    A feature constant over the training data carries no evidence about its effect: a GP
    cannot fit its length-scale, and a network's weights on it never move from their random
    initialisation yet still shift the predictions for candidates that have it. Long sparse
    encodings (``path``: 2,556 of 4,096 features vary among 100 random level-1 FlexiBERT
    archs) also train much faster without them. When no feature varies, all are kept.
    """
    mask = np.ptp(observed, axis=0) > 0
    return mask if mask.any() else np.ones_like(mask)


def best_archs(observed: Sequence[tuple[Arch, float]], k: int) -> list[Arch]:
    """The ``k`` archs with the highest scores (ties in order of observation)."""
    return [arch for arch, _ in sorted(observed, key=lambda o: -o[1])[:k]]


class CandidatePool:
    """The archs an acquisition function is maximised over, with their encodings."""

    def __init__(self, space: Space, encoding: Encoding, size: int, *, best: int = 10,
                 mutations: int = 20) -> None:
        self.space, self.encoding = space, encoding
        self.size, self.best, self.mutations = size, best, mutations
        self.enumerated = list(space.enumerate()) if space.cardinality() <= size else None
        self._enumerated_vectors: np.ndarray | None = None

    def draw(self, observed: Sequence[tuple[Arch, float]], rng: np.random.Generator) -> list[Arch]:
        """The whole space, or ``size`` random archs plus mutations of the best observed ones."""
        if self.enumerated is not None:
            return self.enumerated
        pool = {self.space.sample(rng): None for _ in range(self.size)}
        for arch in best_archs(observed, self.best):
            for _ in range(self.mutations):
                pool[self.space.mutate(arch, rng)] = None
        return list(pool)

    def encode(self, archs: list[Arch]) -> np.ndarray:
        """Encodings of ``archs``; those of the enumerated space are computed once."""
        if self.enumerated is not None and archs is self.enumerated:
            if self._enumerated_vectors is None:
                self._enumerated_vectors = self.encoding.encode(archs)
            return self._enumerated_vectors
        return self.encoding.encode(archs)


def mutations_of_best(space: Space, observed: Sequence[tuple[Arch, float]], seen: set[Arch],
                      n: int, best: int, rng: np.random.Generator) -> list[Arch]:
    """Up to ``n`` distinct unseen archs, each one or more mutations of one of the ``best`` archs.

    Parents are taken in turn from best to worst; a child already asked or already drawn is
    mutated once more (up to 5 steps), so that a parent whose whole neighbourhood has been
    asked still yields candidates further away.
    """
    parents = best_archs(observed, best)
    out: dict[Arch, None] = {}
    for attempt in range(5 * n):
        if len(out) >= n or not parents:
            break
        child = parents[attempt % len(parents)]
        for _ in range(5):
            child = space.mutate(child, rng)
            if child not in seen and child not in out:
                out[child] = None
                break
    return list(out)
