"""The `optuna` strategy: every sampler on the toy problem, multi-objective runs, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from nbt_testing import STRATEGY_BENCHMARK, STRATEGY_SPACE, TOY

pytest.importorskip("optuna")  # the strategy is in the optional extra nasbench-txf[optuna]


from nasbench_txf.cli import main
from nasbench_txf.core.errors import IncompatibleError, OptionError, UserError
from nasbench_txf.run.cell import CellSpec, open_cell
from nasbench_txf.run.runner import run_cell
from nasbench_txf.run.store import Store
from nasbench_txf.run.trials import Budget
from nasbench_txf.strategies.optuna_samplers import SAMPLERS, OptunaSampler
from nasbench_txf.testing import Subject, toy_benchmark
from nasbench_txf.testing.strategy_checks import run_strategy

QUERIES = 20


def spec(seed: int, options: dict[str, str]) -> CellSpec:
    return CellSpec(space=STRATEGY_SPACE, strategy="optuna", benchmark=STRATEGY_BENCHMARK, seed=seed,
                    strategy_options=options, benchmark_options={"noise": "0.1"})


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_every_sampler_asks_new_archs_and_repeats_itself_per_seed(sampler: str) -> None:
    subject = Subject(OptunaSampler, options={"sampler": sampler})
    first = [r.arch_id for r in run_strategy(subject, QUERIES, seed=0)]  # fails on an arch asked twice
    again = [r.arch_id for r in run_strategy(subject, QUERIES, seed=0)]
    other = [r.arch_id for r in run_strategy(subject, QUERIES, seed=1)]
    assert len(set(first)) == QUERIES
    assert first == again
    assert first != other


@pytest.mark.parametrize(("sampler", "batch"), [("cmaes", 1), ("random", 4)])
def test_repeated_proposals_are_answered_from_the_stored_result(sampler: str, batch: int) -> None:
    # on the 336 toy archs both samplers propose archs again (cmaes as it converges, random by
    # chance, in batches also archs still being evaluated): each such trial is told the arch's result
    bench = toy_benchmark()
    space = bench.search_space()
    strategy = OptunaSampler(space, objective=bench.objective, metrics=bench.metrics, seed=0,
                             options=OptunaSampler.make_options({"sampler": sampler}))
    scores = {}
    for _ in range(40 // batch):
        asked = strategy.ask(batch)
        assert not set(asked) & set(scores) and len(set(asked)) == batch
        for arch in asked:
            result = bench.evaluate(arch, 0)
            scores[arch] = result.value("score")
            strategy.tell(arch, result)
    trials = strategy.study.trials
    assert len(trials) > len(scores) == 40  # the sampler proposed known archs
    for trial in trials:
        assert trial.state.name == "COMPLETE"  # none left waiting
        arch = space.from_decisions([trial.params[n] for n in strategy.names])
        assert trial.value == scores[arch]


@pytest.mark.parametrize("sampler", ["tpe", "cmaes"])
def test_a_resumed_run_asks_what_an_uninterrupted_one_asks(tmp_path: Path, sampler: str) -> None:
    full, part = tmp_path / "full.sqlite", tmp_path / "part.sqlite"
    ref = run_cell(spec(0, {"sampler": sampler}), full, Budget(queries=20))
    run_cell(spec(0, {"sampler": sampler}), part, Budget(queries=13))
    run_cell(spec(0, {"sampler": sampler}), part, Budget(queries=20), resume=True)  # replays the 13 first
    ids = []
    for path in (full, part):
        with Store.open(path) as store:
            ids.append([r.arch_id for r in store.trials(ref.cell_id)])
    assert ids[0] == ids[1] and len(ids[0]) == 20


def test_a_result_of_an_arch_it_did_not_ask_becomes_a_finished_trial() -> None:
    bench = toy_benchmark()
    space = bench.search_space()
    strategy = OptunaSampler(space, objective=bench.objective, metrics=bench.metrics, seed=0)
    arch = space.resolve('{"n": 4, "ops": ["c", "a", "d", "b"]}')
    strategy.tell(arch, bench.evaluate(arch, 0))
    (trial,) = strategy.study.trials
    assert trial.state.name == "COMPLETE" and trial.value == pytest.approx(4.25, abs=0.5)
    assert space.from_decisions([trial.params[n] for n in strategy.names]) == arch
    assert arch not in strategy.ask(4)


def test_cmaes_gets_integer_distributions_the_others_categorical() -> None:
    bench = toy_benchmark()

    def kinds(sampler: str) -> set[str]:
        strategy = OptunaSampler(bench.search_space(), objective=bench.objective, metrics=bench.metrics, seed=0,
                                 options=OptunaSampler.make_options({"sampler": sampler}))
        return {type(d).__name__ for d in strategy.distributions.values()}

    assert kinds("cmaes") == {"IntDistribution"}
    assert kinds("tpe") == {"CategoricalDistribution"}


@pytest.mark.parametrize(("sampler", "against"), [("nsgaii", "size"), ("tpe", "auto")])
def test_multi_objective_run_reports_its_pareto_set(tmp_path: Path, sampler: str, against: str) -> None:
    options = {"sampler": sampler, "against": against}
    if sampler == "nsgaii":
        options["sampler_opts"] = '{"population_size": 10}'
    summary = run_cell(spec(0, options), tmp_path / "moo.sqlite", Budget(queries=30))
    assert summary.pareto_objectives == ["score", "size"]  # auto: toy-quadratic's other metric
    cell = open_cell(spec(0, options))
    assert [d.name for d in cell.strategy.study.directions] == ["MAXIMIZE", "MINIMIZE"]
    with Store.open(tmp_path / "moo.sqlite") as store:
        rows = store.trials(summary.cell_id)
    points = [(-r.metrics["score"], r.metrics["size"]) for r in rows]
    dominated = {p for p in points if any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in points)}
    assert {(-p["score"], p["size"]) for p in summary.pareto} == set(points) - dominated
    front = set(points) - dominated
    assert len(front) >= 2


def test_single_objective_unless_against_is_given(tmp_path: Path) -> None:
    strategy = open_cell(spec(0, {"sampler": "nsgaii"})).strategy
    assert [m.name for m in strategy.objectives] == ["score"]
    assert [d.name for d in strategy.study.directions] == ["MAXIMIZE"]
    assert run_cell(spec(0, {"sampler": "nsgaii"}), tmp_path / "s.sqlite", Budget(queries=3)).pareto == []


def test_sampler_options_are_passed_in_normal_form() -> None:
    given = ' { "n_startup_trials" : 3,"multivariate":true}'
    options = OptunaSampler.make_options({"sampler": "tpe", "sampler_opts": given})
    assert options.sampler_opts == '{"multivariate":true,"n_startup_trials":3}'
    assert OptunaSampler.make_options({"sampler_opts": options.sampler_opts}) == options
    bench = toy_benchmark()
    strategy = OptunaSampler(bench.search_space(), objective=bench.objective, metrics=bench.metrics, seed=0,
                             options=options)
    assert strategy.study.sampler._n_startup_trials == 3


BAD = [
    ({"sampler": "bayes"}, OptionError, "option sampler='bayes' is not a valid tpe|cmaes|gp|nsgaii|qmc|random"),
    ({"sampler_opts": '{"n_startup": 5}'}, OptionError,
     "TPESampler has no option 'n_startup' (did you mean n_startup_trials?); its options: "),
    ({"sampler_opts": '{"n_startup_trials": "5"}'}, OptionError, "option n_startup_trials takes int, got '5'"),
    ({"sampler_opts": '{"n_startup_trials": 2.5}'}, OptionError, "option n_startup_trials takes int, got 2.5"),
    ({"sampler": "qmc", "sampler_opts": '{"scramble": 1}'}, OptionError, "option scramble takes bool, got 1"),
    ({"sampler_opts": '{"gamma": 3}'}, OptionError, "option gamma takes a Python object"),
    ({"sampler_opts": '{"seed": 3}'}, OptionError, "the sampler's seed comes from the run's --seed"),
    ({"sampler_opts": "[5]"}, OptionError, "sampler_opts must be a JSON object"),
    ({"sampler_opts": "{n_startup_trials: 5}"}, OptionError, "sampler_opts is not valid JSON"),
    ({"sampler": "nsgaii", "sampler_opts": '{"population_size": 1}'}, OptionError, "refused by NSGAIISampler"),
    ({"sampler": "cmaes", "against": "size"}, OptionError, "sampler cmaes optimises one objective"),
    ({"against": "latency"}, IncompatibleError, "choose none, auto or cost metrics among size"),
]


@pytest.mark.parametrize(("options", "error", "message"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_options_are_refused_in_one_line(options: dict[str, str], error: type[UserError], message: str) -> None:
    with pytest.raises(error) as caught:
        open_cell(spec(0, options))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_sampler_options_that_fail_only_when_sampling_are_refused_in_one_line(tmp_path: Path) -> None:
    options = {"sampler_opts": '{"n_startup_trials": 2, "n_ei_candidates": 0}'}
    with pytest.raises(OptionError, match=r"^optuna: TPESampler failed after 2 archs with sampler_opts "
                                          r'\{"n_ei_candidates":0,"n_startup_trials":2\}: .+$'):
        run_cell(spec(0, options), tmp_path / "s.sqlite", Budget(queries=5))


def cli_run(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> tuple[int, list[str]]:
    code = main(["run", *TOY, "--strategy", "optuna", "--budget", "2", "--store", str(tmp_path / "s.sqlite"), *args])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize(("args", "message"), [
    (["--strategy-opt", "sampler=bayes"], "is not a valid tpe|cmaes|gp|nsgaii|qmc|random"),
    (["--strategy-opt", "sampler_opts={\"n_startup\": 5}"], "did you mean n_startup_trials?"),
    (["--strategy-opt", "sampler=gp", "--strategy-opt", "sampler_opts={\"n_startup_trials\": true}"],
     "GPSampler's option n_startup_trials takes int, got True"),
])
def test_cli_refuses_bad_options_with_exit_code_2(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                  args: list[str], message: str) -> None:
    code, lines = cli_run(capsys, tmp_path, *args)
    assert code == 2 and len(lines) == 1 and message in lines[0], lines
