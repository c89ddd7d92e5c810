"""Checkpoints of a training strategy: weights as safetensors, state as JSON, in one folder.

A one-shot strategy trains for minutes or hours; it saves what it has learnt into its folder
(:class:`~nasbench_txf.core.strategy.TrainsModels`) every so often, so that a killed run
resumes from the last checkpoint. Both files are written atomically and the state names the
weights' digest, so a checkpoint is read whole or not at all: a damaged or half-replaced one
is ignored, and the strategy trains again from its previous state.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasbench_txf.core.files import write_atomic

if TYPE_CHECKING:
    import torch

WEIGHTS = "weights.safetensors"
STATE = "state.json"


def save_checkpoint(folder: Path, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
    """Write ``tensors`` and the JSON-serialisable ``state`` into ``folder``, replacing the last ones."""
    from safetensors.torch import save

    data = save({name: t.detach().cpu().contiguous() for name, t in tensors.items()})
    write_atomic(folder / WEIGHTS, data)
    write_atomic(folder / STATE, json.dumps({"weights_sha256": hashlib.sha256(data).hexdigest(),
                                             "state": state}, sort_keys=True) + "\n")


def load_checkpoint(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """The tensors and state last saved in ``folder``; ``None`` when there is none, or when the
    two files do not belong together (a kill between the two writes) or cannot be read."""
    from safetensors.torch import load

    try:
        meta = json.loads((folder / STATE).read_text(encoding="utf-8"))
        data = (folder / WEIGHTS).read_bytes()
        if not isinstance(meta, dict) or meta.get("weights_sha256") != hashlib.sha256(data).hexdigest():
            return None
        return load(data), meta["state"]
    except Exception:  # missing, damaged, or not ours: the strategy trains again
        return None
