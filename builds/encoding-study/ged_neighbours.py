"""Does the graph edit distance itself say which archs score alike, and does t2v keep it?

For the archs of a table (default: the built-in flexibert-sst2), each arch's score is
predicted from its k nearest other archs (leave one out) under a distance: the GED t2v embeds
(bipartite, with the paper's rank costs, or uniform, log-FLOPs or FLOPs costs), and the
Euclidean distance of each encoding. Kendall tau of those predictions against the measured
scores says how much of the score a neighbourhood holds. Run from the repository root:

    python builds/encoding-study/ged_neighbours.py [TABLE]

About 2 minutes on 2 cores (the GEDs of the table's 179,700 pairs, four times).
"""

from __future__ import annotations

import sys

import numpy as np
from scipy import stats
from scipy.spatial.distance import cdist

from nasbench_txf.cli.bench_cmd import find_table, table_space
from nasbench_txf.core.registry import get_encoding
from nasbench_txf.encodings.t2v import BlockCosts, pairwise_geds
from nasbench_txf.graphs.features import block_graph
from nasbench_txf.study.encodings import measured_archs


def knn_tau(distance: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Kendall tau of leave-one-out k-nearest-neighbour means against the scores."""
    distance = distance + np.diag(np.full(len(distance), np.inf))
    nearest = np.argsort(distance, axis=1, kind="stable")[:, :k]
    return float(stats.kendalltau(scores[nearest].mean(1), scores).statistic)


def costs_of(scheme: str, space, labels: set[str]) -> BlockCosts:  # type: ignore[no-untyped-def]
    if scheme == "rank":
        return BlockCosts.rank(space, labels)
    if scheme == "uniform":
        return BlockCosts(space, {label: float(i) for i, label in enumerate(sorted(labels))}, True)
    flops = {label: space.block_complexity(label) for label in labels}
    low = min(v for v in flops.values() if v > 0)
    if scheme == "log-flops":
        return BlockCosts(space, {k: float(np.log2(max(v, low) / low) + 1) for k, v in flops.items()}, False)
    return BlockCosts(space, {k: max(v, low) / low for k, v in flops.items()}, False)


def main() -> None:
    table = find_table(sys.argv[1] if len(sys.argv) > 1 else "flexibert-sst2")
    space = table_space(table)
    measured = measured_archs(table, space, None)
    scores, n = measured.scores, len(measured.archs)
    print(f"{table.folder.name}: {n} archs; leave-one-out k-NN Kendall tau (k = 1, 5, 20)")
    labels = {label for a in measured.archs for _, label in block_graph(space, a).nodes(data="label")}
    i, j = np.triu_indices(n, 1)
    for scheme in ("rank", "uniform", "log-flops", "flops"):
        costs = costs_of(scheme, space, labels)
        geds = pairwise_geds([costs.graph(space, a) for a in measured.archs], np.stack([i, j], 1), 1.0, 1)
        distance = np.zeros((n, n))
        distance[i, j] = distance[j, i] = geds
        print(f"GED, {scheme} costs: " + ", ".join(f"{knn_tau(distance, scores, k):.3f}" for k in (1, 5, 20)))
    for name, options in (("onehot", {}), ("path", {}), ("wl", {}), ("t2v", {}), ("t2v", {"neighbour_pairs": "0"})):
        cls = get_encoding(name)
        encoding = cls(space, cls.make_options(options))
        encoding.fit()
        vectors = encoding.encode(measured.archs)
        distance = cdist(vectors, vectors)
        print(f"{name}{options or ''}, Euclidean: "
              + ", ".join(f"{knn_tau(distance, scores, k):.3f}" for k in (1, 5, 20)))


if __name__ == "__main__":
    main()
