"""How t2v's embedding keeps the distances a search needs, by the pairs and loss it is fitted on.

For level-1 FlexiBERT (all 9,312 archs, d = 16, 500 full-batch Adam steps as t2v fits), four
fits: random pairs alone (the paper's) with least squares and with Sammon's stress (squared
errors weighted by 1/GED), and random plus neighbour pairs (each arch with up to 8 one-step
neighbours) with least squares and with relative squared error (weights 1/GED²). For each:
held-out Spearman rho on random pairs, Spearman rho and mean relative error on the neighbour
pairs, and the leave-one-out 5-NN Kendall tau on the built-in table's 600 archs (see
ged_neighbours.py). Run from the repository root (about 15 minutes on 2 cores):

    python builds/encoding-study/t2v_objectives.py
"""

from __future__ import annotations

import numpy as np
import torch
from ged_neighbours import knn_tau  # beside this script
from scipy import stats
from scipy.spatial.distance import cdist

from nasbench_txf.cli.bench_cmd import find_table, table_space
from nasbench_txf.encodings.t2v import BlockCosts, choose_pairs, neighbour_pairs, pairwise_geds
from nasbench_txf.graphs.features import block_graph, fit_archs
from nasbench_txf.study.encodings import measured_archs


def fit(n: int, pairs: np.ndarray, geds: np.ndarray, loss: str, dim: int = 16, epochs: int = 500) -> np.ndarray:
    scale = float(geds.mean())
    x = (torch.randn(n, dim, generator=torch.Generator().manual_seed(0)) * scale / np.sqrt(2 * dim)).requires_grad_()
    left, right = torch.from_numpy(pairs[:, 0]), torch.from_numpy(pairs[:, 1])
    target = torch.from_numpy(geds.astype(np.float32))
    power = {"least-squares": 0, "sammon": 1, "relative": 2}[loss]
    weight = 1.0 / torch.clamp(target, min=1.0) ** power
    weight = weight / weight.mean()
    optimizer = torch.optim.Adam([x], lr=0.05 * scale)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    for _ in range(epochs):
        optimizer.zero_grad()
        distance = torch.sqrt(((x[left] - x[right]) ** 2).sum(1) + 1e-12)
        (weight * (distance - target) ** 2).mean().backward()
        optimizer.step()
        schedule.step()
    return x.detach().numpy()


def main() -> None:
    table = find_table("flexibert-sst2")
    space = table_space(table)
    measured = measured_archs(table, space, None)
    archs = fit_archs(space, 10_000, 0)
    labels = {label for a in archs for _, label in block_graph(space, a).nodes(data="label")}
    costs = BlockCosts.rank(space, labels)
    graphs = [costs.graph(space, a) for a in archs]
    rng = np.random.default_rng(0)
    train, held = choose_pairs(len(archs), 200_000, 5_000, rng)
    local = neighbour_pairs(space, archs, 8, rng)
    geds = pairwise_geds(graphs, np.concatenate([train, held, local]), 1.0, 0)
    train_geds, held_geds, local_geds = np.split(geds, [len(train), len(train) + len(held)])
    rows = np.array([{a: i for i, a in enumerate(archs)}[a] for a in measured.archs])
    scores = measured.scores

    settings = [("random", "least-squares"), ("random", "sammon"), ("random+neighbours", "least-squares"),
                ("random+neighbours", "relative")]
    for pairs_name, loss in settings:
        if pairs_name == "random":
            pairs, targets = train, train_geds
        else:
            pairs, targets = np.concatenate([train, local]), np.concatenate([train_geds, local_geds])
        vectors = fit(len(archs), pairs, targets, loss)
        held_distance = np.linalg.norm(vectors[held[:, 0]] - vectors[held[:, 1]], axis=1)
        local_distance = np.linalg.norm(vectors[local[:, 0]] - vectors[local[:, 1]], axis=1)
        print(f"{pairs_name}, {loss}: held-out rho {stats.spearmanr(held_distance, held_geds).statistic:.3f}; "
              f"neighbours ({len(local)} pairs) rho {stats.spearmanr(local_distance, local_geds).statistic:.3f}, "
              f"mean relative error {np.mean(np.abs(local_distance - local_geds) / local_geds):.3f}; "
              f"5-NN tau on the table {knn_tau(cdist(vectors[rows], vectors[rows]), scores, 5):.3f}", flush=True)


if __name__ == "__main__":
    main()
