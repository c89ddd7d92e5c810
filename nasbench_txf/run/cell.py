"""A cell: one (space, benchmark, task, strategy, encoding, seed) combination, ready to run."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from nasbench_txf.core.arch import canonical_json
from nasbench_txf.core.benchmark import Benchmark, LendsTraining, ScoresTrainedWeights
from nasbench_txf.core.encoding import Encoding
from nasbench_txf.core.errors import IncompatibleError, UserError
from nasbench_txf.core.options import options_dict
from nasbench_txf.core.registry import get_encoding, get_strategy, open_benchmark, registry
from nasbench_txf.core.space import ChecksCosts, RelaxedSupernet, Space, SuperNetwork
from nasbench_txf.core.strategy import Strategy
from nasbench_txf.run.simulation import Simulation

#: the largest seed: every random generator the plugins use accepts 32-bit seeds
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class CellSpec:
    """What the user asked for, with plugin options as given (strings or typed values)."""

    space: str
    strategy: str
    benchmark: str
    seed: int
    encoding: str | None = None
    task: str | None = None
    space_options: Mapping[str, Any] = field(default_factory=dict)
    strategy_options: Mapping[str, Any] = field(default_factory=dict)
    encoding_options: Mapping[str, Any] = field(default_factory=dict)
    benchmark_options: Mapping[str, Any] = field(default_factory=dict)
    simulation: Simulation = field(default_factory=Simulation)

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise UserError(f"a seed must be a whole number from 0 to {MAX_SEED:,}, got {self.seed!r}")


def incompatibility(
    strategy: type[Strategy],
    space: Space,
    encoding: type[Encoding] | None,
    benchmark: Benchmark,
) -> str | None:
    """Why this combination cannot work, or ``None`` when it can."""
    needs = strategy.requires
    if needs.encoding and encoding is None:
        names = ", ".join(registry("encodings").names()) or "none registered"
        return f"strategy {strategy.name} models performance and needs --encoding (one of: {names})"
    if not needs.encoding and encoding is not None:
        return (f"strategy {strategy.name} does not use an encoding; "
                f"drop --encoding {encoding.name}")
    if needs.enumerable_space and not space.enumerable:
        return (f"strategy {strategy.name} needs an enumerable space; {space.name} has "
                f"{space.cardinality():,} cards (limit {space.enumeration_limit:,})")
    if needs.supernet and not isinstance(space, SuperNetwork):
        return f"strategy {strategy.name} needs a super-network space; {space.name} is not one"
    if needs.trains and not isinstance(benchmark, LendsTraining):
        return (f"strategy {strategy.name} trains models itself and needs a benchmark that lends it a training "
                f"context (its task data and recipe); benchmark {benchmark.name} does not")
    if needs.relaxes and not isinstance(space, RelaxedSupernet):
        return (f"strategy {strategy.name} trains the relaxed architecture parameters of a super-network; space "
                f"{space.name} has none (the composition space has)")
    if needs.relaxes and not isinstance(benchmark, ScoresTrainedWeights):
        return (f"strategy {strategy.name} needs a benchmark that scores its card with the weights it trained; "
                f"benchmark {benchmark.name} does not (the supernet benchmark does)")
    if needs.multi_objective and len(benchmark.metrics) < 2:
        return (f"strategy {strategy.name} optimises several objectives; benchmark "
                f"{benchmark.name} reports only {benchmark.objective.name}")
    if encoding is not None and (reason := encoding.unsupported(space)):
        return f"encoding {encoding.name} cannot encode space {space.name}: {reason}"
    return None


@dataclass
class Cell:
    """Instantiated plugins of one cell and the normalised key that identifies it."""

    key: dict[str, Any]
    space: Space
    benchmark: Benchmark
    encoding: Encoding | None
    strategy: Strategy
    simulation: Simulation = field(default_factory=Simulation)

    @property
    def id(self) -> str:
        return cell_id(self.key)

    @property
    def seed(self) -> int:
        return int(self.key["seed"])


def cell_id(key: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(key).encode()).hexdigest()[:16]


def open_cell(spec: CellSpec) -> Cell:
    """Load and configure every plugin of ``spec``; refuse a bad combination before running.

    The strategy's and encoding's options are checked first: loading a benchmark can take
    a while (a surrogate may have to be fitted), and a typo should not wait for it.
    """
    strategy_cls = get_strategy(spec.strategy)
    strategy_options = strategy_cls.make_options(dict(spec.strategy_options))
    encoding_name = spec.encoding or (strategy_cls.default_encoding if strategy_cls.requires.encoding else None)
    encoding_cls = get_encoding(encoding_name) if encoding_name else None
    encoding_options = encoding_cls.make_options(dict(spec.encoding_options)) if encoding_cls else None
    benchmark = open_benchmark(spec.space, spec.space_options, spec.benchmark, spec.task, spec.benchmark_options)
    space = benchmark.space
    search_space = benchmark.search_space()
    if reason := incompatibility(strategy_cls, search_space, encoding_cls, benchmark):
        raise IncompatibleError(reason)
    if strategy_cls.requires.relaxes and isinstance(search_space, ChecksCosts):  # e.g. a profile of another device
        search_space.check_costs(benchmark.training_context().device)
    encoding = None
    if encoding_cls is not None:
        encoding = encoding_cls(search_space, encoding_options)
        encoding.fit()
    elif spec.encoding_options:
        raise IncompatibleError("--encoding-opt given without --encoding")
    strategy = strategy_cls(
        search_space,
        objective=benchmark.objective,
        metrics=benchmark.metrics,
        seed=spec.seed,
        encoding=encoding,
        options=strategy_options,
    )
    key = {
        "space": space.key(),
        "benchmark": {"name": benchmark.name, "task": benchmark.task,
                      "options": options_dict(benchmark.options)},
        "strategy": {"name": strategy.name, "options": options_dict(strategy.options)},
        "encoding": encoding.key() if encoding is not None else None,
        "seed": spec.seed,
    }
    if not spec.simulation.is_default:  # the trials depend on it; left out at the default, as in stores that predate it
        key["simulation"] = asdict(spec.simulation)
    return Cell(key, space, benchmark, encoding, strategy, spec.simulation)
