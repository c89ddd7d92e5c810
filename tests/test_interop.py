"""nasbench_txf.interop: the benchmarks as an Optuna objective, an optunahub problem and a
Syne Tune blackbox, run for a few trials on the built-in surrogates; and bad input."""

from __future__ import annotations

import contextlib
import io
import math
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nasbench_txf.core.benchmark import Benchmark
from nasbench_txf.core.errors import (
    IncompatibleError,
    MissingDependencyError,
    OptionError,
    UnknownNameError,
    UserError,
)
from nasbench_txf.core.registry import open_benchmark
from nasbench_txf.core.result import Result
from nasbench_txf.core.space import Decision
from nasbench_txf.interop import (
    optuna_objective,
    optunahub_problem,
    syne_tune_blackbox,
)
from nasbench_txf.interop.problem import Parameter


@pytest.fixture
def optuna() -> Iterator[Any]:
    """Optuna (the test skips where it is not installed), its line per trial off meanwhile."""
    library = pytest.importorskip("optuna")
    level = library.logging.get_verbosity()
    library.logging.set_verbosity(library.logging.WARNING)
    yield library
    library.logging.set_verbosity(level)


@pytest.fixture(scope="module")
def flexibert() -> Benchmark:
    """The built-in benchmark (the surrogate on flexibert-sst2), opened once for the module."""
    return open_benchmark("flexibert", {}, "surrogate", None, {})


@pytest.fixture(scope="module")
def eftnas() -> Benchmark:
    """The built-in EFTNAS surrogate: the same kind of benchmark, and fast to evaluate."""
    return open_benchmark("eftnas", {}, "surrogate", None, {})


def failing(monkeypatch: pytest.MonkeyPatch, bench: Benchmark) -> None:
    """Every evaluation of ``bench`` fails (for this test), as a failed training does."""
    monkeypatch.setattr(bench, "evaluate", lambda arch, seed: Result.failed("the training diverged", 3.0))


# -- Optuna ------------------------------------------------------------------------------------------
def test_an_optuna_study_on_the_built_in_benchmark(flexibert: Benchmark, optuna: Any) -> None:
    objective = optuna_objective("flexibert", flexibert, seed=0)
    assert objective.directions == ["maximize"] and objective.metric_names == ["accuracy"]
    assert list(objective.search_space) == [d.name for d in flexibert.space.decisions()]
    study = optuna.create_study(directions=objective.directions, sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=4)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    trial = study.best_trial
    arch = objective.arch(trial.params)
    # the parameters are the choice values (readable), the value is the benchmark's at the seed
    assert set(trial.params.values()) <= {c for d in flexibert.space.decisions() for c in d.choices}
    assert trial.user_attrs["card"] == arch.card and trial.user_attrs["arch_id"] == arch.id
    assert trial.value == flexibert.evaluate(arch, 0).value("accuracy") == trial.user_attrs["metrics"]["accuracy"]
    assert trial.user_attrs["cost_seconds"] > 0
    # a function of the parameters and the seed alone; another seed draws other seed noise
    assert objective(optuna.trial.FixedTrial(trial.params)) == trial.value
    assert optuna_objective("flexibert", flexibert, seed=1)(optuna.trial.FixedTrial(trial.params)) != trial.value


def test_the_same_seeds_give_the_same_study(eftnas: Benchmark, optuna: Any) -> None:
    def study() -> list[tuple[dict[str, Any], float]]:
        objective = optuna_objective("eftnas", eftnas, seed=0)
        done = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=1))
        done.optimize(objective, n_trials=12)  # past TPE's 10 random start-up trials
        return [(t.params, t.value) for t in done.trials]

    assert study() == study()


def test_a_multi_objective_optuna_study(eftnas: Benchmark, optuna: Any) -> None:
    objective = optuna_objective("eftnas", eftnas, against="macs, params")
    assert objective.metric_names == ["accuracy", "macs", "params"]
    assert objective.directions == ["maximize", "minimize", "minimize"]
    study = optuna.create_study(directions=objective.directions, sampler=optuna.samplers.NSGAIISampler(seed=0))
    study.optimize(objective, n_trials=6)
    assert study.best_trials
    for trial in study.trials:
        assert trial.values == [trial.user_attrs["metrics"][name] for name in objective.metric_names]


def test_a_failed_evaluation_is_a_failed_trial_and_the_study_goes_on(eftnas: Benchmark, optuna: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    objective = optuna_objective("eftnas", eftnas)
    failing(monkeypatch, eftnas)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=3)
    assert [t.state.name for t in study.trials] == ["FAIL"] * 3
    assert study.trials[0].user_attrs["failure_reason"] == "the training diverged"


def test_an_optunahub_problem(eftnas: Benchmark, optuna: Any) -> None:
    benchmarks = pytest.importorskip("optunahub.benchmarks")
    problem = optunahub_problem("eftnas", eftnas, seed=0, against=["macs"])
    assert isinstance(problem, benchmarks.BaseProblem)
    assert problem.directions == [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]
    assert set(problem.search_space) == {d.name for d in eftnas.space.decisions()}
    study = optuna.create_study(directions=problem.directions, sampler=optuna.samplers.NSGAIISampler(seed=0))
    study.optimize(problem, n_trials=5)
    for trial in study.trials:
        assert tuple(trial.values) == problem.evaluate(trial.params)
        assert trial.user_attrs["card"] == problem.arch(trial.params).card
    with pytest.raises(OptionError, match="not one of its values"):
        problem.evaluate({**study.trials[0].params, "heads-1": 3})


# -- Syne Tune ---------------------------------------------------------------------------------------
@pytest.fixture
def syne_tune(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Syne Tune, writing its results under ``tmp_path``; numpy's global generator seeded for
    the test and restored afterwards (Syne Tune's random searcher draws from it, so without
    the seed the configurations drawn depend on the tests that ran before)."""
    st = pytest.importorskip("syne_tune")
    monkeypatch.setenv("SYNETUNE_FOLDER", str(tmp_path / "syne-tune"))
    state = np.random.get_state()
    np.random.seed(0)
    yield st
    np.random.set_state(state)


def tune(blackbox: Any, scheduler: Any, trials: int) -> Any:
    """A Syne Tune run of ``blackbox`` on the simulated clock; its results as a DataFrame."""
    from syne_tune import StoppingCriterion, Tuner
    from syne_tune.backend.simulator_backend.simulator_callback import SimulatorCallback
    from syne_tune.blackbox_repository.simulated_tabular_backend import UserBlackboxBackend

    backend = UserBlackboxBackend(blackbox=blackbox, elapsed_time_attr=blackbox.elapsed_time_attr)
    callback = SimulatorCallback()
    tuner = Tuner(backend, scheduler, StoppingCriterion(max_num_trials_completed=trials), n_workers=2,
                  sleep_time=0, callbacks=[callback], tuner_name="nasbench-txf-test")
    with contextlib.redirect_stdout(io.StringIO()):  # its progress table
        tuner.run()
    return callback.dataframe()


def configs(blackbox: Any, results: Any) -> list[dict[str, Any]]:
    return [{name: row[f"config_{name}"] for name in blackbox.configuration_space} for _, row in results.iterrows()]


def test_a_syne_tune_run_on_the_built_in_benchmark(flexibert: Benchmark, syne_tune: Any, tmp_path: Path) -> None:
    from syne_tune.optimizer.baselines import RandomSearch

    blackbox = syne_tune_blackbox("flexibert", flexibert, seed=0)
    assert blackbox.metrics == ["accuracy"] and blackbox.do_minimize is False
    scheduler = RandomSearch(blackbox.configuration_space, metrics=blackbox.metrics,
                             do_minimize=blackbox.do_minimize, random_seed=0)
    results = tune(blackbox, scheduler, trials=4)
    assert len(results) >= 4
    for config, (_, row) in zip(configs(blackbox, results), results.iterrows(), strict=True):
        result = flexibert.evaluate(blackbox.arch(config), 0)
        accuracy = result.value("accuracy")  # None for a failed training: NaN for Syne Tune
        assert row["accuracy"] == accuracy if result.ok else math.isnan(row["accuracy"])
        assert row["cost_seconds"] == result.cost_seconds
    # the clock is simulated: a few trainings' predicted seconds in a fraction of a second
    assert results["st_tuner_time"].max() > results["cost_seconds"].max() > 10
    # the blackbox's seed unless Syne Tune passes one (UserBlackboxBackend(seed=...))
    config = configs(blackbox, results)[0]
    assert blackbox.objective_function(config, fidelity=1, seed=0) == blackbox.objective_function(config, fidelity=1)
    assert blackbox.objective_function(config, fidelity=1, seed=1)["accuracy"] != results["accuracy"].iloc[0]
    assert [p.name for p in tmp_path.iterdir()] == ["syne-tune"]  # nothing written elsewhere


def test_syne_tune_runs_repeat_given_numpy_s_seed(eftnas: Benchmark, syne_tune: Any) -> None:
    # Syne Tune 0.16's random searcher samples with numpy's global generator, not its random_seed
    from syne_tune.optimizer.baselines import RandomSearch

    blackbox = syne_tune_blackbox("eftnas", eftnas, seed=0)

    def run() -> list[tuple[dict[str, Any], float]]:
        np.random.seed(0)
        scheduler = RandomSearch(blackbox.configuration_space, metrics=blackbox.metrics, do_minimize=False,
                                 random_seed=0)
        results = tune(blackbox, scheduler, trials=5)
        return list(zip(configs(blackbox, results), results["accuracy"], strict=True))

    assert run() == run()


def test_a_multi_objective_syne_tune_run(eftnas: Benchmark, syne_tune: Any) -> None:
    from syne_tune.optimizer.schedulers.single_fidelity_scheduler import SingleFidelityScheduler

    blackbox = syne_tune_blackbox("eftnas", eftnas, seed=0, against=["macs"])
    # one direction for all: the objective's; macs (minimised) is reported negated as well
    assert blackbox.metrics == ["accuracy", "neg_macs"] and blackbox.do_minimize is False
    scheduler = SingleFidelityScheduler(blackbox.configuration_space, metrics=blackbox.metrics,
                                        do_minimize=blackbox.do_minimize, searcher="regularized_evolution",
                                        random_seed=0)
    results = tune(blackbox, scheduler, trials=5)
    assert len(results) >= 5 and (results["neg_macs"] == -results["macs"]).all()


def test_the_blackbox_answers_syne_tune_s_calls_and_pickles_as_its_recipe(eftnas: Benchmark, syne_tune: Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    blackbox = syne_tune_blackbox("eftnas", eftnas, seed=0)
    config = {name: domain.categories[-1] for name, domain in blackbox.configuration_space.items()}
    table = blackbox(config)  # no fidelity: one row per fidelity, one column per objective
    assert table.shape == (1, len(blackbox.objectives_names))
    row = blackbox.objective_function(config, fidelity=1)
    assert list(row) == blackbox.objectives_names and table[0].tolist() == list(row.values())
    again = pickle.loads(pickle.dumps(blackbox))  # Syne Tune saves its tuner with the blackbox
    assert again.problem.benchmark is not eftnas and again.objective_function(config, fidelity=1) == row
    failing(monkeypatch, eftnas)
    failed = blackbox.objective_function(config, fidelity=1)
    assert math.isnan(failed["accuracy"]) and failed["cost_seconds"] == 3.0


# -- bad input ---------------------------------------------------------------------------------------
def one_line(error: pytest.ExceptionInfo[UserError]) -> str:
    message = str(error.value)
    assert "\n" not in message and message
    return message


@pytest.mark.parametrize(("make", "library"), [(optuna_objective, "optuna"), (optunahub_problem, "optunahub"),
                                               (syne_tune_blackbox, "syne_tune")])
def test_unknown_names_are_one_line_user_errors(make: Any, library: str) -> None:
    pytest.importorskip(library)
    with pytest.raises(UnknownNameError) as error:
        make("flexbert")
    assert "unknown space 'flexbert'; did you mean 'flexibert'?" in one_line(error)
    with pytest.raises(UnknownNameError) as error:
        make("eftnas", "surogate")
    assert "unknown benchmark 'surogate'" in one_line(error)


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"space": 3}, "space must be the name of a space (str), got int"),
    ({"benchmark": 3}, "benchmark must be a benchmark name (str), an open Benchmark or None, got int"),
    ({"seed": "0"}, "seed must be a whole number from 0 to 4,294,967,295, got '0'"),
    ({"seed": -1}, "seed must be a whole number"),
    ({"seed": True}, "seed must be a whole number"),
    ({"task": 2}, "task must be a task name (str) or None, got int"),
    ({"space_options": ["build"]}, "space_options takes a mapping of option names to values, got list"),
    ({"benchmark_options": {"noise": 1}}, "unknown option 'noise'"),
    ({"benchmark_options": {"objective": "acc"}}, "objective 'acc' is not a metric of table"),
    ({"against": "mac"}, "against: benchmark surrogate has no metric 'mac' (did you mean macs?)"),
    ({"against": [1]}, "against takes metric names"),
    ({"against": "accuracy"}, "against: accuracy is the objective itself"),
    ({"against": "macs,macs"}, "against: metric macs is named twice"),
])
def test_wrong_option_types_and_values_are_one_line_option_errors(kwargs: dict[str, Any], expected: str,
                                                                  optuna: Any) -> None:
    with pytest.raises(OptionError) as error:
        optuna_objective(**{"space": "eftnas", **kwargs})
    assert expected in one_line(error)


def test_an_open_benchmark_takes_no_options_and_must_match_the_space(eftnas: Benchmark, optuna: Any) -> None:
    with pytest.raises(IncompatibleError, match="evaluates space eftnas, not flexibert"):
        optuna_objective("flexibert", eftnas)
    with pytest.raises(IncompatibleError, match="already open"):
        optuna_objective("eftnas", eftnas, benchmark_options={"objective": "loss"})


def test_bad_parameters_name_the_decision(eftnas: Benchmark, optuna: Any) -> None:
    objective = optuna_objective("eftnas", eftnas)
    params = {name: dist.choices[0] for name, dist in objective.search_space.items()}
    assert objective.arch(params) == objective.arch({**params, "heads-1": 1.0})  # a number by value
    for bad, expected in [({**params, "heads-7": 1}, "space eftnas has no decision 'heads-7' (did you mean heads-6?)"),
                          ({k: v for k, v in params.items() if k != "ffn-6"}, "lack decision(s) ffn-6"),
                          ({**params, "heads-1": "1"}, "heads-1='1' (str) is not one of its values: 1, 6, 7"),
                          ({**params, "heads-1": True}, "is not one of its values"),
                          ([1, 2], "a mapping of decision names to values, got list")]:
        with pytest.raises(OptionError) as error:
            objective.arch(bad)  # type: ignore[arg-type]
        assert expected in one_line(error)


def test_choices_that_are_not_scalars_of_one_type_are_offered_as_indices() -> None:
    assert Parameter(Decision("op", ("SA", "LT"))).values == ("SA", "LT")
    for choices in [(None, 2), (1, "a"), ((1, 2), (3,)), (1, 1.0), (0, False, 2)]:
        parameter = Parameter(Decision("x", choices))
        assert parameter.values == tuple(range(len(choices))) and parameter.index(1) == 1


@pytest.mark.parametrize(("make", "module", "package"), [
    (optuna_objective, "optuna", "optuna"),
    (optunahub_problem, "optunahub", "optunahub"),
    (syne_tune_blackbox, "syne_tune", "syne-tune"),
])
def test_a_missing_library_says_how_to_install_it(make: Any, module: str, package: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)  # what an import finds where it is not installed
    with pytest.raises(MissingDependencyError) as error:
        make("eftnas")
    assert f"needs {package}: {package} is not installed; install it with pip install 'nasbench-txf[" in one_line(
        error)
