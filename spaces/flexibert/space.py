"""The ``flexibert`` space: cards ``{l, o, h, n, f, p}`` at three levels of hierarchy.

[FLEXIBERT23 §3.2.2]: level 1 ties each stack of two layers to one configuration (s=2), level 2
frees every layer (s=1), level 3 also lets the layers of a feed-forward stack differ (s=1*).
Counts follow from Table 2: 96 layer configurations at levels 1-2 (6 operation/parameter
pairs x 2 head counts x 2 hidden sizes x 4 feed-forward stacks), 240 at level 3 (10 stacks),
so level 1 has 96 + 96^2 = 9,312 cards (the paper's graph count) and level 3
240^2 + 240^4 = 3,317,817,600 (the paper's ~3.32 billion).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import networkx as nx
import numpy as np

from nasbench_txf.core.arch import Arch, canonical_json
from nasbench_txf.core.errors import InvalidCardError, OptionError
from nasbench_txf.core.space import Decision, Space
from nasbench_txf.spaces.flexibert.build import BuildsFlexiBERTModels
from nasbench_txf.spaces.flexibert.choices import LayerChoices
from nasbench_txf.spaces.flexibert.elements import LAYERS, OPERATIONS, Layer, card_of, layers_of
from nasbench_txf.spaces.flexibert.graph import block_graph
from nasbench_txf.spaces.flexibert.presets import PRESETS
from nasbench_txf.spaces.flexibert.transfer import rank_neighbours

FIELDS = ("l", "o", "h", "n", "f", "p")


@dataclass(frozen=True)
class FlexiBERTOptions:
    level: Literal[1, 2, 3] = field(
        default=1,
        metadata={"help": "hierarchy level: 1 ties stacks of 2 layers (s=2), 2 frees each layer "
                          "(s=1), 3 also allows heterogeneous feed-forward stacks (s=1*)"},
    )
    parents: str = field(
        default="",
        metadata={"help": "the child space of App. B.3: a JSON list of the previous level's cards "
                          "that span this level; empty = the whole level"},
    )


class FlexiBERT(BuildsFlexiBERTModels, Space):
    """FlexiBERT: heterogeneous, flexible transformer encoders [FLEXIBERT23 Table 2]."""

    name = "flexibert"
    Options = FlexiBERTOptions

    def __init__(self, options: Any = None, *, depths: Sequence[int] = LAYERS,
                 layer_choices: Sequence[LayerChoices] | None = None) -> None:
        super().__init__(options)
        self.level: int = int(self.options.level)
        if self.options.parents:
            if layer_choices is not None:
                raise ValueError("give the parents option or layer_choices, not both")
            depths, layer_choices = self._parents_span(self.options.parents)
        self.tie = 2 if self.level == 1 else 1
        self.heterogeneous = self.level == 3
        self.restricted = layer_choices is not None
        self.depths = tuple(depths)
        self.layer_choices = tuple(layer_choices or [LayerChoices()] * max(depths))
        self._unit_layers = [c.layers(self.heterogeneous) for c in self.layer_choices[:: self.tie]]
        self._depth_counts = [math.prod(len(u) for u in self._unit_layers[: self._units(d)]) for d in self.depths]

    def key(self) -> dict[str, Any]:
        """Name, options and, for a restricted space, its restriction; a whole level's key has
        no ``parents`` entry, so that stores and tables of a whole level match it."""
        key = super().key()
        if not self.options.parents:
            del key["options"]["parents"]
        if self.restricted:
            key["restriction"] = {"depths": list(self.depths),
                                  "layers": [repr(c) for c in self.layer_choices]}
        return key

    def models_key(self) -> dict[str, Any]:
        """Level 1's key: every level and child space builds a card's model as level 1 does."""
        return FlexiBERT(self.make_options({"level": 1})).key()

    # -- cards ------------------------------------------------------------------------------
    def presets(self) -> Mapping[str, Mapping[str, Any]]:
        return PRESETS

    def validate_card(self, card: Mapping[str, Any]) -> dict[str, Any]:
        fields = set(card)
        if fields != set(FIELDS):
            if {"a", "s"} & fields and "o" not in fields:
                raise InvalidCardError(
                    "flexibert: this looks like a flexibert-2021 card (fields a, s); use "
                    "--space flexibert-2021, or give fields l, o, h, n, f, p")
            missing, extra = sorted(set(FIELDS) - fields), sorted(fields - set(FIELDS))
            raise InvalidCardError(
                "flexibert: a card has fields l, o, h, n, f, p"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(extra)}" if extra else ""))
        depth = card["l"]
        if isinstance(depth, bool) or not isinstance(depth, int) or depth not in self.depths:
            raise InvalidCardError(f"flexibert: l={depth!r} is not allowed; allowed: "
                                   f"{', '.join(map(str, self.depths))}")
        for name in FIELDS[1:]:
            value = card[name]
            if not isinstance(value, list) or len(value) != depth:
                size = len(value) if isinstance(value, list) else "not a list"
                raise InvalidCardError(f"flexibert: {name} must be a list of l={depth} entries, got {size}")
        layers = [self._layer(card, j) for j in range(depth)]
        for j, layer in enumerate(layers):
            if problem := self.layer_choices[j].violation(layer):
                raise InvalidCardError(f"flexibert: layer {j + 1}: {problem}")
            if not self.heterogeneous and len(set(layer.ff)) > 1:
                raise InvalidCardError(
                    f"flexibert: layer {j + 1}: f={list(layer.ff)} is a heterogeneous feed-forward "
                    f"stack, which only level 3 allows (this is level {self.level})")
        if self.tie == 2:
            for j in range(0, depth, 2):
                if layers[j] != layers[j + 1]:
                    diff = [n for n, a, b in zip(FIELDS[1:], _fields(layers[j]), _fields(layers[j + 1]),
                                                 strict=True) if a != b]
                    raise InvalidCardError(
                        f"flexibert: level 1 ties layers {j + 1} and {j + 2} (s=2) but they differ in "
                        f"{', '.join(diff)}; use level=2 for independent layers")
        return card_of(layers)

    @staticmethod
    def _layer(card: Mapping[str, Any], j: int) -> Layer:
        op = card["o"][j]
        if not isinstance(op, str) or op.upper() not in OPERATIONS:
            raise InvalidCardError(f"flexibert: layer {j + 1}: o={op!r} is not allowed; allowed: SA, LT, DSC")
        op = op.upper()
        param = card["p"][j]
        param = param.upper() if isinstance(param, str) else param
        if isinstance(param, bool | float | list | dict) or param not in OPERATIONS[op]:
            allowed = ", ".join(map(str, OPERATIONS[op]))
            raise InvalidCardError(f"flexibert: layer {j + 1}: p={param!r} is not a parameter of {op}; "
                                   f"allowed: {allowed}")
        f = card["f"][j]
        if not isinstance(f, list) or not f or not all(isinstance(d, int) and not isinstance(d, bool) for d in f):
            raise InvalidCardError(f"flexibert: layer {j + 1}: f must be a list of feed-forward sizes, got {f!r}")
        n, h = card["n"][j], card["h"][j]
        for name, value in (("n", n), ("h", h)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidCardError(f"flexibert: layer {j + 1}: {name} must be an integer, got {value!r}")
        return Layer(op, param, n, h, tuple(f))

    def layers(self, arch: Arch) -> list[Layer]:
        return layers_of(arch.card)

    # -- size and enumeration ----------------------------------------------------------------
    def _units(self, depth: int) -> int:
        return depth // self.tie

    def cardinality(self) -> int:
        return sum(self._depth_counts)

    def _card(self, units: Sequence[Layer]) -> Arch:
        layers = [u for u in units for _ in range(self.tie)]
        return Arch.from_card(self.name, card_of(layers))

    def enumerate(self) -> Iterator[Arch]:
        self._require_enumerable()
        for depth in self.depths:
            for units in itertools.product(*self._unit_layers[: self._units(depth)]):
                yield self._card(units)

    def sample(self, rng: np.random.Generator) -> Arch:
        """Uniform over cards: a depth in proportion to its count, then each unit uniformly."""
        counts = np.array(self._depth_counts, dtype=float)
        depth = self.depths[int(rng.choice(len(self.depths), p=counts / counts.sum()))]
        units = [u[int(rng.integers(len(u)))] for u in self._unit_layers[: self._units(depth)]]
        return self._card(units)

    # -- decision vector -------------------------------------------------------------------
    def _slots(self) -> int:
        return max(max(c.ff_depths) for c in self.layer_choices) if self.heterogeneous else 1

    def decisions(self) -> Sequence[Decision]:
        out = [Decision("l", self.depths)]
        for u, c in enumerate(self.layer_choices[:: self.tie]):
            name = f"stack{u + 1}" if self.tie == 2 else f"layer{u + 1}"
            out += [
                Decision(f"{name}.op", tuple(f"{o}/{p}" for o, p in c.ops)),
                Decision(f"{name}.n", c.heads),
                Decision(f"{name}.h", c.hidden),
                Decision(f"{name}.ff_depth", c.ff_depths),
            ]
            out += [Decision(f"{name}.f{i + 1}", c.ff_dims) for i in range(self._slots())]
        return out

    def to_decisions(self, arch: Arch) -> tuple[int, ...]:
        layers = self.layers(arch)
        vector = [self.depths.index(len(layers))]
        for u, c in enumerate(self.layer_choices[:: self.tie]):
            if u * self.tie < len(layers):
                x = layers[u * self.tie]
                dims = [c.ff_dims.index(d) for d in x.ff[: self._slots()]]
                vector += [c.ops.index((x.op, x.param)), c.heads.index(x.heads), c.hidden.index(x.hidden),
                           c.ff_depths.index(len(x.ff)), *dims, *[0] * (self._slots() - len(dims))]
            else:
                vector += [0] * (4 + self._slots())
        return tuple(vector)

    def from_decisions(self, index: Sequence[int]) -> Arch:
        depth = self.depths[index[0]]
        width = 4 + self._slots()
        units = []
        for u, c in enumerate(self.layer_choices[:: self.tie][: self._units(depth)]):
            op, n, h, d, *dims = index[1 + u * width: 1 + (u + 1) * width]
            stack_depth = c.ff_depths[d]
            if self.heterogeneous:
                ff = tuple(c.ff_dims[i] for i in dims[:stack_depth])
            else:
                ff = (c.ff_dims[dims[0]],) * stack_depth
            o, p = c.ops[op]
            units.append(Layer(o, p, c.heads[n], c.hidden[h], ff))
        return self._card(units)

    # -- hierarchy ---------------------------------------------------------------------------
    def _span(self, parents: Sequence[Arch]) -> tuple[tuple[int, ...], list[LayerChoices]]:
        """Depths and per-layer choices that take, at each depth, the values ``parents`` have there."""
        parent_layers = [self.layers(self.check(p)) for p in parents]
        depths = tuple(sorted({len(x) for x in parent_layers}))
        return depths, [LayerChoices.union(x[j] for x in parent_layers if len(x) > j) for j in range(max(depths))]

    def _parents_span(self, given: str) -> tuple[tuple[int, ...], list[LayerChoices]]:
        """The span of the ``parents`` option: cards of the level above this one."""
        if self.level == 1:
            raise OptionError("flexibert: parents span a child space of level 2 or 3; level 1 has no parents")
        try:
            cards = json.loads(given)
        except json.JSONDecodeError as exc:
            raise OptionError(f"flexibert: parents must be a JSON list of cards ({exc})") from None
        if not isinstance(cards, list) or not cards:
            raise OptionError("flexibert: parents must be a non-empty JSON list of cards")
        coarse = FlexiBERT(self.make_options({"level": self.level - 1}))
        return coarse._span([coarse.arch(card) for card in cards])

    def child_options(self, parents: Sequence[Arch]) -> dict[str, Any]:
        """The options of the finer-grained space of App. B.3 / Fig. 8 spanned by ``parents``.

        The child is one level finer (s=2 → s=1 → s=1*). At each depth, each design element
        may take any value one of the parents has at that depth (the product of the parents'
        design choices); the child's layers choose independently among them. All parents span
        one child space, which holds every pairwise crossover of the paper.
        """
        if self.level == 3:
            raise InvalidCardError("flexibert: level 3 is the finest level; it has no child space")
        self._span(parents)  # every parent is a member of this space
        cards = sorted({p.canonical: p.card for p in parents}.items())  # a set: order and repeats do not matter
        return {"level": self.level + 1, "parents": canonical_json([card for _, card in cards])}

    def child_space(self, parents: Sequence[Arch]) -> FlexiBERT:
        """The child space of :meth:`child_options`, a space of its own (cardinality, sampling,
        graph, decision vector) that the registry reopens from its options."""
        return FlexiBERT(self.make_options(self.child_options(parents)))

    def closest(self, query: Arch, candidates: Sequence[Arch],
                distance: Callable[[Arch, Arch], float] | None = None) -> list[Arch]:
        """``candidates`` nearest first: by biased overlap with ``query``, then by ``distance``
        (an embedding's) [FLEXIBERT23 §3.3.3]."""
        return [n.arch for n in rank_neighbours(query, candidates, self.layers, distance)]

    def neighbour_arch(self, card: Mapping[str, Any]) -> Arch:
        """A trained model's card as a ``flexibert`` arch, also one outside this level or child
        space (level 3 holds every card of the coarser levels), so that a finer level's archs
        start from the models a coarser level trained."""
        return FlexiBERT(self.make_options({"level": 3})).arch(card)

    def crossover(self, first: Arch, second: Arch, rng: np.random.Generator) -> Arch:
        """A random child of two parents at this level (App. B.3's product of their choices)."""
        depths, choices = self._span([first, second])
        return self.arch(FlexiBERT(self.make_options({"level": self.level}), depths=depths,
                                   layer_choices=choices).sample(rng).card)

    # -- graph -------------------------------------------------------------------------------
    def graph(self, arch: Arch) -> nx.DiGraph:
        return block_graph(self.layers(arch))


def _fields(layer: Layer) -> tuple[Any, ...]:
    return (layer.op, layer.hidden, layer.heads, list(layer.ff), layer.param)
