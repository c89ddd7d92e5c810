"""Graph edit distance against networkx, and the path, WL and t2v encodings."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from nbt_testing import ENCODING_OPTIONS, space

from nasbench_txf.encodings.path import PathEncoding, truncated_paths
from nasbench_txf.encodings.t2v import Transformer2vec
from nasbench_txf.encodings.wl import WLEncoding, wl_features
from nasbench_txf.graphs.ged import CostGraph, ged_bipartite, ged_exact

LABELS = ["input", "add-norm", "h-128/SA-SDP", "ff-512", "output"]
FLEXIBERT = space("flexibert")


def random_dag(rng: np.random.Generator, n: int) -> nx.DiGraph:
    graph = nx.DiGraph()
    for node in range(n):
        graph.add_node(node, label=LABELS[int(rng.integers(len(LABELS)))])
    graph.add_edges_from((i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.35)
    return graph


def networkx_ged(a: nx.DiGraph, b: nx.DiGraph, index: dict[str, float], uniform: bool) -> float:
    weight = (lambda x: 1.0) if uniform else (lambda x: index[x["label"]])
    subst = ((lambda x, y: float(x["label"] != y["label"])) if uniform
             else (lambda x, y: abs(index[x["label"]] - index[y["label"]])))
    return nx.graph_edit_distance(a, b, node_subst_cost=subst, node_del_cost=weight, node_ins_cost=weight,
                                  edge_subst_cost=lambda x, y: 0, edge_del_cost=lambda x: 1,
                                  edge_ins_cost=lambda x: 1)


@pytest.mark.parametrize("uniform", [False, True])
def test_exact_ged_equals_networkx_on_small_graphs(uniform: bool) -> None:
    rng = np.random.default_rng(0)
    index = {label: float(i + 1) for i, label in enumerate(LABELS)}
    for _ in range(40):
        a, b = random_dag(rng, int(rng.integers(1, 6))), random_dag(rng, int(rng.integers(1, 6)))
        ca, cb = CostGraph.of(a, index, uniform), CostGraph.of(b, index, uniform)
        exact = ged_exact(ca, cb)
        assert exact == pytest.approx(networkx_ged(a, b, index, uniform))
        assert ged_bipartite(ca, cb) >= exact - 1e-9  # the approximation is an upper bound


def test_flexibert_ged_is_zero_for_the_same_card_and_grows_with_difference() -> None:
    encoding = Transformer2vec(FLEXIBERT, Transformer2vec.make_options(ENCODING_OPTIONS["t2v"]))
    encoding.fit()
    tiny, tiny4, mini = (FLEXIBERT.resolve(p) for p in ("bert-tiny", "bert-4-128", "bert-mini"))
    graph = {a: encoding.costs.graph(FLEXIBERT, a) for a in (tiny, tiny4, mini)}
    assert ged_bipartite(graph[tiny], graph[tiny]) == 0
    assert 0 < ged_bipartite(graph[tiny], graph[tiny4]) < ged_bipartite(graph[tiny], graph[mini])


def test_path_counts_parallel_heads_and_truncation_bounds_the_paths() -> None:
    two, four = FLEXIBERT.resolve("bert-tiny"), FLEXIBERT.arch({**FLEXIBERT.resolve("bert-tiny").card, "n": [4, 4]})
    assert sum(truncated_paths(FLEXIBERT.graph(four), 1).values()) > sum(
        truncated_paths(FLEXIBERT.graph(two), 1).values())
    graph = FLEXIBERT.graph(FLEXIBERT.resolve("bert-mini"))
    shortest = len(nx.shortest_path(graph, 0, max(graph.nodes)))
    for truncate in (0, 1, 2):
        kept = sum(truncated_paths(graph, truncate).values())
        every = sum(1 for p in nx.all_simple_paths(graph, 0, max(graph.nodes)) if len(p) <= shortest + truncate)
        assert kept == every
    encoding = PathEncoding(FLEXIBERT, PathEncoding.make_options(ENCODING_OPTIONS["path"]))
    encoding.fit()
    assert encoding.features(two) != encoding.features(four)
    fitted = FLEXIBERT.sample(np.random.default_rng(0))  # the first arch of the 300 the vocabulary came from
    assert encoding.encode([fitted]).sum() > 0


def test_wl_is_invariant_to_node_numbering_and_iteration_zero_counts_labels() -> None:
    graph = FLEXIBERT.graph(FLEXIBERT.resolve("convbert-mini"))
    shuffled = nx.relabel_nodes(graph, {n: f"node{(7 * n) % 101}" for n in graph.nodes})
    assert wl_features(graph, 3) == wl_features(shuffled, 3)
    labels = [label for _, label in graph.nodes(data="label")]
    assert sum(wl_features(graph, 0).values()) == len(labels)
    assert len(wl_features(graph, 0)) == len(set(labels))
    assert sum(wl_features(graph, 2).values()) == 3 * len(labels)
    encoding = WLEncoding(FLEXIBERT, WLEncoding.make_options(ENCODING_OPTIONS["wl"]))
    encoding.fit()
    assert encoding.fit_info()["features"] == encoding.dim


def test_t2v_caches_and_refits_a_damaged_or_foreign_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NASBENCH_TXF_CACHE", str(tmp_path))
    options = Transformer2vec.make_options(ENCODING_OPTIONS["t2v"])
    first = Transformer2vec(FLEXIBERT, options)
    first.fit()
    assert not first.loaded_from_cache and first.cache_path is not None and first.cache_path.is_file()
    report = first.fit_info()
    assert report["archs"] == 60 and report["held_out_pairs"] == 200 and -1 <= report["spearman"] <= 1
    archs = [FLEXIBERT.resolve(p) for p in ("bert-tiny", "fnet-mini", "convbert-4-128")]
    vectors = first.encode(archs)  # outside the 60 fitted archs: placed against the anchors
    again = Transformer2vec(FLEXIBERT, options)
    again.fit()
    assert again.loaded_from_cache
    np.testing.assert_allclose(again.encode(archs), vectors)
    first.cache_path.write_bytes(b"not an npz")
    damaged = Transformer2vec(FLEXIBERT, options)
    damaged.fit()
    assert not damaged.loaded_from_cache
    np.testing.assert_allclose(damaged.encode(archs), vectors)
    # a cache file made for other options (or an older version) under this fit's name: refit
    other = Transformer2vec(FLEXIBERT, Transformer2vec.make_options({**ENCODING_OPTIONS["t2v"], "seed": "1"}))
    other.fit()
    assert other.cache_path is not None and other.cache_path != first.cache_path
    other.cache_path.replace(first.cache_path)
    foreign = Transformer2vec(FLEXIBERT, options)
    foreign.fit()
    assert not foreign.loaded_from_cache
    np.testing.assert_allclose(foreign.encode(archs), vectors)


def test_t2v_distances_follow_ged() -> None:
    encoding = Transformer2vec(FLEXIBERT, Transformer2vec.make_options(
        {**ENCODING_OPTIONS["t2v"], "fit_archs": "120", "pairs": "4000", "epochs": "300"}))
    encoding.fit()
    assert encoding.fit_info()["spearman"] > 0.8


def test_encode_cli(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"NASBENCH_TXF_CACHE": str(tmp_path / "fresh-cache")}
    args = ["encode", "--space", "flexibert", "--encoding", "t2v", "--json",
            *[x for k, v in ENCODING_OPTIONS["t2v"].items() for x in ("--encoding-opt", f"{k}={v}")]]
    first = cli(*args, env=env)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["dim"] == 16 and not report["loaded_from_cache"] and Path(report["cache"]).is_file()
    assert report["fit"]["held_out_pairs"] == 200 and "spearman" in report["fit"]
    second = json.loads(cli(*args, env=env).stdout)
    assert second["loaded_from_cache"] and second["fit"] == report["fit"]
    for bad, message in ((["--encoding", "t2w"], "did you mean 't2v'"),
                         (["--encoding", "t2v", "--encoding-opt", "dim=-1"], "dim >= 0")):
        done = cli("encode", "--space", "flexibert", *bad)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("name", ["path", "wl", "t2v"])
def test_a_graph_the_encodings_cannot_handle_is_one_clear_message(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from nasbench_txf.core.errors import IncompatibleError
    from nasbench_txf.core.registry import get_encoding

    toy = space("toy-grid")

    def cyclic(arch):  # type: ignore[no-untyped-def]
        graph = nx.DiGraph()
        graph.add_nodes_from([(0, {"label": "input"}), (1, {"label": "op"}), (2, {"label": "output"})])
        graph.add_edges_from([(0, 1), (1, 2), (2, 1)])
        return graph

    monkeypatch.setattr(toy, "graph", cyclic)
    cls = get_encoding(name)
    with pytest.raises(IncompatibleError, match="has a cycle; graph encodings need a labelled DAG"):
        encoding = cls(toy, cls.make_options(ENCODING_OPTIONS.get(name, {})))
        encoding.fit()
        encoding.encode([toy.sample(np.random.default_rng(0))])


def test_t2v_knee_point_chooses_the_dimension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NASBENCH_TXF_CACHE", str(tmp_path))
    options = {**ENCODING_OPTIONS["t2v"], "dim": "0"}
    encoding = Transformer2vec(space("toy-grid"), Transformer2vec.make_options(options))
    encoding.fit()
    knee = encoding.fit_info()["knee"]
    assert set(knee) == {"2", "4", "8", "16", "32"} and encoding.dim in (2, 4, 8, 16, 32)
    assert knee["32"] < knee["2"]  # more dimensions fit the distances better


def test_t2v_neighbour_pairs_place_an_arch_and_its_mutations_at_their_distance(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random pairs alone (the paper's fit) leave neighbours' distances far off; neighbour pairs fix that."""
    from nasbench_txf.encodings.t2v import neighbour_pairs, pairwise_geds
    from nasbench_txf.testing import toy_space

    monkeypatch.setenv("NASBENCH_TXF_CACHE", str(tmp_path))
    grid = toy_space()  # 336 archs, all embedded by both fits
    archs = list(grid.enumerate())
    small = {"pairs": "2000", "held_out": "200", "epochs": "300", "workers": "1"}
    fits = {}
    for per_arch in (8, 0):
        encoding = Transformer2vec(grid, Transformer2vec.make_options({**small, "neighbour_pairs": str(per_arch)}))
        encoding.fit()
        fits[per_arch] = encoding
    assert fits[8].fit_info()["neighbour_pairs"] > len(archs) and fits[0].fit_info()["neighbour_pairs"] == 0
    pairs = neighbour_pairs(grid, archs, 8, np.random.default_rng(5))
    geds = pairwise_geds([fits[8].costs.graph(grid, a) for a in archs], pairs, 1.0, 1)
    errors = {}
    for per_arch, encoding in fits.items():
        vectors = encoding.encode(archs)
        embedded = np.linalg.norm(vectors[pairs[:, 0]] - vectors[pairs[:, 1]], axis=1)
        errors[per_arch] = float(np.mean(np.abs(embedded - geds) / geds))
    assert errors[8] < errors[0] / 2, errors


def test_t2v_fits_a_large_space_on_random_archs_and_a_neighbour_of_each() -> None:
    from nasbench_txf.encodings.t2v import archs_with_neighbours
    from nasbench_txf.graphs.features import fit_archs

    archs = archs_with_neighbours(FLEXIBERT, 40, 8, seed=0)
    assert len(archs) == len(set(archs)) == 40
    first = set(archs[:20])
    assert sum(any(b in first for b in FLEXIBERT.neighbours(a)) for a in archs[20:]) >= 15
    assert archs_with_neighbours(FLEXIBERT, 40, 0, seed=0) == fit_archs(FLEXIBERT, 40, 0)  # the paper's sample


def test_t2v_trains_on_no_held_out_pair() -> None:
    from nasbench_txf.encodings.t2v import without

    pairs, held = np.array([[0, 1], [1, 2], [2, 5]]), np.array([[1, 2], [3, 4]])
    assert without(pairs, held).tolist() == [[0, 1], [2, 5]]
    assert without(pairs[:0], held).shape == (0, 2)
