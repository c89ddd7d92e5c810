"""The contract of a space: what every registered space must pass."""

from __future__ import annotations

import json
from typing import Any

import networkx as nx
import numpy as np

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.errors import InvalidCardError
from nasbench_txf.core.plugin import Plugin
from nasbench_txf.core.space import Hierarchical, Space
from nasbench_txf.testing.subject import Subject, as_subject, sample_archs

#: spaces up to this size are enumerated in full by the cardinality check
ENUMERATE_UP_TO = 20_000


def _space(plugin: type[Plugin] | Subject, settings: dict[str, Any]) -> tuple[Subject, Space]:
    subject = as_subject(plugin, **settings)
    cls = subject.plugin
    if not issubclass(cls, Space):
        raise TypeError(f"{cls.__name__} is not a Space")
    return subject, cls(subject.make_options())


def check_samples_are_valid_and_round_trip_through_json(plugin: type[Plugin] | Subject, /, **settings: Any) -> None:
    """Sampled archs are members of the space, and their cards survive JSON: the same arch,
    id and hash again, through ``arch(card)`` and ``resolve(text)``."""
    subject, space = _space(plugin, settings)
    for arch in sample_archs(space, 25):
        assert space.check(arch) is arch, f"space {subject.name}: check(arch) must return the arch itself"
        again = space.arch(json.loads(json.dumps(arch.card)))
        assert again == arch and again.id == arch.id and hash(again) == hash(arch), (
            f"space {subject.name}: the card {arch.canonical} sampled by sample() is not in the normal form "
            f"validate_card gives ({again.canonical}); sample through from_decisions or arch(card)"
        )
        assert space.resolve(json.dumps(arch.card)) == arch, (
            f"space {subject.name}: resolve(<the card as JSON text>) gives another arch than the card"
        )


def check_decision_vector_round_trips(plugin: type[Plugin] | Subject, /, **settings: Any) -> None:
    """``to_decisions`` gives one valid choice index per decision, and ``from_decisions`` of it
    gives the arch back."""
    subject, space = _space(plugin, settings)
    sizes = [len(d.choices) for d in space.decisions()]
    for arch in sample_archs(space, 25, seed=1):
        vector = space.to_decisions(arch)
        assert len(vector) == len(sizes), (
            f"space {subject.name}: to_decisions gave {len(vector)} indices for {len(sizes)} decisions "
            "(the vector has a fixed length: unused decisions at index 0)"
        )
        bad = [(d.name, v) for d, v in zip(space.decisions(), vector, strict=True) if not 0 <= v < len(d.choices)]
        assert not bad, f"space {subject.name}: to_decisions gave indices out of range: {bad}"
        back = space.from_decisions(vector)
        assert back == arch, (
            f"space {subject.name}: from_decisions(to_decisions(arch)) is another arch: {arch.canonical} → "
            f"{tuple(vector)} → {back.canonical}"
        )


def check_moves_stay_in_the_space(plugin: type[Plugin] | Subject, /, **settings: Any) -> None:
    """``neighbours``, ``mutate`` and ``crossover`` give members of the space; an arch has
    distinct neighbours other than itself, and a mutation changes it."""
    subject, space = _space(plugin, settings)
    rng = np.random.default_rng(2)
    a, b = sample_archs(space, 2, seed=3)
    neighbours = space.neighbours(a)
    assert neighbours, f"space {subject.name}: neighbours({a.canonical}) is empty"
    assert a not in neighbours, f"space {subject.name}: an arch is among its own neighbours: {a.canonical}"
    assert len(set(neighbours)) == len(neighbours), f"space {subject.name}: neighbours() lists an arch twice"
    moves = {"neighbours": neighbours[:10], "mutate": [space.mutate(a, rng)], "crossover": [space.crossover(a, b, rng)]}
    for method, archs in moves.items():
        for arch in archs:
            try:
                space.check(arch)
            except InvalidCardError as exc:
                raise AssertionError(f"space {subject.name}: {method} gave an arch outside the space: {exc}") from None
    assert space.mutate(a, rng) != a, f"space {subject.name}: mutate(arch, rng) gave the arch itself"


def check_same_seed_same_samples(plugin: type[Plugin] | Subject, /, **settings: Any) -> None:
    """``sample(rng)`` depends on ``rng`` alone: the same seed draws the same archs."""
    subject, space = _space(plugin, settings)
    assert sample_archs(space, 10, seed=7) == sample_archs(space, 10, seed=7), (
        f"space {subject.name}: sample(rng) draws other archs from a generator with the same seed; "
        "take every random draw from rng"
    )


def check_graph_has_labelled_blocks_one_input_one_output(plugin: type[Plugin] | Subject, /,
                                                         **settings: Any) -> None:
    """``graph(arch)`` is a networkx DAG whose nodes have non-empty string labels, with one
    source (the input) and one sink (the output): every encoding works from it."""
    subject, space = _space(plugin, settings)
    for arch in sample_archs(space, 10, seed=4):
        graph = space.graph(arch)
        assert isinstance(graph, nx.DiGraph) and nx.is_directed_acyclic_graph(graph), (
            f"space {subject.name}: graph() must return an acyclic networkx.DiGraph, got {type(graph).__name__}"
        )
        unlabelled = [n for n, label in graph.nodes(data="label") if not (isinstance(label, str) and label)]
        assert not unlabelled, (
            f"space {subject.name}: graph nodes {unlabelled[:5]} have no string `label` attribute "
            "(g.add_node(i, label='attention-h4'))"
        )
        sources = [n for n in graph if graph.in_degree(n) == 0]
        sinks = [n for n in graph if graph.out_degree(n) == 0]
        assert len(sources) == 1 and len(sinks) == 1, (
            f"space {subject.name}: a graph has exactly one input (no in-edges) and one output (no out-edges); "
            f"got inputs {sources[:5]} and outputs {sinks[:5]} for {arch.canonical}"
        )


def check_cardinality_and_enumeration_agree(plugin: type[Plugin] | Subject, /, **settings: Any) -> None:
    """``cardinality()`` is a positive int and, for a space of at most 20,000 cards,
    ``enumerate()`` yields exactly that many distinct archs."""
    subject, space = _space(plugin, settings)
    count = space.cardinality()
    assert isinstance(count, int) and count > 0, (
        f"space {subject.name}: cardinality() must be a positive int, got {count!r}"
    )
    if space.enumerable and count <= ENUMERATE_UP_TO:
        archs = list(space.enumerate())
        assert len(archs) == len(set(archs)) == count, (
            f"space {subject.name}: cardinality() is {count:,} but enumerate() gave {len(archs):,} archs, "
            f"{len(set(archs)):,} of them distinct (the decision vector reaches that many cards)"
        )


def check_invalid_cards_are_refused_with_a_message(plugin: type[Plugin] | Subject, /, **settings: Any) -> None:
    """A card with unknown fields, and an arch of another space, raise ``InvalidCardError``
    with a message (what users see when they type a bad card)."""
    subject, space = _space(plugin, settings)
    try:
        space.arch({"no such field": 1})
    except InvalidCardError as exc:
        assert str(exc).strip(), f"space {subject.name}: InvalidCardError without a message for a bad card"
    else:
        raise AssertionError(f"space {subject.name} accepted the card {{'no such field': 1}}; validate_card "
                             "must raise InvalidCardError naming the field that is wrong")
    stranger = Arch.from_card("another space", sample_archs(space, 1)[0].card)
    try:
        space.check(stranger)
    except InvalidCardError:
        pass
    else:
        raise AssertionError(f"space {subject.name}: check() accepted an arch of another space")


def check_a_hierarchical_space_spans_child_spaces(plugin: type[Plugin] | Subject, /, **settings: Any) -> None:
    """A :class:`~nasbench_txf.core.space.Hierarchical` space (others pass): the options
    ``child_options(parents)`` gives open a space of the same plugin, which samples valid
    archs; ``closest`` ranks exactly the candidates other than the query."""
    subject, space = _space(plugin, settings)
    if not isinstance(space, Hierarchical):
        return
    parents = sample_archs(space, 3, seed=5)
    options = space.child_options(parents)
    child = subject.plugin(subject.plugin.make_options(dict(options)))
    assert isinstance(child, Space)
    for arch in sample_archs(child, 5, seed=6):
        child.check(arch)
    ranked = space.closest(parents[0], parents)
    assert sorted(a.id for a in ranked) == sorted({a.id for a in parents[1:]} - {parents[0].id}), (
        f"space {subject.name}: closest(query, candidates) must rank every candidate but the query, once"
    )


CHECKS = (
    check_samples_are_valid_and_round_trip_through_json,
    check_decision_vector_round_trips,
    check_moves_stay_in_the_space,
    check_same_seed_same_samples,
    check_graph_has_labelled_blocks_one_input_one_output,
    check_cardinality_and_enumeration_agree,
    check_invalid_cards_are_refused_with_a_message,
    check_a_hierarchical_space_spans_child_spaces,
)
