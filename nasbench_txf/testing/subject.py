"""What the checks run a plugin with: :class:`Subject`, and small set-ups that fit together.

A check takes a plugin class, or a :class:`Subject` (the class plus its options and the space
or benchmark to run it on). Every setting has a small default that works for the built-ins:
the toy space :class:`~nasbench_txf.testing.toy.ToyGrid` and, for strategies, the toy
benchmark :class:`~nasbench_txf.testing.toy.ToyQuadratic` with a little noise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.benchmark import Benchmark
from nasbench_txf.core.encoding import Encoding
from nasbench_txf.core.plugin import Plugin
from nasbench_txf.core.registry import BASES, Kind, get_encoding
from nasbench_txf.core.space import Space
from nasbench_txf.core.strategy import Strategy
from nasbench_txf.testing.toy import ToyGrid, ToyQuadratic, ToyTrainable

#: the encoding a strategy that models performance is checked with, unless a Subject names one
DEFAULT_ENCODING = "onehot"
#: the toy benchmark's noise in the strategy checks (so that an arch's result depends on the seed)
TOY_NOISE = 0.1


@dataclass(frozen=True)
class Subject:
    """A plugin class and the settings its checks run it with.

    Pass one wherever a check or :func:`~nasbench_txf.testing.parametrize_with_checks` takes a
    plugin, when the defaults do not fit::

        Subject(MyEncoding, options={"dims": "16"}, space=MySpace)
        Subject(MyBenchmark, options=lambda: {"data_dir": str(find_data())}, space=MySpace)
        Subject(MyStrategy, benchmark=MyBenchmark(MySpace(), options=...))
    """

    #: the class under test: a subclass of Space, Encoding, Strategy or Benchmark
    plugin: type[Plugin]
    #: the plugin's options as users give them (``KEY=VALUE`` strings or typed values), or a
    #: function returning them, called when a check runs (for values known only then, such as
    #: the path of data made by a fixture)
    options: Mapping[str, Any] | Callable[[], Mapping[str, Any]] = field(default_factory=dict)
    #: encodings, benchmarks and strategies: the space they run on, an instance or a class (made
    #: with its default options); default :class:`~nasbench_txf.testing.toy.ToyGrid`
    space: Space | type[Space] | None = None
    #: strategies: the benchmark that evaluates their asks, an instance or a class (made on
    #: ``space`` with its default options); default :func:`toy_benchmark`
    benchmark: Benchmark | type[Benchmark] | None = None
    #: strategies that model performance (``requires.encoding``): the encoding class they get
    #: (with its default options); default the built-in ``onehot``
    encoding: type[Encoding] | None = None
    #: the first part of the test ids; default the plugin's name, then the space's if given
    id: str | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.plugin, type) and issubclass(self.plugin, tuple(BASES.values()))):
            raise TypeError(f"a Subject's plugin is a Space, Encoding, Strategy or Benchmark subclass "
                            f"(the class, not an instance), got {self.plugin!r}")

    @property
    def name(self) -> str:
        return str(getattr(self.plugin, "name", self.plugin.__name__))

    @property
    def kind(self) -> Kind:
        return next(kind for kind, base in BASES.items() if issubclass(self.plugin, base))

    @property
    def test_id(self) -> str:
        if self.id is not None:
            return self.id
        if self.space is None:
            return self.name
        return f"{self.name}-{getattr(self.space, 'name', type(self.space).__name__)}"

    def given_options(self) -> dict[str, Any]:
        """The options as given (calling the function that returns them, if that was given)."""
        return dict(self.options() if callable(self.options) else self.options)

    def make_options(self) -> Any:
        """The plugin's parsed ``Options`` object."""
        return self.plugin.make_options(self.given_options())

    def make_space(self) -> Space:
        """The space to run on (a new one when ``space`` is a class or not given)."""
        return _space(self.space)


def as_subject(plugin: type[Plugin] | Subject, **settings: Any) -> Subject:
    """``plugin`` as a :class:`Subject`, with ``settings`` (Subject's fields) changed."""
    if isinstance(plugin, Subject):
        return dataclasses.replace(plugin, **settings) if settings else plugin
    return Subject(plugin, **settings)


def _space(space: Space | type[Space] | None) -> Space:
    if space is None:
        return ToyGrid()
    if isinstance(space, type):
        return space(space.make_options())
    return space


def sample_archs(space: Space, n: int, seed: int = 0) -> list[Arch]:
    """``n`` archs drawn by ``space.sample`` from a generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    return [space.sample(rng) for _ in range(n)]


def toy_space() -> ToyGrid:
    """The toy space (336 cards), with its default options."""
    return ToyGrid()


def toy_benchmark(noise: float = TOY_NOISE, **options: Any) -> ToyQuadratic:
    """The toy benchmark on the toy space: score 4.25 at best, seeded noise of sd ``noise``."""
    return ToyQuadratic(toy_space(), options=ToyQuadratic.make_options({"noise": noise, **options}))


def strategy_benchmark(subject: Subject) -> Benchmark:
    """The benchmark a strategy's checks evaluate its asks with (see :class:`Subject`)."""
    bench = subject.benchmark
    if isinstance(bench, Benchmark):
        return bench
    trains = issubclass(subject.plugin, Strategy) and subject.plugin.requires.trains
    default = ToyTrainable if trains else ToyQuadratic
    if bench is None and subject.space is None:
        return default(toy_space(), options=default.make_options({"noise": TOY_NOISE}))
    bench_cls = bench if bench is not None else default
    space = subject.make_space()
    if reason := bench_cls.unsupported(space):
        raise AssertionError(
            f"the checks of strategy {subject.name} cannot evaluate archs of space {space.name} with "
            f"benchmark {bench_cls.name}: {reason}; pass Subject(..., benchmark=...) with a benchmark of that space"
        )
    options = {"noise": TOY_NOISE} if issubclass(bench_cls, ToyQuadratic) else {}
    return bench_cls(space, options=bench_cls.make_options(options))


def strategy_encoding(subject: Subject) -> type[Encoding] | None:
    """The encoding class a strategy's checks give it (``None`` for a strategy that needs none)."""
    strategy = subject.plugin
    assert issubclass(strategy, Strategy)
    if not strategy.requires.encoding:
        return None
    return subject.encoding if subject.encoding is not None else get_encoding(DEFAULT_ENCODING)
