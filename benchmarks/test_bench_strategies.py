"""Strategy overhead: seconds per model-based ask at 100 observations on ``flexibert`` level 1
(goals: at most 2 s on 2 cores for boshnas with t2v, gp-bo and bananas). Encoding fits are
measured in ``test_bench_encodings.py``; here they are cached by the first call, and the first
round also encodes the whole space once (the strategies look its rows up afterwards).

Each round measures the ask that fits the strategy's model: BOSHNAS's model-based branch
(not its α/β random picks), GP-BO's every ask, and a BANANAS ask that trains its ensemble
(it then serves ``per_round`` = 10 asks from that one fit, so its mean cost per ask is lower).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.registry import get_encoding, get_space, get_strategy
from nasbench_txf.core.result import Metric, Result
from nasbench_txf.core.strategy import Strategy
from nasbench_txf.core.threads import one_thread


def strategy_at_100(name: str, encoding_name: str) -> Strategy:
    space = get_space("flexibert")()
    encoding_cls = get_encoding(encoding_name)
    encoding = encoding_cls(space, encoding_cls.make_options())
    encoding.fit()
    cls = get_strategy(name)
    strategy = cls(space, objective=Metric("accuracy", True), seed=0, encoding=encoding, options=cls.make_options())
    rng = np.random.default_rng(0)
    for _ in range(100):
        strategy.tell(space.sample(rng), Result({"accuracy": float(rng.random())}, 1.0))
    return strategy


def fitting_ask(strategy: Strategy) -> Callable[[], list[Arch]]:
    if strategy.name == "boshnas":
        return lambda: strategy._model_based(1, uncertainty=False)  # type: ignore[attr-defined]
    if strategy.name == "bananas":
        def ask() -> list[Arch]:
            strategy.queue.clear()  # type: ignore[attr-defined]
            return strategy.ask(1)
        return ask
    return lambda: strategy.ask(1)


@pytest.mark.parametrize(("name", "encoding"), [("boshnas", "t2v"), ("boshnas", "path"), ("gp-bo", "t2v"),
                                                ("gp-bo", "onehot"), ("gp-bo", "path"), ("bananas", "path"),
                                                ("bananas", "t2v")])
def test_ask_at_100_observations(benchmark, name: str, encoding: str) -> None:  # type: ignore[no-untyped-def]
    strategy = strategy_at_100(name, encoding)
    ask = fitting_ask(strategy)

    def timed() -> None:
        with one_thread():
            (arch,) = ask()
        strategy.space.check(arch)

    benchmark.pedantic(timed, rounds=5, iterations=1)
