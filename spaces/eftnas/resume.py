"""The saved state of a training stage (fine-tuning, super-network training), to resume it.

A stage saves its weights, its optimiser's state and any tensors it accumulates (the movement
scores) as safetensors, and its step, training time and identity (the settings a resumed
training must share) as JSON. The JSON file is written last and names the weight files of its
step, so a save cut short leaves the previous state readable; older weight files are removed
only after it. Each stage draws its batches and its randomness from ``(seed, step)``, so a
training restored at step ``t`` goes on exactly as one that was never interrupted.

The core's :mod:`~nasbench_txf.core.checkpoints` keeps one small state per strategy in a single
file pair; a stage's state holds several files of the model's size each, which are written one
by one rather than assembled in memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from nasbench_txf.core.errors import DataError, UserError
from nasbench_txf.core.files import atomic_path, contained, read_text, write_atomic
from nasbench_txf.core.safe_json import parse

STATE_FILE = "state.json"


@dataclass
class SavedTraining:
    """What :func:`restore_training` read: the step and seconds, and the tensors of each kind."""

    step: int
    seconds: float
    tensors: dict[str, dict[str, torch.Tensor]]


def save_training(directory: Path, fmt: str, step: int, seconds: float, identity: dict[str, Any],
                  tensors: dict[str, dict[str, torch.Tensor]]) -> None:
    """Write the state of a training at ``step`` into ``directory``: each kind of ``tensors``
    (``model``, ``optimizer``, …) as ``<kind>-<step>.safetensors``, then ``state.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    names = {kind: f"{kind}-{step:08d}.safetensors" for kind in tensors}
    for kind, name in names.items():
        with atomic_path(directory / name) as partial:
            save_file({k: v.detach().contiguous() for k, v in tensors[kind].items()}, str(partial))
    record = {"format": fmt, "step": step, "seconds": seconds, "files": names, **identity}
    write_atomic(directory / STATE_FILE, json.dumps(record, indent=1))
    for kind in names:
        for stale in directory.glob(f"{kind}-*.safetensors"):
            if stale.name != names[kind]:
                stale.unlink(missing_ok=True)


def restore_training(directory: Path, fmt: str, identity: dict[str, Any], kinds: tuple[str, ...],
                     device: torch.device | str = "cpu") -> SavedTraining:
    """The state :func:`save_training` wrote; a :class:`UserError` if it was saved by a training
    with another identity, a :class:`DataError` if it cannot be read."""
    path = directory / STATE_FILE
    record = parse(read_text(path), str(path))
    if not isinstance(record, dict) or record.get("format") != fmt:
        raise DataError(f"{path}: not a saved training of this kind ({fmt})")
    for key, value in identity.items():
        if record.get(key) != json.loads(json.dumps(value)):
            raise UserError(f"{directory}: the saved training has other {key} than this one; resume it with the same")
    files, step, seconds = record.get("files"), record.get("step"), record.get("seconds")
    if not isinstance(files, dict) or type(step) is not int or not isinstance(seconds, int | float):
        raise DataError(f"{path}: the step, time or file names are missing")
    try:
        tensors = {kind: load_file(str(contained(directory, files.get(kind), f"{kind} file")), device=str(device))
                   for kind in kinds}
    except (OSError, SafetensorError) as exc:
        raise DataError(f"{directory}: cannot read the saved tensors ({exc})") from None
    return SavedTraining(step, float(seconds), tensors)


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """An optimiser's per-parameter state as flat named tensors (``<index>.<key>``)."""
    return {f"{index}.{key}": value for index, values in optimizer.state_dict()["state"].items()
            for key, value in values.items()}


def load_optimizer(optimizer: torch.optim.Optimizer, flat: dict[str, torch.Tensor]) -> None:
    """Put the state :func:`optimizer_tensors` gave back into ``optimizer`` (its parameter groups,
    learning rates included, stay as they are: each step sets its own)."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in flat.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    try:
        optimizer.load_state_dict({"state": state, "param_groups": optimizer.state_dict()["param_groups"]})
    except (RuntimeError, ValueError) as exc:
        raise DataError(f"the saved optimiser state does not fit the model ({exc})") from None


def seed_step(seed: int, step: int) -> None:
    """Seed torch's generator (dropout) for training step ``step`` from ``(seed, step)`` alone, so
    that a restored training draws what the uninterrupted one drew."""
    torch.manual_seed(int(np.random.default_rng([seed, step, 1]).integers(2**62)))
