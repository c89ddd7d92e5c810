"""Plugin registries, one per entry-point group ``nasbench_txf.<kind>``.

Built-in plugins are registered in this package's own ``pyproject.toml`` exactly as a
third-party package registers its own, so the built-ins exercise the plugin mechanism.
Entry points load lazily: ``get`` imports one plugin; ``infos`` imports all of them (for
``nasbench-txf list``) and reports the ones that fail without taking the others down.
"""

from __future__ import annotations

import difflib
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal

from nasbench_txf.core.benchmark import Benchmark
from nasbench_txf.core.encoding import Encoding
from nasbench_txf.core.errors import (
    IncompatibleError,
    MissingDependencyError,
    PluginLoadError,
    UnknownNameError,
)
from nasbench_txf.core.plugin import Plugin
from nasbench_txf.core.space import Space
from nasbench_txf.core.strategy import Strategy

Kind = Literal["spaces", "encodings", "strategies", "benchmarks"]
KINDS: tuple[Kind, ...] = ("spaces", "encodings", "strategies", "benchmarks")
BASES: dict[Kind, type[Plugin]] = {
    "spaces": Space,
    "encodings": Encoding,
    "strategies": Strategy,
    "benchmarks": Benchmark,
}
SINGULAR: dict[Kind, str] = {
    "spaces": "space",
    "encodings": "encoding",
    "strategies": "strategy",
    "benchmarks": "benchmark",
}


@dataclass(frozen=True)
class PluginInfo:
    """One registered plugin: where it came from, and either its class or why it failed."""

    kind: Kind
    name: str
    source: str
    target: str
    cls: type[Plugin] | None
    error: str | None
    #: the error is a missing optional library, not a broken plugin
    missing: bool = False

    @property
    def status(self) -> str:
        """``loaded``, ``not installed`` (an optional library is missing) or ``failed to load``."""
        return "loaded" if self.cls is not None else "not installed" if self.missing else "failed to load"

    @property
    def description(self) -> str:
        return self.cls.description() if self.cls is not None else f"{self.status}: {self.error}"


def _source(ep: EntryPoint) -> str:
    dist = ep.dist
    return f"{dist.name} {dist.version}" if dist is not None else "unknown"


class Registry:
    """The plugins of one kind."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.group = f"nasbench_txf.{kind}"
        self._loaded: dict[str, PluginInfo] = {}

    def entry_points(self) -> dict[str, list[EntryPoint]]:
        """Name → entry points (more than one means two packages claim the name)."""
        found: dict[str, list[EntryPoint]] = {}
        for ep in entry_points(group=self.group):
            found.setdefault(ep.name, []).append(ep)
        return found

    def names(self) -> list[str]:
        return sorted(self.entry_points())

    def info(self, name: str) -> PluginInfo:
        """Load one plugin (once); a failure is recorded in the info, not raised."""
        if name not in self._loaded:
            eps = self.entry_points().get(name)
            if not eps:
                raise self.unknown(name)
            self._loaded[name] = self._load(name, eps)
        return self._loaded[name]

    def infos(self) -> list[PluginInfo]:
        return [self.info(name) for name in self.names()]

    def get(self, name: str) -> type[Plugin]:
        """The plugin class, or a one-line error naming the known plugins."""
        info = self.info(name)
        if info.missing:
            raise MissingDependencyError(str(info.error))
        if info.cls is None:
            raise PluginLoadError(
                f"{SINGULAR[self.kind]} plugin {name!r} ({info.source}) failed to load: {info.error}"
            )
        return info.cls

    def unknown(self, name: str) -> UnknownNameError:
        known = self.names()
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listing = ", ".join(known) if known else "none registered"
        return UnknownNameError(
            f"unknown {SINGULAR[self.kind]} {name!r}{hint} (known: {listing})"
        )

    def _load(self, name: str, eps: list[EntryPoint]) -> PluginInfo:
        ep = eps[0]
        source, target = _source(ep), ep.value
        if len(eps) > 1:
            others = ", ".join(_source(other) for other in eps)
            return PluginInfo(self.kind, name, source, target, None,
                              f"the name is registered by more than one package: {others}")
        try:
            obj = ep.load()
        except MissingDependencyError as exc:
            return PluginInfo(self.kind, name, source, target, None, str(exc), missing=True)
        except Exception as exc:  # a broken plugin must not take the others down
            where = traceback.extract_tb(exc.__traceback__)[-1]
            error = f"{type(exc).__name__}: {exc} (at {where.filename}:{where.lineno})"
            return PluginInfo(self.kind, name, source, target, None, error)
        base = BASES[self.kind]
        if not (isinstance(obj, type) and issubclass(obj, base)):
            error = f"{target} is not a subclass of {base.__module__}.{base.__name__}"
            return PluginInfo(self.kind, name, source, target, None, error)
        if getattr(obj, "name", None) != name:
            error = f"{target}.name is {getattr(obj, 'name', None)!r}, not the entry-point name"
            return PluginInfo(self.kind, name, source, target, None, error)
        return PluginInfo(self.kind, name, source, target, obj, None)


@cache
def registry(kind: Kind) -> Registry:
    return Registry(kind)


def get_space(name: str) -> type[Space]:
    return registry("spaces").get(name)  # type: ignore[return-value]


def get_encoding(name: str) -> type[Encoding]:
    return registry("encodings").get(name)  # type: ignore[return-value]


def get_strategy(name: str) -> type[Strategy]:
    return registry("strategies").get(name)  # type: ignore[return-value]


def get_benchmark(name: str) -> type[Benchmark]:
    return registry("benchmarks").get(name)  # type: ignore[return-value]


def open_benchmark(space_name: str, space_options: Mapping[str, Any], benchmark_name: str, task: str | None,
                   benchmark_options: Mapping[str, Any]) -> Benchmark:
    """The configured space and a benchmark on it; refuses a benchmark that cannot evaluate it."""
    space_cls = get_space(space_name)
    space = space_cls(space_cls.make_options(dict(space_options)))
    bench_cls = get_benchmark(benchmark_name)
    if reason := bench_cls.unsupported(space):
        raise IncompatibleError(f"benchmark {bench_cls.name} cannot evaluate space {space.name}: {reason}")
    return bench_cls(space, task=task, options=bench_cls.make_options(dict(benchmark_options)))
