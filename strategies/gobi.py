"""GOBI (Tuli et al. 2021, used by [FLEXIBERT23 §3.4.3]): gradient-based optimisation of a
surrogate's acquisition over the input encoding, then snapping to the nearest arch.

Second-order steps use AdaHessian (Yao et al. 2021) from ``pytorch-optimizer``: each step
estimates the Hessian diagonal with Hutchinson's method, hence ``backward(create_graph=True)``.
``second_order=False`` uses Adam instead (the ``boshnas-nosecond`` ablation). Points are
clamped to the box the candidate encodings span after every step.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch
from pytorch_optimizer import AdaHessian


def ascend(acquisition: Callable[[torch.Tensor], torch.Tensor], starts: torch.Tensor, lower: torch.Tensor,
           upper: torch.Tensor, *, second_order: bool = True, steps: int = 100, lr: float = 0.05,
           tolerance: float = 1e-5) -> torch.Tensor:
    """Maximise ``acquisition`` (one value per row) from each start; all rows move at once."""
    x = starts.clone().requires_grad_()
    optimizer: torch.optim.Optimizer = AdaHessian([x], lr=lr) if second_order else torch.optim.Adam([x], lr=lr)
    previous = None
    for _ in range(steps):
        value = acquisition(x)
        with warnings.catch_warnings():  # the reference cycle it warns of is broken below
            warnings.filterwarnings("ignore", message="Using backward\\(\\) with create_graph=True")
            (-value.sum()).backward(create_graph=second_order)
        optimizer.step()
        x.grad = None  # break the graph the second-order backward kept alive
        with torch.no_grad():
            x.copy_(torch.maximum(torch.minimum(x, upper), lower))
        current = float(value.detach().sum())
        if previous is not None and abs(current - previous) < tolerance * max(1.0, abs(previous)):
            break
        previous = current
    return x.detach()


def nearest(points: np.ndarray, candidates: np.ndarray, excluded: np.ndarray,
            rng: np.random.Generator) -> list[int]:
    """For each point in turn, the nearest candidate (Euclidean) not excluded nor already taken.

    Ties are broken at random: candidates that differ only in features the surrogate was
    not given are equally near, and equally good to it. Fewer indices than points come back
    when the candidates run out.
    """
    sq_candidates = np.einsum("ij,ij->i", candidates, candidates)
    distance = sq_candidates[None, :] - 2 * points @ candidates.T + np.einsum("ij,ij->i", points, points)[:, None]
    distance[:, excluded] = np.inf
    out: list[int] = []
    for row in distance:
        row[out] = np.inf
        best = row.min()
        if not np.isfinite(best):
            break
        ties = np.flatnonzero(row <= best + 1e-6 * max(1.0, abs(best)))
        out.append(int(ties[0] if len(ties) == 1 else rng.choice(ties)))
    return out
