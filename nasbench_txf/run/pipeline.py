"""A hierarchical search, coarse to fine [FLEXIBERT23 §3.2.2, Fig. 1, App. B.3].

Level 1 searches the coarsest space of a :class:`~nasbench_txf.core.space.Hierarchical`
space. Its best ``top_k`` archs and, for each of them, its ``neighbours`` nearest trained
archs (the space's ranking: biased overlap, ties broken by the search's embedding) become the
parents that span the next level's space, a space of its own that the registry reopens
from its options; the next level searches it with the same strategy and encoding, and so on.

Every level is one cell of one run store, and the store's ``pipeline`` entry records the
pipeline's settings and, level by level, the cell and the space it searched. Each level's
parents follow from its stored trials, so a killed pipeline resumes at any point, across
levels, with nothing trained again (:func:`~nasbench_txf.run.runner.run_cells` replays a
level's stored trials), and ends with the report of an uninterrupted run. A live benchmark
keeps its checkpoints in the store's run folder for every level, so with ``transfer=true``
a finer level's arch starts from a coarser level's trained neighbour.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from nasbench_txf.core.arch import Arch, canonical_json
from nasbench_txf.core.errors import IncompatibleError, StoreError, UserError
from nasbench_txf.core.registry import get_space, open_benchmark
from nasbench_txf.core.space import Hierarchical, Space
from nasbench_txf.run.cell import Cell, CellSpec, open_cell
from nasbench_txf.run.runner import run_cells
from nasbench_txf.run.store import Store, TrialRow
from nasbench_txf.run.trials import Budget, result_of

#: the store's meta entry that holds a pipeline's settings and levels
META_KEY = "pipeline"


@dataclass(frozen=True)
class PipelineSpec:
    """The first level's cell, the query budget of each level, and how parents are chosen."""

    cell: CellSpec
    budgets: tuple[int, ...]
    top_k: int = 3
    neighbours: int = 2

    def __post_init__(self) -> None:
        if not self.budgets:
            raise UserError("a pipeline needs the budget of at least one level")
        for budget in self.budgets:
            Budget(queries=budget)  # refuses what a run refuses
        if self.top_k < 1 or self.neighbours < 0:
            raise UserError(f"--top-k must be >= 1 and --neighbours >= 0, got {self.top_k} and {self.neighbours}")
        for level, budget in enumerate(self.budgets[:-1], start=1):
            if self.top_k > budget:
                raise UserError(f"--top-k {self.top_k} is larger than pipeline level {level}'s budget of {budget} "
                                "trials; lower --top-k or raise the level's budget")


@dataclass(frozen=True)
class Parent:
    """An arch of one level chosen to span the next: one of the best, or a best one's neighbour."""

    card: dict[str, Any]
    value: float
    role: str  # "top" or "neighbour"


def level_spec(spec: PipelineSpec, space_options: dict[str, Any]) -> CellSpec:
    return replace(spec.cell, space_options=space_options)


def _values(cell: Cell, rows: Sequence[TrialRow]) -> dict[str, tuple[float, dict[str, Any]]]:
    """Each successfully measured arch's best value of the objective, with its card."""
    objective = cell.benchmark.objective
    sign = 1.0 if objective.maximize else -1.0
    best: dict[str, tuple[float, dict[str, Any]]] = {}
    for row in rows:
        value = result_of(row).value(objective.name)
        if value is not None and (row.arch_id not in best or sign * value > sign * best[row.arch_id][0]):
            best[row.arch_id] = (value, row.card)
    return best


def choose_parents(cell: Cell, rows: Sequence[TrialRow], level: int, top_k: int, neighbours: int) -> list[Parent]:
    """The level's ``top_k`` best archs, then each one's ``neighbours`` nearest other trained
    archs (the space's ranking; the cell's encoding breaks ties), without repeats."""
    space = cell.space
    assert isinstance(space, Hierarchical)
    measured = _values(cell, rows)
    if len(measured) < top_k:
        raise UserError(f"--top-k {top_k} is larger than pipeline level {level}'s {len(measured)} successfully "
                        "measured archs; lower --top-k, or raise the level's budget, and --resume (the store "
                        "keeps the level's trials)")
    sign = 1.0 if cell.benchmark.objective.maximize else -1.0
    ranked = sorted(measured, key=lambda i: (-sign * measured[i][0], i))
    archs = {i: space.arch(measured[i][1]) for i in ranked}
    parents = [Parent(archs[i].card, measured[i][0], "top") for i in ranked[:top_k]]
    chosen = set(ranked[:top_k])
    distance = _distance(cell, list(archs.values()))
    for i in ranked[:top_k]:
        candidates = [archs[j] for j in ranked if j not in chosen]
        for near in space.closest(archs[i], candidates, distance)[:neighbours]:
            chosen.add(near.id)
            parents.append(Parent(near.card, measured[near.id][0], "neighbour"))
    return parents


def _distance(cell: Cell, archs: list[Arch]) -> Callable[[Arch, Arch], float] | None:
    """Euclidean distance between the cell encoding's vectors, or ``None`` without one."""
    if cell.encoding is None or not archs:
        return None
    vectors = dict(zip((a.id for a in archs), np.asarray(cell.encoding.encode(archs), dtype=float), strict=True))
    return lambda a, b: float(np.linalg.norm(vectors[a.id] - vectors[b.id]))


def open_space(name: str, options: dict[str, Any]) -> Space:
    cls = get_space(name)
    return cls(cls.make_options(dict(options)))


def check_finer_levels(spec: PipelineSpec, first: Cell) -> None:
    """Refuse, before anything runs, a space that is not hierarchical, and a benchmark that
    cannot answer a finer level's cards (tried on the child spaces of a sampled arch)."""
    cell = spec.cell
    space = first.space
    rng = np.random.default_rng(cell.seed)
    for level in range(2, len(spec.budgets) + 1):
        if not isinstance(space, Hierarchical):
            raise IncompatibleError(f"space {cell.space} has no finer levels (it is not hierarchical); "
                                    "a pipeline of one level is a plain `run`")
        options = {**cell.space_options, **space.child_options([space.sample(rng)])}
        try:
            open_benchmark(cell.space, options, cell.benchmark, cell.task, cell.benchmark_options)
        except UserError:
            raise IncompatibleError(
                f"benchmark {cell.benchmark} cannot answer the cards of pipeline level {level} (a finer space "
                f"than the first level's); search one level (one budget), or use --benchmark live") from None
        space = open_space(cell.space, options)


def _recorded(store: Store) -> dict[str, Any] | None:
    text = store.meta(META_KEY)
    return None if text is None else json.loads(text)


def _differences(mine: Any, theirs: Any, path: str = "") -> list[str]:
    """Dotted names of the fields where two keys differ."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        return [d for k in sorted(set(mine) | set(theirs))
                for d in _differences(mine.get(k), theirs.get(k), f"{path}.{k}" if path else k)]
    return [] if mine == theirs else [path or "the key"]


def _start(store: Store, key: dict[str, Any], resume: bool) -> dict[str, Any]:
    """The store's pipeline record, checked against the first level's cell ``key``: a
    pipeline resumes with the same space, benchmark, strategy, encoding and seed (budgets,
    ``top_k`` and ``neighbours`` may change; a level whose parents then differ is refused)."""
    recorded = _recorded(store)
    if recorded is None or not store.cells():  # no pipeline, or one refused before its first trial
        if store.cells():
            raise StoreError(f"{store.path} holds runs that are not a pipeline's; give another --store")
        return {"cell": key, "levels": []}
    if not resume:
        raise StoreError(f"{store.path} already holds a pipeline; add --resume to continue it, or give "
                         "another --store")
    if differ := _differences(key, recorded.get("cell")):
        raise StoreError(f"{store.path} holds a pipeline with other settings ({', '.join(differ[:5])} differ); "
                         "resume it with the command that started it, or give another --store")
    return recorded


def _ran(store_path: str | Path, entry: dict[str, Any]) -> bool:
    """Whether the recorded level has stored trials."""
    with Store.open(store_path) as store:
        return store.count_trials([entry["cell_id"]]) > 0


def _save(store_path: str | Path, record: dict[str, Any]) -> None:
    with Store.open(store_path) as store:
        store.set_meta(META_KEY, canonical_json(record))


def run_pipeline(spec: PipelineSpec, store_path: str | Path, *, resume: bool = False,
                 command: str | None = None, progress: bool | None = None) -> None:
    """Run (or resume) every level of ``spec`` into the store at ``store_path``.

    Everything the command gets wrong (an option, a combination, a benchmark without the
    finer levels) is refused before the store is written. The record of a level is written
    when the level starts (its space) and when it ends (its parents); a resumed level whose
    space differs from the recorded one (its parents came out otherwise, the settings having
    changed) is refused, and the store keeps what it had.
    """
    options = dict(spec.cell.space_options)
    first = open_cell(level_spec(spec, options))
    check_finer_levels(spec, first)
    with Store.open(store_path) as store:
        record = _start(store, first.key, resume)
    levels: list[dict[str, Any]] = record["levels"]
    for level, budget in enumerate(spec.budgets, start=1):
        cell_spec = level_spec(spec, options)
        cell = first if level == 1 else open_cell(cell_spec)
        if level <= len(levels) and levels[level - 1]["cell_id"] != cell.id and _ran(store_path, levels[level - 1]):
            raise StoreError(f"{store_path}: pipeline level {level} of the stored run searched another space than "
                             "this command's (the parents of the level before differ: the budgets, --top-k or "
                             "--neighbours changed); give another --store")
        entry = json.loads(canonical_json({"level": level, "cell_id": cell.id, "space_options": options,
                                           "parents": levels[level - 1]["parents"] if level <= len(levels) else []}))
        levels[level - 1: level] = [entry]
        _save(store_path, record)
        run_cells([cell_spec], store_path, Budget(queries=budget), resume="auto", command=command,
                  progress=progress)
        if level == len(spec.budgets):
            break
        with Store.open(store_path) as store:
            rows = store.trials(cell.id)
        parents = choose_parents(cell, rows, level, spec.top_k, spec.neighbours)
        entry["parents"] = json.loads(canonical_json([asdict(p) for p in parents]))
        _save(store_path, record)
        assert isinstance(cell.space, Hierarchical)
        options = {**options, **cell.space.child_options([cell.space.arch(p.card) for p in parents])}


def pipeline_record(store: Store) -> dict[str, Any]:
    """The pipeline entry of ``store``; :class:`StoreError` when it holds none."""
    recorded = _recorded(store)
    if recorded is None:
        raise StoreError(f"{store.path} holds no pipeline (run one with `nasbench-txf pipeline`)")
    return recorded
