"""Seed noise: its pooled and typical levels, the arch signal, and the surrogate's noise models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from nbt_testing import space

from nasbench_txf.bench_build import BuildRequest, build
from nasbench_txf.benchmarks.surrogate import SurrogateBenchmark
from nasbench_txf.errors import DataError
from nasbench_txf.seed_noise import (
    SeedDeviations,
    TwoLevelNoise,
    noise_level,
    signal_level,
    typical_noise_level,
)
from nasbench_txf.surrogate import Surrogate, noise_file

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
    (tmp_path / "s" / noise_file("score")).unlink()
    with pytest.raises(DataError, match="damaged surrogate model"):
        Surrogate.load(tmp_path / "s", TOY)
    quiet, noisy = archs[int(np.argmin(sigma))], archs[int(np.argmax(sigma))]
    spread = [np.std([surrogate.noise(arch, seed) for seed in range(200)]) for arch in (quiet, noisy)]
    assert spread[0] == pytest.approx(sigma.min(), rel=0.2) and spread[1] == pytest.approx(sigma.max(), rel=0.2)
    bench = SurrogateBenchmark(TOY, options=SurrogateBenchmark.make_options({"table": str(tmp_path / "t")}))
    assert bench.version.endswith("/per-arch-noise")  # its answers differ from a one-level surrogate's


def test_two_levels_are_recovered_from_groups_of_deviations() -> None:
    rng = np.random.default_rng(3)
    unstable = rng.random(400) < 0.1
    by_seed = [rng.normal(0.0, 2.0 if u else 0.2, 2 + i % 2) for i, u in enumerate(unstable)]
    ids = [f"{i:020x}" for i in range(len(by_seed))]  # the encoding plays no part here
    deviations = SeedDeviations(ids, np.zeros((len(ids), 1)), np.array([((x - x.mean()) ** 2).sum() for x in by_seed]),
                                np.array([len(x) - 1.0 for x in by_seed]))
    model = TwoLevelNoise.fit(deviations)
    assert model.unstable_share == pytest.approx(0.1, abs=0.04)
    assert model.stable_std == pytest.approx(0.2, rel=0.1) and model.unstable_std == pytest.approx(2.0, rel=0.2)
    called = np.array([i in model.unstable_archs for i in ids])
    assert (called == unstable).mean() > 0.95  # each measured arch keeps the level its seeds show
    assert model.unstable_archs.isdisjoint(model.stable_archs)
    assert TwoLevelNoise.from_json(model.to_json()) == model


def test_two_level_noise_where_a_few_archs_are_unstable(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    request = BuildRequest("toy-grid", {}, "toy-quadratic", None, {"noise": "0.1", "unstable": "0.15"},
                           n=150, seeds=3, repeated=100)
    table = build(request, tmp_path / "t", progress=False)
    surrogate = Surrogate.fit(table, TOY)
    entry = surrogate.meta["noise"]["score"]
    assert entry["model"] == "two-level", entry["log_likelihood"]  # no op predicts instability: not per-arch
    assert entry["log_likelihood"]["two-level"] > max(entry["log_likelihood"]["constant"],
                                                      entry["log_likelihood"]["per-arch"])
    assert entry["typical_std"] < entry["std"]  # the unstable archs swamp the pooled level
    archs = list(TOY.enumerate())
    sigma = surrogate.noise_std(archs)
    assert set(np.round(sigma, 9)) == {round(entry["two_level"]["stable_std"], 9),
                                       round(entry["two_level"]["unstable_std"], 9)}
    assert entry["two_level"]["stable_std"] == pytest.approx(0.1, rel=0.25)
    assert entry["two_level"]["unstable_std"] == pytest.approx(1.0, rel=0.35)
    truly = np.array([int(a.id, 16) % 1000 < 150 for a in archs])
    measured = set(entry["two_level"]["unstable_archs"]) | set(entry["two_level"]["stable_archs"])
    is_measured = np.array([a.id in measured for a in archs])
    loud = sigma > entry["two_level"]["stable_std"]
    assert (loud[is_measured] == truly[is_measured]).mean() > 0.9  # measured archs keep their level
    assert loud[~is_measured].mean() == pytest.approx(entry["two_level"]["unstable_share"], abs=0.05)
    surrogate.save(tmp_path / "s")
    assert np.array_equal(Surrogate.load(tmp_path / "s", TOY).noise_std(archs), sigma)
    stored = tmp_path / "s" / "surrogate.json"
    for damage in ({"model": "three-level"}, {"two_level": {"stable_std": 0.1}}):
        meta = json.loads(stored.read_text())
        meta["noise"]["score"].update(damage)
        (tmp_path / "s" / "surrogate.json").write_text(json.dumps(meta))
        with pytest.raises(DataError, match="damaged surrogate model"):
            Surrogate.load(tmp_path / "s", TOY)
    noisy = archs[int(np.argmax(sigma))]
    assert np.std([surrogate.noise(noisy, seed) for seed in range(300)]) == pytest.approx(sigma.max(), rel=0.15)
    bench = SurrogateBenchmark(TOY, options=SurrogateBenchmark.make_options({"table": str(tmp_path / "t")}))
    assert bench.version.endswith("/two-level-noise")
    assert cli("bench", "surrogate", str(tmp_path / "t")).returncode == 0
    info = json.loads(cli("bench", "info", str(tmp_path / "t"), "--json", check=True).stdout)["surrogate"]
    assert info["noise_model"] == "two-level" and info["noise_levels"] == {
        **{k: pytest.approx(entry["two_level"][k]) for k in ("unstable_share", "stable_std", "unstable_std")},
        "measured_unstable_archs": len(entry["two_level"]["unstable_archs"]),
        "measured_stable_archs": len(entry["two_level"]["stable_archs"])}
