"""The three surrogate networks of BOSHNAS [FLEXIBERT23 §3.4.2, Eq. 2, App. B.4].

- :class:`NPN` f_S — a natural-parameter network (Wang et al. 2016): every layer carries a
  Gaussian (mean, variance) through weights that are Gaussians themselves, so the output is
  a predicted mean μ and an aleatoric variance σ², trained with the Gaussian negative
  log-likelihood of Eq. 2.
- :class:`Teacher` g_S — an MLP with dropout kept on at prediction (MC dropout, Gal &
  Ghahramani 2016); the spread ξ of its samples is the epistemic uncertainty.
- :class:`Student` h_S — an MLP regressing ξ, so that GOBI has a smooth, differentiable ξ̂.

Hand-written in torch: no maintained library ships NPN layers. Training is full-batch
vectorised Adam with early stopping on a held-out split (the data are at most a few hundred
points).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

HIDDEN = 64


class NPNLinear(nn.Module):
    """y = x W + b with Gaussian W and b: propagates the mean and variance of x (Wang et al. 2016, §3)."""

    def __init__(self, inputs: int, outputs: int) -> None:
        super().__init__()
        bound = 1 / math.sqrt(inputs)
        self.weight_mean = nn.Parameter(torch.empty(inputs, outputs).uniform_(-bound, bound))
        self.bias_mean = nn.Parameter(torch.zeros(outputs))
        self.weight_rho = nn.Parameter(torch.full((inputs, outputs), -6.0))  # variance = softplus(rho)
        self.bias_rho = nn.Parameter(torch.full((outputs,), -6.0))

    def forward(self, mean: torch.Tensor, var: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weight_var, bias_var = F.softplus(self.weight_rho), F.softplus(self.bias_rho)
        out_mean = mean @ self.weight_mean + self.bias_mean
        out_var = var @ (weight_var + self.weight_mean**2) + mean**2 @ weight_var + bias_var
        return out_mean, out_var


def npn_relu(mean: torch.Tensor, var: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of ReLU(x) for Gaussian x (moment matching)."""
    std = torch.sqrt(var + 1e-8)
    z = mean / std
    cdf = 0.5 * (1 + torch.erf(z / math.sqrt(2)))
    pdf = torch.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    out_mean = mean * cdf + std * pdf
    second = (mean**2 + var) * cdf + mean * std * pdf
    return out_mean, torch.clamp(second - out_mean**2, min=1e-8)


class NPN(nn.Module):
    """f_S(x) → (μ, σ²)."""

    def __init__(self, inputs: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([NPNLinear(inputs, HIDDEN), NPNLinear(HIDDEN, HIDDEN), NPNLinear(HIDDEN, 1)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, var = x, torch.zeros_like(x)
        for i, layer in enumerate(self.layers):
            mean, var = layer(mean, var)
            if i < len(self.layers) - 1:
                mean, var = npn_relu(mean, var)
        return mean.squeeze(-1), var.squeeze(-1) + 1e-4

    @staticmethod
    def loss(prediction: tuple[torch.Tensor, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Eq. 2: (μ − o)² / 2σ² + ½ ln σ², averaged."""
        mean, var = prediction
        return ((mean - target) ** 2 / (2 * var) + 0.5 * torch.log(var)).mean()


def mlp(inputs: int, dropout: float = 0.0) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, HIDDEN), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Dropout(dropout), nn.Linear(HIDDEN, 1))


class Teacher(nn.Module):
    """g_S: an MLP whose dropout stays on to sample predictions (MC dropout)."""

    def __init__(self, inputs: int, dropout: float = 0.2, samples: int = 32) -> None:
        super().__init__()
        self.net, self.samples = mlp(inputs, dropout), samples

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)

    def sample(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and spread ξ of ``samples`` dropout predictions (one vectorised pass)."""
        self.net.train()
        with torch.no_grad():
            draws = self.net(x.unsqueeze(0).expand(self.samples, *x.shape)).squeeze(-1)
        return draws.mean(0), draws.std(0)


class Student(nn.Module):
    """h_S: ξ̂(x) ≥ 0, a differentiable surrogate of the teacher's spread."""

    def __init__(self, inputs: int) -> None:
        super().__init__()
        self.net = mlp(inputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.softplus(self.net(x).squeeze(-1))


def fit(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor,  # type: ignore[no-untyped-def]
        generator: torch.Generator, epochs: int = 400, patience: int = 40) -> list[float]:
    """Adam on full batches, early stopping on a held-out fifth (when there are 10+ points).

    Returns the training losses; the weights of the best held-out epoch are kept.
    """
    n = len(x)
    order = torch.randperm(n, generator=generator)
    held = order[: n // 5] if n >= 10 else order[:0]
    train = order[n // 5:] if n >= 10 else order
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-5)
    best, best_state, stale, losses = math.inf, None, 0, []
    for _ in range(epochs):
        model.train()
        optimizer.zero_grad()
        loss = loss_fn(model(x[train]), y[train])
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        if len(held):
            model.eval()
            with torch.no_grad():
                score = float(loss_fn(model(x[held]), y[held]))
            if score < best - 1e-6:
                best, stale = score, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
                if stale >= patience:
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    return losses

