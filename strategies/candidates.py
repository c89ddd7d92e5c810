"""Candidate archs for strategies that maximise an acquisition function over a discrete space.

A discrete space has no gradient to follow, so model-based strategies score a finite set of
candidates and ask the best unseen ones. Two ways to build that set, shared here:

- :class:`CandidatePool` (GP-BO, BOSHNAS): the whole space when it is small enough to
  enumerate (encoded once and kept), else random archs plus mutations of the best observed
  archs, drawn afresh per ask;
- :func:`mutations_of_best` (BANANAS): mutations of the best observed archs only, the
  "mutation" acquisition optimisation of [BANANAS21 §4].

A space of at most :data:`ENCODED_WHOLE` archs is encoded whole once per process and its
rows looked up (:func:`encoded_space`), whether or not the pool is the whole space: the
encodings that count graph features take milliseconds per arch in Python, so encoding each
ask's fresh pool would cost seconds per ask, and a sweep's pool worker runs the cells of one
strategy and encoding in turn.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nasbench_txf.core.arch import Arch, canonical_json
from nasbench_txf.core.encoding import Encoding
from nasbench_txf.core.space import Space


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


#: spaces of at most this many archs are encoded whole (once per process) and looked up
ENCODED_WHOLE = 20_000
#: enumerated spaces' encodings kept per process (a sweep's four on level-1 FlexiBERT: ~0.7 GB)
KEPT_SPACE_ENCODINGS = 4
_space_encodings: OrderedDict[str, tuple[dict[Arch, int], np.ndarray]] = OrderedDict()


def encoded_space(encoding: Encoding, archs: list[Arch]) -> tuple[dict[Arch, int], np.ndarray]:
    """Row of each arch and the encodings of ``archs``, the whole of ``encoding.space``.

    Kept per process for the last :data:`KEPT_SPACE_ENCODINGS` encodings, keyed by the
    encoding's key (its name, version, options and space), so equal keys mean equal rows.
    """
    key = canonical_json(encoding.key())
    encoded = _space_encodings.pop(key, None)
    if encoded is None:
        encoded = ({arch: row for row, arch in enumerate(archs)}, encoding.encode(archs))
        encoded[1].setflags(write=False)
    _space_encodings[key] = encoded  # now the most recently used
    while len(_space_encodings) > KEPT_SPACE_ENCODINGS:
        _space_encodings.popitem(last=False)
    return encoded


@dataclass(frozen=True)
class ColumnStats:
    """Per-feature statistics of a candidate pool's encodings."""

    mean: np.ndarray
    std: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def of(cls, vectors: np.ndarray) -> ColumnStats:
        return cls(vectors.mean(0), vectors.std(0), vectors.min(0), vectors.max(0))


def best_archs(observed: Sequence[tuple[Arch, float]], k: int) -> list[Arch]:
    """The ``k`` archs with the highest scores (ties in order of observation)."""
    return [arch for arch, _ in sorted(observed, key=lambda o: -o[1])[:k]]


class CandidatePool:
    """The archs an acquisition function is maximised over, with their encodings."""

    def __init__(self, space: Space, encoding: Encoding, size: int, *, best: int = 10,
                 mutations: int = 20) -> None:
        self.space, self.encoding = space, encoding
        self.size, self.best, self.mutations = size, best, mutations
        cardinality = space.cardinality()
        #: every arch of the space, when it is small enough to encode whole
        self.whole = list(space.enumerate()) if cardinality <= max(size, ENCODED_WHOLE) else None
        #: the pool when it is the whole space
        self.enumerated = self.whole if cardinality <= size else None
        self._enumerated_stats: ColumnStats | None = None

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
        """Encodings of ``archs``, not to be written to; looked up when the space is encoded whole."""
        if self.whole is None:
            return self.encoding.encode(archs)
        rows, vectors = encoded_space(self.encoding, self.whole)
        if archs is self.whole:
            return vectors
        if all(arch in rows for arch in archs):
            return vectors[[rows[arch] for arch in archs]]
        return self.encoding.encode(archs)

    def stats(self, archs: list[Arch], vectors: np.ndarray) -> ColumnStats:
        """Column statistics of a drawn pool's ``vectors``, computed once for the enumerated space."""
        if archs is not self.enumerated:
            return ColumnStats.of(vectors)
        if self._enumerated_stats is None:
            self._enumerated_stats = ColumnStats.of(vectors)
        return self._enumerated_stats


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
