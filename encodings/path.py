"""BANANAS' path encoding over the block graph [BANANAS21], truncated.

One feature per distinct input→output path, named by the sequence of block labels on it;
an arch's vector counts the paths with that label sequence (BANANAS marks presence, which is
the same thing when every path is unique; block graphs have parallel heads with one label,
and counting them is what tells 2 heads from 4). Block graphs with residual connections
have exponentially many paths (a 4-layer FlexiBERT card has up to 65,536), so, as in
BANANAS' truncated path encoding, only the shortest paths are kept: those at most
``truncate`` blocks longer than the graph's shortest input→output path (the paths a random
arch is most likely to share). ``max_features`` then keeps the most common paths of the space.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import networkx as nx

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.options import option
from nasbench_txf.graphs.features import FeatureCountEncoding, VocabularyOptions, block_graph, combine, label_hash


@dataclass(frozen=True)
class PathOptions(VocabularyOptions):
    truncate: int = option(2, "keep paths at most this many blocks longer than the shortest")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.truncate < 0:
            raise ValueError(f"truncate must be >= 0, got {self.truncate}")


def truncated_paths(graph: nx.DiGraph, truncate: int) -> Counter[int]:
    """Label-sequence hash → number of source→sink paths with it, over the paths at most
    ``truncate`` nodes longer than the shortest one."""
    order = list(nx.topological_sort(graph))
    source, sink = order[0], order[-1]
    to_sink = nx.single_source_shortest_path_length(graph.reverse(copy=False), sink)
    limit = to_sink[source] + truncate
    partial: dict[object, Counter[tuple[int, int]]] = {
        source: Counter({(label_hash(graph.nodes[source]["label"]), 0): 1})}
    for node in order[1:]:
        label = label_hash(graph.nodes[node]["label"])
        room = limit - to_sink.get(node, limit + 1)
        here: Counter[tuple[int, int]] = Counter()
        for u in graph.predecessors(node):
            for (h, n), count in partial.get(u, Counter()).items():
                if n + 1 <= room:
                    here[combine(h, label), n + 1] += count
        partial[node] = here
    out: Counter[int] = Counter()
    for (h, _), count in partial[sink].items():
        out[h] += count
    return out


class PathEncoding(FeatureCountEncoding):
    """Truncated path encoding of the block graph (BANANAS)."""

    name = "path"
    Options = PathOptions

    def features(self, arch: Arch) -> Counter[int]:
        return truncated_paths(block_graph(self.space, arch), self.options.truncate)
