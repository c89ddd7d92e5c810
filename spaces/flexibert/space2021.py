"""The ``flexibert-2021`` space [FLEXIBERT21 Table 1], in that paper's card format.

Cards are ``{l, a, h, f, s}`` (layers; per layer attention heads, hidden size, feed-forward
size, similarity SDP/WMA). Every layer is self-attention, so the space is the SA corner of
``flexibert`` with a wider feed-forward choice; graphs and models are built from the same
layer blocks, so results published for it import and compare directly.

Unrestricted: 24 layer configurations, 24^2 + 24^4 = 332,352 cards (§3.3). ``monotone=true``
keeps the cards the paper enumerates: heads, hidden size, feed-forward size and similarity
(SDP before WMA) all non-decreasing with depth, which gives 162 + 1,875 = 2,037 cards, the
paper's graph count.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.errors import InvalidCardError
from nasbench_txf.core.space import Decision, Space
from nasbench_txf.spaces.flexibert.build import BuildsFlexiBERTModels
from nasbench_txf.spaces.flexibert.elements import LAYERS, Layer
from nasbench_txf.spaces.flexibert.graph import block_graph

ELEMENTS: dict[str, tuple[Any, ...]] = {
    "a": (2, 4),
    "h": (128, 256),
    "f": (512, 1024, 2048),
    "s": ("sdp", "wma"),
}
FIELDS = ("l", *ELEMENTS)


@dataclass(frozen=True)
class Space2021Options:
    monotone: bool = field(
        default=False,
        metadata={"help": "only cards whose heads, hidden, feed-forward sizes and similarity never "
                          "decrease with depth (the 2,037 graphs [FLEXIBERT21] enumerates)"},
    )


class FlexiBERT2021(BuildsFlexiBERTModels, Space):
    """FlexiBERT 2021 space [FLEXIBERT21 Table 1]: cards {l, a, h, f, s}, all self-attention."""

    name = "flexibert-2021"
    Options = Space2021Options

    def validate_card(self, card: Mapping[str, Any]) -> dict[str, Any]:
        if set(card) != set(FIELDS):
            if "o" in card:
                raise InvalidCardError("flexibert-2021: this looks like a flexibert card (field o); use "
                                       "--space flexibert, or give fields l, a, h, f, s")
            raise InvalidCardError(f"flexibert-2021: a card has fields l, a, h, f, s; got {', '.join(sorted(card))}")
        depth = card["l"]
        if isinstance(depth, bool | float) or depth not in LAYERS:
            raise InvalidCardError(f"flexibert-2021: l={depth!r} is not allowed; allowed: 2, 4")
        normal: dict[str, Any] = {"l": depth}
        for name, allowed in ELEMENTS.items():
            values = card[name]
            if not isinstance(values, list) or len(values) != depth:
                raise InvalidCardError(f"flexibert-2021: {name} must be a list of l={depth} entries")
            values = [v.lower() if isinstance(v, str) else v for v in values]
            for j, v in enumerate(values):
                if isinstance(v, bool | float) or v not in allowed:
                    raise InvalidCardError(f"flexibert-2021: layer {j + 1}: {name}={v!r} is not allowed; "
                                           f"allowed: {', '.join(map(str, allowed))}")
            if self.options.monotone and any(allowed.index(x) > allowed.index(y)
                                             for x, y in itertools.pairwise(values)):
                raise InvalidCardError(f"flexibert-2021: {name}={values} decreases with depth, which "
                                       "monotone=true excludes")
            normal[name] = values
        return normal

    # -- size and enumeration ----------------------------------------------------------------
    def _sequences(self, name: str, depth: int) -> list[tuple[Any, ...]]:
        allowed = ELEMENTS[name]
        if self.options.monotone:
            return list(itertools.combinations_with_replacement(allowed, depth))
        return list(itertools.product(allowed, repeat=depth))

    def _count(self, depth: int) -> int:
        if self.options.monotone:
            return math.prod(math.comb(depth + len(v) - 1, depth) for v in ELEMENTS.values())
        return math.prod(len(v) for v in ELEMENTS.values()) ** depth

    def cardinality(self) -> int:
        return sum(self._count(d) for d in LAYERS)

    def _card(self, depth: int, values: Sequence[Sequence[Any]]) -> Arch:
        return Arch.from_card(self.name, {"l": depth, **{n: list(v) for n, v in zip(ELEMENTS, values, strict=True)}})

    def enumerate(self) -> Iterator[Arch]:
        self._require_enumerable()
        for depth in LAYERS:
            for values in itertools.product(*(self._sequences(n, depth) for n in ELEMENTS)):
                yield self._card(depth, values)

    def sample(self, rng: np.random.Generator) -> Arch:
        """Uniform over cards (elements are independent given the depth)."""
        counts = np.array([self._count(d) for d in LAYERS], dtype=float)
        depth = LAYERS[int(rng.choice(len(LAYERS), p=counts / counts.sum()))]
        values = []
        for name, allowed in ELEMENTS.items():
            if self.options.monotone:
                options = self._sequences(name, depth)
                values.append(options[int(rng.integers(len(options)))])
            else:
                values.append([allowed[int(rng.integers(len(allowed)))] for _ in range(depth)])
        return self._card(depth, values)

    # -- decision vector: per layer a, h, f, s; monotone spaces sort each element -----------
    def decisions(self) -> Sequence[Decision]:
        return [Decision("l", LAYERS)] + [
            Decision(f"layer{j + 1}.{name}", allowed) for j in range(max(LAYERS)) for name, allowed in ELEMENTS.items()
        ]

    def to_decisions(self, arch: Arch) -> tuple[int, ...]:
        card = arch.card
        vector = [LAYERS.index(card["l"])]
        for j in range(max(LAYERS)):
            vector += [allowed.index(card[n][j]) if j < card["l"] else 0 for n, allowed in ELEMENTS.items()]
        return tuple(vector)

    def from_decisions(self, index: Sequence[int]) -> Arch:
        depth = LAYERS[index[0]]
        width = len(ELEMENTS)
        values = []
        for k, allowed in enumerate(ELEMENTS.values()):
            picks = [index[1 + j * width + k] for j in range(depth)]
            values.append([allowed[i] for i in (sorted(picks) if self.options.monotone else picks)])
        return self._card(depth, values)

    # -- graph and layers ------------------------------------------------------------------
    def layers(self, arch: Arch) -> list[Layer]:
        card = arch.card
        return [Layer("SA", s.upper(), a, h, (f,))
                for a, h, f, s in zip(card["a"], card["h"], card["f"], card["s"], strict=True)]

    def graph(self, arch: Arch) -> nx.DiGraph:
        return block_graph(self.layers(arch))
