"""The archs of a table as a space: what strategies search with ``--benchmark tabular``.

A published table covers a sample of its space. Searching the whole space would ask for
archs the table cannot answer, so the table's archs act as an enumerable subspace: sampling
and enumeration range over them, a neighbour or crossover child is one of them, and a card
outside the table is refused like an invalid card. The decision vector, block graphs and
models are the full space's, so every encoding and strategy works unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import networkx as nx
import numpy as np

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.errors import InvalidCardError
from nasbench_txf.core.space import Decision, Space


class TableSpace(Space):
    """``base`` restricted to ``archs`` (in the table's order)."""

    def __init__(self, base: Space, archs: Sequence[Arch], table_id: str) -> None:
        super().__init__(base.options)
        self.base, self.table_id = base, table_id
        self.archs = list(dict.fromkeys(archs))
        self.members = set(self.archs)
        self.name = base.name  # archs keep their space's name: ids match the full space's

    def key(self) -> dict[str, Any]:
        return {**self.base.key(), "table": self.table_id}

    def validate_card(self, card: Mapping[str, Any]) -> dict[str, Any]:
        normal = self.base.validate_card(card)
        if Arch.from_card(self.name, normal) not in self.members:
            raise InvalidCardError(f"{self.name}: card is not in the table {self.table_id}")
        return normal

    def presets(self) -> Mapping[str, Mapping[str, Any]]:
        return {k: v for k, v in self.base.presets().items() if self._member(v)}

    def _member(self, card: Mapping[str, Any]) -> bool:
        try:
            self.validate_card(card)
        except InvalidCardError:
            return False
        return True

    def cardinality(self) -> int:
        return len(self.archs)

    def enumerate(self) -> Iterator[Arch]:
        return iter(self.archs)

    def sample(self, rng: np.random.Generator) -> Arch:
        return self.archs[int(rng.integers(len(self.archs)))]

    def decisions(self) -> Sequence[Decision]:
        return self.base.decisions()

    def to_decisions(self, arch: Arch) -> tuple[int, ...]:
        return self.base.to_decisions(arch)

    def from_decisions(self, index: Sequence[int]) -> Arch:
        """The table arch nearest to the vector (fewest differing decisions; ties by table order)."""
        arch = self.base.from_decisions(index)
        if arch in self.members:
            return arch
        target = np.asarray(self.base.to_decisions(arch))
        vectors = self._vectors()
        return self.archs[int(np.argmin((vectors != target).sum(axis=1)))]

    def _vectors(self) -> np.ndarray:
        if not hasattr(self, "_decision_matrix"):
            self._decision_matrix = np.array([self.base.to_decisions(a) for a in self.archs])
        return self._decision_matrix

    def neighbours(self, arch: Arch) -> list[Arch]:
        return [a for a in self.base.neighbours(arch) if a in self.members]

    def mutate(self, arch: Arch, rng: np.random.Generator) -> Arch:
        """A random table neighbour, or the nearest other table arch when none is one step away."""
        options = self.neighbours(arch)
        if options:
            return options[int(rng.integers(len(options)))]
        distances = (self._vectors() != np.asarray(self.base.to_decisions(arch))).sum(axis=1).astype(float)
        distances[[i for i, a in enumerate(self.archs) if a == arch]] = np.inf
        nearest = np.flatnonzero(distances == distances.min())
        return self.archs[int(nearest[rng.integers(len(nearest))])]

    def crossover(self, first: Arch, second: Arch, rng: np.random.Generator) -> Arch:
        return self.from_decisions(self.base.to_decisions(self.base.crossover(first, second, rng)))

    def graph(self, arch: Arch) -> nx.DiGraph:
        return self.base.graph(arch)

    def __getattr__(self, name: str) -> Any:
        # model building, parameter/FLOP counts, weight transfer: the full space's
        if name in {"build_model", "count_parameters", "count_flops", "layers"}:
            return getattr(self.base, name)
        raise AttributeError(name)
