"""Graph utilities shared by spaces and encodings."""

from __future__ import annotations

import hashlib

import networkx as nx


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def graph_hash(graph: nx.DiGraph) -> str:
    """Recursive SHA-256 hash of a labelled DAG [FLEXIBERT23 §3.2.1] (after Ying et al. 2019).

    Each node starts from the hash of its label and degrees; in each round a node's hash
    becomes the hash of its in-neighbours' hashes, its own and its out-neighbours' hashes
    (neighbour hashes sorted, so node numbering does not matter). After as many rounds as the
    longest path, every node's hash reflects the whole graph; the graph's hash is the hash of
    the sorted node hashes. Isomorphic graphs get equal hashes; the tests check that the
    9,312 level-1 FlexiBERT graphs get 9,312 different ones.
    """
    nodes = list(graph.nodes)
    preds = [[nodes.index(p) for p in graph.predecessors(n)] for n in nodes]
    succs = [[nodes.index(s) for s in graph.successors(n)] for n in nodes]
    hashes = [_sha(f"{graph.nodes[n]['label']}|{len(preds[i])}|{len(succs[i])}".encode())
              for i, n in enumerate(nodes)]
    for _ in range(max(1, nx.dag_longest_path_length(graph))):
        hashes = [
            _sha(b"".join(sorted(hashes[p] for p in preds[i])) + b"|" + hashes[i] + b"|"
                 + b"".join(sorted(hashes[s] for s in succs[i])))
            for i in range(len(nodes))
        ]
    return hashlib.sha256(b"".join(sorted(hashes))).hexdigest()
