"""Every registered space must pass these tests (a new space is covered automatically)."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest
from nbt_testing import loadable, sample_archs, space

from nasbench_txf.arch import Arch
from nasbench_txf.errors import InvalidCardError

SPACES = loadable("spaces")


@pytest.fixture(params=SPACES)
def subject(request: pytest.FixtureRequest):
    return space(request.param)


def test_samples_are_valid_and_round_trip_through_json(subject) -> None:
    for arch in sample_archs(subject, 25):
        assert subject.check(arch) is arch
        again = subject.arch(json.loads(json.dumps(arch.card)))
        assert again == arch and again.id == arch.id and hash(again) == hash(arch)
        assert subject.resolve(json.dumps(arch.card)) == arch


def test_decision_vector_round_trips(subject) -> None:
    sizes = [len(d.choices) for d in subject.decisions()]
    for arch in sample_archs(subject, 25, seed=1):
        vector = subject.to_decisions(arch)
        assert len(vector) == len(sizes)
        assert all(0 <= v < s for v, s in zip(vector, sizes, strict=True))
        assert subject.from_decisions(vector) == arch


def test_moves_stay_in_the_space(subject) -> None:
    rng = np.random.default_rng(2)
    a, b = sample_archs(subject, 2, seed=3)
    neighbours = subject.neighbours(a)
    assert neighbours and a not in neighbours and len(set(neighbours)) == len(neighbours)
    for arch in [*neighbours[:10], subject.mutate(a, rng), subject.crossover(a, b, rng)]:
        subject.check(arch)
    assert subject.mutate(a, rng) != a


def test_same_seed_same_samples(subject) -> None:
    assert sample_archs(subject, 10, seed=7) == sample_archs(subject, 10, seed=7)


def test_graph_has_labelled_blocks_one_input_one_output(subject) -> None:
    for arch in sample_archs(subject, 10, seed=4):
        graph = subject.graph(arch)
        assert isinstance(graph, nx.DiGraph) and nx.is_directed_acyclic_graph(graph)
        assert all(isinstance(label, str) and label for _, label in graph.nodes(data="label"))
        assert len([n for n in graph if graph.in_degree(n) == 0]) == 1
        assert len([n for n in graph if graph.out_degree(n) == 0]) == 1


def test_cardinality_and_enumeration_agree(subject) -> None:
    count = subject.cardinality()
    assert isinstance(count, int) and count > 0
    if subject.enumerable and count <= 20_000:
        archs = list(subject.enumerate())
        assert len(archs) == len(set(archs)) == count


def test_invalid_cards_are_refused_with_a_message(subject) -> None:
    with pytest.raises(InvalidCardError, match=r"\S"):
        subject.arch({"no such field": 1})
    with pytest.raises(InvalidCardError):
        subject.check(Arch.from_card("another space", sample_archs(subject, 1)[0].card))
