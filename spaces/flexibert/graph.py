"""Block-level computational graph of a FlexiBERT card [FLEXIBERT23 §3.2.1, Fig. 2, App. B.1]."""

from __future__ import annotations

import math
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


#: sequence length at which attention-like blocks are costed
COST_SEQ_LEN = 128


def block_flops(label: str) -> float:
    """Approximate multiply-adds per token of a block, to order blocks by complexity (§3.3.1).

    Head blocks (``h-{hidden}/{op}-{param}``): SDP/WMA self-attention 4h² + 2Lh (WMA one more
    Lh), DCT mixing Lh + h², DFT mixing h·log2(Lh), dynamic convolution 2h² + kh; feed-forward
    ``ff-{f}`` 2·f·(f/4) (BERT's inner size is 4h, and the label carries only f); projections
    a·b; add&norm 1; input and output 0. Only the order matters.
    """
    if label in ("input", "output"):
        return 0.0
    if label == "add-norm":
        return 1.0
    kind, _, rest = label.partition("-")
    if kind == "ff":
        f = float(rest)
        return 2 * f * f / 4
    if kind == "proj":
        a, b = (float(x) for x in rest.split("-"))
        return a * b
    hidden, _, operation = rest.partition("/")
    h, length = float(hidden), COST_SEQ_LEN
    op, _, param = operation.partition("-")
    if op == "SA":
        return 4 * h * h + (3 if param == "WMA" else 2) * length * h
    if op == "LT":
        return length * h + h * h if param == "DCT" else h * math.log2(length * h)
    return 2 * h * h + float(param) * h  # DSC with kernel size param
