"""Read the runs of a suite: the folder a ``sweep --suite`` wrote, one store per problem."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from nasbench_txf.core.arch import canonical_json
from nasbench_txf.core.errors import StoreError, UserError
from nasbench_txf.run.problems import Problem, Suite, get_suite
from nasbench_txf.run.store import Store
from nasbench_txf.run.sweep import MACHINE_META, SWEEP_META

from .across import objectives_of
from .collect import RunTable, one_table, read_tables


@dataclass
class ProblemRuns:
    """One problem of the suite and the table of its runs."""

    problem: Problem
    table: RunTable
    store: Path
    #: the machine the sweep ran on, as its store recorded it
    machine: str | None


def read_suite(folder: Path, name: str) -> tuple[Suite, list[ProblemRuns]]:
    """The suite's problems, each with its runs from ``folder``; a missing store, a store made
    on other terms than the problem's, or an unknown suite is refused in one line."""
    suite, problems = get_suite(name)
    if not folder.is_dir():
        raise StoreError(f"{folder} is not a folder of suite runs (sweep --suite {name} --store {folder} writes one)")
    return suite, [_problem_runs(problem, folder, name) for problem in problems]


def _problem_runs(problem: Problem, folder: Path, suite: str) -> ProblemRuns:
    path = problem.store(folder)
    if not path.is_file():
        raise StoreError(f"{folder} holds no runs of problem {problem.name} (no {path.name}); run "
                         f"nasbench-txf sweep --suite {suite} --store {folder}")
    with Store.open(path, create=False) as store:
        recorded, machine = store.meta(SWEEP_META), store.meta(MACHINE_META)
    key = json.loads(recorded)["key"] if recorded else {}
    terms = key.get("problem")
    if terms is None or canonical_json(terms) != canonical_json(problem.record()):
        raise UserError(f"{path} was not swept on the terms problem {problem.name} has here "
                        f"(stored: {canonical_json(terms) if terms else 'none'}; here: "
                        f"{canonical_json(problem.record())}); sweep it again into another folder")
    table = one_table(read_tables(path))
    budget = key.get("budget", {}).get("queries")
    if budget is not None and table.horizon < budget:
        short = sum(r.queries < budget for r in table.runs)
        raise UserError(f"problem {problem.name}: {short} of its {len(table.runs)} runs have fewer than the sweep's "
                        f"{budget} queries (the shortest {table.horizon}); finish the sweep (run the same "
                        f"sweep --suite {suite} again: it resumes) before comparing")
    if problem.multi_objective:  # its pages judge every row on the problem's own objectives
        table = dataclasses.replace(table, pareto_objectives=objectives_of(problem, table))
    return ProblemRuns(problem, table, path, machine)
