"""A benchmark of this suite as a plain black-box function of named parameters.

Optuna and Syne Tune both optimise a function of a dict of named hyperparameters; this
suite's benchmarks evaluate an :class:`~nasbench_txf.core.arch.Arch` at a seed.
:class:`BenchmarkProblem` is the bridge the two adapters share, so that they agree on the
parameters, the seed and the metrics:

- **Parameters**: one categorical parameter per decision of the benchmark's search space,
  named as the decision (``stack1.op``). Its values are the decision's choices where they are
  distinct scalars of one type (``str``, ``int``, ``float`` or ``bool``: what both libraries
  take as categories, and readable in their results); otherwise the choice indices 0…k−1.
  The decision mapping of a space may be many-to-one (unused layers of a shallow card), so
  two parameter dicts can stand for one arch; results record the card that was evaluated.
- **Seed**: every evaluation uses the one evaluation seed given, so the function is
  deterministic: the same parameters give the same values, as one training run per card
  would. Another seed draws other seed noise (the surrogate's) or reads another measured
  seed (a table's); an independent replicate of a study is a study at another seed.
- **Metrics**: the benchmark's objective first, then the cost metrics asked for
  (``against``), each with its direction; a failed evaluation has no values.

Nothing here imports Optuna or Syne Tune; :func:`~nasbench_txf.core.optional.require` imports them where an
adapter needs one, with one clear error where it is missing.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.benchmark import Benchmark
from nasbench_txf.core.errors import IncompatibleError, OptionError
from nasbench_txf.core.options import options_dict
from nasbench_txf.core.registry import open_benchmark
from nasbench_txf.core.result import Metric, Result
from nasbench_txf.core.space import Decision, Space
from nasbench_txf.run.cell import MAX_SEED

#: the benchmark used when none is named: the built-in surrogate, as ``nasbench-txf run`` does
DEFAULT_BENCHMARK = "surrogate"
#: the value types a decision's choices are offered as (one type per decision)
SCALARS = (bool, int, float, str)


def _type_name(value: Any) -> str:
    return type(value).__name__


def _scalar_key(value: Any) -> tuple[str, Any] | None:
    """What a parameter value is compared by: numbers by value (``4`` and ``4.0`` match, as
    a library may hand either back), booleans apart from numbers; ``None`` for a value no
    choice can equal."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, numbers.Real):
        return ("number", float(value))
    if isinstance(value, str):
        return ("str", value)
    return None


class Parameter:
    """One decision of the search space as a categorical parameter: its offered values and
    the choice index of each."""

    def __init__(self, decision: Decision) -> None:
        self.name = decision.name
        choices = tuple(decision.choices)
        types = {type(c) for c in choices}
        keys = [_scalar_key(c) for c in choices]
        #: the parameter takes the choice values (``True``) or the indices 0…k−1 (``False``)
        self.by_value = (len(types) == 1 and next(iter(types)) in SCALARS
                         and None not in keys and len(set(keys)) == len(keys))
        self.values: tuple[Any, ...] = choices if self.by_value else tuple(range(len(choices)))
        self._index = {key: i for i, key in enumerate(keys)} if self.by_value else {}

    def index(self, value: Any) -> int:
        """The choice index ``value`` stands for, or an :class:`OptionError` naming the values."""
        if self.by_value:
            key = _scalar_key(value)
            if key is not None and key in self._index:
                return self._index[key]
        elif isinstance(value, numbers.Integral) and not isinstance(value, bool) and 0 <= value < len(self.values):
            return int(value)
        shown = ", ".join(repr(v) for v in self.values)
        raise OptionError(f"parameter {self.name}={value!r} ({_type_name(value)}) is not one of its values: {shown}")


def _names(against: str | Sequence[str]) -> list[str]:
    """``against`` as a list of metric names: a comma-separated string or a sequence of strings."""
    if isinstance(against, str):
        return [name.strip() for name in against.split(",") if name.strip()]
    if not isinstance(against, Sequence) or not all(isinstance(name, str) for name in against):
        raise OptionError(f"against takes metric names (a sequence of str, or one comma-separated str), "
                          f"got {against!r}")
    return [name.strip() for name in against]


def _check_options(owner: str, options: Any) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, Mapping) or not all(isinstance(key, str) for key in options):
        raise OptionError(f"{owner} takes a mapping of option names to values, got {_type_name(options)}")
    return dict(options)


def check_seed(seed: Any) -> int:
    """``seed`` if it is a whole number from 0 to :data:`MAX_SEED`, else an :class:`OptionError`."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed <= MAX_SEED:
        raise OptionError(f"seed must be a whole number from 0 to {MAX_SEED:,}, got {seed!r}")
    return int(seed)


class BenchmarkProblem:
    """A benchmark as a deterministic function of named categorical parameters.

    Open one with :func:`open_problem`. :attr:`parameters` are the search space's decisions;
    :meth:`evaluate` turns a parameter dict into the arch it stands for and evaluates it at
    :attr:`seed`; :attr:`metrics` are what :meth:`values` returns from a result, the
    objective first.
    """

    def __init__(self, benchmark: Benchmark, seed: int, against: Sequence[str], recipe: dict[str, Any]) -> None:
        self.benchmark = benchmark
        self.seed = seed
        #: how to open the same benchmark again (pickling keeps this, not the fitted models)
        self.recipe = recipe
        self.space: Space = benchmark.search_space()
        self.parameters = [Parameter(d) for d in self.space.decisions()]
        self._by_name = {p.name: p for p in self.parameters}
        by_name = {m.name: m for m in benchmark.metrics}
        objective = benchmark.objective
        chosen: list[Metric] = [objective]
        for name in against:
            if name == objective.name:
                raise OptionError(f"against: {name} is the objective itself; name cost metrics such as "
                                  f"{', '.join(m.name for m in benchmark.metrics[1:])}")
            if name not in by_name:
                close = difflib.get_close_matches(name, list(by_name), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise OptionError(f"against: benchmark {benchmark.name} has no metric {name!r}{hint}; its metrics: "
                                  f"{', '.join(by_name)}")
            if by_name[name] in chosen:
                raise OptionError(f"against: metric {name} is named twice")
            chosen.append(by_name[name])
        #: the optimised metrics, the objective first
        self.metrics: tuple[Metric, ...] = tuple(chosen)

    # -- pickling: the recipe, not the fitted models --------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "seed": self.seed, "against": [m.name for m in self.metrics[1:]]}

    def __setstate__(self, state: dict[str, Any]) -> None:
        recipe = state["recipe"]
        benchmark = open_benchmark(recipe["space"], recipe["space_options"], recipe["benchmark"], recipe["task"],
                                   recipe["benchmark_options"])
        self.__init__(benchmark, state["seed"], state["against"], recipe)  # type: ignore[misc]

    # -- parameters → arch → result --------------------------------------------------------------------
    def arch(self, params: Mapping[str, Any]) -> Arch:
        """The arch a parameter dict stands for (every decision named, nothing else)."""
        if not isinstance(params, Mapping):
            raise OptionError(f"parameters are a mapping of decision names to values, got {_type_name(params)}")
        unknown = [key for key in params if key not in self._by_name]
        if unknown:
            close = difflib.get_close_matches(str(unknown[0]), list(self._by_name), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise OptionError(f"space {self.space.name} has no decision {unknown[0]!r}{hint}; its decisions: "
                              f"{', '.join(self._by_name)}")
        missing = [p.name for p in self.parameters if p.name not in params]
        if missing:
            raise OptionError(f"parameters lack decision(s) {', '.join(missing)} of space {self.space.name}")
        return self.space.from_decisions([p.index(params[p.name]) for p in self.parameters])

    def params(self, arch: Arch) -> dict[str, Any]:
        """The parameter dict of ``arch`` (the inverse of :meth:`arch`, up to unused decisions)."""
        index = self.space.to_decisions(self.space.check(arch))
        return {p.name: p.values[i] for p, i in zip(self.parameters, index, strict=True)}

    def evaluate(self, params: Mapping[str, Any], seed: int | None = None) -> tuple[Arch, Result]:
        """The arch of ``params`` and its evaluation at ``seed`` (default :attr:`seed`);
        failures are failed results, not exceptions."""
        arch = self.arch(params)
        return arch, self.benchmark.evaluate(arch, self.seed if seed is None else check_seed(seed))

    def values(self, result: Result) -> tuple[float, ...] | None:
        """The values of :attr:`metrics` in ``result``; ``None`` for a failed result or one
        whose values are missing or not finite."""
        values = [result.value(m.name) for m in self.metrics]
        if any(v is None or not math.isfinite(v) for v in values):
            return None
        return tuple(float(v) for v in values)  # type: ignore[arg-type]


def open_problem(space: str, benchmark: str | Benchmark | None, *, task: str | None,
                 space_options: Mapping[str, Any] | None, benchmark_options: Mapping[str, Any] | None,
                 seed: int, against: str | Sequence[str]) -> BenchmarkProblem:
    """Open ``benchmark`` (a name, default :data:`DEFAULT_BENCHMARK`, or an open
    :class:`~nasbench_txf.core.benchmark.Benchmark` on ``space``) as a :class:`BenchmarkProblem`.

    Bad input is a :class:`~nasbench_txf.core.errors.UserError` with one line saying what is
    wrong: an unknown name (:class:`~nasbench_txf.core.errors.UnknownNameError`), an option
    of the wrong type or value (:class:`~nasbench_txf.core.errors.OptionError`), or options
    given beside an already open benchmark (:class:`~nasbench_txf.core.errors.IncompatibleError`).
    """
    if not isinstance(space, str):
        raise OptionError(f"space must be the name of a space (str), got {_type_name(space)}")
    if task is not None and not isinstance(task, str):
        raise OptionError(f"task must be a task name (str) or None, got {_type_name(task)}")
    seed = check_seed(seed)
    names = _names(against)
    if isinstance(benchmark, Benchmark):
        if benchmark.space.name != space:
            raise IncompatibleError(f"the benchmark given evaluates space {benchmark.space.name}, not {space}")
        if task is not None or space_options or benchmark_options:
            raise IncompatibleError("task and options open a benchmark by name; the benchmark given is already "
                                    "open with its own")
        bench = benchmark
    elif benchmark is None or isinstance(benchmark, str):
        bench = open_benchmark(space, _check_options("space_options", space_options),
                               DEFAULT_BENCHMARK if benchmark is None else benchmark, task,
                               _check_options("benchmark_options", benchmark_options))
    else:
        raise OptionError(f"benchmark must be a benchmark name (str), an open Benchmark or None, "
                          f"got {_type_name(benchmark)}")
    recipe = {"space": bench.space.name, "space_options": options_dict(bench.space.options),
              "benchmark": bench.name, "task": bench.task, "benchmark_options": options_dict(bench.options)}
    return BenchmarkProblem(bench, seed, names, recipe)
