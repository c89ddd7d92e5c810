"""Seed-to-seed noise of a table's metrics: its levels, and the model a surrogate draws it from.

A measurement of an arch is its true value plus noise from the training seed (and from
sampling the evaluation sentences). The archs measured at several seeds tell how large that
noise is. Three models of it compete, and 5-fold cross-validation keeps the one that gives
the held-out archs' seed values the higher likelihood (a richer one only where it beats one
level on most archs, not by chance):

- ``constant``: one Gaussian level for all archs, the pooled within-arch standard deviation.
- ``per-arch``: trees on the encoding predicting each arch's log seed variance, for noise
  that depends on what the arch is made of; a heteroscedastic strategy such as BOSHNAS can
  only be rewarded for modelling that if the benchmark has it.
- ``bad-runs``: a stable Gaussian level, plus runs that go wrong now and then and fall short
  by an exponentially distributed amount. Such a run can hit an arch whose neighbours train
  stably, so no pattern in the encoding says which archs do this; and the model is
  one-sided because a real bad run only ever falls short, where a symmetric model of it (a
  two-level Gaussian mixture) would let the surrogate answer scores no training reaches,
  such as accuracies above 100%.

The likelihood of an arch's seed values integrates its unknown true value out under a flat
prior, so archs measured once carry no information about the noise and every model is
scored on the same footing (for a Gaussian it is the likelihood of the deviations from the
arch mean, times n^-1/2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np
from scipy import integrate, optimize, special, stats
from sklearn.model_selection import KFold

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.decisions import DecisionOneHot

#: trees for the log seed variance: few, shallow and smoothed, as each target rests on 2-3 seeds
NOISE_CONFIG = {"n_estimators": 100, "learning_rate": 0.05, "num_leaves": 4, "min_child_samples": 5,
                "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8, "random_state": 0,
                "deterministic": True, "force_row_wise": True, "n_jobs": 1, "verbose": -1}
#: below this many repeated archs, one level: a richer model has too little to learn from
MIN_REPEATED = 10
#: the p-value under which a richer noise model counts as beating one level arch by arch
SIGNIFICANCE = 0.05


def noise_level(by_seed: list[np.ndarray]) -> float:
    """Pooled within-arch standard deviation over archs with at least two seeds."""
    repeated = [x for x in by_seed if len(x) >= 2]
    if not repeated:
        return 0.0
    squares = sum(float(((x - x.mean()) ** 2).sum()) for x in repeated)
    return float(np.sqrt(squares / sum(len(x) - 1 for x in repeated)))


def log_variance_bias(dof: np.ndarray) -> np.ndarray:
    """E[log s²] − log σ² for a Gaussian sample variance with ``dof`` degrees of freedom ν:
    ψ(ν/2) − log(ν/2) (−1.27 at ν = 1, −0.58 at ν = 2)."""
    half = np.asarray(dof, dtype=float) / 2
    return special.digamma(half) - np.log(half)


def typical_noise_level(by_seed: list[np.ndarray]) -> float:
    """The seed noise of a typical arch: the geometric mean of the repeated archs' standard
    deviations, each log variance corrected for its bias and weighted by the inverse of its
    variance ψ′(ν/2).

    Under one noise level for all archs it estimates what :func:`noise_level` does; with a
    few unstable archs it moves with the log of their variance, not with the variance itself,
    so that one arch with a bad run cannot swamp it as it swamps the pooled level.
    """
    repeated = [x for x in by_seed if len(x) >= 2]
    if not repeated:
        return 0.0
    dof = np.array([len(x) - 1 for x in repeated], dtype=float)
    variances = np.array([np.var(x, ddof=1) for x in repeated])
    if np.any(variances == 0):  # a metric equal at every seed of some arch: no log to take
        return noise_level(by_seed)
    weights = 1 / special.polygamma(1, dof / 2)
    log_variance = np.average(np.log(variances) - log_variance_bias(dof), weights=weights)
    return float(np.exp(log_variance / 2))


def signal_level(by_seed: list[np.ndarray], noise: float | None = None) -> float | None:
    """Standard deviation of the archs' true means, the seed noise taken out of their spread.

    An arch mean over k seeds varies by σ²/k around its true value, so (one-way random
    effects, method of moments) var(true means) ≈ var(arch means) − σ²·mean(1/k), σ being
    ``noise`` (default: the pooled :func:`noise_level`). Unlike the raw spread, this does not
    grow with the noise; ``None`` without two archs.
    """
    if len(by_seed) < 2:
        return None
    noise = noise_level(by_seed) if noise is None else noise
    means = np.array([x.mean() for x in by_seed])
    excess = np.var(means, ddof=1) - noise**2 * np.mean([1 / len(x) for x in by_seed])
    return float(np.sqrt(max(excess, 0.0)))


@dataclass(frozen=True)
class SeedDeviations:
    """The repeated archs: their rows of the encoding, their seed values less the arch mean
    (negated for a metric to minimise, so that a bad run is always a low value; NaN past an
    arch's last seed), sums of squared deviations and degrees of freedom (seeds − 1)."""

    x: np.ndarray
    values: np.ndarray
    squares: np.ndarray
    dof: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, by_seed: list[np.ndarray], maximize: bool = True) -> SeedDeviations:
        keep = [i for i, values in enumerate(by_seed) if len(values) >= 2]
        values = np.full((len(keep), max((len(by_seed[i]) for i in keep), default=2)), np.nan)
        for row, i in enumerate(keep):
            values[row, :len(by_seed[i])] = (by_seed[i] - by_seed[i].mean()) * (1 if maximize else -1)
        return cls(x[keep], values, np.nansum(values**2, axis=1), np.sum(~np.isnan(values), axis=1) - 1.0)

    def subset(self, rows: np.ndarray) -> SeedDeviations:
        return SeedDeviations(self.x[rows], self.values[rows], self.squares[rows], self.dof[rows])

    def pooled_variance(self) -> float:
        return float(self.squares.sum() / self.dof.sum())

    def arch_log_likelihoods(self, variances: np.ndarray | float) -> np.ndarray:
        """Each arch's Gaussian log-likelihood of its seed values, its true value integrated out."""
        return -0.5 * (self.dof * np.log(2 * np.pi * variances) + self.squares / variances + np.log(self.dof + 1))


class NoiseModel(Protocol):
    """Each arch's seed-to-seed noise of one metric: its standard deviation, and draws of it."""

    kind: str

    def std(self, archs: list[Arch], encoding: DecisionOneHot) -> np.ndarray: ...

    def draw(self, arch: Arch, encoding: DecisionOneHot, rng: np.random.Generator) -> float:
        """One seed's noise for ``arch``, mean zero, from ``rng``."""

    def log_likelihoods(self, deviations: SeedDeviations) -> np.ndarray:
        """Each arch's log-likelihood of its seed values, the arch not seen in the fit."""

    def parameters(self) -> dict[str, Any]:
        """What a stored surrogate keeps of it beside its kind (trees go to their own file)."""


class GaussianNoise:
    """Noise drawn from a Gaussian of the arch's standard deviation."""

    def std(self, archs: list[Arch], encoding: DecisionOneHot) -> np.ndarray:
        raise NotImplementedError

    def draw(self, arch: Arch, encoding: DecisionOneHot, rng: np.random.Generator) -> float:
        return float(self.std([arch], encoding)[0] * rng.standard_normal())

    def parameters(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class ConstantNoise(GaussianNoise):
    level: float
    kind: str = "constant"

    @classmethod
    def fit(cls, deviations: SeedDeviations) -> ConstantNoise:
        return cls(float(np.sqrt(deviations.pooled_variance())))

    def std(self, archs: list[Arch], encoding: DecisionOneHot) -> np.ndarray:
        return np.full(len(archs), self.level)

    def log_likelihoods(self, deviations: SeedDeviations) -> np.ndarray:
        return deviations.arch_log_likelihoods(self.level**2)


@dataclass(frozen=True)
class PerArchNoise(GaussianNoise):
    """Trees predicting each arch's log seed variance from its encoding.

    The target is the log of the sample variance less its bias for its degrees of freedom ν
    (:func:`log_variance_bias`), weighted by ν.
    """

    trees: lgb.Booster
    kind: str = "per-arch"

    @classmethod
    def fit(cls, deviations: SeedDeviations) -> PerArchNoise:
        variance = np.maximum(deviations.squares / deviations.dof, 1e-12)
        target = np.log(variance) - log_variance_bias(deviations.dof)
        model = lgb.LGBMRegressor(**NOISE_CONFIG)
        return cls(model.fit(deviations.x, target, sample_weight=deviations.dof).booster_)

    def variances(self, x: np.ndarray) -> np.ndarray:
        return np.exp(np.asarray(self.trees.predict(x, num_threads=1), dtype=float))

    def std(self, archs: list[Arch], encoding: DecisionOneHot) -> np.ndarray:
        return np.sqrt(self.variances(encoding.encode(archs)))

    def log_likelihoods(self, deviations: SeedDeviations) -> np.ndarray:
        return deviations.arch_log_likelihoods(self.variances(deviations.x))


#: where the integral over an arch's true value μ is evaluated. A run above μ can only be the
#: stable noise, so μ lies above the highest seed value less 8 stable deviations: a fine grid
#: (in stable deviations) around that value, and a coarser one above it as far as 20 mean
#: drops, for μ from which every run fell short
PEAK_GRID = np.linspace(-8.0, 8.0, 65)
TAIL_POINTS = 100
#: bounds of the fit, in units of the pooled seed deviation: stable level, rate, mean drop
FIT_BOUNDS = ((np.log(0.01), np.log(10.0)), (-7.0, 0.0), (np.log(0.1), np.log(1000.0)))
#: starting rates and mean drops (pooled units) of the fit; the best end point is kept
FIT_STARTS = ((0.02, 5.0), (0.1, 2.0), (0.3, 1.0))


@dataclass(frozen=True)
class BadRunNoise:
    """A stable Gaussian level σ, plus bad runs: each run, with probability q, falls short
    by D ~ Exponential(mean δ). A bad run is lower for a metric to maximise and higher for
    one to minimise.

    The measured mean of an arch is its stable value less q·δ, and the surrogate's trees
    predict measured means; so a draw is centred, σ·z + q·δ − [bad]·D, and its expectation
    is the surrogate's prediction. q, σ and δ are fitted by maximum likelihood on the repeated
    archs, each arch's true value integrated out numerically: a run's density is
    (1 − q)·N(e; 0, σ²) + q·EMG(−e; σ, δ), the second being the exponentially modified
    Gaussian (ε − D). Written here because no library fits a mixture of this shape with
    nuisance means integrated out; scipy supplies the pieces (log Φ, L-BFGS-B).
    """

    level: float
    rate: float
    drop: float
    maximize: bool = True
    kind: str = "bad-runs"

    @classmethod
    def fit(cls, deviations: SeedDeviations, maximize: bool = True) -> BadRunNoise:
        """Fitted on ``deviations`` already turned so that bad runs are low; ``maximize`` only
        says which way a draw's bad runs go."""
        scale = float(np.sqrt(deviations.pooled_variance()))

        def loss(theta: np.ndarray) -> float:
            return -float(cls.from_theta(theta, scale).log_likelihoods(deviations).sum())

        ends = [optimize.minimize(loss, np.array([0.0, special.logit(rate), np.log(drop)]), method="L-BFGS-B",
                                  bounds=FIT_BOUNDS) for rate, drop in FIT_STARTS]
        return cls.from_theta(min(ends, key=lambda end: end.fun).x, scale, maximize)

    @classmethod
    def from_theta(cls, theta: np.ndarray, scale: float, maximize: bool = True) -> BadRunNoise:
        return cls(float(np.exp(theta[0]) * scale), float(special.expit(theta[1])), float(np.exp(theta[2]) * scale),
                   maximize)

    @classmethod
    def from_parameters(cls, entry: dict[str, Any]) -> BadRunNoise:
        """The inverse of :meth:`parameters`."""
        return cls(float(entry["stable_std"]), float(entry["bad_run_rate"]), float(entry["mean_drop"]),
                   bool(entry["maximize"]))

    def run_log_density(self, e: np.ndarray) -> np.ndarray:
        """Log density of a run's deviation e from the arch's stable value (a bad run: e < 0)."""
        sigma, rate = self.level, 1 / self.drop
        stable = -0.5 * (e / sigma) ** 2 - np.log(sigma * np.sqrt(2 * np.pi))
        bad = np.log(rate) + (rate * sigma) ** 2 / 2 + rate * e + special.log_ndtr(-e / sigma - rate * sigma)
        return np.logaddexp(np.log1p(-self.rate) + stable, np.log(self.rate) + bad)

    def log_likelihoods(self, deviations: SeedDeviations) -> np.ndarray:
        values, sigma = deviations.values, self.level
        filled = np.where(np.isnan(values), values[:, :1], values)  # a missing seed: masked out below
        highest = np.nanmax(values, axis=1)[:, None]
        tail = np.linspace(8 * sigma, 8 * sigma + 20 * self.drop, TAIL_POINTS)[1:]
        grid = highest + np.concatenate([sigma * PEAK_GRID, tail])
        per_run = self.run_log_density(filled[:, :, None] - grid[:, None, :])
        log_density = np.where(np.isnan(values)[:, :, None], 0.0, per_run).sum(axis=1)
        top = log_density.max(axis=1, keepdims=True)
        return top[:, 0] + np.log(integrate.trapezoid(np.exp(log_density - top), grid, axis=1))

    def std(self, archs: list[Arch], encoding: DecisionOneHot) -> np.ndarray:
        variance = self.level**2 + self.rate * (2 - self.rate) * self.drop**2
        return np.full(len(archs), np.sqrt(variance))

    def draw(self, arch: Arch, encoding: DecisionOneHot, rng: np.random.Generator) -> float:
        stable = self.level * rng.standard_normal()
        bad = rng.random() < self.rate
        drop = rng.exponential(self.drop)
        value = stable + self.rate * self.drop - (drop if bad else 0.0)
        return float(value if self.maximize else -value)

    def parameters(self) -> dict[str, Any]:
        return {"stable_std": self.level, "bad_run_rate": self.rate, "mean_drop": self.drop, "maximize": self.maximize}


MODELS = ("constant", "per-arch", "bad-runs")


def fit_model(kind: str, deviations: SeedDeviations, maximize: bool) -> NoiseModel:
    if kind == "bad-runs":
        return BadRunNoise.fit(deviations, maximize)
    return PerArchNoise.fit(deviations) if kind == "per-arch" else ConstantNoise.fit(deviations)


def choose_noise_model(deviations: SeedDeviations, maximize: bool = True) -> tuple[str, dict[str, float]]:
    """The model with the highest held-out log-likelihood of the seed values in 5-fold
    cross-validation, if it also beats one level arch by arch (one-sided Wilcoxon
    signed-rank test on the paired per-arch log-likelihoods, p < :data:`SIGNIFICANCE`); else
    ``constant``, as also below :data:`MIN_REPEATED` repeated archs and when the seeds of
    some fold's training archs do not vary at all (the variation is in too few archs to
    cross-validate: one arch of a deterministic metric measured with another recipe, say).

    The test keeps chance from choosing a richer model where one level is the truth; it
    ranks the archs' gains rather than summing them, so that one arch's large gain or loss
    does not decide alone.
    """
    if len(deviations.dof) < MIN_REPEATED:
        return "constant", {}
    held_out = {kind: np.empty(len(deviations.dof)) for kind in MODELS}
    for train, test in KFold(5, shuffle=True, random_state=0).split(deviations.x):
        fitted = deviations.subset(train)
        if fitted.pooled_variance() == 0:
            return "constant", {}
        for kind in MODELS:
            held_out[kind][test] = fit_model(kind, fitted, maximize).log_likelihoods(deviations.subset(test))
    scores = {kind: float(values.sum()) for kind, values in held_out.items()}
    best = max(scores, key=lambda kind: scores[kind])
    gain = held_out[best] - held_out["constant"]
    gain = gain[np.abs(gain) > 1e-9]  # ties
    clear = len(gain) > 0 and stats.wilcoxon(gain, alternative="greater").pvalue < SIGNIFICANCE
    return (best if clear else "constant"), scores


def fit_noise(x: np.ndarray, by_seed: list[np.ndarray], maximize: bool = True) -> tuple[dict[str, Any], NoiseModel]:
    """One metric's noise: its pooled and typical levels, the model chosen for it (with its
    cross-validation scores and parameters), and that model fitted on all repeated archs."""
    level = noise_level(by_seed)
    if level == 0:  # the same at every seed (parameters, FLOPs), or one seed each
        return {"std": 0.0, "typical_std": 0.0, "model": "constant", "log_likelihood": {}}, ConstantNoise(0.0)
    deviations = SeedDeviations.of(x, by_seed, maximize)
    kind, scores = choose_noise_model(deviations, maximize)
    model = fit_model(kind, deviations, maximize)
    entry = {"std": level, "typical_std": typical_noise_level(by_seed), "model": kind, "log_likelihood": scores}
    return {**entry, **model.parameters()}, model
