"""A tiny space and a benchmark with a known optimum, for checks and tests.

:class:`ToyGrid` (336 cards) and :class:`ToyQuadratic` (exact, instant, optional noise,
delay and injected failures) are what the strategy checks of :mod:`nasbench_txf.testing`
run on by default. They are usable by class, without being registered: nasbench-txf does
not register them itself, so they do not show up in ``nasbench-txf list``. (The project's
own test suite registers them as ``toy-grid`` and ``toy-quadratic`` through an entry point.)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.benchmark import Benchmark
from nasbench_txf.core.errors import InvalidCardError
from nasbench_txf.core.result import Metric, Result
from nasbench_txf.core.space import Decision, Space

OPS = ("a", "b", "c", "d")
DEPTHS = (2, 3, 4)
TARGET = ("c", "a", "d", "b")


class ToyGrid(Space):
    """Test space: 2-4 positions, each one of four ops (336 cards).

    A card is ``{"n": 3, "ops": ["a", "c", "b"]}``; its graph is a chain input → ops → output.
    """

    name = "toy-grid"

    def validate_card(self, card: Mapping[str, Any]) -> dict[str, Any]:
        if set(card) != {"n", "ops"}:
            raise InvalidCardError(f"toy-grid: a card has fields n and ops, got {sorted(card)}")
        if card["n"] not in DEPTHS:
            raise InvalidCardError(f"toy-grid: n must be one of {DEPTHS}, got {card['n']!r}")
        ops = card["ops"]
        if not isinstance(ops, list) or len(ops) != card["n"]:
            raise InvalidCardError(f"toy-grid: ops must be a list of n={card['n']} ops")
        for i, op in enumerate(ops):
            if op not in OPS:
                raise InvalidCardError(f"toy-grid: ops[{i}] must be one of {OPS}, got {op!r}")
        return {"n": card["n"], "ops": list(ops)}

    def cardinality(self) -> int:
        return sum(len(OPS) ** n for n in DEPTHS)

    def decisions(self) -> Sequence[Decision]:
        return [Decision("n", DEPTHS)] + [Decision(f"op{i}", OPS) for i in range(max(DEPTHS))]

    def to_decisions(self, arch: Arch) -> tuple[int, ...]:
        card = arch.card
        ops = [OPS.index(op) for op in card["ops"]]
        return (DEPTHS.index(card["n"]), *ops, *([0] * (max(DEPTHS) - len(ops))))

    def from_decisions(self, index: Sequence[int]) -> Arch:
        n = DEPTHS[index[0]]
        return self.arch({"n": n, "ops": [OPS[i] for i in index[1 : 1 + n]]})

    def graph(self, arch: Arch) -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_node(0, label="input")
        ops = arch.card["ops"]
        for i, op in enumerate(ops, start=1):
            g.add_node(i, label=f"op-{op}")
            g.add_edge(i - 1, i)
        g.add_node(len(ops) + 1, label="output")
        g.add_edge(len(ops), len(ops) + 1)
        return g


@dataclass(frozen=True)
class QuadraticOptions:
    noise: float = field(default=0.0, metadata={"help": "standard deviation of seeded noise"})
    noisy_op: str = field(default="", metadata={"help": "cards whose first op is this have 5 times the noise"})
    bad_runs: float = field(default=0.0, metadata={"help": "this share of runs falls short by an exponential drop, "
                                                            "its mean 10 times the noise"})
    delay: float = field(default=0.0, metadata={"help": "real seconds each evaluation sleeps"})
    fail_op: str = field(default="", metadata={"help": "cards using this op fail"})
    crash_op: str = field(default="", metadata={"help": "evaluating a card using this op kills the process"})
    crash_once: str = field(default="", metadata={"help": "marker file: the first evaluation creates it and dies"})
    log: str = field(default="", metadata={"help": "file each finished evaluation appends a line to"})


def size_of(arch: Arch) -> float:
    """The ``size`` metric of a toy-grid card: the sum of its ops' ranks (a = 1 … d = 4)."""
    return float(sum(OPS.index(op) + 1 for op in arch.card["ops"]))


def true_score(card: Mapping[str, Any]) -> float:
    """Matches to TARGET position by position, plus a bonus for full depth; optimum 4.25."""
    hits = sum(op == t for op, t in zip(card["ops"], TARGET, strict=False))
    return hits + 0.25 * (card["n"] == 4)


class ToyQuadratic(Benchmark):
    """Test benchmark on toy-grid: known optimum 4.25, optional noise, delay and failures.

    Metrics: ``score`` (maximised: :func:`true_score` plus seeded noise) and ``size``
    (minimised, from the card alone: :func:`size_of`). The failure and crash options let
    tests of runners and strategies see failed trials and dying workers.
    """

    name = "toy-quadratic"
    Options = QuadraticOptions
    tasks = ("match",)
    default_task = "match"

    @classmethod
    def unsupported(cls, space: Space) -> str | None:
        return None if space.name == "toy-grid" else "it only knows toy-grid"

    @classmethod
    def card_metrics(cls, space: Space, task: str | None,
                     options: Mapping[str, Any]) -> dict[str, Callable[[Arch], float]]:
        return {"size": size_of}

    @property
    def metrics(self) -> tuple[Metric, ...]:
        return (Metric("score", maximize=True), Metric("size", maximize=False, unit="ops"))

    def expected(self, archs: Sequence[Arch]) -> np.ndarray:
        return np.array([true_score(a.card) for a in archs], dtype=float)

    def best_known(self) -> float:
        return true_score({"ops": list(TARGET), "n": 4})

    def seed_noise(self) -> float:
        """The noise option: every arch's observations scatter by it (the noisy op's by 5×)."""
        return float(self.options.noise)

    def evaluate(self, arch: Arch, seed: int) -> Result:
        card = arch.card
        if self.options.delay:
            time.sleep(self.options.delay)
        if self.options.crash_op and self.options.crash_op in card["ops"]:
            os._exit(3)
        if self.options.crash_once and not os.path.exists(self.options.crash_once):
            open(self.options.crash_once, "w").close()
            os._exit(3)
        if self.options.fail_op and self.options.fail_op in card["ops"]:
            return Result.failed(f"op {self.options.fail_op} diverged", cost_seconds=1.0)
        scale = self.options.noise * (5.0 if card["ops"][0] == self.options.noisy_op else 1.0)
        rng = np.random.default_rng([seed, int(arch.id, 16) % 2**32])
        noise = rng.normal() * scale
        if rng.random() < self.options.bad_runs:
            noise -= rng.exponential(10.0 * self.options.noise)
        if self.options.log:
            with open(self.options.log, "a") as log:
                log.write(f"{arch.id}\n")
        return Result({"score": true_score(card) + noise, "size": size_of(arch)},
                      cost_seconds=10.0 + 5.0 * card["n"])


class ToyTrainable(ToyQuadratic):
    """The toy benchmark, lending a training context (its options) to strategies that train, so
    that their checks run too."""

    name = "toy-trainable"

    def training_context(self) -> Any:
        return self.options
