"""The contract of a strategy: what every registered strategy must pass.

The checks run the strategy through the runner's own ask/evaluate/tell loop
(:func:`~nasbench_txf.run.trials.cell_trials`), on the toy space and benchmark unless the
:class:`~nasbench_txf.testing.subject.Subject` names others.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.benchmark import Benchmark
from nasbench_txf.core.errors import InvalidCardError
from nasbench_txf.core.plugin import Plugin
from nasbench_txf.core.result import Result
from nasbench_txf.core.strategy import PredictsScores, Strategy
from nasbench_txf.run.cell import Cell, incompatibility
from nasbench_txf.run.store import TrialRow
from nasbench_txf.run.trials import Budget, cell_trials, prepare
from nasbench_txf.testing.subject import Subject, as_subject, strategy_benchmark, strategy_encoding

#: trials of the determinism check (run twice)
ROUNDS = 12
#: trials of the checks that go on past the point where model-based strategies start fitting
LONG_ROUNDS = 20

#: what the repeated-ask message tells the author to do
NEVER_TWICE = (
    "a strategy must never ask the same arch twice: each query of the budget must measure a new "
    "arch. Keep the archs asked so far (a set) and draw again when a proposal is among them "
    "(nasbench_txf.strategies.unseen.draw_unseen does this), or answer a repeated proposal from "
    "the result already told instead of asking it"
)


def strategy_cell(plugin: type[Plugin] | Subject, seed: int = 0, *, benchmark: Benchmark | None = None,
                  **settings: Any) -> Cell:
    """A cell ready for :func:`~nasbench_txf.run.trials.cell_trials`: the strategy made as the
    runner makes it (on the benchmark's search space, with its objective and metrics, the
    encoding it needs, fitted, and ``seed``), on the benchmark of the subject's settings."""
    subject = as_subject(plugin, **settings)
    strategy_cls = subject.plugin
    if not issubclass(strategy_cls, Strategy):
        raise TypeError(f"{strategy_cls.__name__} is not a Strategy")
    options = subject.make_options()
    bench = benchmark if benchmark is not None else strategy_benchmark(subject)
    space = bench.search_space()
    encoding_cls = strategy_encoding(subject)
    if reason := incompatibility(strategy_cls, space, encoding_cls, bench):
        raise AssertionError(f"strategy {subject.name} cannot run on the checks' set-up: {reason}; "
                             "pass Subject(..., space=..., benchmark=..., encoding=...) with one it can run on")
    encoding = None
    if encoding_cls is not None:
        encoding = encoding_cls(space, encoding_cls.make_options())
        encoding.fit()
    strategy = strategy_cls(space, objective=bench.objective, metrics=bench.metrics, seed=seed,
                            encoding=encoding, options=options)
    key = {"check": subject.name, "benchmark": bench.name, "seed": seed}
    return Cell(key, bench.space, bench, encoding, strategy)


@contextmanager
def prepared(cell: Cell) -> Iterator[None]:
    """``cell`` given a temporary run folder (a strategy that trains keeps its checkpoints there)."""
    with tempfile.TemporaryDirectory(prefix="nasbench-txf-checks-") as folder:
        prepare(cell, Path(folder) / "checks.sqlite")
        yield


def run_strategy(plugin: type[Plugin] | Subject, rounds: int, seed: int = 0, *,
                 benchmark: Benchmark | None = None, **settings: Any) -> list[TrialRow]:
    """Run ``rounds`` trials of the strategy (see :func:`strategy_cell`) as the runner does,
    without a store; return them. Fails as soon as the strategy asks an arch a second time,
    and when it stops before ``rounds`` trials."""
    subject = as_subject(plugin, **settings)
    cell = strategy_cell(subject, seed, benchmark=benchmark)
    rows: list[TrialRow] = []
    first: dict[str, int] = {}
    with prepared(cell):
        for row in cell_trials(cell, [], Budget(queries=rounds)):
            assert isinstance(row, TrialRow)
            if row.arch_id in first:
                raise AssertionError(
                    f"strategy {subject.name} asked arch {row.arch_id} again at trial {row.trial} (first asked "
                    f"at trial {first[row.arch_id]}, card {row.card}); {NEVER_TWICE}"
                )
            first[row.arch_id] = row.trial
            rows.append(row)
    if len(rows) < rounds:
        raise AssertionError(
            f"strategy {subject.name} stopped after {len(rows)} of {rounds} trials on a space of "
            f"{cell.strategy.space.cardinality():,} archs (its `finished` became True): a strategy should "
            "finish only by a convergence criterion of its own, and not within the checks' few trials"
        )
    assert [r.trial for r in rows] == list(range(rounds)), "the run loop numbers trials 0, 1, 2, …"
    return rows


def check_never_asks_twice(plugin: type[Plugin] | Subject, /, **settings: Any) -> None:
    """Over 20 trials, each a new arch: the strategy never asks an arch it asked before."""
    run_strategy(plugin, LONG_ROUNDS, seed=2, **settings)


def check_same_seed_same_trials(plugin: type[Plugin] | Subject, /, **settings: Any) -> None:
    """Two runs with the same seed ask the same archs in the same order (how a killed run resumes)."""
    subject = as_subject(plugin, **settings)
    first = [r.arch_id for r in run_strategy(subject, ROUNDS, seed=3)]
    again = [r.arch_id for r in run_strategy(subject, ROUNDS, seed=3)]
    if first != again:
        trial = next(i for i, (a, b) in enumerate(zip(first, again, strict=True)) if a != b)
        raise AssertionError(
            f"strategy {subject.name} asked different archs in two runs with the same seed: at trial {trial}, "
            f"{first[trial]} then {again[trial]}. A run is resumed by replaying its stored results through a "
            "fresh strategy with the same seed, which must ask the same archs: take every random draw from "
            "self.rng (seeded with the run's seed) — never from numpy's or Python's global generators, the "
            "clock, or the order of a set — and build the strategy's state in setup()"
        )


def check_batch_ask_gives_distinct_valid_archs(plugin: type[Plugin] | Subject, /, **settings: Any) -> None:
    """``ask(4)`` gives 4 distinct archs of the space, and after they are told, ``ask(2)`` none of them."""
    subject = as_subject(plugin, **settings)
    cell = strategy_cell(subject, 0)
    strategy, space = cell.strategy, cell.strategy.space
    with prepared(cell):
        batch = strategy.ask(4)
    if len(batch) != 4:
        raise AssertionError(f"strategy {subject.name}: ask(4) returned {len(batch)} archs; ask(n) must "
                             "return a list of n archs (a batch for n parallel workers)")
    _all_in_space(subject, space, batch)
    seen: set[Arch] = set()
    for i, arch in enumerate(batch):
        if arch in seen:
            raise AssertionError(f"strategy {subject.name}: ask(4) returned arch {arch.id} twice in one batch "
                                 f"(again at position {i}); {NEVER_TWICE}")
        seen.add(arch)
    for arch in batch:
        strategy.tell(arch, cell.benchmark.evaluate(arch, 0))
    after = strategy.ask(2)
    _all_in_space(subject, space, after)
    for arch in after:
        if arch in seen:
            raise AssertionError(f"strategy {subject.name} asked arch {arch.id} again in ask(2) after a first "
                                 f"ask(4) had asked it and its result was told; {NEVER_TWICE}")


def _all_in_space(subject: Subject, space: Any, archs: list[Arch]) -> None:
    for arch in archs:
        if not isinstance(arch, Arch):
            raise AssertionError(f"strategy {subject.name}: ask returned {arch!r}, not an Arch")
        try:
            space.check(arch)
        except InvalidCardError as exc:
            raise AssertionError(
                f"strategy {subject.name} asked an arch that is not a card of space {space.name}: {exc}. Make "
                "archs with the space's own methods (self.space.sample, mutate, neighbours, crossover, "
                "from_decisions, arch(card)), and on the space the strategy was given (self.space)"
            ) from None


class FailingHalf:
    """A benchmark whose evaluations fail for about half of the archs (those with an odd id),
    as trainings do (a diverged live run, a table's failed row), each costing a second."""

    def __init__(self, benchmark: Benchmark) -> None:
        self.benchmark = benchmark

    def __getattr__(self, name: str) -> Any:
        return getattr(self.benchmark, name)

    def evaluate(self, arch: Arch, seed: int) -> Result:
        if int(arch.id, 16) % 2:
            return Result.failed("the training diverged (a failure the check injects)", cost_seconds=1.0)
        return self.benchmark.evaluate(arch, seed)

    def evaluate_with(self, arch: Arch, seed: int, weights: Path) -> Result:
        """As :meth:`evaluate`, for a one-shot strategy's trained weights."""
        if int(arch.id, 16) % 2:
            return Result.failed("the training diverged (a failure the check injects)", cost_seconds=1.0)
        return self.benchmark.evaluate_with(arch, seed, weights)  # type: ignore[attr-defined]


def check_failed_evaluations_are_told_and_the_search_goes_on(plugin: type[Plugin] | Subject, /,
                                                              **settings: Any) -> None:
    """With about half of the evaluations failing, past the point where model-based strategies
    start fitting, the strategy takes the failures and goes on for 20 distinct trials."""
    subject = as_subject(plugin, **settings)
    bench = FailingHalf(strategy_benchmark(subject))
    try:
        rows = run_strategy(subject, LONG_ROUNDS, seed=1, benchmark=bench)  # type: ignore[arg-type]
    except AssertionError:
        raise
    except Exception as exc:
        raise AssertionError(
            f"strategy {subject.name} raised {type(exc).__name__}: {exc} in a search where about half of "
            "the evaluations fail. A failed Result has status 'failed', a reason and no metrics: read a "
            "result through self.score(result) (the objective to maximise, None for a failure) or "
            "result.value(name), skip or penalise failures in models, and go on"
        ) from exc
    failed = sum(r.status == "failed" for r in rows)
    assert 0 < failed < LONG_ROUNDS, (
        f"strategy {subject.name}: {failed} of {LONG_ROUNDS} trials failed, where about half of the archs fail; "
        "the check needs both kinds: does the strategy ask only one kind of arch?"
    )


def check_a_score_predictor_ranks_unseen_archs(plugin: type[Plugin] | Subject, /, **settings: Any) -> None:
    """A strategy that predicts scores (:class:`~nasbench_txf.core.strategy.PredictsScores`)
    returns one finite prediction per test row, the same for the same seed, and ranks unseen
    archs of a score that is a plain linear function of their encodings: fitted on 40 archs, it
    orders 40 others with Kendall τ above 0.3. Other strategies pass as they are."""
    from scipy.stats import kendalltau

    subject = as_subject(plugin, **settings)
    cell = strategy_cell(subject, seed=0)
    if not isinstance(cell.strategy, PredictsScores):
        return
    space, encoding = cell.strategy.space, cell.strategy.encoding
    assert encoding is not None, f"strategy {subject.name} predicts scores from an encoding but was given none"
    rng = np.random.default_rng(0)
    archs = list(dict.fromkeys(space.sample(rng) for _ in range(400)))[:80]
    x = encoding.encode(archs)
    y = x @ rng.normal(size=x.shape[1])
    train, test = slice(0, len(archs) // 2), slice(len(archs) // 2, None)
    first = np.asarray(cell.strategy.predict(x[train], y[train], x[test]))
    again = np.asarray(strategy_cell(subject, seed=0).strategy.predict(x[train], y[train], x[test]))  # type: ignore[attr-defined]
    assert first.shape == (len(archs) - len(archs) // 2,) and np.isfinite(first).all(), (
        f"strategy {subject.name}: predict must return one finite score per row of test_x, got shape {first.shape}")
    assert np.array_equal(first, again), f"strategy {subject.name}: predict with the same seed gave other predictions"
    tau = kendalltau(first, y[test]).statistic
    assert tau > 0.3, (f"strategy {subject.name}: its predictor ranks held-out archs of a linear score with "
                       f"Kendall tau {tau:.2f}; does predict return scores to maximise, for the rows of test_x?")


CHECKS = (
    check_never_asks_twice,
    check_same_seed_same_trials,
    check_batch_ask_gives_distinct_valid_archs,
    check_failed_evaluations_are_told_and_the_search_goes_on,
    check_a_score_predictor_ranks_unseen_archs,
)
