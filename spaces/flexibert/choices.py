"""The values each encoder layer may take: the whole of Table 2, or a narrower set.

Narrower sets arise from the crossover of App. B.3, where a child space allows at each depth
only the values its parents have there. One ``LayerChoices`` per layer position describes
both the full space and such child spaces, so counting, enumeration, sampling and
validation are written once.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from nasbench_txf.spaces.flexibert.elements import FF_DEPTHS, FF_DIMS, HEADS, HIDDEN, OP_PAIRS, Layer


@dataclass(frozen=True)
class LayerChoices:
    """Allowed values of one layer position, each tuple in Table 2's order."""

    ops: tuple[tuple[str, str | int], ...] = OP_PAIRS
    heads: tuple[int, ...] = HEADS
    hidden: tuple[int, ...] = HIDDEN
    ff_depths: tuple[int, ...] = FF_DEPTHS
    ff_dims: tuple[int, ...] = FF_DIMS

    def ff_stacks(self, heterogeneous: bool) -> list[tuple[int, ...]]:
        """Every feed-forward stack: uniform stacks, or (level 3) any dims per stack layer."""
        if heterogeneous:
            return [s for d in self.ff_depths for s in itertools.product(self.ff_dims, repeat=d)]
        return [(dim,) * d for d in self.ff_depths for dim in self.ff_dims]

    def count(self, heterogeneous: bool) -> int:
        stacks = sum(len(self.ff_dims) ** d if heterogeneous else len(self.ff_dims) for d in self.ff_depths)
        return len(self.ops) * len(self.heads) * len(self.hidden) * stacks

    def layers(self, heterogeneous: bool) -> list[Layer]:
        """Every allowed layer configuration, in a fixed order."""
        return [
            Layer(op, param, n, h, ff)
            for (op, param), n, h, ff in itertools.product(
                self.ops, self.heads, self.hidden, self.ff_stacks(heterogeneous)
            )
        ]

    def violation(self, layer: Layer) -> str | None:
        """What about ``layer`` is not allowed here (the field and the allowed values)."""
        if (layer.op, layer.param) not in self.ops:
            allowed = ", ".join(f"{o}/{p}" for o, p in self.ops)
            return f"o/p={layer.op}/{layer.param} is not allowed; allowed: {allowed}"
        for field, value, allowed in (("n", layer.heads, self.heads), ("h", layer.hidden, self.hidden)):
            if value not in allowed:
                return f"{field}={value} is not allowed; allowed: {', '.join(map(str, allowed))}"
        if len(layer.ff) not in self.ff_depths:
            return (f"f has a stack of {len(layer.ff)} feed-forward layers; allowed stack sizes: "
                    f"{', '.join(map(str, self.ff_depths))}")
        bad = [d for d in layer.ff if d not in self.ff_dims]
        if bad:
            return f"f={list(layer.ff)} has size {bad[0]}; allowed sizes: {', '.join(map(str, self.ff_dims))}"
        return None

    @classmethod
    def union(cls, layers: Iterable[Layer]) -> LayerChoices:
        """The values any of ``layers`` has, in Table 2's order (the crossover of App. B.3)."""
        layers = list(layers)
        full = cls()

        def keep(values: Iterable, order: tuple) -> tuple:
            present = set(values)
            return tuple(v for v in order if v in present)

        return cls(
            ops=keep(((x.op, x.param) for x in layers), full.ops),
            heads=keep((x.heads for x in layers), full.heads),
            hidden=keep((x.hidden for x in layers), full.hidden),
            ff_depths=keep((len(x.ff) for x in layers), full.ff_depths),
            ff_dims=keep((d for x in layers for d in x.ff), full.ff_dims),
        )
