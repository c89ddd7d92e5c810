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
from nasbench_txf.seed_noise import noise_level, signal_level, typical_noise_level
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


def test_instability_the_encoding_cannot_predict_stays_one_level(tmp_path: Path) -> None:
    """15% of archs, picked by id, with 10 times the noise: trees on the encoding cannot say
    which, so a level per arch loses to one level on held-out archs."""
    request = BuildRequest("toy-grid", {}, "toy-quadratic", None, {"noise": "0.1", "unstable": "0.15"},
                           n=150, seeds=3, repeated=100)
    surrogate = Surrogate.fit(build(request, tmp_path / "t", progress=False), TOY)
    entry = surrogate.meta["noise"]["score"]
    assert entry["model"] == surrogate.noise_kind("score") == "constant"
    assert entry["log_likelihood"]["constant"] > entry["log_likelihood"]["per-arch"]
    assert entry["typical_std"] < entry["std"] / 2  # the unstable archs swamp the pooled level
