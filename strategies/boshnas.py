"""BOSHNAS [FLEXIBERT23 §3.4, Algorithm 1, Eqs. 1–2] and its ablations [FLEXIBERT23 §4.3, Fig. 4(b)].

Each ``ask``, with probability 1 − α − β: fit the surrogate (:mod:`.boshnas_models`) on the
observations, maximise UCB = μ + k1·σ + k2·ξ̂ (Eq. 1) over the encoding with GOBI from
several random cold restarts, and snap each optimum to the nearest unseen arch of the
candidate pool; with probability α: the pool arch with the largest uncertainty
k1·σ + k2·ξ̂; with probability β: a random unseen arch. The first ``initial`` asks are the
space's presets (on ``flexibert``, the twelve initial models of §4.2), then random archs.

The candidate pool is the whole space when it has at most ``pool`` archs (enumerated once),
else ``pool`` random archs plus mutations of the best observed ones, drawn afresh per ask.
Encoding features constant across the observed archs are dropped
(:func:`~nasbench_txf.strategies.candidates.informative_features`: the networks have no
evidence about them, and ``path`` and ``wl`` are mostly such features early on); the rest
are standardised over the candidates, and the targets over the observations. With the
``converge`` option the strategy reports itself finished once the best score has changed
by less than 1e-4 for five iterations (§4.1). Weight transfer (§3.3.3) is the live
benchmark's ``transfer=true`` option: each trial then records whether, and from which arch,
weights were transferred.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.errors import InvalidCardError
from nasbench_txf.core.options import option
from nasbench_txf.core.result import Result
from nasbench_txf.core.strategy import Requirements
from nasbench_txf.core.threads import one_thread
from nasbench_txf.strategies.boshnas_models import NPN, Student, Teacher, fit
from nasbench_txf.strategies.candidates import CandidatePool, informative_features
from nasbench_txf.strategies.gobi import ascend, nearest
from nasbench_txf.strategies.observing import ObservingStrategy


def unit_where_constant(std: np.ndarray) -> np.ndarray:
    """Per-feature scale for standardising over the candidates: their standard deviation, or 1
    for a feature constant among them. A feature kept because the observations vary in it
    can still be constant among the candidates; dividing by a vanishing spread would put the
    observations at distances of 1e9 from everything."""
    return np.where(std > 1e-12, std, 1.0)


@dataclass(frozen=True)
class Surrogate:
    """The trained surrogate as functions of standardised features: the predicted mean, UCB
    (Eq. 1) and the uncertainty k1·σ + k2·ξ̂, in standardised score units."""

    mean: Callable[[torch.Tensor], torch.Tensor]
    ucb: Callable[[torch.Tensor], torch.Tensor]
    spread: Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class BOSHNASOptions:
    k1: float = option(0.5, "weight of the aleatoric σ in UCB (§4.1)")
    k2: float = option(0.5, "weight of the epistemic ξ̂ in UCB (§4.1)")
    alpha: float = option(0.1, "probability of uncertainty sampling (§4.1)")
    beta: float = option(0.1, "probability of diversity (random) sampling (§4.1)")
    initial: int = option(12, "first asks: the space's presets, then random archs")
    restarts: int = option(8, "GOBI cold restarts per ask")
    steps: int = option(100, "GOBI steps per restart")
    pool: int = option(20_000, "candidate archs: the whole space up to this size")
    epochs: int = option(400, "surrogate training epochs (early stopping)")
    converge: bool = option(False, "finish when the best score changes < 1e-4 for 5 asks")

    def __post_init__(self) -> None:
        if not (self.alpha >= 0 and self.beta >= 0 and self.alpha + self.beta <= 1):
            raise ValueError("alpha and beta must be >= 0 with alpha + beta <= 1")
        if min(self.restarts, self.steps, self.pool, self.epochs) < 1 or self.initial < 0:
            raise ValueError("restarts, steps, pool and epochs must be >= 1, initial >= 0")


class BOSHNAS(ObservingStrategy):
    """Bayesian optimisation with second-order optimisation and heteroscedastic surrogates."""

    name = "boshnas"
    Options = BOSHNASOptions
    requires = Requirements(encoding=True)
    #: GOBI with AdaHessian (False: first-order Adam, the ``boshnas-nosecond`` ablation)
    second_order: ClassVar[bool] = True
    #: aleatoric NPN in the surrogate (False: teacher mean only, ``boshnas-nohetero``)
    heteroscedastic: ClassVar[bool] = True

    def setup(self) -> None:
        super().setup()
        self.best_history: list[float] = []
        self.presets = self._presets()
        assert self.encoding is not None
        self.pool = CandidatePool(self.space, self.encoding, self.options.pool)

    def _presets(self) -> list[Arch]:
        out = []
        for card in self.space.presets().values():
            try:
                out.append(self.space.arch(card))
            except InvalidCardError:
                continue
        return out

    @property
    def finished(self) -> bool:
        history = self.best_history
        return self.options.converge and len(history) > 5 and max(history[-6:]) - min(history[-6:]) < 1e-4

    # -- ask/tell ----------------------------------------------------------------------------------
    def ask(self, n: int = 1) -> list[Arch]:
        out: list[Arch] = []
        while len(out) < n:
            asked = len(self.seen)
            if asked < self.options.initial:
                fresh = [a for a in self.presets if a not in self.seen]
                if fresh:
                    self.seen.add(fresh[0])
                    out.append(fresh[0])
                else:
                    out.append(self.random_unseen())
                continue
            u = self.rng.random()
            if len(self.observed) < 3 or u >= 1 - self.options.beta:
                out.append(self.random_unseen())
            else:
                with one_thread():
                    out.extend(self._model_based(n - len(out),
                                                 uncertainty=u >= 1 - self.options.alpha - self.options.beta))
        return out

    def tell(self, arch: Arch, result: Result) -> None:
        told = len(self.observed)
        super().tell(arch, result)
        if len(self.observed) > told:
            self.best_history.append(max(s for _, s in self.observed))

    # -- the surrogate --------------------------------------------------------------------------
    def _model_based(self, n: int, uncertainty: bool) -> list[Arch]:
        candidates = self.pool.draw(self.observed, self.rng)
        vectors = self.pool.encode(candidates)
        observed = self.pool.encode([a for a, _ in self.observed])
        keep = informative_features(observed)
        stats = self.pool.stats(candidates, vectors)
        mean, scale = stats.mean[keep], unit_where_constant(stats.std[keep])
        standardised = (vectors[:, keep] - mean) / scale
        x_all = torch.from_numpy(standardised.astype(np.float32))
        surrogate = self._surrogate(((observed[:, keep] - mean) / scale).astype(np.float32),
                                    np.array([s for _, s in self.observed]))
        ucb, spread = surrogate.ucb, surrogate.spread
        excluded = np.array([a in self.seen for a in candidates])
        if excluded.all():
            raise InvalidCardError("every candidate arch has been asked already: lower the budget")
        if uncertainty:
            with torch.no_grad():
                values = spread(x_all).numpy()
            values[excluded] = -np.inf
            chosen = list(np.argsort(-values)[:n])
        else:
            starts = x_all[torch.from_numpy(self.rng.choice(len(candidates), self.options.restarts))]
            lower = torch.from_numpy(((stats.low[keep] - mean) / scale).astype(np.float32))
            upper = torch.from_numpy(((stats.high[keep] - mean) / scale).astype(np.float32))
            optima = ascend(ucb, starts, lower, upper, second_order=self.second_order, steps=self.options.steps)
            with torch.no_grad():
                order = torch.argsort(-ucb(optima))
            chosen = nearest(optima[order].double().numpy(), standardised, excluded, self.rng)
            excluded[chosen] = True
            while len(chosen) < n and not excluded.all():  # more asks than distinct optima
                j = int(self.rng.choice(np.flatnonzero(~excluded)))
                chosen.append(j)
                excluded[j] = True
            chosen = chosen[:n]
        picked = [candidates[j] for j in chosen]
        self.seen.update(picked)
        return picked

    def predict(self, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
        """The surrogate's predicted mean μ (:class:`~nasbench_txf.core.strategy.PredictsScores`),
        with features standardised over ``test_x`` as over a candidate pool."""
        keep = informative_features(train_x)
        mean, scale = test_x[:, keep].mean(0), unit_where_constant(test_x[:, keep].std(0))
        with one_thread():
            surrogate = self._surrogate(((train_x[:, keep] - mean) / scale).astype(np.float32), train_y)
            with torch.no_grad():
                predicted = surrogate.mean(torch.from_numpy(((test_x[:, keep] - mean) / scale).astype(np.float32)))
        return predicted.double().numpy() * (train_y.std() + 1e-9) + train_y.mean()

    def _surrogate(self, x: np.ndarray, y: np.ndarray) -> Surrogate:
        """f_S, g_S and h_S trained (Eq. 2) on standardised features ``x`` and scores ``y``
        (standardised here).

        The trained networks are frozen: GOBI's second-order backward (``create_graph``)
        would otherwise leave each parameter holding a gradient whose graph refers back to
        it, a cycle Python never frees, and a sweep's workers would grow with every cell.
        """
        o = self.options
        x_t = torch.from_numpy(x)
        y_t = torch.from_numpy((y - y.mean()) / (y.std() + 1e-9)).float()
        generator = torch.Generator().manual_seed(int(self.rng.integers(2**31)))
        torch.manual_seed(int(self.rng.integers(2**31)))
        teacher = Teacher(x_t.shape[1])
        fit(teacher, lambda p, t: ((p - t) ** 2).mean(), x_t, y_t, generator, o.epochs)
        _, xi = teacher.sample(x_t)
        student = Student(x_t.shape[1])
        fit(student, lambda p, t: ((p - t) ** 2).mean(), x_t, xi, generator, o.epochs)
        student.eval().requires_grad_(False)
        if self.heteroscedastic:
            npn = NPN(x_t.shape[1])
            fit(npn, NPN.loss, x_t, y_t, generator, o.epochs)
            npn.eval().requires_grad_(False)

            def mean(z: torch.Tensor) -> torch.Tensor:
                return npn(z)[0]

            def ucb(z: torch.Tensor) -> torch.Tensor:
                mu, var = npn(z)
                return mu + o.k1 * torch.sqrt(var) + o.k2 * student(z)

            def spread(z: torch.Tensor) -> torch.Tensor:
                return o.k1 * torch.sqrt(npn(z)[1]) + o.k2 * student(z)
        else:
            teacher.eval().requires_grad_(False)

            def mean(z: torch.Tensor) -> torch.Tensor:
                return teacher(z)

            def ucb(z: torch.Tensor) -> torch.Tensor:
                return teacher(z) + o.k2 * student(z)

            def spread(z: torch.Tensor) -> torch.Tensor:
                return o.k2 * student(z)
        return Surrogate(mean, ucb, spread)


class BOSHNASFirstOrder(BOSHNAS):
    """Ablation: GOBI with first-order steps (Adam) instead of AdaHessian (Fig. 4(b))."""

    name = "boshnas-nosecond"
    second_order = False


class BOSHNASHomoscedastic(BOSHNAS):
    """Ablation: no NPN — the teacher's mean and epistemic spread only (Fig. 4(b))."""

    name = "boshnas-nohetero"
    heteroscedastic = False
