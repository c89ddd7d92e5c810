"""One-hot features of a space's decision vector: the features every space has.

The ``onehot`` encoding plugin and the surrogate's models both use them; they live in the
core so that a subsystem can use them without importing a plugin.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.space import Space


class DecisionOneHot:
    """One-hot of each decision of ``space``'s fixed-length decision vector.

    For layered spaces the vector holds one block of decisions per layer, padded to the
    maximum depth (unused layers stay at their first choice), so every card of the space
    gets a vector of the same length.
    """

    def __init__(self, space: Space) -> None:
        self.space = space
        sizes = [len(d.choices) for d in space.decisions()]
        self._offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.dim = int(sum(sizes))

    def encode(self, archs: Sequence[Arch]) -> np.ndarray:
        out = np.zeros((len(archs), self.dim))
        if archs:
            index = np.array([self.space.to_decisions(a) for a in archs], dtype=np.int64)
            rows = np.repeat(np.arange(len(archs)), index.shape[1])
            out[rows, (index + self._offsets).ravel()] = 1.0
        return out
