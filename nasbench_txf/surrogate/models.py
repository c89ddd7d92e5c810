"""The regressors a surrogate chooses among for a metric, and their storage in safe formats.

A table's arch means are noisy targets, and not symmetrically so: a rare bad run pulls one
arch's mean down by points (:class:`~nasbench_txf.surrogate.noise.BadRunNoise`). Squared-error
models chase those archs; the robust candidates do not:

- ``trees-shallow`` / ``trees-medium`` / ``trees-deep``: LightGBM gradient-boosted trees,
  squared error, three sizes;
- ``robust-trees``: the shallow trees on absolute error;
- ``robust-linear``: a linear model on Huber loss (scikit-learn's ``HuberRegressor``, which
  estimates the scale of the residuals with the coefficients, so the switch from squared to
  absolute error sits at the targets' own noise), fitted on standardised targets so that its
  L2 penalty means the same for any metric's units.

Cross-validation picks one per metric (:mod:`nasbench_txf.surrogate.surrogate`); on a table
with bad runs the robust candidates rank held-out archs better than squared error does.

Every model is shifted after its fit so that its mean prediction over its training archs is
their mean: a robust fit follows the typical arch, not the mean that bad runs lower, and the
surrogate's prediction is meant to be the expected measurement (its noise draws have mean
zero). Trees are stored in LightGBM's text format and a linear model as numbers in the
surrogate's JSON: no pickle. The JSON entry of a tree file holds the SHA-256 of its text, checked
before LightGBM parses it: LightGBM reads a damaged (cut, edited) model file past its end and
aborts the process, where a checked one is refused with a message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Protocol

import lightgbm as lgb
import numpy as np
from sklearn.linear_model import HuberRegressor

from nasbench_txf.core.safe_json import excerpt
from nasbench_txf.tables.table import contained, shown, write_atomic

#: what a damaged or unchecked tree file's message tells to do
REFIT = "refit it with `nasbench-txf bench surrogate TABLE`"

TREE_SIZES: dict[str, dict[str, Any]] = {
    "shallow": {"n_estimators": 300, "learning_rate": 0.05, "num_leaves": 7, "min_child_samples": 5},
    "medium": {"n_estimators": 400, "learning_rate": 0.03, "num_leaves": 15, "min_child_samples": 5},
    "deep": {"n_estimators": 600, "learning_rate": 0.02, "num_leaves": 31, "min_child_samples": 3},
}
TREE_COMMON = {"subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8, "random_state": 0,
               "deterministic": True, "force_row_wise": True, "n_jobs": 1, "verbose": -1}
#: L2 penalty of ``robust-linear`` on standardised targets (0.1 to 10 ranked alike; 100 worse)
HUBER_ALPHA = 1.0


class MetricModel(Protocol):
    """A fitted predictor of one metric's arch means from the encoding."""

    kind: ClassVar[str]

    def predict(self, x: np.ndarray) -> np.ndarray: ...

    def save(self, folder: Path, name: str) -> dict[str, Any]:
        """Write what the JSON entry cannot hold under ``folder``; return the entry."""
        ...


@dataclass(frozen=True)
class TreeModel:
    booster: lgb.Booster
    offset: float = 0.0

    kind: ClassVar[str] = "trees"

    def predict(self, x: np.ndarray) -> np.ndarray:
        # one OpenMP thread for small batches: a benchmark predicts one arch at a time, and
        # LightGBM's thread pool only spins on a busy machine
        threads = 1 if len(x) < 1000 else 0
        return self.booster.predict(x, num_threads=threads) + self.offset

    def save(self, folder: Path, name: str) -> dict[str, Any]:
        return {"kind": self.kind, **write_trees(folder, f"{name}.lgb.txt", self.booster), "offset": self.offset}


@dataclass(frozen=True)
class LinearModel:
    coef: np.ndarray
    intercept: float

    kind: ClassVar[str] = "linear"

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x @ self.coef + self.intercept

    def save(self, folder: Path, name: str) -> dict[str, Any]:
        return {"kind": self.kind, "coef": self.coef.tolist(), "intercept": self.intercept}


def checksum(text: bytes) -> str:
    """The SHA-256 of a model file's bytes, as its JSON entry records it."""
    return hashlib.sha256(text).hexdigest()


def write_trees(folder: Path, file: str, booster: lgb.Booster) -> dict[str, str]:
    """Write ``booster`` to ``folder / file`` (which must stay inside ``folder``); return the
    ``file`` and ``sha256`` fields of its JSON entry, for :func:`read_trees`."""
    text = booster.model_to_string()
    write_atomic(contained(folder, file, "a model file"), text)
    return {"file": file, "sha256": checksum(text.encode("utf-8"))}


def read_trees(folder: Path, entry: Mapping[str, Any]) -> lgb.Booster:
    """The trees of a JSON entry written by :func:`write_trees`: its ``file``, inside ``folder``
    (else a DataError), whose text must match its ``sha256`` before LightGBM parses it (else
    ``ValueError``: a file cut short or edited, or one stored before checksums were)."""
    path = contained(folder, entry["file"], "a model file")
    if not path.is_file():  # missing, or a named pipe that would block the read
        raise ValueError(f"{path.name} is missing or not a file")
    text = path.read_bytes()
    expected = entry.get("sha256")
    if not isinstance(expected, str):
        raise ValueError(f"{path.name} has no checksum in surrogate.json (stored by an older nasbench-txf); {REFIT}")
    if checksum(text) != expected:
        raise ValueError(f"{path.name} does not match its checksum in surrogate.json (cut short or changed "
                         f"since the fit); {REFIT}")
    return lgb.Booster(model_str=text.decode("utf-8"))


def load_model(entry: Mapping[str, Any], folder: Path, width: int) -> MetricModel:
    """A stored model from its JSON entry. Damage raises ``KeyError``/``TypeError``/
    ``ValueError``/``OSError``/LightGBM's error, a file outside ``folder`` a DataError; an
    entry stored before format 4 (a bare file name, with no checksum) is refused."""
    if isinstance(entry, str):
        raise ValueError(f"the model {excerpt(entry)} has no checksum (stored by an older nasbench-txf); {REFIT}")
    if entry["kind"] == TreeModel.kind:
        return TreeModel(read_trees(folder, entry), float(entry["offset"]))
    if entry["kind"] == LinearModel.kind:
        coef = np.asarray(entry["coef"], dtype=float)
        if coef.shape != (width,):
            raise ValueError(f"a linear model of {coef.shape} coefficients for an encoding of width {width}")
        return LinearModel(coef, float(entry["intercept"]))
    raise ValueError(f"unknown model kind {shown(entry['kind'])}")


def _trees(size: str, objective: str, x: np.ndarray, y: np.ndarray) -> TreeModel:
    booster = lgb.LGBMRegressor(objective=objective, **TREE_SIZES[size], **TREE_COMMON).fit(x, y).booster_
    return TreeModel(booster, float(np.mean(y - booster.predict(x))))


def _robust_linear(x: np.ndarray, y: np.ndarray) -> LinearModel:
    centre, scale = float(y.mean()), float(y.std()) or 1.0
    huber = HuberRegressor(alpha=HUBER_ALPHA, max_iter=1000).fit(x, (y - centre) / scale)
    coef = huber.coef_ * scale
    intercept = float(huber.intercept_ * scale + centre)
    return LinearModel(coef, intercept + float(np.mean(y - x @ coef - intercept)))


#: each candidate's name and its fit on (encodings, targets)
CANDIDATES: dict[str, Callable[[np.ndarray, np.ndarray], MetricModel]] = {
    **{f"trees-{size}": partial(_trees, size, "l2") for size in TREE_SIZES},
    "robust-trees": partial(_trees, "shallow", "l1"),
    "robust-linear": _robust_linear,
}


def fit_candidate(name: str, x: np.ndarray, y: np.ndarray) -> MetricModel:
    """Fit the candidate called ``name`` (a key of :data:`CANDIDATES`) on encodings ``x``."""
    return CANDIDATES[name](x, y)
