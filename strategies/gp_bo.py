"""GP-BO: Bayesian optimisation with a Gaussian process on an encoding [GPBO12]
(the GP-BO baseline of [FLEXIBERT23 §4.3]).

Each ask after ``initial`` random archs fits BoTorch's ``SingleTaskGP`` (GPyTorch; RBF
kernel with BoTorch's dimension-scaled length-scale prior, inferred observation noise,
inputs scaled to the unit cube, targets standardised) to the encoded observations by
maximising the marginal likelihood, then scores a candidate pool
(:class:`~nasbench_txf.strategies.candidates.CandidatePool`: ``pool`` random archs plus 20
mutations of each of the 10 best observed archs, drawn afresh per ask; the whole space when
it has at most ``pool`` archs) with the acquisition function and asks the best unseen
candidate. The acquisition is expected improvement over the best observed score (computed
as BoTorch's ``LogExpectedImprovement``, the same maximiser without EI's numerical
underflow far from the incumbent; Ament et al. 2023) or, with ``acquisition=ucb``,
μ + √β·σ.

The kernel has one length-scale per feature up to ``ard_max`` features and one shared
length-scale beyond (it is then a function of the encodings' Euclidean distance, like the
distance kernels of the GP baselines in [BANANAS21]), where :func:`isometric_coordinates` makes
the GP cheap. Features constant across the observed archs are dropped before fitting
(:func:`~nasbench_txf.strategies.candidates.informative_features`); inputs are scaled to
the box that the observations and the whole candidate pool span. Each fit starts from
the previous fit's hyperparameters when the kept features are the same (a warm start: the
optimiser needs fewer iterations from there). A batch
ask takes the best ``n`` candidates of one fit (no fantasised observations). No arch is
asked twice.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.options import option
from nasbench_txf.core.strategy import Requirements
from nasbench_txf.core.threads import one_thread
from nasbench_txf.strategies.candidates import CandidatePool, informative_features
from nasbench_txf.strategies.observing import ObservingStrategy

#: the GP's modules whose fitted values start the next fit (not the outcome transform's statistics)
HYPERPARAMETERS = {"likelihood", "mean_module", "covar_module"}


@dataclass(frozen=True)
class GPBOOptions:
    acquisition: Literal["ei", "ucb"] = option("ei", "expected improvement, or upper confidence bound")
    beta: float = option(2.0, "UCB's exploration weight β (acquisition=ucb)")
    initial: int = option(10, "random archs asked before the first fit")
    pool: int = option(1_000, "random candidate archs per ask (the whole space when it is this small)")
    ard_max: int = option(64, "one length-scale per feature up to this many features, else one shared")

    def __post_init__(self) -> None:
        if self.beta < 0 or min(self.initial, self.pool, self.ard_max) < 1:
            raise ValueError("beta must be >= 0, initial, pool and ard_max >= 1")


def isometric_coordinates(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of at most ``len(train)`` dimensions that keep every train–train and
    train–test Euclidean distance.

    An isotropic kernel sees the data only through those distances (and k(x, x), a
    constant), so a GP on these coordinates has the same likelihood and the same posterior
    at each test point as one on the original features — at a fraction of the cost when
    the encoding is long, because GPyTorch computes each candidate's joint covariance with
    the training points over every feature. Coordinates: the training points' affine span,
    plus one axis for the distance of a test point from that span.
    """
    origin = train[0]
    centred, shifted = torch.from_numpy(train - origin), torch.from_numpy(test - origin)
    _, singular, rows = torch.linalg.svd(centred, full_matrices=False)  # torch: obeys one_thread()
    basis = rows[singular > 1e-9 * max(float(singular.max()), 1.0)]
    inside, offset = centred @ basis.T, shifted @ basis.T
    residual = ((shifted**2).sum(1) - (offset**2).sum(1)).clamp(min=0.0).sqrt()
    return (torch.column_stack([inside, torch.zeros(len(train), dtype=inside.dtype)]).numpy(),
            torch.column_stack([offset, residual]).numpy())


class GPBO(ObservingStrategy):
    """Gaussian-process Bayesian optimisation over a candidate pool of encoded archs."""

    name = "gp-bo"
    Options = GPBOOptions
    requires = Requirements(encoding=True)

    def setup(self) -> None:
        assert self.encoding is not None
        self.pool = CandidatePool(self.space, self.encoding, self.options.pool)
        super().setup()
        self.hyperparameters: tuple[bytes, dict[str, torch.Tensor]] | None = None

    def ask(self, n: int = 1) -> list[Arch]:
        if len(self.seen) < self.options.initial or len(self.observed) < 2:
            return [self.random_unseen() for _ in range(n)]
        candidates = self.pool.draw(self.observed, self.rng)
        fresh = [i for i, arch in enumerate(candidates) if arch not in self.seen]
        if len(fresh) < n:
            return [self.random_unseen() for _ in range(n)]
        with one_thread():
            values = self._acquisition(candidates, fresh)
        picked = [candidates[fresh[i]] for i in np.argsort(-values, kind="stable")[:n]]
        self.seen.update(picked)
        return picked

    @staticmethod
    def _kernel(dim: int, ard: bool):  # type: ignore[no-untyped-def]
        """BoTorch's default RBF kernel (dimension-scaled length-scale prior, Hvarfner et al.
        2024), with one length-scale per feature or (``ard=False``) one for all."""
        from math import log, sqrt

        from gpytorch.constraints import GreaterThan
        from gpytorch.kernels import RBFKernel
        from gpytorch.priors import LogNormalPrior

        prior = LogNormalPrior(loc=sqrt(2) + 0.5 * log(dim), scale=sqrt(3))
        return RBFKernel(ard_num_dims=dim if ard else None, lengthscale_prior=prior,
                         lengthscale_constraint=GreaterThan(2.5e-2, transform=None, initial_value=prior.mode))

    def _acquisition(self, candidates: list[Arch], fresh: list[int]) -> np.ndarray:
        """The acquisition's value at each of ``candidates[fresh]``."""
        from botorch.acquisition import LogExpectedImprovement, UpperConfidenceBound

        x = self.pool.encode([a for a, _ in self.observed])
        vectors = self.pool.encode(candidates)
        stats = self.pool.stats(candidates, vectors)
        y = np.array([s for _, s in self.observed])
        model, test_x = self._fit(x, y, vectors[fresh], stats.low, stats.high)
        if self.options.acquisition == "ei":
            acquisition = LogExpectedImprovement(model, best_f=y.max())
        else:
            acquisition = UpperConfidenceBound(model, beta=self.options.beta)
        with torch.no_grad():
            return torch.cat([acquisition(chunk) for chunk in test_x.unsqueeze(1).split(2048)]).numpy()

    def predict(self, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
        """The GP's posterior mean (:class:`~nasbench_txf.core.strategy.PredictsScores`)."""
        with one_thread():
            model, test = self._fit(train_x, train_y, test_x, test_x.min(0), test_x.max(0))
            with torch.no_grad():
                return torch.cat([model.posterior(chunk).mean.squeeze(-1) for chunk in test.split(2048)]).numpy()

    def _fit(self, x: np.ndarray, y: np.ndarray, test: np.ndarray, low: np.ndarray,
             high: np.ndarray):  # type: ignore[no-untyped-def]
        """The GP fitted to ``x``, ``y`` and the GP's inputs for ``test``.

        Features constant over ``x`` are dropped; the rest are scaled to the box that ``x``
        and the candidates span (``low``, ``high``: the candidates' per-feature extremes).
        """
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import SingleTaskGP
        from gpytorch.mlls import ExactMarginalLogLikelihood

        varying = informative_features(x)
        x = x[:, varying]
        lower, upper = np.minimum(x.min(0), low[varying]), np.maximum(x.max(0), high[varying])
        scale = np.where(upper > lower, upper - lower, 1.0)
        train, test = (x - lower) / scale, (test[:, varying] - lower) / scale
        ard = train.shape[1] <= self.options.ard_max
        kernel = self._kernel(train.shape[1], ard)
        if not ard:
            train, test = isometric_coordinates(train, test)
        train_x = torch.from_numpy(train)
        train_y = torch.from_numpy(y.astype(np.float64)).unsqueeze(-1)
        torch.manual_seed(int(self.rng.integers(2**31)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # BoTorch's advice on data scaling and fit retries
            # targets standardised by SingleTaskGP's default outcome transform
            model = SingleTaskGP(train_x, train_y, covar_module=kernel)
            if self.hyperparameters is not None and self.hyperparameters[0] == varying.tobytes():
                model.load_state_dict(self.hyperparameters[1], strict=False)
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        self.hyperparameters = (varying.tobytes(), {k: v.clone() for k, v in model.state_dict().items()
                                                    if k.split(".")[0] in HYPERPARAMETERS})
        return model, torch.from_numpy(test)
