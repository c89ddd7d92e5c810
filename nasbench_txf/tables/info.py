"""What a table holds and how well it can rank archs: the numbers ``bench info`` prints.

Beside the size and seeds of a table, a researcher needs to know whether its measurements
separate archs at all (arch signal against seed noise, for every metric), what machines and
precisions it mixes, and how faithful its stored surrogate is, before trusting a leaderboard
computed on it.
"""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from nasbench_txf.core.errors import DataError
from nasbench_txf.surrogate.noise import noise_level, signal_level, typical_noise_level
from nasbench_txf.surrogate.surrogate import META_FILE, fidelity, read_meta
from nasbench_txf.tables.table import Row, Table, problem


def seed_values(table: Table, metric: str, split: str | None = None) -> list[np.ndarray]:
    """Each arch's measurements of ``metric`` (rows that failed or stayed at chance left
    out), one array per arch: the row's value, or with ``split`` its value on that
    evaluation split (``info["splits"]``)."""
    def value(row: Row) -> float | None:
        scored = row.metrics if split is None else row.info.get("splits", {}).get(split, {})
        return scored.get(metric)

    values = ([v for r in rows if r.measured and (v := value(r)) is not None]
              for rows in table.by_arch().values())
    return [np.array(x) for x in values if x]


def signal_to_noise(table: Table) -> dict[str, dict[str, float | None]]:
    """Arch signal against seed noise for every metric that varies between seeds.

    Says which metric of a table separates archs best: a metric whose signal is well under its
    noise ranks archs mostly by luck, whatever the surrogate does. Given twice: with the
    pooled seed noise, and with the typical arch's (``typical_*``), which a few unstable archs
    cannot swamp.
    """
    out: dict[str, dict[str, float | None]] = {}
    for metric in (m for m in table.meta.metrics if not m.timed):
        by_seed = seed_values(table, metric.name)
        noise, typical = noise_level(by_seed), typical_noise_level(by_seed)
        if noise > 0:
            signal, typical_signal = signal_level(by_seed, noise), signal_level(by_seed, typical)
            out[metric.name] = {
                "seed_noise_std": noise, "arch_signal_std": signal,
                "ratio": None if signal is None else signal / noise,
                "typical_seed_noise_std": typical, "typical_arch_signal_std": typical_signal,
                "typical_ratio": None if typical_signal is None else typical_signal / typical,
            }
    return out


def noise_by_split(table: Table) -> dict[str, dict[str, float | int]]:
    """The objective's seed noise on each evaluation split the rows record (a live table's
    ``dev`` and ``holdout``), pooled and for the typical arch, over the archs repeated on it.

    Says how much of one measurement's noise a larger evaluation set would remove: the part
    that comes from which sentences were scored shrinks with the split's size, the part from
    training does not, so splits of different sizes with similar noise point at training.
    """
    objective = table.meta.metrics[0].name
    out: dict[str, dict[str, float | int]] = {}
    for split in sorted({name for row in table.rows for name in row.info.get("splits", {})}):
        by_seed = seed_values(table, objective, split)
        repeated = sum(len(x) >= 2 for x in by_seed)
        if repeated:
            out[split] = {"repeated_archs": repeated, "seed_noise_std": noise_level(by_seed),
                          "typical_seed_noise_std": typical_noise_level(by_seed)}
    return out


def measured_with(table: Table) -> dict[str, int]:
    """Rows by the device and precision their training ran in, e.g. ``{"cpu/bf16": 472}``
    (rows of a live table; ``unrecorded`` before the precision was recorded).

    bf16 is a speed option, not part of the recipe: whether it is used depends on the
    machine (CUDA, or a CPU with native bf16), and it moves scores a little, so a table
    built on several machines says what it mixes.
    """
    counts = Counter(condition(row) for row in table.rows if "device" in row.info)
    return dict(sorted(counts.items()))


def condition(row: Row) -> str:
    return f"{row.info['device']}/{row.info.get('precision', 'unrecorded')}"


def condition_effects(table: Table) -> dict[str, dict[str, float | int | None]]:
    """How far the objective moves between two conditions of :func:`measured_with`
    (``"cpu/fp32 - cpu/bf16"``), from the archs measured under both: the mean over those
    archs of the difference of their means, with its standard error.

    Seed noise averages out of the difference, and the arch is the same on both sides, so
    what is left is the condition's effect: whether a table built on several machines can
    pool their rows.
    """
    objective = table.meta.metrics[0].name
    by_arch: dict[str, dict[str, list[float]]] = {}
    for row in table.rows:
        if row.measured and "device" in row.info:
            by_arch.setdefault(row.arch_id, {}).setdefault(condition(row), []).append(row.metrics[objective])
    differences: dict[str, list[float]] = {}
    for groups in by_arch.values():
        for first, second in itertools.combinations(sorted(groups), 2):
            differences.setdefault(f"{second} - {first}", []).append(
                float(np.mean(groups[second]) - np.mean(groups[first])))
    return {pair: {"archs": len(d), "mean": float(np.mean(d)),
                   "std_error": float(np.std(d, ddof=1) / np.sqrt(len(d))) if len(d) > 1 else None}
            for pair, d in sorted(differences.items())}


def seed_effect(table: Table) -> dict[str, float | int] | None:
    """The objective's seed noise split into what a seed does to every arch alike and what is
    left to each arch, over the archs measured at every seed ``0..K-1`` (a two-way layout).

    Where a seed is a condition all archs share (the same bootstrap resample of dev, say, in a
    table of the ``supernet`` benchmark with ``bootstrap``), most of a score's seed noise moves
    every arch together and cancels in a comparison: the residual, not the seed noise, is the
    noise of a ranking. Where seeds are independent per arch (training seeds), the seed effect
    is near zero and the residual is the seed noise. ``None`` with fewer than 3 such archs."""
    objective = table.meta.metrics[0].name
    values: dict[str, dict[int, float]] = {}
    for row in table.rows:
        if row.measured:
            values.setdefault(row.arch_id, {})[row.seed] = row.metrics[objective]
    seeds = max((len(v) for v in values.values()), default=0)
    full = np.array([[v[s] for s in range(seeds)] for v in values.values() if set(v) == set(range(seeds))])
    if seeds < 2 or len(full) < 3:
        return None
    residual = full - full.mean(axis=1, keepdims=True) - full.mean(axis=0, keepdims=True) + full.mean()
    return {"archs": len(full), "seeds": seeds, "seed_effect_std": float(np.std(full.mean(axis=0), ddof=1)),
            "residual_noise_std": float(np.sqrt((residual ** 2).sum() / ((len(full) - 1) * (seeds - 1))))}


def timed_on(table: Table) -> dict[str, int]:
    """Rows by the machine that measured their timed metrics (``unrecorded`` for rows that do
    not say); empty for a table with no timed metric."""
    if not any(m.timed for m in table.meta.metrics):
        return {}
    counts = Counter(str(row.info.get("timed_on", "unrecorded")) for row in table.rows if row.status == "ok")
    return dict(sorted(counts.items()))


def describe(table: Table) -> dict[str, Any]:
    """Everything ``bench info`` prints about ``table``, as JSON-ready values: size, seeds,
    the objective's spread and seed noise, :func:`signal_to_noise`, :func:`noise_by_split`,
    :func:`seed_effect`, :func:`measured_with`, :func:`condition_effects`, :func:`timed_on`, and the stored
    surrogate's fidelity."""
    by_arch = table.by_arch()
    objective = table.meta.metrics[0].name
    failed = sum(r.status != "ok" for r in table.rows)
    by_seed = seed_values(table, objective)
    means = [x.mean() for x in by_seed]
    seeds = {}
    for rows in by_arch.values():
        seeds[len(rows)] = seeds.get(len(rows), 0) + 1
    out: dict[str, Any] = {
        "folder": str(table.folder), "space": table.meta.space, "task": table.meta.task,
        "source": table.meta.source, "metrics": [m.name for m in table.meta.metrics],
        "rows": len(table.rows), "failed_rows": failed,
        "at_chance_rows": sum(r.stayed_at_chance for r in table.rows), "archs": len(by_arch),
        "archs_by_seed_count": {str(k): v for k, v in sorted(seeds.items())},
        "objective": objective,
        "objective_mean": float(np.mean(means)) if means else None,
        "objective_std_across_archs": float(np.std(means, ddof=1)) if len(means) > 1 else None,
        "objective_seed_noise_std": noise_level(by_seed),
        "objective_typical_seed_noise_std": typical_noise_level(by_seed),
        "objective_arch_signal_std": signal_level(by_seed),
        "signal_to_noise": signal_to_noise(table),
        "objective_noise_by_split": noise_by_split(table),
        "objective_seed_effect": seed_effect(table),
        "measured_seconds": float(sum(r.cost_seconds for r in table.rows)),
        "measured_with": measured_with(table),
        "condition_effects": condition_effects(table),
        "timed_on": timed_on(table),
    }
    stored = table.folder / "surrogate"
    if (stored / META_FILE).is_file():
        out["surrogate"] = surrogate_summary(stored)
    return out


def surrogate_summary(folder: Path) -> dict[str, Any]:
    """What ``bench info`` says of the surrogate stored in ``folder``: its size, models, noise
    and :func:`~nasbench_txf.surrogate.surrogate.fidelity` (from its JSON; the models are not loaded)."""
    meta = read_meta(folder)
    try:
        summary = {k: meta[k] for k in ("archs", "config", "noise_std", "score_std_across_archs", "validation")}
        summary["configs"] = meta.get("configs", {})  # format 4: each metric's chosen model
        summary["failures"] = meta.get("failures")  # format 6: the rate it fails at
        objective_noise = meta.get("noise", {}).get(meta["objective"], {"model": "constant"})  # format 1: one level
        summary["noise_model"] = objective_noise["model"]
        summary["noise_parameters"] = {k: v for k, v in objective_noise.items()
                                       if k not in ("model", "log_likelihood", "std", "typical_std", "file", "sha256")}
        summary["fidelity"] = fidelity(meta)
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise DataError(f"{folder / META_FILE}: damaged surrogate description ({problem(exc)})") from None
    return summary
