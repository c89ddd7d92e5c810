"""The "naive" feature-based encoding: one-hot of every design decision."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nasbench_txf.arch import Arch
from nasbench_txf.encoding import Encoding


class OneHot(Encoding):
    """One-hot of each design decision of the card (seed 000 §4.3's naive encoding).

    Works from the space's fixed-length decision vector, which for layered spaces is one
    block of decisions per layer padded to the maximum depth (unused layers stay at their
    first choice), so the vector length is the same for every card of the space.
    """

    name = "onehot"

    def setup(self) -> None:
        sizes = [len(d.choices) for d in self.space.decisions()]
        self._offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self._dim = int(sum(sizes))

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, archs: Sequence[Arch]) -> np.ndarray:
        out = np.zeros((len(archs), self._dim))
        if archs:
            index = np.array([self.space.to_decisions(a) for a in archs], dtype=np.int64)
            rows = np.repeat(np.arange(len(archs)), index.shape[1])
            out[rows, (index + self._offsets).ravel()] = 1.0
        return out
