"""Shared machinery of the graph encodings: which archs to fit on, stable feature hashes,
vocabularies of features, and the cache files fits are kept in.

Feature hashes must be equal in every process and on every machine (a fitted vocabulary is
cached on disk), so labels are hashed with BLAKE2 and combined with a 64-bit FNV-style step,
never with Python's salted ``hash``.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from nasbench_txf.core.arch import Arch, canonical_json
from nasbench_txf.core.encoding import Encoding
from nasbench_txf.core.errors import IncompatibleError
from nasbench_txf.core.files import cache_root, write_atomic
from nasbench_txf.core.options import option
from nasbench_txf.core.progress import announce, bar
from nasbench_txf.core.space import Space

MASK = 0xFFFFFFFFFFFFFFFF
PRIME = 0x100000001B3


@lru_cache(maxsize=4096)
def label_hash(label: str) -> int:
    return int.from_bytes(hashlib.blake2b(label.encode(), digest_size=8).digest(), "big")


def combine(seed: int, value: int) -> int:
    return ((seed * PRIME) ^ value) & MASK


def block_graph(space: Space, arch: Arch) -> nx.DiGraph:
    """The arch's block graph, checked to be what graph encodings need: a DAG with one
    source and one sink whose nodes all have a string ``label``."""
    graph = space.graph(arch)
    problem = None
    if not isinstance(graph, nx.DiGraph) or graph.number_of_nodes() == 0:
        problem = "is not a non-empty networkx.DiGraph"
    elif not nx.is_directed_acyclic_graph(graph):
        problem = "has a cycle"
    elif any(not isinstance(label, str) for _, label in graph.nodes(data="label")):
        problem = "has nodes without a string 'label'"
    elif sum(1 for _, d in graph.in_degree() if d == 0) != 1 or sum(1 for _, d in graph.out_degree() if d == 0) != 1:
        problem = "does not have exactly one input (source) and one output (sink)"
    if problem:
        raise IncompatibleError(f"space {space.name}: the block graph of {arch.canonical} {problem}; "
                                "graph encodings need a labelled DAG from one input to one output")
    return graph


def fit_archs(space: Space, limit: int, seed: int) -> list[Arch]:
    """Every arch of the space when it has at most ``limit``, else ``limit`` distinct random ones."""
    if space.cardinality() <= limit:
        return list(space.enumerate())
    rng = np.random.default_rng(seed)
    chosen: dict[Arch, None] = {}
    for _ in range(50 * limit):
        chosen[space.sample(rng)] = None
        if len(chosen) == limit:
            break
    return list(chosen)


def cache_file(encoding: Encoding, suffix: str) -> Path:
    digest = hashlib.sha256(canonical_json(encoding.key()).encode()).hexdigest()[:20]
    return cache_root() / "encodings" / f"{encoding.name}-{digest}.{suffix}"


def read_cached_json(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The cached fit at ``path`` if it is readable and was made for ``key``; else ``None`` (refit)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("key") == key else None


def vocabulary(feature_sets: Iterable[Counter[int]], limit: int) -> list[int]:
    """Features by how many archs have them (most first, ties by value), at most ``limit`` (0: all)."""
    counts: Counter[int] = Counter()
    for features in feature_sets:
        counts.update(features.keys())
    ranked = sorted(counts, key=lambda f: (-counts[f], f))
    return ranked[:limit] if limit else ranked


def count_matrix(feature_sets: list[Counter[int]], vocab: list[int]) -> np.ndarray:
    column = {f: i for i, f in enumerate(vocab)}
    out = np.zeros((len(feature_sets), len(vocab)))
    for row, features in enumerate(feature_sets):
        for feature, count in features.items():
            j = column.get(feature)
            if j is not None:
                out[row, j] = count
    return out


@dataclass(frozen=True)
class VocabularyOptions:
    """Options of every :class:`FeatureCountEncoding`."""

    max_features: int = option(4096, "most common features kept (0: all)")
    fit_archs: int = option(20_000, "archs the vocabulary is collected from (sample above)")
    seed: int = option(0, "seed of that sample")

    def __post_init__(self) -> None:
        if self.max_features < 0 or self.fit_archs < 1:
            raise ValueError("max_features must be >= 0 and fit_archs >= 1")


class FeatureCountEncoding(Encoding):
    """An encoding that counts hashed graph features against a vocabulary fitted on the space.

    Subclasses say which features a graph has (:meth:`features`). :meth:`fit` collects them
    over the space's archs (all, or a sample of ``fit_archs``), keeps the ``max_features``
    most common, and caches that vocabulary as JSON; features an arch has outside the
    vocabulary are not counted.
    """

    def features(self, arch: Arch) -> Counter[int]:
        raise NotImplementedError

    def fit(self) -> None:
        self.cache_path = path = cache_file(self, "json")
        cached = read_cached_json(path, self.key())
        if cached is not None:
            self._vocabulary = [int(f) for f in cached["vocabulary"]]
            self._archs = int(cached["archs"])
            self.loaded_from_cache = True
            return
        archs = fit_archs(self.space, self.options.fit_archs, self.options.seed)
        announce(f"fitting {self.name} for space {self.space.name} ({len(archs):,} archs); it is cached for later "
                 f"runs in {path.parent}")
        features = (self.features(a) for a in bar(archs, f"{self.name} features", len(archs), "arch"))
        self._vocabulary = vocabulary(features, self.options.max_features)
        self._archs = len(archs)
        write_atomic(path, json.dumps({"key": self.key(), "archs": len(archs),
                                 "vocabulary": [str(f) for f in self._vocabulary]}))

    def fit_info(self) -> dict[str, Any]:
        return {"archs": self._archs, "features": len(self._vocabulary)}

    @property
    def dim(self) -> int:
        return len(self._vocabulary)

    def encode(self, archs: list[Arch]) -> np.ndarray:  # type: ignore[override]
        return count_matrix([self.features(a) for a in archs], self._vocabulary)
