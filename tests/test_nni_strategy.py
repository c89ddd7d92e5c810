"""The `nni-*` strategies: NNI's tuners and NAS strategies on the toy problem, seeds, repeated
proposals, the home directory, bad input, and the messages when NNI (or a part) is missing.

The strategies that do not load here (NNI, or the library one of them needs, not installed)
are skipped with the registry's reason; the missing-library tests run either way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nbt_testing import STRATEGY_BENCHMARK, STRATEGY_SPACE, TOY

from nasbench_txf.cli import main
from nasbench_txf.core.registry import registry
from nasbench_txf.run.cell import CellSpec
from nasbench_txf.run.runner import run_cell
from nasbench_txf.run.store import Store
from nasbench_txf.run.trials import Budget
from nasbench_txf.testing import Subject, toy_benchmark
from nasbench_txf.testing.strategy_checks import run_strategy

QUERIES = 20
INFOS = {info.name: info for info in registry("strategies").infos() if info.name.startswith("nni-")}
NAMES = sorted(INFOS)
#: the strategies NNI gives the same trials for every seed
SEED_INDEPENDENT = {"nni-gridsearch"}
#: options that make the tests short, and reach each algorithm's modelling phase within QUERIES
FAST = {
    "nni-tpe": {"n_startup_jobs": "8"},
    "nni-evolution": {"population_size": "8"},
    "nni-gp": {"cold_start_num": "5", "warm_up": "200", "starting_points": "2"},
    "nni-nas-evolution": {"population_size": "8", "sample_size": "3", "mutation_prob": "0.3"},
    "nni-nas-rl": {"samples_per_update": "5", "update_times": "1"},
}


def loaded(name: str) -> pytest.MarkDecorator:
    info = INFOS.get(name)
    reason = f"{name} is not registered" if info is None else f"{name}: {info.status}: {info.error}"
    return pytest.mark.skipif(info is None or info.cls is None, reason=reason)


def each(*names: str) -> list[object]:
    return [pytest.param(name, marks=loaded(name), id=name) for name in names]


def strategy(name: str) -> type:
    return INFOS[name].cls  # type: ignore[return-value]


def spec(name: str, seed: int, options: dict[str, str] | None = None) -> CellSpec:
    return CellSpec(space=STRATEGY_SPACE, strategy=name, benchmark=STRATEGY_BENCHMARK, seed=seed,
                    strategy_options=options if options is not None else FAST.get(name, {}),
                    benchmark_options={"noise": "0.1"})


def test_every_nni_strategy_is_registered() -> None:
    assert NAMES == ["nni-anneal", "nni-evolution", "nni-gp", "nni-gridsearch", "nni-nas-evolution", "nni-nas-rl",
                     "nni-random", "nni-tpe"]
    for info in INFOS.values():  # loaded, or not installed with the reason (never broken)
        assert info.status in ("loaded", "not installed"), (info.name, info.error)


@pytest.mark.parametrize("name", each(*NAMES))
def test_every_strategy_asks_new_archs_and_repeats_itself_per_seed(name: str) -> None:
    subject = Subject(strategy(name), options=FAST.get(name, {}))
    first = [r.arch_id for r in run_strategy(subject, QUERIES, seed=0)]  # fails on an arch asked twice
    again = [r.arch_id for r in run_strategy(subject, QUERIES, seed=0)]
    other = [r.arch_id for r in run_strategy(subject, QUERIES, seed=1)]
    assert len(set(first)) == QUERIES
    assert first == again
    assert (first == other) if name in SEED_INDEPENDENT else (first != other)


@pytest.mark.parametrize(("name", "batch"), [pytest.param("nni-gridsearch", 1, marks=loaded("nni-gridsearch")),
                                             pytest.param("nni-tpe", 4, marks=loaded("nni-tpe"))])
def test_repeated_proposals_are_answered_from_the_stored_result(name: str, batch: int) -> None:
    # on the 336 toy archs (many decision vectors per arch) both tuners propose known archs: each such
    # parameter set is told the arch's result at once, or (in a batch) when the result arrives
    bench = toy_benchmark()
    space = bench.search_space()
    cls = strategy(name)
    adapter = cls(space, objective=bench.objective, metrics=bench.metrics, seed=0,
                  options=cls.make_options(FAST.get(name, {})))
    scores = {}
    for _ in range(40 // batch):
        asked = adapter.ask(batch)
        assert not set(asked) & set(scores) and len(set(asked)) == batch
        for arch in asked:
            result = bench.evaluate(arch, 0)
            scores[arch] = result.value("score")
            adapter.tell(arch, result)
    assert len(scores) == 40 and adapter.next_id > 40  # the tuner proposed known archs
    assert not adapter.proposals.waiting  # every parameter set was answered
    if name == "nni-tpe":
        assert not adapter.tuner._running_params  # NNI's TPE has a result (or an end) for every id
        records = next(iter(adapter.tuner._history.values()))  # those of the first decision
        assert len(records) >= adapter.next_id  # one per parameter set (repeats included), and the imported


@pytest.mark.parametrize("name", each("nni-tpe", "nni-nas-evolution", "nni-nas-rl"))
def test_a_resumed_run_asks_what_an_uninterrupted_one_asks(tmp_path: Path, name: str) -> None:
    full, part = tmp_path / "full.sqlite", tmp_path / "part.sqlite"
    ref = run_cell(spec(name, 0), full, Budget(queries=16))
    run_cell(spec(name, 0), part, Budget(queries=9))
    run_cell(spec(name, 0), part, Budget(queries=16), resume=True)  # replays the 9 first
    ids = []
    for path in (full, part):
        with Store.open(path) as store:
            ids.append([r.arch_id for r in store.trials(ref.cell_id)])
    assert ids[0] == ids[1] and len(ids[0]) == 16


@pytest.mark.parametrize("name", each("nni-tpe"))
def test_a_result_of_an_arch_it_did_not_ask_is_imported(name: str) -> None:
    bench = toy_benchmark()
    space = bench.search_space()
    tuner_strategy = strategy(name)(space, objective=bench.objective, metrics=bench.metrics, seed=0)
    arch = space.resolve('{"n": 4, "ops": ["c", "a", "d", "b"]}')
    tuner_strategy.tell(arch, bench.evaluate(arch, 0))
    history = tuner_strategy.tuner._history
    assert history and all(len(records) == 1 for records in history.values())
    assert arch not in tuner_strategy.ask(4)


@pytest.mark.parametrize("name", each("nni-nas-evolution"))
def test_the_nas_strategy_learns_every_result_through_its_engine(name: str) -> None:
    bench = toy_benchmark()
    space = bench.search_space()
    cls = strategy(name)
    nas = cls(space, objective=bench.objective, metrics=bench.metrics, seed=0, options=cls.make_options(FAST[name]))
    for _ in range(12):
        (arch,) = nas.ask(1)
        nas.tell(arch, bench.evaluate(arch, 0))
    nas.ask(1)  # results reach NNI's strategy when it runs next
    population = nas.nni_strategy._population
    assert len(population) == 8  # population_size: the ageing population is full
    submitted = nas.bridge.history
    assert all(m.status.completed() for m in submitted[:-1]) and not submitted[-1].status.completed()
    thread = nas.thread
    del nas, population, submitted
    import gc

    gc.collect()
    thread.join(timeout=10)  # the adapter gone, NNI's loop ends
    assert not thread.is_alive()


@pytest.mark.parametrize("name", each("nni-tpe", "nni-nas-rl"))
def test_nothing_is_written_to_home_and_stdout_stays_json(tmp_path: Path, name: str) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "MPLCONFIGDIR"}
    # NNI reads these at import: set, it would log into NNI_OUTPUT_DIR and replace sys.stdout
    env.update(HOME=str(home), NNI_PLATFORM="local", NNI_OUTPUT_DIR=str(tmp_path / "nni-output"))
    done = subprocess.run(
        [sys.executable, "-m", "nasbench_txf", "run", *TOY, "--strategy", name, "--budget", "6",
         "--store", "runs.sqlite", "--json"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    json.loads(done.stdout)  # nothing of NNI's on stdout
    assert "Gym has been unmaintained" not in done.stderr
    assert list(home.iterdir()) == []
    assert not (tmp_path / "nni-output").exists()
    assert not list(tmp_path.rglob("nni-experiments"))


def cli_run(capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, *args: str) -> tuple[int, list[str]]:
    code = main(["run", *TOY, "--strategy", name, "--budget", "2", "--store", str(tmp_path / "s.sqlite"), *args])
    return code, capsys.readouterr().err.strip().splitlines()


BAD = [
    ("nni-tpe", "gamma=much", "option gamma='much' is not a valid float"),
    ("nni-tpe", "n_startup=5", "unknown option 'n_startup' (did you mean n_startup_jobs?)"),
    ("nni-tpe", "gamma=0", "gamma must be positive, got 0.0"),
    ("nni-tpe", "constant_liar=always", "is not a valid best|worst|mean|none"),
    ("nni-evolution", "population_size=1", "population_size must be 2 or more, got 1"),
    ("nni-evolution", "population_size=2.5", "option population_size='2.5' is not a valid int"),
    ("nni-gp", "utility=pi", "is not a valid ei|ucb|poi"),
    ("nni-random", "seed=3", "unknown option 'seed'; known options: none"),
    ("nni-anneal", "population_size=3", "unknown option 'population_size'"),
    ("nni-nas-evolution", "sample_size=200", "sample_size must be between 1 and population_size (100), got 200"),
    ("nni-nas-evolution", "mutation_prob=1.5", "mutation_prob must lie in [0, 1], got 1.5"),
    ("nni-nas-rl", "samples_per_update=0", "samples_per_update must be positive, got 0"),
]


@pytest.mark.parametrize(("name", "opt", "message"),
                         [pytest.param(*case, marks=loaded(case[0]), id=f"{case[0]}:{case[1]}") for case in BAD])
def test_cli_refuses_bad_options_with_exit_code_2(capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str,
                                                  opt: str, message: str) -> None:
    code, lines = cli_run(capsys, tmp_path, name, "--strategy-opt", opt)
    assert code == 2 and len(lines) == 1 and message in lines[0], lines
    assert f"{name}: " in lines[0], lines


#: run in a fresh interpreter with some modules made unimportable: each nni-* strategy's status and
#: error, then `run` of the first strategy named
WITHOUT = """
import json, sys
for module in sys.argv[1].split(","):
    sys.modules[module] = None  # `import module` now fails as if it were not installed
from nasbench_txf.cli import main
from nasbench_txf.core.registry import registry
print(json.dumps({i.name: [i.status, i.error] for i in registry("strategies").infos() if i.name.startswith("nni-")}))
sys.stdout.flush()
code = main(["run", "--space", "toy-grid", "--benchmark", "toy-quadratic", "--strategy", sys.argv[2],
             "--budget", "2", "--store", "s.sqlite"])
print(json.dumps({"code": code}))
code = main(["run", "--space", "toy-grid", "--benchmark", "toy-quadratic", "--strategy", "rs",
             "--budget", "2", "--store", "rs.sqlite"])
print(json.dumps({"rs": code}))
"""


def without(tmp_path: Path, modules: str, strategy_name: str) -> tuple[dict[str, list[str]], int, int, list[str]]:
    done = subprocess.run([sys.executable, "-c", WITHOUT, modules, strategy_name], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    statuses, code, rs = lines[0], lines[-2]["code"], lines[-1]["rs"]
    return statuses, code, rs, done.stderr.strip().splitlines()


def test_without_nni_every_nni_strategy_is_not_installed_and_says_how_to_install(tmp_path: Path) -> None:
    statuses, code, rs, errors = without(tmp_path, "nni", "nni-tpe")
    assert set(statuses) == set(NAMES)
    for status, error in statuses.values():
        assert status == "not installed"
        assert "needs nni" in error and "install it with pip install 'nasbench-txf[nni]'" in error
    assert code == 2 and len(errors) == 1, errors
    assert "strategy nni-tpe (and the other nni-* strategies) needs nni" in errors[0]
    assert rs == 0  # the other strategies work


@pytest.mark.parametrize(("modules", "down", "missing"), [
    ("pytorch_lightning", {"nni-nas-evolution", "nni-nas-rl"}, "pytorch_lightning"),
    ("tianshou", {"nni-nas-rl"}, "tianshou"),
    ("gym", {"nni-nas-rl"}, "gym"),
    ("hyperopt", {"nni-anneal"}, "hyperopt"),
], ids=["lightning", "tianshou", "gym", "hyperopt"])
@loaded("nni-tpe")
def test_a_library_nni_imports_without_declaring_it_takes_down_only_what_needs_it(
        tmp_path: Path, modules: str, down: set[str], missing: str) -> None:
    statuses, code, rs, errors = without(tmp_path, modules, sorted(down)[0])
    assert {name for name, (status, _) in statuses.items() if status != "loaded"} == down
    for name in down:
        status, error = statuses[name]
        assert status == "not installed" and f"needs {missing}, which is not installed" in error, error
        assert "pip install 'nasbench-txf[nni]'" in error
    assert code == 2 and len(errors) == 1 and f"needs {missing}" in errors[0], errors
    assert rs == 0


@loaded("nni-tpe")
def test_list_shows_the_nni_strategies_with_their_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "strategies", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)["strategies"]}
    assert "same trials for every seed" in rows["nni-gridsearch"]["description"]
    assert "[NNI21]" in rows["nni-tpe"]["description"]
    assert {o["name"] for o in rows["nni-tpe"]["options"]} == {
        "n_startup_jobs", "n_ei_candidates", "linear_forgetting", "prior_weight", "gamma", "constant_liar"}
