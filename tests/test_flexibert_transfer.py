from __future__ import annotations

import torch

from nasbench_txf.core.registry import get_space
from nasbench_txf.spaces.flexibert.transfer import DEFAULT_TAU, biased_overlap, rank_neighbours, transfer_weights


def level2():
    cls = get_space("flexibert")
    return cls(cls.make_options({"level": 2}))


def test_biased_overlap_stops_at_the_first_difference() -> None:
    sp = level2()
    mini = sp.resolve("bert-mini")
    card = mini.card
    card["p"][1] = "WMA"  # layer 2 differs; layers 3-4 equal again but do not count
    other = sp.arch(card)
    assert biased_overlap(sp.layers(mini), sp.layers(other)) == 1
    card = mini.card
    card["f"][3] = [512]
    assert biased_overlap(sp.layers(mini), sp.layers(sp.arch(card))) == 3


def test_neighbours_rank_by_overlap_then_distance() -> None:
    sp = level2()
    query = sp.resolve("bert-mini")
    three = {**query.card, "f": [[1024]] * 3 + [[512]]}
    one_a = {**query.card, "p": ["SDP", "WMA", "SDP", "SDP"]}
    one_b = {**query.card, "n": [4, 2, 4, 4]}
    candidates = [sp.arch(c) for c in (one_a, one_b, three)] + [query]
    distance = {sp.arch(one_a): 2.0, sp.arch(one_b): 1.0, sp.arch(three): 5.0}
    ranked = rank_neighbours(query, candidates, sp.layers, lambda q, n: distance[n])
    assert [n.arch for n in ranked] == [sp.arch(three), sp.arch(one_b), sp.arch(one_a)]
    assert ranked[0].fraction == 0.75 and ranked[0].fraction < DEFAULT_TAU


def test_transferred_layers_give_the_neighbours_outputs() -> None:
    sp = level2()
    neighbour_card = {"l": 4, "o": ["DSC", "LT", "SA", "SA"], "h": [128, 256, 256, 128], "n": [2, 4, 4, 2],
                      "f": [[512], [1024], [512], [512]], "p": [9, "DCT", "WMA", "SDP"]}
    query_card = {**neighbour_card, "o": ["DSC", "LT", "LT", "SA"], "p": [9, "DCT", "DFT", "SDP"]}
    torch.manual_seed(0)
    neighbour = sp.build_model(sp.arch(neighbour_card), vocab_size=100, num_labels=2).eval()
    torch.manual_seed(1)
    query = sp.build_model(sp.arch(query_card), vocab_size=100, num_labels=3).eval()
    ids = torch.randint(1, 100, (3, 12))
    assert not torch.allclose(query.encode(ids, layers=2), neighbour.encode(ids, layers=2))
    assert transfer_weights(query, neighbour) == 2
    torch.testing.assert_close(query.encode(ids, layers=2), neighbour.encode(ids, layers=2), rtol=0, atol=0)
    assert not torch.allclose(query.encode(ids, layers=3), neighbour.encode(ids, layers=3))
