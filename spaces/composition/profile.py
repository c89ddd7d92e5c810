"""What each kind of component costs on the device a search targets [COMPOSE20 §4, §5.1, Tables 1 and 4].

The cost of a kind of component is measured, not counted: the base network is timed whole and
again with every component of that kind removed (every feed-forward part, every head, every
query-key part, every value part but each head's first, every layer-norm mean) or, for the
connections, with every connection vertical; the difference, as a share of the whole network's
time, is what the kind costs in a full network (the paper's Tables 1 and 4). Each network is the
extracted model (:func:`~.extraction.extract`), so a removed component really is not computed.
Measured at several sequence lengths, a component's cost ``c_i`` is the kind's share divided by
the number of its components, at the length where it is highest (§5.1), so ``L_c(w) = Σ w_i c_i``
is in units of the base network's time. Differences below the timer's noise come out near 0;
a negative one is kept at 0.

A profile holds the processor it was measured on; a search on another processor refuses it
(:func:`check_device`).
"""

from __future__ import annotations

import json
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nasbench_txf.core.errors import DataError, UserError
from nasbench_txf.core.files import read_text, write_atomic
from nasbench_txf.core.threads import torch_threads
from nasbench_txf.spaces.composition.extraction import extract
from nasbench_txf.spaces.composition.layout import CONNECTIONS, Layout
from nasbench_txf.spaces.composition.network import ComposedBert
from nasbench_txf.tables.machine import cpu_model, describe

FORMAT = "nasbench-txf/composition-profile/1"
#: the kinds of component in the order of the paper's tables, with the names they print under
CATEGORIES = {"ffn": "feed-forward", "head": "attention head", "qk": "query-key similarity",
              "value": "attention value", "ln_mean": "layer-norm mean", "ffn_link": "vertical feed-forward",
              "head_link": "vertical attention"}


def processor(device: torch.device) -> str:
    """The processor a profile is valid on: the GPU's name, or the CPU's model."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (cuda)"
    return f"{cpu_model()} ({device.type})"


@dataclass(frozen=True)
class Settings:
    """How a profile is measured."""

    seq_lens: tuple[int, ...] = (32, 64, 128)
    batch: int = 16
    repeats: int = 20
    threads: int = 0

    def __post_init__(self) -> None:
        if not self.seq_lens or min(self.seq_lens) < 1 or self.batch < 1 or self.repeats < 1 or self.threads < 0:
            raise UserError("composition profile: sequence lengths, batch and repeats must be at least 1, "
                            "threads at least 0")


def reduced(layout: Layout, kind: str) -> tuple[np.ndarray, int]:
    """The base's parameters with every component of ``kind`` removed (every connection of a
    connection kind vertical), and how many components that changed."""
    bits = layout.base()
    positions = np.flatnonzero(layout.kinds == kind)
    if kind == "value" and layout.parts.value > 1:  # a head keeps its first value part, else it is gone
        positions = positions[np.arange(len(positions)) % layout.parts.value != 0]
    bits[positions] = 1.0 if kind in CONNECTIONS else 0.0
    return bits, len(positions)


def measure(supernet: ComposedBert, base_key: str, settings: Settings, device: torch.device) -> dict[str, Any]:
    """Profile ``supernet``'s base network on ``device`` (its parameters must be the base's)."""
    layout = supernet.layout
    assert layout is not None
    supernet = supernet.to(device)
    full: dict[str, float] = {}
    shares: dict[str, dict[str, float]] = {kind: {} for kind in CATEGORIES}
    costs = dict.fromkeys(CATEGORIES, 0.0)
    with torch_threads(settings.threads):
        threads = torch.get_num_threads()
        models = {"base": extract(supernet, layout.base())}
        changed = {}
        for kind in CATEGORIES:
            bits, changed[kind] = reduced(layout, kind)
            if changed[kind]:
                models[kind] = extract(supernet, bits)
        for length in settings.seq_lens:
            times = _interleaved(models, length, settings.batch, settings.repeats, device)
            full[str(length)] = times["base"]
            for kind in CATEGORIES:
                if not changed[kind]:
                    continue
                saved = times[kind] - times["base"] if kind in CONNECTIONS else times["base"] - times[kind]
                shares[kind][str(length)] = saved / times["base"]
                costs[kind] = max(costs[kind], saved / times["base"] / changed[kind])
    return {"format": FORMAT, "processor": processor(device), "machine": describe(device, threads),
            "base": base_key, "parts": {"ffn": layout.parts.ffn, "qk": layout.parts.qk, "value": layout.parts.value},
            "batch": settings.batch, "seq_lens": list(settings.seq_lens), "repeats": settings.repeats,
            "full_ms": full, "shares": shares, "components": {k: int(v) for k, v in changed.items()},
            "costs": costs}


@torch.no_grad()
def _interleaved(models: dict[str, torch.nn.Module], length: int, batch: int, repeats: int,
                 device: torch.device) -> dict[str, float]:
    """Median milliseconds of one forward pass of each model, timed in turns (each round in a
    rotated order), so that a machine's drift in speed falls on every model alike."""
    ids = torch.ones((batch, length), dtype=torch.long, device=device)
    names = list(models)
    for model in models.values():
        model.eval()
        model(ids)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            models[name](ids)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times[name].append(1000 * (time.perf_counter() - started))
    return {name: statistics.median(values) for name, values in times.items()}


def gate_costs(profile: dict[str, Any], layout: Layout) -> np.ndarray:
    """``c_i`` for every architecture parameter of ``layout``, from a profile."""
    return np.array([float(profile["costs"][kind]) for kind in layout.kinds])


def check_profile(profile: dict[str, Any], layout: Layout, base_key: str, device: torch.device, where: str) -> None:
    """A :class:`UserError` when ``profile`` was measured for another base, other parts or on
    another processor than ``device``'s."""
    parts = {"ffn": layout.parts.ffn, "qk": layout.parts.qk, "value": layout.parts.value}
    if profile.get("base") != base_key or profile.get("parts") != parts:
        raise UserError(f"composition: the profile {where} was measured for another base or other parts "
                        f"({profile.get('parts')}); profile this one with `nasbench-txf composition profile`")
    here = processor(device)
    if profile.get("processor") != here:
        raise UserError(f"composition: the profile {where} was measured on {profile.get('processor')}, not on "
                        f"this device ({here}); component costs differ between devices, so profile here with "
                        "`nasbench-txf composition profile`")


def read_profile(path: Path) -> dict[str, Any]:
    try:
        profile = json.loads(read_text(path))
    except ValueError as exc:
        raise DataError(f"{path}: not a profile ({exc})") from None
    if not isinstance(profile, dict) or profile.get("format") != FORMAT or not isinstance(profile.get("costs"), dict) \
            or set(profile["costs"]) != set(CATEGORIES):
        raise DataError(f"{path}: not a component profile (format {FORMAT})")
    for kind, cost in profile["costs"].items():
        if isinstance(cost, bool) or not isinstance(cost, int | float) or not math.isfinite(cost) or cost < 0:
            raise DataError(f"{path}: the cost of {kind} is {json.dumps(cost)}, not a number of at least 0")
    return profile


def write_profile(path: Path, profile: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(profile, indent=1, sort_keys=True) + "\n")


def format_profile(profile: dict[str, Any]) -> str:
    """The profile as the paper's Tables 1 and 4: each kind's share of the network's time per
    sequence length, and the cost per component that a search uses."""
    lengths = [str(n) for n in profile["seq_lens"]]
    head = f"{'component':<24}" + "".join(f"{'L=' + n:>9}" for n in lengths) + f"{'count':>7}{'c_i':>10}"
    lines = [f"component costs on {profile['machine']}, batch {profile['batch']}", head, "-" * len(head)]
    for kind, label in CATEGORIES.items():
        shares = profile["shares"].get(kind, {})
        cells = "".join(f"{100 * shares[n]:>8.1f}%" if n in shares else f"{'-':>9}" for n in lengths)
        lines.append(f"{label:<24}{cells}{profile['components'][kind]:>7}{profile['costs'][kind]:>10.2e}")
    lines.append(f"{'whole network (ms)':<24}" + "".join(f"{profile['full_ms'][n]:>9.2f}" for n in lengths))
    return "\n".join(lines)
