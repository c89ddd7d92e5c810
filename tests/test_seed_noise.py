"""Seed noise: its pooled and typical levels, the arch signal, and the surrogate's noise models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from nbt_testing import space

from nasbench_txf.benchmarks.surrogate import SurrogateBenchmark
from nasbench_txf.core.decisions import DecisionOneHot
from nasbench_txf.core.errors import DataError
from nasbench_txf.surrogate.noise import (
    BadRunNoise,
    ConstantNoise,
    SeedDeviations,
    fit_noise,
    noise_level,
    signal_level,
    typical_noise_level,
)
from nasbench_txf.surrogate.surrogate import Surrogate, noise_file
from nasbench_txf.tables.build import BuildRequest, build

TOY = space("toy-grid")


@pytest.mark.parametrize("signal", [0.0, 2.0])
def test_the_arch_signal_is_the_spread_of_true_means_without_the_seed_noise(signal: float) -> None:
    rng = np.random.default_rng(0)
    true_means = rng.normal(70.0, signal, 2_000) if signal else np.full(2_000, 70.0)
    by_seed = [rng.normal(mean, 1.0, 1 + i % 3) for i, mean in enumerate(true_means)]
    assert noise_level(by_seed) == pytest.approx(1.0, abs=0.05)
    assert np.std([x.mean() for x in by_seed]) > 0.6  # the raw spread of means carries the noise
    assert signal_level(by_seed) == pytest.approx(signal, abs=0.15)
    assert signal_level(by_seed[:1]) is None


def test_the_typical_seed_noise_is_the_pooled_one_unless_a_few_archs_are_unstable() -> None:
    rng = np.random.default_rng(0)
    steady = [rng.normal(70.0, 1.0, 2 + i % 2) for i in range(2_000)]
    assert typical_noise_level(steady) == pytest.approx(noise_level(steady), rel=0.03)
    assert typical_noise_level(steady) == pytest.approx(1.0, abs=0.03)
    few = [rng.normal(70.0, 0.3, 2 + i % 2) for i in range(15)] + [np.array([84.8, 76.5])]
    assert noise_level(few) > 1.0  # the one unstable arch swamps the pooled level ...
    assert typical_noise_level(few) < 0.5  # ... not the typical one
    assert typical_noise_level([np.array([1.0]), np.array([2.0])]) == 0.0  # no arch measured twice
    assert typical_noise_level([np.array([5.0, 5.0]), np.array([1.0, 2.0])]) == noise_level(
        [np.array([5.0, 5.0]), np.array([1.0, 2.0])])  # a zero variance has no log: pooled


def test_noise_per_arch_where_archs_differ_in_it(tmp_path: Path) -> None:
    request = BuildRequest("toy-grid", {}, "toy-quadratic", None, {"noise": "0.1", "noisy_op": "a"},
                           n=80, seeds=3, repeated=40)
    table = build(request, tmp_path / "t", progress=False)
    surrogate = Surrogate.fit(table, TOY)
    assert surrogate.meta["noise"]["score"]["model"] == "per-arch"
    archs = list(TOY.enumerate())
    sigma = surrogate.noise_std(archs)
    loud = np.array([a.card["ops"][0] == "a" for a in archs])
    assert np.median(sigma[loud]) > 3 * np.median(sigma[~loud])  # the truth: 0.5 against 0.1
    surrogate.save(tmp_path / "s")
    assert np.array_equal(Surrogate.load(tmp_path / "s", TOY).noise_std(archs), sigma)
    stored = tmp_path / "s" / "surrogate.json"
    meta = json.loads(stored.read_text())
    stored.write_text(json.dumps({**meta, "noise": {**meta["noise"], "score": {"model": "two-level", "std": 0.1}}}))
    with pytest.raises(DataError, match=r"damaged surrogate model.*unknown noise model 'two-level'"):
        Surrogate.load(tmp_path / "s", TOY)
    stored.write_text(json.dumps(meta))
    (tmp_path / "s" / noise_file("score")).unlink()
    with pytest.raises(DataError, match="damaged surrogate model"):
        Surrogate.load(tmp_path / "s", TOY)
    quiet, noisy = archs[int(np.argmin(sigma))], archs[int(np.argmax(sigma))]
    spread = [np.std([surrogate.noise(arch, seed) for seed in range(200)]) for arch in (quiet, noisy)]
    assert spread[0] == pytest.approx(sigma.min(), rel=0.2) and spread[1] == pytest.approx(sigma.max(), rel=0.2)
    bench = SurrogateBenchmark(TOY, options=SurrogateBenchmark.make_options({"table": str(tmp_path / "t")}))
    assert bench.version.endswith("/per-arch-noise")  # its answers differ from a one-level surrogate's


def test_bad_runs_fall_short_only_and_leave_the_predicted_mean_where_it_was(tmp_path: Path) -> None:
    """10% of runs fall short by an exponential drop of mean 1.0 on top of noise 0.1: the
    one-sided model wins, a level per arch loses (the encoding cannot say which runs go
    bad), and the surrogate's draws are centred and never far above the stable level."""
    request = BuildRequest("toy-grid", {}, "toy-quadratic", None, {"noise": "0.1", "bad_runs": "0.1"},
                           n=60, seeds=3, repeated=40)
    surrogate = Surrogate.fit(build(request, tmp_path / "t", progress=False), TOY)
    entry = surrogate.meta["noise"]["score"]
    assert entry["model"] == surrogate.noise_kind("score") == "bad-runs"
    scores = entry["log_likelihood"]
    assert scores["bad-runs"] > scores["constant"] > scores["per-arch"]
    assert entry["stable_std"] == pytest.approx(0.1, rel=0.3)
    assert entry["bad_run_rate"] == pytest.approx(0.1, abs=0.07)
    assert entry["mean_drop"] == pytest.approx(1.0, rel=0.6)
    arch = next(iter(TOY.enumerate()))
    draws = np.array([surrogate.noise(arch, seed) for seed in range(3_000)])
    assert abs(draws.mean()) < 0.03  # centred: the predicted mean stays the measured mean
    assert draws.max() < entry["bad_run_rate"] * entry["mean_drop"] + 5 * entry["stable_std"]
    assert draws.min() < -1.0  # the bad runs
    surrogate.save(tmp_path / "s")
    again = Surrogate.load(tmp_path / "s", TOY)
    assert [again.noise(arch, seed) for seed in range(50)] == list(draws[:50])
    stored = tmp_path / "s" / "surrogate.json"
    meta = json.loads(stored.read_text())
    del meta["noise"]["score"]["mean_drop"]
    stored.write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"damaged surrogate model.*mean_drop"):
        Surrogate.load(tmp_path / "s", TOY)
    bench = SurrogateBenchmark(TOY, options=SurrogateBenchmark.make_options({"table": str(tmp_path / "t")}))
    assert bench.version.endswith("/bad-runs-noise")


def test_a_bad_run_of_a_metric_to_minimise_is_high() -> None:
    rng = np.random.default_rng(0)
    runs = [rng.normal(0.0, 0.1, 3) + np.where(rng.random(3) < 0.1, rng.exponential(1.0, 3), 0.0)
            for _ in range(60)]
    deviations = SeedDeviations.of(np.zeros((60, 1)), runs, maximize=False)
    fitted = BadRunNoise.fit(deviations, maximize=False)
    assert fitted.rate == pytest.approx(0.1, abs=0.07) and fitted.drop == pytest.approx(1.0, rel=0.6)
    arch = next(iter(TOY.enumerate()))
    draws = np.array([fitted.draw(arch, DecisionOneHot(TOY), np.random.default_rng(seed)) for seed in range(2_000)])
    assert draws.min() > -(fitted.rate * fitted.drop + 5 * fitted.level) and draws.max() > 1.0
    wrong_way_up = SeedDeviations.of(np.zeros((60, 1)), runs, maximize=True)
    assert (BadRunNoise.fit(wrong_way_up).log_likelihoods(wrong_way_up).sum()
            < fitted.log_likelihoods(deviations).sum() - 5)


def test_the_bad_runs_likelihood_is_the_gaussian_one_without_bad_runs() -> None:
    """The numerical integral over each arch's true value against the closed form."""
    rng = np.random.default_rng(1)
    deviations = SeedDeviations.of(np.zeros((30, 1)), [rng.normal(5.0, 0.3, 2 + i % 2) for i in range(30)])
    level = ConstantNoise.fit(deviations).level
    exact = ConstantNoise(level).log_likelihoods(deviations)
    assert np.allclose(BadRunNoise(level, 1e-12, 3 * level).log_likelihoods(deviations), exact, atol=1e-3)


def test_variation_in_one_arch_only_gets_one_level_not_a_crash() -> None:
    """A deterministic metric whose one arch was measured differently: most folds' training
    archs do not vary at all, so no model can be cross-validated; one level is fitted."""
    by_seed = [np.array([5.0, 5.0, 5.0]) for _ in range(30)]
    by_seed[7] = np.array([5.0, 6.0, 5.0])
    entry, model = fit_noise(np.eye(30), by_seed)
    assert entry["model"] == "constant" and entry["log_likelihood"] == {}
    assert isinstance(model, ConstantNoise) and model.level == pytest.approx(noise_level(by_seed))
