"""Weisfeiler–Lehman subtree features of the labelled block graph [FLEXIBERT21 §2.3] (as in NASGEM).

Each iteration relabels every node by its label and the sorted labels of its predecessors
and of its successors (the graph is directed: where a block's input comes from and where its
output goes are different things); the features are the counts of every label of every
iteration, 0 to ``iterations``, as in the WL subtree kernel [WL11].
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import networkx as nx

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.options import option
from nasbench_txf.graphs.features import FeatureCountEncoding, VocabularyOptions, block_graph, combine, label_hash

IN, OUT = 0x1F, 0x2F  # markers that keep predecessor and successor labels apart


@dataclass(frozen=True)
class WLOptions(VocabularyOptions):
    iterations: int = option(2, "WL relabelling rounds")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {self.iterations}")


def wl_features(graph: nx.DiGraph, iterations: int) -> Counter[int]:
    labels = {node: label_hash(label) for node, label in graph.nodes(data="label")}
    counts = Counter(labels.values())
    for round_ in range(1, iterations + 1):
        new = {}
        for node, label in labels.items():
            h = combine(label, round_)
            for marker, neighbours in ((IN, graph.predecessors(node)), (OUT, graph.successors(node))):
                h = combine(h, marker)
                for value in sorted(labels[n] for n in neighbours):
                    h = combine(h, value)
            new[node] = h
        labels = new
        counts.update(labels.values())
    return counts


class WLEncoding(FeatureCountEncoding):
    """Counts of Weisfeiler–Lehman subtree labels of the block graph."""

    name = "wl"
    Options = WLOptions

    def features(self, arch: Arch) -> Counter[int]:
        return wl_features(block_graph(self.space, arch), self.options.iterations)
