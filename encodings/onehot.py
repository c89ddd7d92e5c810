"""The "naive" feature-based encoding: one-hot of every design decision."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.decisions import DecisionOneHot
from nasbench_txf.core.encoding import Encoding


class OneHot(Encoding):
    """One-hot of each design decision of the card (the naive encoding of [FLEXIBERT23 §4.3]).

    Works from the space's fixed-length decision vector, which for layered spaces is one
    block of decisions per layer padded to the maximum depth (unused layers stay at their
    first choice), so the vector length is the same for every card of the space.
    """

    name = "onehot"

    def setup(self) -> None:
        self._features = DecisionOneHot(self.space)

    @property
    def dim(self) -> int:
        return self._features.dim

    def encode(self, archs: Sequence[Arch]) -> np.ndarray:
        return self._features.encode(archs)
