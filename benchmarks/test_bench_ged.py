"""The bipartite GED approximation against the exact GED (``tox -e bench -- -k ged``).

Pairs of random cards cut to their first ``layers`` layers (exact GED is exponential, so
whole FlexiBERT graphs are out of reach); for each space, as many pairs as fit in a minute
(at most 100). The relative excess of the approximation is kept in the benchmark's
``extra_info`` and asserted to be an excess (the approximation is an upper bound).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from nasbench_txf.core.registry import get_space
from nasbench_txf.encodings.t2v import BlockCosts
from nasbench_txf.graphs.ged import CostGraph, ged_bipartite, ged_exact
from nasbench_txf.spaces.flexibert.graph import block_graph


@pytest.mark.parametrize("space_name", ["flexibert", "flexibert-2021"])
def test_bipartite_error_on_one_layer_graphs(benchmark, space_name: str) -> None:  # type: ignore[no-untyped-def]
    space = get_space(space_name)()
    rng = np.random.default_rng(1)
    graphs = [block_graph(space.layers(space.sample(rng))[:1]) for _ in range(200)]
    costs = BlockCosts.rank(space, {label for g in graphs for _, label in g.nodes(data="label")})
    cost_graphs = [CostGraph.of(g, costs.index) for g in graphs]

    def run() -> np.ndarray:
        errors, started = [], time.perf_counter()
        while time.perf_counter() - started < 60 and len(errors) < 100:
            i, j = rng.choice(len(cost_graphs), 2, replace=False)
            exact = ged_exact(cost_graphs[i], cost_graphs[j])
            errors.append((ged_bipartite(cost_graphs[i], cost_graphs[j]) - exact) / max(exact, 1e-9))
        return np.array(errors)

    errors = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(pairs=len(errors), mean_relative_excess=float(errors.mean()),
                                max_relative_excess=float(errors.max()), exact_share=float((errors == 0).mean()),
                                nodes=[min(g.size for g in cost_graphs), max(g.size for g in cost_graphs)])
    assert (errors >= -1e-9).all()
