"""Where each architecture parameter of a composed network sits [COMPOSE20 §3].

A base encoder of ``layers`` layers, ``heads`` heads of ``head_dim`` and a feed-forward width
``intermediate`` is decomposed into components, each with a parameter ``w``:

- ``head``: one single-head attention per head (selection, §3.1 "Multi-Head Attention");
- ``qk``: each head's query-key similarity in ``parts.qk`` parts of ``head_dim / parts.qk``
  columns (selection, §3.1 "Query-Key Similarity");
- ``value``: each head's attention value in ``parts.value`` parts (selection, §3.1
  "Single-Head Attention");
- ``head_link``: after every head but a layer's last, horizontal (0: the next head is in the
  same layer) or vertical (1: the layer ends here) (connection, §3.2.1);
- ``ffn``: the feed-forward network in ``parts.ffn`` parts of ``intermediate / parts.ffn``
  units (selection, §3.1 "Feedforward Network");
- ``ffn_link``: the same connection after every feed-forward part but the last;
- ``ln_mean``: the mean of each of the layer's two layer norms, ``μ' = w·μ`` (selection, §3.1
  "Layer Normalization").

The last component of a group has no connection parameter: whether it is connected
horizontally or vertically, Ω sums the same three terms. The flat vector of all parameters
(layer by layer, kinds in the order of :data:`KINDS`) is the space's decision vector.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from nasbench_txf.core.errors import UserError
from nasbench_txf.spaces.eftnas.config import Shape

#: the kinds of architecture parameter, in their order within a layer
KINDS = ("head", "qk", "value", "head_link", "ffn", "ffn_link", "ln_mean")
#: the kinds that are connection parameters (0 horizontal, 1 vertical); the others select
CONNECTIONS = frozenset({"head_link", "ffn_link"})


@dataclass(frozen=True)
class Parts:
    """How many equal parts each split component has (m of [COMPOSE20 §3.1])."""

    ffn: int = 2
    qk: int = 2
    value: int = 2

    def check(self, shape: Shape) -> None:
        """A :class:`UserError` when a part count does not divide the dimension it splits."""
        for name, parts, size, what in (("ffn", self.ffn, shape.intermediate, "feed-forward width"),
                                        ("qk", self.qk, shape.head_dim, "head dimension"),
                                        ("value", self.value, shape.head_dim, "head dimension")):
            if parts < 1 or size % parts:
                raise UserError(f"composition: parts_{name}={parts} does not divide the base's {what} {size}; "
                                f"choose a divisor of {size}")


@dataclass(frozen=True)
class Layout:
    """The positions of every architecture parameter of a base decomposed into ``parts``."""

    shape: Shape
    parts: Parts

    @cached_property
    def counts(self) -> dict[str, int]:
        """Parameters of each kind in one layer."""
        a, p = self.shape.heads, self.parts
        return {"head": a, "qk": a * p.qk, "value": a * p.value, "head_link": a - 1,
                "ffn": p.ffn, "ffn_link": p.ffn - 1, "ln_mean": 2}

    @property
    def per_layer(self) -> int:
        return sum(self.counts.values())

    @property
    def size(self) -> int:
        return self.shape.layers * self.per_layer

    def span(self, layer: int, kind: str) -> slice:
        """Where ``kind``'s parameters of ``layer`` (from 0) sit in the flat vector."""
        start = layer * self.per_layer
        for name in KINDS:
            if name == kind:
                return slice(start, start + self.counts[name])
            start += self.counts[name]
        raise KeyError(kind)

    @cached_property
    def kinds(self) -> np.ndarray:
        """The kind of every position of the flat vector."""
        return np.array([kind for _ in range(self.shape.layers) for kind in KINDS for _ in range(self.counts[kind])])

    @cached_property
    def connections(self) -> np.ndarray:
        """True at the connection parameters."""
        return np.isin(self.kinds, list(CONNECTIONS))

    def base(self) -> np.ndarray:
        """The base network's parameters: every component selected, every connection horizontal."""
        return (~self.connections).astype(np.float64)

    def names(self) -> list[str]:
        """A readable name per position, e.g. ``L1.head3.qk2`` or ``L2.ffn_link1``."""
        out: list[str] = []
        p = self.parts
        for layer in range(1, self.shape.layers + 1):
            for kind in KINDS:
                for i in range(self.counts[kind]):
                    if kind in ("qk", "value"):
                        per = p.qk if kind == "qk" else p.value
                        out.append(f"L{layer}.head{i // per + 1}.{kind}{i % per + 1}")
                    else:
                        out.append(f"L{layer}.{kind}{i + 1}")
        return out
