"""BANANAS [BANANAS21], as its authors ran it; a baseline of [FLEXIBERT23 §4.3].

Bayesian optimisation with a neural predictor: after ``initial`` random archs, each round
trains an ensemble of ``ensemble`` feed-forward networks on the encoded observations (the
truncated path encoding unless ``--encoding`` says otherwise), draws ``candidates``
unseen archs by mutating the ``best`` best observed archs (the paper's "mutation"
acquisition optimisation), scores each candidate by independent Thompson sampling — one
draw from N(ensemble mean, ensemble standard deviation) per candidate (§4, ITS) — and asks
the ``per_round`` candidates with the highest draws before training again.

Defaults are those of the authors' released code (naszilla: ``nas_algorithms.bananas`` and
``params.meta_neuralnet_params('standard')``): 10 initial archs, 10 archs per round, 5
networks of 10 fully connected layers of width 20 with ReLU, mean-absolute-error loss,
Adam with learning rate 0.01, 150 epochs, batches of 32, 100 candidates from the 10 best
archs. Two changes, both scale-free: targets are standardised before training (the authors
regressed raw validation errors), and the ensemble trains as one batched model (each member
with its own initialisation and its own data order), which is what makes 150 epochs cheap;
features that do not vary among the observed archs are left out
(:func:`~nasbench_txf.strategies.candidates.informative_features`).
No arch is asked twice; when mutations give no unseen candidate, a random unseen arch is asked.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.options import option
from nasbench_txf.core.strategy import Requirements
from nasbench_txf.core.threads import one_thread
from nasbench_txf.strategies.candidates import informative_features, mutations_of_best
from nasbench_txf.strategies.observing import ObservingStrategy


@dataclass(frozen=True)
class BananasOptions:
    initial: int = option(10, "random archs before the first round (naszilla num_init)")
    per_round: int = option(10, "archs asked per trained ensemble (naszilla k)")
    ensemble: int = option(5, "networks in the ensemble (num_ensemble)")
    layers: int = option(10, "fully connected layers per network")
    width: int = option(20, "units per layer")
    epochs: int = option(150, "training epochs per round")
    lr: float = option(0.01, "Adam learning rate")
    batch_size: int = option(32, "training batch size")
    candidates: int = option(100, "mutated candidates scored per round")
    best: int = option(10, "observed archs the candidates are mutated from")

    def __post_init__(self) -> None:
        if min(self.initial, self.per_round, self.layers, self.width, self.epochs, self.batch_size,
               self.candidates, self.best) < 1 or self.ensemble < 2 or self.lr <= 0:
            raise ValueError("sizes must be >= 1, ensemble >= 2 and lr > 0")


class Ensemble(nn.Module):
    """``members`` independent MLPs evaluated as one batched network: (members, n) outputs."""

    def __init__(self, members: int, inputs: int, layers: int, width: int) -> None:
        super().__init__()
        sizes = [inputs] + [width] * layers + [1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in itertools.pairwise(sizes):
            bound = (6 / (fan_in + fan_out)) ** 0.5  # Glorot uniform, Keras's default
            self.weights.append(nn.Parameter(torch.empty(members, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.zeros(members, 1, fan_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (n, inputs) shared by all members, or (members, n, inputs)."""
        h = x.expand(len(self.weights[0]), *x.shape) if x.dim() == 2 else x
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(b, h, w)
            if i < len(self.weights) - 1:
                h = torch.relu(h)
        return h.squeeze(-1)


def train_ensemble(model: Ensemble, x: torch.Tensor, y: torch.Tensor, *, epochs: int, lr: float,
                   batch_size: int, generator: torch.Generator) -> float:
    """Mean-absolute-error training, every member on its own shuffles; returns the final loss."""
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    members, n = len(model.weights[0]), len(x)
    loss = torch.tensor(0.0)
    for _ in range(epochs):
        order = torch.argsort(torch.rand(members, n, generator=generator), dim=1)
        for start in range(0, n, batch_size):
            index = order[:, start:start + batch_size]
            loss = (model(x[index]) - y[index]).abs().mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return loss.item()


class Bananas(ObservingStrategy):
    """Neural-ensemble BO with path encodings, ITS and mutation candidates."""

    name = "bananas"
    Options = BananasOptions
    requires = Requirements(encoding=True)
    default_encoding = "path"

    def setup(self) -> None:
        super().setup()
        self.queue: list[Arch] = []

    def ask(self, n: int = 1) -> list[Arch]:
        out: list[Arch] = []
        while len(out) < n:
            if not self.queue and len(self.seen) >= self.options.initial and len(self.observed) >= 2:
                self.queue = self._round(max(self.options.per_round, n - len(out)))
            if self.queue:
                out.append(self.queue.pop(0))
            else:
                out.append(self.random_unseen())
        return out

    def _round(self, k: int) -> list[Arch]:
        """Train the ensemble and return the ``k`` best candidates by independent Thompson sampling."""
        o = self.options
        candidates = mutations_of_best(self.space, self.observed, self.seen, o.candidates, o.best, self.rng)
        if not candidates:
            return []
        assert self.encoding is not None
        predictions = self._ensemble(self.encoding.encode([a for a, _ in self.observed]),
                                     np.array([s for _, s in self.observed]), self.encoding.encode(candidates))
        draws = self.rng.normal(predictions.mean(0), predictions.std(0))
        picked = [candidates[i] for i in np.argsort(-draws, kind="stable")[:k]]
        self.seen.update(picked)
        return picked

    def predict(self, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
        """The ensemble's mean prediction (:class:`~nasbench_txf.core.strategy.PredictsScores`)."""
        return self._ensemble(train_x, train_y, test_x).mean(0)

    def _ensemble(self, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
        """Each member's predictions of ``test_x`` (members, n), in the units of ``train_y``."""
        o = self.options
        features = informative_features(train_x)
        x = torch.from_numpy(train_x[:, features]).float()
        mean, spread = train_y.mean(), train_y.std() + 1e-12
        y_t = torch.from_numpy((train_y - mean) / spread).float()
        generator = torch.Generator().manual_seed(int(self.rng.integers(2**31)))
        torch.manual_seed(int(self.rng.integers(2**31)))
        with one_thread():
            model = Ensemble(o.ensemble, x.shape[1], o.layers, o.width)
            train_ensemble(model, x, y_t, epochs=o.epochs, lr=o.lr, batch_size=o.batch_size, generator=generator)
            with torch.no_grad():
                predictions = model(torch.from_numpy(test_x[:, features]).float()).numpy()
        return predictions.astype(np.float64) * spread + mean
