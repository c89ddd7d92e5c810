"""Proposals: an outside optimiser's repeats answered, never an arch asked twice."""

from __future__ import annotations

import numpy as np

from nasbench_txf.core.result import Result
from nasbench_txf.strategies.proposals import MAX_REPEATS, Proposals
from nasbench_txf.testing import toy_benchmark


def test_a_proposal_of_a_random_arch_still_in_flight_waits_for_its_result() -> None:
    bench = toy_benchmark()
    space = bench.search_space()
    book: Proposals[str] = Proposals(space, np.random.default_rng(0))
    answered: list[tuple[str, Result]] = []
    random_arch, handle = book.ask(lambda: None, lambda h, r: answered.append((h, r)))  # nothing to propose
    assert handle is None and random_arch in book.seen
    vector = tuple(space.to_decisions(random_arch))
    proposals = iter([(vector, "repeat"), None])
    other, handle = book.ask(lambda: next(proposals), lambda h, r: answered.append((h, r)))
    assert other != random_arch and handle is None and not answered  # the repeat waits, the ask is random
    result = bench.evaluate(random_arch, 0)
    assert book.record(random_arch, result) == ["repeat"]
    assert book.record(other, bench.evaluate(other, 0)) is None  # no handle proposed it


def test_a_known_arch_is_answered_at_once_and_a_stuck_optimiser_gets_a_random_arch() -> None:
    bench = toy_benchmark()
    space = bench.search_space()
    book: Proposals[int] = Proposals(space, np.random.default_rng(0))
    first, _ = book.ask(lambda: (tuple(space.to_decisions(space.sample(np.random.default_rng(1)))), 0),
                        lambda h, r: None)
    result = bench.evaluate(first, 0)
    book.record(first, result)
    calls: list[int] = []
    answered: list[int] = []

    def propose() -> tuple[tuple[int, ...], int]:
        calls.append(len(calls))
        return tuple(space.to_decisions(first)), len(calls)

    arch, handle = book.ask(propose, lambda h, r: answered.append(h))
    assert arch != first and handle is None
    assert len(calls) == 2 and answered == [1, 2]  # the same vector twice: stuck after two answers
    assert len(book.seen) == 2 and MAX_REPEATS > 2
