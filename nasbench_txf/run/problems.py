"""Benchmark problems and suites: the named terms a comparison across benchmarks is made on.

A *problem* is a space, a benchmark with its options, a task, the objective (or the objective
against cost metrics) and a query budget; a *suite* is a list of problems. NAS-Bench-Suite
[NBSUITE22] found that strategy rankings change from one benchmark to the next, so a ranking a
reader can trust is made over a suite (:mod:`nasbench_txf.leaderboard.suite`), not one table.

Problems and suites are registered like plugins, through the entry-point groups
``nasbench_txf.problems`` and ``nasbench_txf.suites``; an entry point names a :class:`Problem`
or :class:`Suite` object. A suite may list problems of other packages. The suite ``all`` is
every registered problem.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from nasbench_txf.core.errors import OptionError, PluginLoadError, UnknownNameError, UserError
from nasbench_txf.core.registry import get_strategy

#: what a problem's or suite's name may be: it names files of a site and a suite folder
NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
#: names the published site uses for its own files
RESERVED = frozenset({"index", "aggregate", "profiles", "leaderboard"})

PROBLEMS_GROUP = "nasbench_txf.problems"
SUITES_GROUP = "nasbench_txf.suites"
#: the suite of every registered problem
ALL = "all"


def check_name(name: str, what: str) -> None:
    """Refuse a name that cannot name a file of a site (lower case, digits, ``.``, ``_``, ``-``)."""
    if not NAME.fullmatch(name) or name in RESERVED:
        raise OptionError(f"{what} name {name!r}: use lower-case letters, digits, '.', '_' and '-', and none of "
                          f"{', '.join(sorted(RESERVED))}")


@dataclass(frozen=True)
class Problem:
    """One benchmark problem.

    ``costs`` empty: the benchmark's objective alone (regret of the best find). Else the
    objective against these cost metrics: multi-objective strategies search the trade-off
    (their ``against`` option is set to ``costs``), every strategy is scored by the
    hypervolume of what it visited, single-objective ones included.
    """

    name: str
    description: str
    space: str
    benchmark: str
    task: str | None = None
    space_options: Mapping[str, Any] = field(default_factory=dict)
    benchmark_options: Mapping[str, Any] = field(default_factory=dict)
    costs: tuple[str, ...] = ()
    budget: int = 100

    def __post_init__(self) -> None:
        check_name(self.name, "problem")
        if self.budget < 1:
            raise OptionError(f"problem {self.name}: the budget must be at least one query")

    @property
    def multi_objective(self) -> bool:
        return bool(self.costs)

    def strategy_options(self, strategy: str, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` of ``strategy`` on this problem: a problem with costs sets the
        ``against`` option of every strategy that has one, unless the variant set it or the
        variant's other options refuse it (``optuna(sampler=cmaes)`` optimises one objective)."""
        given = dict(options)
        cls = get_strategy(strategy)
        if not self.costs or "against" in given or "against" not in {f.name for f in dataclasses.fields(cls.Options)}:
            return given
        against = {**given, "against": ",".join(self.costs)}
        try:
            cls.make_options(dict(against))
        except UserError:
            return given
        return against

    def store(self, folder: Path) -> Path:
        """Where a suite sweep into ``folder`` keeps this problem's runs."""
        return folder / f"{self.name}.sqlite"

    def record(self) -> dict[str, Any]:
        """The problem's terms as plain JSON values, stored with its runs (the description is
        not a term: rewording it leaves the runs comparable)."""
        terms = {**dataclasses.asdict(self), "costs": list(self.costs),
                 "space_options": dict(self.space_options), "benchmark_options": dict(self.benchmark_options)}
        del terms["description"]
        return terms


@dataclass(frozen=True)
class Suite:
    """Problems compared together; ``problems`` are names in the problem registry.

    ``encodings``: what strategies that need an encoding use on every problem (comma-separated),
    one for all, so that the suite compares strategies rather than encodings.
    """

    name: str
    description: str
    problems: tuple[str, ...]
    encodings: str = "wl"

    def __post_init__(self) -> None:
        check_name(self.name, "suite")


def _loaded(group: str, kind: type) -> dict[str, Any]:
    """Entry-point name → loaded object of ``kind``; one that fails to load or is not a ``kind``
    with its entry point's name is refused in one line when asked for, not when listing others."""
    found: dict[str, Any] = {}
    for ep in entry_points(group=group):
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must not take the others down
            found[ep.name] = PluginLoadError(f"{group} entry point {ep.name!r} ({ep.value}) failed to load: "
                                             f"{type(exc).__name__}: {exc}")
            continue
        if not isinstance(obj, kind) or obj.name != ep.name:
            found[ep.name] = PluginLoadError(f"{group} entry point {ep.name!r} ({ep.value}) is not a "
                                             f"{kind.__name__} named {ep.name!r}")
            continue
        if ep.name in found:
            found[ep.name] = PluginLoadError(f"{kind.__name__.lower()} {ep.name!r} is registered more than once")
            continue
        found[ep.name] = obj
    return found


def _unknown(what: str, name: str, known: list[str]) -> UnknownNameError:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return UnknownNameError(f"unknown {what} {name!r}{hint} (known: {', '.join(sorted(known)) or 'none'})")


def problems() -> dict[str, Problem | PluginLoadError]:
    """Every registered problem by name (a broken entry point as its error)."""
    return _loaded(PROBLEMS_GROUP, Problem)


def _get(found: dict[str, Any], what: str, name: str) -> Any:
    """``found[name]``, or the error: an unknown name (with the closest known one) or a broken entry point."""
    if name not in found:
        raise _unknown(what, name, list(found))
    if isinstance(found[name], PluginLoadError):
        raise found[name]
    return found[name]


def get_problem(name: str) -> Problem:
    return _get(problems(), "problem", name)  # type: ignore[no-any-return]


def suites() -> dict[str, Suite | PluginLoadError]:
    """Every registered suite by name, and :data:`ALL`."""
    found: dict[str, Suite | PluginLoadError] = _loaded(SUITES_GROUP, Suite)
    if ALL in found:
        found[ALL] = PluginLoadError(f"a package registers a suite named {ALL!r}, the name of every problem's suite")
    else:
        loadable = sorted(name for name, p in problems().items() if isinstance(p, Problem))
        found[ALL] = Suite(ALL, "every registered problem that loads", tuple(loadable))
    return found


def get_suite(name: str) -> tuple[Suite, list[Problem]]:
    """The suite and its problems, in its order; an unknown or broken one is refused."""
    suite: Suite = _get(suites(), "suite", name)
    return suite, [get_problem(p) for p in suite.problems]
