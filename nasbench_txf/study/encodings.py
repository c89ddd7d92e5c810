"""Which encoding helps which predictor: the methodology of [PREDICTORS21] on a
table of measurements.

For each seed and each training size n, n archs of the table are drawn at random (the same
draw for every encoding and model, so that their comparison is paired); each predictor is
fitted on their encodings and measured scores and ranks the rest of the table's archs. How
well it ranks them is measured against their measured scores: Kendall τ (τ-b), Spearman ρ,
and the share of the truly best ``top`` fraction that the predictor also puts in its best
``top`` fraction. An arch measured with several seeds counts once, with its mean.

Each fit is one line of ``fits.jsonl`` in the output folder, appended as it finishes, so a
killed study continues where it stopped; ``study.json`` records the settings, and a folder
made with other settings is refused rather than mixed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.encoding import Encoding
from nasbench_txf.core.errors import DataError, IncompatibleError, OptionError, StoreError
from nasbench_txf.core.files import atomic_path
from nasbench_txf.core.registry import get_encoding
from nasbench_txf.core.space import Space
from nasbench_txf.run.variants import Variant, variant_label
from nasbench_txf.study.predictors import check_predictor, make_predictor
from nasbench_txf.tables.table import Table

SETTINGS, FITS = "study.json", "fits.jsonl"


@dataclass(frozen=True)
class StudySpec:
    """What a study compares, and on how many draws."""

    encodings: tuple[Variant, ...]
    models: tuple[Variant, ...]
    sizes: tuple[int, ...] = (10, 25, 50, 100)
    seeds: int = 5
    top: float = 0.1
    metric: str | None = None

    def check(self) -> None:
        if not self.encodings or not self.models:
            raise OptionError("a study needs at least one encoding and one model")
        if not self.sizes or min(self.sizes) < 3:
            raise OptionError("--sizes: every training size must be at least 3")
        if self.seeds < 1:
            raise OptionError("--seeds must be at least 1")
        if not 0 < self.top <= 0.5:
            raise OptionError(f"--top must be a fraction in (0, 0.5], not {self.top}")
        for model in self.models:
            check_predictor(model.name, model.options)
        for kind, variants in (("encoding", self.encodings), ("model", self.models)):
            labels = [label(v, kind) for v in variants]
            if twice := sorted({x for x in labels if labels.count(x) > 1}):
                raise OptionError(f"--{kind}s names {', '.join(twice)} more than once (options that spell out "
                                  "a default are the same setting)")


@dataclass(frozen=True)
class Measured:
    """A table's archs with their mean score (to maximise) over the rows that measured them."""

    archs: list[Arch]
    scores: np.ndarray
    metric: str
    maximize: bool
    digest: str


def measured_archs(table: Table, space: Space, metric: str | None) -> Measured:
    """Every arch the table measured with ``metric`` (default: its objective), mean over seeds."""
    names = [m.name for m in table.meta.metrics]
    name = metric or names[0]
    if name not in names:
        raise OptionError(f"--metric {name!r}: the table measured {', '.join(names)}")
    maximize = next(m.maximize for m in table.meta.metrics if m.name == name)
    archs, scores = [], []
    for rows in table.by_arch().values():
        values = [r.metrics[name] for r in rows if r.measured and name in r.metrics]
        if values:
            archs.append(space.arch(rows[0].card))
            scores.append(float(np.mean(values)) * (1 if maximize else -1))
    order = np.argsort([a.id for a in archs], kind="stable")  # independent of the rows' order
    archs, values_ = [archs[i] for i in order], np.array(scores)[order]
    digest = hashlib.sha256(json.dumps([[a.id, v] for a, v in zip(archs, values_.tolist(), strict=True)])
                            .encode()).hexdigest()[:16]
    return Measured(archs, values_, name, maximize, digest)


def ranking_quality(predicted: np.ndarray, measured: np.ndarray, top: float) -> dict[str, float]:
    """Kendall τ-b, Spearman ρ and the top-``top`` overlap of ``predicted`` against ``measured``.

    A constant prediction ranks nothing: its τ and ρ are 0 (scipy gives NaN).
    """
    k = max(1, round(top * len(measured)))
    if np.ptp(predicted) == 0:
        tau = rho = 0.0
    else:
        tau = float(stats.kendalltau(predicted, measured).statistic)
        rho = float(stats.spearmanr(predicted, measured).statistic)
    best_predicted = set(np.argsort(-predicted, kind="stable")[:k].tolist())
    best_measured = set(np.argsort(-measured, kind="stable")[:k].tolist())
    return {"kendall_tau": tau, "spearman_rho": rho, "top_overlap": len(best_predicted & best_measured) / k}


def training_draw(count: int, size: int, seed: int) -> np.ndarray:
    """The indices of one training sample: the same for every encoding and model."""
    return np.sort(np.random.default_rng([seed, size]).choice(count, size=size, replace=False))


def open_encoding(variant: Variant, space: Space) -> Encoding:
    cls = get_encoding(variant.name)
    if reason := cls.unsupported(space):
        raise IncompatibleError(f"encoding {cls.name} cannot encode space {space.name}: {reason}")
    encoding = cls(space, cls.make_options(dict(variant.options)))
    encoding.fit()
    return encoding


def label(variant: Variant, kind: str) -> str:
    """A variant's name with the options it changes (a strategy's through the registry)."""
    if kind == "model":
        return variant_label(variant.name, variant.options)  # a baseline's options as given
    changes = ", ".join(f"{k}={v}" for k, v in sorted(variant.options.items()))
    return f"{variant.name}({changes})" if changes else variant.name


def settings(spec: StudySpec, measured: Measured, table: Table, encodings: list[Encoding]) -> dict[str, Any]:
    """What a study folder's fits depend on: the table's measurements, the draws, and each
    encoding's key (its version and every option), so that a resumed study never mixes fits
    of an encoding fitted differently."""
    return {"table": str(table.folder.name), "space": table.meta.space, "task": table.meta.task,
            "metric": measured.metric, "archs": len(measured.archs), "measurements": measured.digest,
            **{k: v for k, v in asdict(spec).items() if k not in ("encodings", "models", "metric")},
            "encodings": [label(v, "encoding") for v in spec.encodings],
            "encoding_keys": [{k: v for k, v in e.key().items() if k != "space"} for e in encodings],
            "models": [label(v, "model") for v in spec.models]}


def read_fits(folder: Path) -> list[dict[str, Any]]:
    """The fits a study folder holds. A line cut by a kill is left out, and the file is
    rewritten without it, so that the fits appended next start on lines of their own."""
    path = folder / FITS
    if not path.exists():
        return []
    text = path.read_text()
    fits, lines = [], text.splitlines()
    for line in lines:
        try:
            fits.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    if len(fits) < len(lines) or (lines and not text.endswith("\n")):
        with atomic_path(path) as partial:
            partial.write_text("".join(json.dumps(f) + "\n" for f in fits))
    return fits


def prepare(folder: Path, wanted: dict[str, Any]) -> None:
    """Start the folder, or check that the study it holds is this one."""
    if folder.exists() and not folder.is_dir():
        raise StoreError(f"{folder} is a file, not a study folder")
    path = folder / SETTINGS
    if path.exists():
        try:
            found = json.loads(path.read_text())
        except json.JSONDecodeError:
            raise DataError(f"{path}: not a study's settings; choose another --out") from None
        if found != wanted:
            differing = sorted(k for k in set(found) | set(wanted) if found.get(k) != wanted.get(k))
            raise StoreError(f"{folder} holds a study with other settings ({', '.join(differing)}); "
                             "choose another --out to keep both")
        return
    if folder.exists() and any(folder.iterdir()):
        raise StoreError(f"{folder} is not empty and holds no study; choose another --out")
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as partial:
        partial.write_text(json.dumps(wanted, indent=2, sort_keys=True) + "\n")


def run_study(spec: StudySpec, table: Table, space: Space, folder: Path,
              progress: Callable[[str], None] = lambda _: None) -> list[dict[str, Any]]:
    """Every fit of the study (those the folder already holds are not repeated), in order."""
    spec.check()
    measured = measured_archs(table, space, spec.metric)
    if max(spec.sizes) > len(measured.archs) - 10:
        raise OptionError(f"--sizes: the table measured {len(measured.archs)} archs; training sizes must leave "
                          f"at least 10 to rank (largest possible: {len(measured.archs) - 10})")
    vectors = {}
    for variant in spec.encodings:
        started, name = time.perf_counter(), label(variant, "encoding")
        encoding = open_encoding(variant, space)
        vectors[name] = (encoding, encoding.encode(measured.archs))
        progress(f"encoding {name}: {encoding.dim} features ({time.perf_counter() - started:.1f} s)")
    for model in spec.models:  # a model that cannot be made for this space fails before the folder is made
        for encoding, _ in vectors.values():
            make_predictor(model.name, model.options, space, encoding, seed=0)
    wanted = json.loads(json.dumps(settings(spec, measured, table, [e for e, _ in vectors.values()])))
    prepare(folder, wanted)
    done = {(f["encoding"], f["model"], f["size"], f["seed"]): f for f in read_fits(folder)}
    out = []
    with (folder / FITS).open("a") as handle:
        for record, new in _fits(spec, measured, space, vectors, done, progress):
            if new:
                handle.write(json.dumps(record) + "\n")
                handle.flush()
            out.append(record)
    return out


def _fits(spec: StudySpec, measured: Measured, space: Space, vectors: dict[str, tuple[Encoding, np.ndarray]],
          done: dict[tuple[str, str, int, int], dict[str, Any]],
          progress: Callable[[str], None]) -> Iterator[tuple[dict[str, Any], bool]]:
    """Each fit's record, and whether it is new (else it was in ``done``)."""
    models = [(label(model, "model"), model) for model in spec.models]
    total = spec.seeds * len(spec.sizes) * len(vectors) * len(models)
    count = 0
    for seed in range(spec.seeds):
        for size in spec.sizes:
            train = training_draw(len(measured.archs), size, seed)
            test = np.setdiff1d(np.arange(len(measured.archs)), train)
            for encoding_label, (encoding, x) in vectors.items():
                for model_label, model in models:
                    count += 1
                    key = (encoding_label, model_label, size, seed)
                    if key in done:
                        yield done[key], False
                        continue
                    predict = make_predictor(model.name, model.options, space, encoding, seed)
                    started = time.perf_counter()
                    predicted = np.asarray(predict(x[train], measured.scores[train], x[test]), dtype=float)
                    seconds = time.perf_counter() - started
                    if predicted.shape != (len(test),) or not np.isfinite(predicted).all():
                        raise DataError(f"model {key[1]} on {key[0]} (n={size}, seed {seed}) predicted "
                                        f"{predicted.size} values, not {len(test)} finite ones")
                    record = {"encoding": key[0], "model": key[1], "size": size, "seed": seed,
                              **ranking_quality(predicted, measured.scores[test], spec.top),
                              "seconds": seconds}
                    progress(f"fit {count}/{total}: {key[1]} on {key[0]}, n={size}, seed {seed}: "
                             f"tau {record['kendall_tau']:.3f} ({seconds:.1f} s)")
                    yield record, True
