"""BOSHNAS overhead: seconds per model-based ask at 100 observations on ``flexibert`` level 1
with t2v (goal: at most 2 s on 2 cores). The t2v fit itself is measured in
``test_bench_encodings.py``; here it is cached by the first call."""

from __future__ import annotations

import numpy as np

from nasbench_txf.registry import get_encoding, get_space, get_strategy
from nasbench_txf.result import Metric, Result
from nasbench_txf.threads import one_thread


def test_boshnas_ask_at_100_observations(benchmark) -> None:  # type: ignore[no-untyped-def]
    space = get_space("flexibert")()
    encoding_cls = get_encoding("t2v")
    encoding = encoding_cls(space, encoding_cls.make_options())
    encoding.fit()
    cls = get_strategy("boshnas")
    strategy = cls(space, objective=Metric("accuracy", True), seed=0, encoding=encoding, options=cls.make_options())
    rng = np.random.default_rng(0)
    for _ in range(100):
        strategy.tell(space.sample(rng), Result({"accuracy": float(rng.random())}, 1.0))

    def ask() -> None:
        with one_thread():
            (arch,) = strategy._model_based(1, uncertainty=False)
        space.check(arch)

    benchmark.pedantic(ask, rounds=5, iterations=1)
