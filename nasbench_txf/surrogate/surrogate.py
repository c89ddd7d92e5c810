"""A surrogate fitted on a table: answers for every arch of the space, with measured noise.

Like NAS-Bench-301, the model is chosen and judged on archs it did not see:

- **Features**: the one-hot encoding of the space's decision vector (works on any space).
- **Targets**: per arch, the mean over its measured seeds of each metric (failed rows left
  out). A metric the table's benchmark computes from the card alone (a live table's
  parameters and FLOPs, :meth:`~nasbench_txf.core.benchmark.Benchmark.card_metrics`) is counted,
  not learned, where the count reproduces every row: a learned count is off by a few percent
  on archs the table lacks, which moves a Pareto front of accuracy against size. For every other
  metric and the cost, the candidates of :mod:`nasbench_txf.surrogate.models`
  (tree sizes, and robust trees and a robust linear model that bad runs do not pull) are
  compared by 5-fold cross-validated Kendall τ and the best is kept (any metric may be a
  benchmark's objective).
- **Validation**: nested 5-fold cross-validation — every arch is predicted by a model that
  did not see it, with the configuration chosen inside that model's training folds — scored
  by Kendall τ, Spearman ρ and R² over all archs (a single hold-out split of a table of a
  few hundred archs is too small: its τ swings with which archs fall into it). The **noise
  ceiling** is Kendall τ between two seeds of the same archs: no model can rank archs better
  than a second measurement does.
- **Noise**: learned for every metric (any may be a benchmark's objective) from the archs
  measured at several seeds: one level for all, a level per arch from its encoding, or a
  stable level with occasional bad runs, whichever cross-validation prefers
  (:mod:`nasbench_txf.surrogate.noise`). ``evaluate(arch, seed)`` adds a draw of that noise,
  seeded by (arch, seed), to the objective's predicted mean: deterministic per seed, noisy
  across seeds as a real benchmark is, and zero on average, so the predicted mean stays
  what regret is measured on.
- **Failed trainings**: the share of the table's trainings that failed or stayed at chance
  (:attr:`~nasbench_txf.tables.table.Row.measured`) is stored, and ``evaluate(arch, seed)`` fails
  at that rate, seeded by (arch, seed), as the tabular benchmark answers those rows. The
  models never see them (they are no measurement of their arch), so the surrogate's
  answers would otherwise never fail where the table's do.

Stored as JSON plus LightGBM's text model format (no pickle), in ``<table>/surrogate/``. A
table is shared, so what is stored is read as untrusted: every file it names must lie inside the
surrogate's folder, and every tree file must match the checksum the fit recorded for it (format
7), before LightGBM parses it (:func:`~nasbench_txf.surrogate.models.read_trees`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from scipy import stats
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.decisions import DecisionOneHot
from nasbench_txf.core.errors import (
    DataError,
    MissingDependencyError,
    OptionError,
    PluginLoadError,
    UnknownNameError,
)
from nasbench_txf.core.registry import get_benchmark
from nasbench_txf.core.safe_json import parse
from nasbench_txf.core.space import Space
from nasbench_txf.core.threads import one_thread
from nasbench_txf.surrogate.models import CANDIDATES, MetricModel, fit_candidate, load_model, read_trees, write_trees
from nasbench_txf.surrogate.noise import BadRunNoise, ConstantNoise, NoiseModel, PerArchNoise, fit_noise
from nasbench_txf.tables.table import Row, Table, TableMeta, contained, problem, read_text, shown, write_atomic

FORMAT = "nasbench-txf surrogate"
#: 2: noise of every metric, one level or per arch; 3: bad runs; 4: model kinds besides trees;
#: 5: metrics counted from the card; 6: the rate of failed trainings; 7: a checksum of every tree file
FORMAT_VERSION = 7
#: the stored surrogate's description, beside its tree files
META_FILE = "surrogate.json"


def kendall(a: np.ndarray, b: np.ndarray) -> float:
    return float(stats.kendalltau(a, b).statistic)


@dataclass(frozen=True)
class ArchTargets:
    archs: list[Arch]
    means: dict[str, np.ndarray]
    by_seed: dict[str, list[np.ndarray]]


def arch_targets(space: Space, rows: dict[str, list[Row]], metrics: list[str]) -> ArchTargets:
    archs: list[Arch] = []
    means: dict[str, list[float]] = {m: [] for m in [*metrics, "cost_seconds"]}
    by_seed: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    for arch_rows in rows.values():
        ok = [r for r in arch_rows if r.measured and all(m in r.metrics for m in metrics)]
        if not ok:
            continue
        archs.append(space.arch(ok[0].card))
        for m in metrics:
            by_seed[m].append(np.array([r.metrics[m] for r in ok]))
            means[m].append(float(by_seed[m][-1].mean()))
        means["cost_seconds"].append(float(np.mean([r.cost_seconds for r in ok])))
    return ArchTargets(archs, {k: np.asarray(v, dtype=float) for k, v in means.items()}, by_seed)


def noise_ceiling(by_seed: list[np.ndarray]) -> float | None:
    """Kendall τ between the first two seeds of the archs measured at least twice."""
    pairs = np.array([x[:2] for x in by_seed if len(x) >= 2])
    return kendall(pairs[:, 0], pairs[:, 1]) if len(pairs) >= 5 else None


#: fidelity goals: held-out τ ≥ 0.9 × the noise ceiling (the surrogate ranks archs nearly as well as a
#: second measurement), spread across archs ≥ 2 × seed noise (the archs differ by more than luck)
TAU_GOAL, SPREAD_GOAL = 0.9, 2.0


def fidelity(meta: dict[str, Any]) -> dict[str, Any]:
    """The stored surrogate's two fidelity ratios beside their goals, and whether both are met.

    The spread goal is judged against the pooled seed noise, the stricter reading when a few
    archs train unstably; ``spread_over_typical_noise`` gives the same spread over the
    typical arch's noise (:func:`~nasbench_txf.surrogate.noise.typical_noise_level`; ``None``
    for surrogates fitted before it was stored). A ratio is ``None`` when its denominator is
    missing or not positive (no repeated archs, or seeds that rank archs no better than
    chance).
    """
    validation = meta["validation"]
    ceiling, noise = validation.get("noise_ceiling_tau"), meta["noise_std"]
    typical = meta.get("noise", {}).get(meta["objective"], {}).get("typical_std")
    spread = meta["score_std_across_archs"]
    tau_ratio = validation["kendall_tau"] / ceiling if ceiling and ceiling > 0 else None
    spread_ratio = spread / noise if noise > 0 else None
    return {
        "tau_over_noise_ceiling": tau_ratio, "tau_goal": TAU_GOAL,
        "spread_over_noise": spread_ratio, "spread_goal": SPREAD_GOAL,
        "spread_over_typical_noise": spread / typical if typical else None,
        "met": tau_ratio is not None and spread_ratio is not None
        and tau_ratio >= TAU_GOAL and spread_ratio >= SPREAD_GOAL,
    }


def cross_validated(candidate: str, x: np.ndarray, y: np.ndarray, split_seed: int) -> np.ndarray:
    """Each arch's prediction by ``candidate`` fitted on the other 4 of 5 folds."""
    predicted = np.empty_like(y)
    for train, test in KFold(5, shuffle=True, random_state=split_seed).split(x):
        predicted[test] = fit_candidate(candidate, x[train], y[train]).predict(x[test])
    return predicted


def choose_config(x: np.ndarray, y: np.ndarray) -> tuple[str, dict[str, float]]:
    """The candidate model with the best 5-fold cross-validated Kendall τ."""
    scores = {candidate: kendall(cross_validated(candidate, x, y, 0), y) for candidate in CANDIDATES}
    # τ is NaN for a metric with one value (a cost that never varies): then any will do
    return max(scores, key=lambda c: (np.nan_to_num(scores[c], nan=-1.0), c)), scores


def out_of_fold(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each arch's prediction by a model fitted on the other folds, the candidate chosen by
    cross-validation inside those folds (nested, so the choice sees no test arch)."""
    predicted = np.empty_like(y)
    for train, test in KFold(5, shuffle=True, random_state=1).split(x):
        config, _ = choose_config(x[train], y[train])
        predicted[test] = fit_candidate(config, x[train], y[train]).predict(x[test])
    return predicted


#: why the benchmark that measured a table cannot count here: not installed, failing to
#: load, or an older recipe's options it no longer takes
COUNTING_ERRORS = (UnknownNameError, PluginLoadError, MissingDependencyError, OptionError)


def card_metrics(table_meta: dict[str, Any], space: Space) -> dict[str, Callable[[Arch], float]]:
    """What the benchmark that measured a table computes from the card alone, under the
    table's recipe (none for an imported table); raises one of :data:`COUNTING_ERRORS`."""
    source = table_meta["source"]
    if "benchmark" not in source:
        return {}
    return get_benchmark(str(source["benchmark"])).card_metrics(space, table_meta["task"], source.get("options", {}))


def counted_metrics(table: Table, space: Space, targets: ArchTargets) -> dict[str, Callable[[Arch], float]]:
    """The card metrics of the table's benchmark that reproduce every arch of the table.

    The objective is always learned: its validation is what the surrogate is judged by.
    """
    try:
        functions = card_metrics(table.meta.to_json(), space)
    except COUNTING_ERRORS:
        return {}  # e.g. measured by a benchmark plugin that is not installed: learn them all
    return {
        name: function for name, function in functions.items()
        if name in targets.means and name != table.meta.metrics[0].name
        and all(math.isclose(function(arch), value, rel_tol=1e-9)
                for arch, value in zip(targets.archs, targets.means[name], strict=True))
    }


def failures(table: Table) -> dict[str, Any]:
    """How many of the table's trainings failed or stayed at chance, of how many, and the rate."""
    failed = sum(not row.measured for row in table.rows)
    return {"rows": failed, "of": len(table.rows), "rate": failed / len(table.rows)}


def noise_file(metric: str) -> str:
    return f"{metric}.noise.lgb.txt"


class Surrogate:
    """Fitted models (one per metric), the noise of every metric, and the objective's validation."""

    def __init__(self, space: Space, meta: dict[str, Any], models: dict[str, MetricModel],
                 noise_models: dict[str, NoiseModel],
                 counted: dict[str, Callable[[Arch], float]] | None = None) -> None:
        self.space, self.meta, self.models = space, meta, models
        self.noise_models = noise_models
        self.counted = counted or {}
        self.encoding = DecisionOneHot(space)
        #: every metric it answers, then the cost, in the table's order
        self.answers = [name for name in [*(m["name"] for m in meta["table"]["metrics"]), "cost_seconds"]
                        if name in models or name in self.counted]

    @property
    def objective(self) -> str:
        return str(self.meta["objective"])

    @classmethod
    @one_thread()  # hundreds of small fits: a second BLAS thread only waits (see one_thread)
    def fit(cls, table: Table, space: Space) -> Surrogate:
        metrics = [m.name for m in table.meta.metrics]
        targets = arch_targets(space, table.by_arch(), metrics)
        if len(targets.archs) < 20:
            raise DataError(f"a surrogate needs at least 20 archs with a successful row; the table has "
                            f"{len(targets.archs)}")
        x = DecisionOneHot(space).encode(targets.archs)
        y = targets.means[metrics[0]]
        config, cv = choose_config(x, y)
        predicted = out_of_fold(x, y)
        validation = {
            "method": "nested 5-fold cross-validation",
            "kendall_tau": kendall(predicted, y),
            "spearman_rho": float(stats.spearmanr(predicted, y).statistic),
            "r2": float(r2_score(y, predicted)),
            "held_out_archs": len(y),
            "noise_ceiling_tau": noise_ceiling(targets.by_seed[metrics[0]]),
            "cv_kendall_tau": cv,
        }
        noise, noise_models = {}, {}
        for metric in table.meta.metrics:
            noise[metric.name], noise_models[metric.name] = fit_noise(x, targets.by_seed[metric.name],
                                                                      metric.maximize)
        counted = counted_metrics(table, space, targets)
        configs = {metrics[0]: config}
        configs.update({name: "counted" if name in counted else choose_config(x, targets.means[name])[0]
                        for name in [*metrics[1:], "cost_seconds"]})
        models = {name: fit_candidate(candidate, x, targets.means[name]) for name, candidate in configs.items()
                  if name not in counted}
        meta = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "table": table.meta.to_json(),
            "table_rows": len(table.rows), "archs": len(targets.archs), "objective": metrics[0],
            "encoding": "onehot", "config": config, "configs": configs, "counted": list(counted),
            "noise_std": noise[metrics[0]]["std"], "noise": noise,
            "score_std_across_archs": float(np.std(y, ddof=1)),
            "validation": validation, "failures": failures(table),
        }
        return cls(space, meta, models, noise_models, counted)

    def save(self, folder: Path) -> None:
        """Store the models in ``folder`` (tree files first, the JSON that names them last)."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
            entries = {name: model.save(folder, name) for name, model in self.models.items()}
            noise = {name: {**self.meta["noise"][name], **write_trees(folder, noise_file(name), model.trees)}
                     if isinstance(model, PerArchNoise) else self.meta["noise"][name]
                     for name, model in self.noise_models.items()}
            stored = {**self.meta, "noise": noise, "models": entries}
            write_atomic(contained(folder, META_FILE, "the surrogate"), json.dumps(stored, indent=2) + "\n")
        except OSError as exc:
            raise DataError(f"{folder}: cannot store the surrogate there ({exc.strerror or exc})") from None

    @classmethod
    def load(cls, folder: Path, space: Space) -> Surrogate:
        meta = read_meta(folder)
        try:
            width = DecisionOneHot(space).dim
            models = {name: load_model(entry, folder, width) for name, entry in meta["models"].items()}
            if "noise" not in meta:  # format 1: one level, of the objective only
                meta["noise"] = {meta["objective"]: {"std": meta["noise_std"], "model": "constant"}}
            noise_models = {name: cls._noise_model(name, entry, folder) for name, entry in meta["noise"].items()}
            surrogate = cls(space, meta, models, noise_models, cls._counted(meta, space))
            if surrogate.objective not in models:
                raise ValueError(f"no model of the objective {surrogate.objective}")
            if not 0 <= surrogate.failure_rate <= 1:
                raise ValueError(f"a failure rate of {surrogate.failure_rate}")
            if surrogate.failure_rate and not all(isinstance(meta["failures"].get(k), int) for k in ("rows", "of")):
                raise ValueError('"failures" has a rate but no counts of rows')
        except (OSError, KeyError, TypeError, ValueError, AttributeError, lgb.basic.LightGBMError) as exc:
            raise DataError(f"{folder}: damaged surrogate model ({problem(exc)})") from None
        return surrogate

    @staticmethod
    def _counted(meta: dict[str, Any], space: Space) -> dict[str, Callable[[Arch], float]]:
        """The card metrics the stored surrogate counts, rebuilt from the table's recipe."""
        names = meta.get("counted", [])  # none before format 5
        if not names:
            return {}
        try:
            functions = card_metrics(meta["table"], space)
        except COUNTING_ERRORS as exc:
            why = "is not installed" if isinstance(exc, UnknownNameError) else f"cannot here ({exc})"
            raise DataError(f"the surrogate counts {', '.join(names)} as benchmark "
                            f"{meta['table']['source']['benchmark']!r} does, which {why}") from None
        missing = [name for name in names if name not in functions]
        if missing:
            raise ValueError(f"the table's benchmark counts no {', '.join(missing)} from the card")
        return {name: functions[name] for name in names}

    @staticmethod
    def _noise_model(metric: str, entry: dict[str, Any], folder: Path) -> NoiseModel:
        """The stored noise model of ``metric``: its trees (per arch) are read from ``folder``
        (named by the entry since format 7), its levels must be numbers that a draw can take
        (not negative, a rate at most 1)."""
        if entry["model"] == "per-arch":
            return PerArchNoise(read_trees(folder, {"file": noise_file(metric), **entry}))
        if entry["model"] == "bad-runs":
            model: BadRunNoise | ConstantNoise = BadRunNoise.from_parameters(entry)
            levels = [model.level, model.rate, model.drop, 1 - model.rate]
        elif entry["model"] == "constant":
            model = ConstantNoise(float(entry["std"]))
            levels = [model.level]
        else:
            raise ValueError(f"unknown noise model {shown(entry['model'])}")
        if not all(math.isfinite(level) and level >= 0 for level in levels):
            raise ValueError(f"noise levels that no draw can take: {levels}")
        return model

    def predict(self, archs: list[Arch], metrics: list[str] | None = None) -> dict[str, np.ndarray]:
        """Predicted means of ``metrics`` (default: every metric, then ``cost_seconds``)."""
        names = self.answers if metrics is None else metrics
        x = self.encoding.encode(archs) if any(name in self.models for name in names) else None
        return {name: np.array([self.counted[name](arch) for arch in archs], dtype=float) if name in self.counted
                else self.models[name].predict(x) for name in names}

    def noise_model(self, metric: str) -> NoiseModel:
        if metric not in self.noise_models:
            raise DataError(f"the surrogate of {self.meta['table'].get('task')} has no noise model for "
                            f"{metric} (fitted by an older nasbench-txf); refit it with "
                            "`nasbench-txf bench surrogate TABLE`")
        return self.noise_models[metric]

    def noise_kind(self, metric: str) -> str:
        """How ``metric``'s noise is modelled: ``"constant"``, ``"per-arch"`` or ``"bad-runs"``."""
        return self.noise_model(metric).kind

    def noise_std(self, archs: list[Arch], metric: str | None = None) -> np.ndarray:
        """Each arch's seed-to-seed standard deviation of ``metric`` (default: the objective)."""
        return self.noise_model(metric or self.objective).std(archs, self.encoding)

    def noise(self, arch: Arch, seed: int, metric: str | None = None) -> float:
        return self.noise_model(metric or self.objective).draw(arch, self.encoding, seeded(arch, seed))

    @property
    def failure_rate(self) -> float:
        """The share of the table's trainings that failed or stayed at chance (0 for a
        surrogate of format 5 and older, which did not record it)."""
        return float(self.meta.get("failures", {}).get("rate", 0.0))

    def fails(self, arch: Arch, seed: int) -> bool:
        """Whether the training of ``arch`` at ``seed`` fails: true at :attr:`failure_rate`,
        the same for the same (arch, seed), and drawn independently of the noise."""
        return bool(seeded(arch, seed, stream=1).random() < self.failure_rate)


def read_meta(folder: Path) -> dict[str, Any]:
    """The parsed ``surrogate.json`` of ``folder``: of this format, a version this reads, and
    fitted on a table whose metadata is valid (its metric names become file names)."""
    path = contained(folder, META_FILE, "the surrogate")
    meta = parse(read_text(path), str(path))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"{path}: not a nasbench-txf surrogate")
    if not isinstance(meta.get("format_version"), int) or meta["format_version"] > FORMAT_VERSION:
        raise DataError(f"{path}: surrogate format version {shown(meta.get('format_version'))} is newer "
                        f"than this nasbench-txf reads ({FORMAT_VERSION}); upgrade nasbench-txf")
    TableMeta.from_json(meta.get("table"), path)
    return meta


def seeded(arch: Arch, seed: int, stream: int = 0) -> np.random.Generator:
    """A generator for the draws of ``arch`` at ``seed``; ``stream`` keeps kinds of draw apart.

    Stream 0 (the noise) keeps the two-number key the noise was always drawn with, so that
    answers stored before the failure draw existed are answered the same again."""
    key = [seed & 0xFFFFFFFF, int(arch.id[:15], 16)]
    return np.random.default_rng([*key, stream] if stream else key)
