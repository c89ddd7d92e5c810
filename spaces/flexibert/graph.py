"""Block-level computational graph of a FlexiBERT card (seed 000 §3.2.1, Fig. 2, App. B.1)."""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from nasbench_txf.spaces.flexibert.elements import Layer


def block_graph(layers: Sequence[Layer]) -> nx.DiGraph:
    """Input → per layer: one node per operation head, add&norm (with the residual), then per
    feed-forward layer of the stack: the feed-forward block and add&norm (with its residual)
    → a projection between consecutive layers (identity when hidden sizes agree) → output.

    Node attribute ``label`` names the block (``h-128/SA-SDP``, ``ff-512``, ``add-norm``,
    ``proj-128-256``, ``input``, ``output``); the labels carry the domain knowledge that
    encodings and graph edit distances use.
    """
    g = nx.DiGraph()
    g.add_node(0, label="input")
    last = 0

    def add(label: str, *sources: int) -> int:
        node = g.number_of_nodes()
        g.add_node(node, label=label)
        g.add_edges_from((s, node) for s in sources)
        return node

    for j, layer in enumerate(layers):
        if j > 0:
            last = add(f"proj-{layers[j - 1].hidden}-{layer.hidden}", last)
        heads = [add(layer.block_label, last) for _ in range(layer.heads)]
        last = add("add-norm", *heads, last)
        for dim in layer.ff:
            ff = add(f"ff-{dim}", last)
            last = add("add-norm", ff, last)
    add("output", last)
    return g
