"""Sweeps: the grid of (strategy × encoding × seed) cells on one space and benchmark.

A sweep is what leaderboards are made of. Its identity — space, benchmark, task, their
options, the budget and the simulation — is written into its store, so that one store
never mixes cells run on different terms; the grid itself may grow (run the same sweep
again with more strategies or seeds and only the new cells run). Combinations that cannot
work are skipped with the reason, before anything runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nasbench_txf.core.arch import canonical_json
from nasbench_txf.core.benchmark import Benchmark
from nasbench_txf.core.encoding import Encoding
from nasbench_txf.core.errors import IncompatibleError, StoreError, UserError
from nasbench_txf.core.options import options_dict
from nasbench_txf.core.registry import get_encoding, get_strategy, open_benchmark, registry
from nasbench_txf.core.space import Space
from nasbench_txf.run.cell import CellSpec, incompatibility
from nasbench_txf.run.problems import Problem
from nasbench_txf.run.simulation import Simulation
from nasbench_txf.run.store import Store
from nasbench_txf.run.variants import Variant, parse_strategies, variant_label
from nasbench_txf.tables.machine import cpu_model

#: the store's meta entry holding the sweep's identity
SWEEP_META = "sweep"
#: the store's meta entry naming the machine that ran the sweep (the CPU model and its cores)
MACHINE_META = "machine"


@dataclass(frozen=True)
class SweepRequest:
    """A sweep as asked for: names as given (``all`` expands to every loadable plugin;
    a strategy may be a variant with options, ``optuna(sampler=cmaes)``)."""

    space: str
    benchmark: str
    strategies: str
    encodings: str
    seeds: Sequence[int]
    task: str | None = None
    space_options: Mapping[str, Any] = field(default_factory=dict)
    benchmark_options: Mapping[str, Any] = field(default_factory=dict)
    simulation: Simulation = field(default_factory=Simulation)
    #: the benchmark problem this sweep runs (its terms above), recorded with the runs
    problem: Problem | None = None

    @classmethod
    def of_problem(cls, problem: Problem, strategies: str, encodings: str, seeds: Sequence[int],
                   simulation: Simulation | None = None) -> SweepRequest:
        return cls(space=problem.space, benchmark=problem.benchmark, strategies=strategies, encodings=encodings,
                   seeds=seeds, task=problem.task, space_options=problem.space_options,
                   benchmark_options=problem.benchmark_options, simulation=simulation or Simulation(),
                   problem=problem)


@dataclass(frozen=True)
class Skipped:
    """A (strategy, encoding) combination left out of the grid, and why."""

    strategy: str
    encoding: str | None
    reason: str

    @property
    def label(self) -> str:
        return self.strategy + (f" + {self.encoding}" if self.encoding else "")


@dataclass(frozen=True)
class SweepPlan:
    cells: list[CellSpec]
    skipped: list[Skipped]
    #: what the store records as this sweep's identity
    key: dict[str, Any]


def expand(names: str, kind: str) -> tuple[list[str], list[tuple[str, str]]]:
    """``all`` or a comma-separated list → (loadable names, [(name, why not)]): ``all`` leaves
    out the plugins that are not installed or fail to load, and says why."""
    reg = registry(kind)  # type: ignore[arg-type]
    if names.strip() == "all":
        infos = reg.infos()
        return ([i.name for i in infos if i.cls is not None],
                [(i.name, f"{i.status}: {i.error}") for i in infos if i.cls is None])
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    if not chosen:
        raise UserError(f"no {kind} named: give a comma-separated list or 'all'")
    for name in chosen:
        reg.get(name)  # unknown names and broken plugins raise with a clear message
    return list(dict.fromkeys(chosen)), []


def expand_strategies(text: str) -> tuple[list[Variant], list[tuple[str, str]]]:
    """``--strategies`` → (the variants to run, [(strategy, why not)]): ``all`` is every
    loadable strategy with its defaults; a named variant's options are checked now; two
    spellings of one setting (``optuna`` and ``optuna(sampler=tpe)``) run once."""
    variants: list[Variant] = []
    left_out: list[tuple[str, str]] = []
    for entry in parse_strategies(text):
        if entry.name == "all" and not entry.options:
            names, broken = expand("all", "strategies")
            variants += [Variant(name) for name in names]
            left_out += broken
        else:
            variants.append(entry)
    return unique_variants(variants), left_out


def unique_variants(variants: Sequence[Variant]) -> list[Variant]:
    """``variants`` less the ones that spell a setting an earlier one has; an unknown name or a
    bad option raises here, in one line."""
    unique: dict[tuple[str, str], Variant] = {}
    for variant in variants:
        made = get_strategy(variant.name).make_options(dict(variant.options))
        unique.setdefault((variant.name, canonical_json(options_dict(made))), variant)
    return list(unique.values())


def plan(request: SweepRequest, budget_key: Mapping[str, Any]) -> SweepPlan:
    """The cells of the grid and the combinations skipped; an empty grid is an error.

    Names and options are checked before the benchmark loads (a typo should not wait for a
    surrogate); each combination is then set up once, so that options the benchmark cannot
    serve (``optuna(against=auto)`` on a one-metric benchmark) are skipped with the reason
    before the store is claimed.
    """
    strategies, broken = expand_strategies(request.strategies)
    if request.problem is not None:
        strategies = unique_variants([Variant(v.name, request.problem.strategy_options(v.name, v.options))
                                      for v in strategies])
    encodings, broken_encodings = expand(request.encodings, "encodings") if request.encodings else ([], [])
    benchmark = open_benchmark(request.space, request.space_options, request.benchmark, request.task,
                               request.benchmark_options)
    space = benchmark.space
    search_space = benchmark.search_space()
    if request.problem is not None:
        names = [m.name for m in benchmark.metrics]
        unknown = [c for c in request.problem.costs if c not in names[1:]]
        if unknown:
            raise UserError(f"problem {request.problem.name}: its costs {', '.join(unknown)} are not metrics the "
                            f"benchmark reports besides its objective ({', '.join(names)})")
    fitted: dict[str, Encoding] = {}
    skipped = [Skipped(name, None, why) for name, why in broken]
    skipped += [Skipped("*", name, why) for name, why in broken_encodings]
    combos: list[tuple[Variant, str | None]] = []
    for variant in strategies:
        cls = get_strategy(variant.name)
        if not cls.requires.encoding:
            candidates: list[str | None] = [None]
        elif encodings:
            candidates = list(encodings)
        else:
            candidates = [cls.default_encoding]
        for encoding in candidates:
            enc_cls = get_encoding(encoding) if encoding else None
            if reason := (incompatibility(cls, search_space, enc_cls, benchmark)
                          or _refusal(variant, encoding, benchmark, search_space, fitted)):
                skipped.append(Skipped(variant_label(variant.name, variant.options), encoding, reason))
            else:
                combos.append((variant, encoding))
    if not combos:
        reasons = "; ".join(f"{s.label}: {s.reason}" for s in skipped) or "nothing was asked for"
        raise UserError(f"the sweep's grid is empty after filtering ({reasons})")
    cells = [CellSpec(space=request.space, strategy=variant.name, benchmark=request.benchmark, seed=seed,
                      encoding=encoding, task=request.task, space_options=request.space_options,
                      strategy_options=variant.options, benchmark_options=request.benchmark_options,
                      simulation=request.simulation)
             for variant, encoding in combos for seed in request.seeds]
    key = {
        "space": space.key(),
        "benchmark": {"name": benchmark.name, "task": benchmark.task, "options": options_dict(benchmark.options)},
        "budget": dict(budget_key),
        "simulation": asdict(request.simulation),
    }
    if request.problem is not None:
        key["problem"] = request.problem.record()
    return SweepPlan(cells, skipped, key)


def _refusal(variant: Variant, encoding: str | None, benchmark: Benchmark, search_space: Space,
             fitted: dict[str, Encoding]) -> str | None:
    """Why the strategy, set up with these options on this benchmark, refuses it (or ``None``);
    ``fitted`` keeps the encodings fitted so far, one per name."""
    cls = get_strategy(variant.name)
    if encoding is not None and encoding not in fitted:
        enc_cls = get_encoding(encoding)
        fitted[encoding] = enc_cls(search_space, enc_cls.make_options({}))
        fitted[encoding].fit()
    try:
        cls(search_space, objective=benchmark.objective, metrics=benchmark.metrics, seed=0,
            encoding=fitted.get(encoding) if encoding else None, options=cls.make_options(dict(variant.options)))
    except IncompatibleError as exc:
        return str(exc)
    return None


def check_store(path: Path, key: Mapping[str, Any]) -> None:
    """Refuse ``path`` where it holds runs of another sweep, writing nothing (a suite checks
    every problem's store before it claims any)."""
    if path.exists():
        with Store.open(path, create=False) as store:
            _refuse_other(store, path, key)


def claim_store(path: Path, key: Mapping[str, Any], command: str) -> None:
    """Mark ``path`` as this sweep's store, or refuse one that holds other runs; record the
    machine the sweep first ran on (simulated times and overheads are that machine's)."""
    with Store.open(path) as store:
        _refuse_other(store, path, key)
        if store.meta(SWEEP_META) is None:
            store.set_meta(SWEEP_META, canonical_json({"key": key, "command": command}))
        if store.meta(MACHINE_META) is None:
            store.set_meta(MACHINE_META, f"{cpu_model()}, {os.cpu_count()} cores")


def _refuse_other(store: Store, path: Path, key: Mapping[str, Any]) -> None:
    recorded = store.meta(SWEEP_META)
    if recorded is None:
        if store.cells():
            raise StoreError(f"{path} holds runs that are not part of a sweep; give another --store")
        return
    theirs = json.loads(recorded)["key"]
    if canonical_json(theirs) != canonical_json(key):
        different = [k for k in key if canonical_json(key[k]) != canonical_json(theirs.get(k))]
        detail = "; ".join(f"{k}: this sweep has {canonical_json(key[k])}, the store has "
                           f"{canonical_json(theirs.get(k))}" for k in different)
        raise StoreError(f"{path} belongs to another sweep ({detail}); give another --store")
