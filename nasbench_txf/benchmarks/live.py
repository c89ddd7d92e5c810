"""The live benchmark: train a card from scratch on a GLUE-format task and score it.

Data come from a GLUE TSV folder (``data_dir``) or, with no folder and a network, from
Hugging Face ``nyu-mll/glue``. Everything that can be wrong with the data (missing files or
columns, malformed rows, unknown labels) is found when the benchmark is created, before a
run stores anything. The tokenizer is trained lazily at the first evaluation and cached.

An evaluation trains with :mod:`nasbench_txf.training.loop`, scores the task's GLUE metrics on
the dev split (plus a held-out part of the training file, ``holdout_size``, which cuts the
noise of small dev sets), and measures parameters, FLOPs and inference latency. It also
records the loss of predicting the training label frequencies on the scored rows
(``info["chance_loss"]``), so that a table can tell a training that learned nothing from a
bad arch. A run directory (given by the runner) keeps one safetensors checkpoint per
(arch, seed, recipe): a resumed run reuses a finished evaluation instead of training again,
and ``transfer=true`` starts a new arch from the trained neighbour with the largest overlap
[FLEXIBERT23 §3.3.3].
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from nasbench_txf.core.arch import Arch, canonical_json
from nasbench_txf.core.benchmark import Benchmark
from nasbench_txf.core.errors import UserError
from nasbench_txf.core.files import atomic_path
from nasbench_txf.core.options import option, options_dict
from nasbench_txf.core.result import Metric, Result
from nasbench_txf.core.space import BuildsModels, Space, TransfersAcrossLevels, TransfersWeights
from nasbench_txf.core.threads import torch_threads
from nasbench_txf.tables.machine import describe
from nasbench_txf.training.context import TaskOptions, Tokenized, TrainingContext, training_device
from nasbench_txf.training.loop import (
    Diverged,
    chance_loss,
    latency_ms,
    train,
    uses_bf16,
)
from nasbench_txf.training.metrics import task_scores
from nasbench_txf.training.tasks import (
    glue_task,
)

CHECKPOINT_FORMAT = "nasbench-txf checkpoint 1"


@dataclass(frozen=True)
class LiveOptions(TaskOptions):
    """The training context's options plus how the live benchmark measures and transfers."""

    latency_batch: int = option(1, "sequences per forward pass when measuring latency")
    transfer: bool = option(False, "start from the trained neighbour with most overlap")
    tau: float = option(0.8, "minimum overlap fraction for a transfer (§4.1)")
    transfer_epochs: int = option(0, "epochs of a model started from a neighbour's weights "
                                     "(it is fine-tuned directly, App. B.2); 0 = the recipe's epochs",
                                  keyed_at_default=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.latency_batch < 1:
            raise ValueError("latency_batch must be >= 1")
        if not 0 < self.tau <= 1:
            raise ValueError(f"tau must be in (0, 1], got {self.tau}")
        if self.transfer_epochs < 0:
            raise ValueError(f"transfer_epochs must be >= 0, got {self.transfer_epochs}")


class Live(Benchmark):
    """Trains each card on a GLUE-format task (the recipe of [FLEXIBERT23 App. B.5] by default)."""

    name = "live"
    Options = LiveOptions
    default_task = "sst2"
    measures_time = True

    def __init__(self, space: Space, *, task: str | None = None, options: Any = None) -> None:
        super().__init__(space, task=task, options=options)
        self.context = TrainingContext(self.task or self.default_task, self.options)
        self.spec, self.data = self.context.spec, self.context.data
        self.checkpoints: Path | None = None

    @classmethod
    def unsupported(cls, space: Space) -> str | None:
        if not isinstance(space, BuildsModels):
            return "the space builds no torch model for its cards (it does not implement build_model)"
        return None

    @staticmethod
    def _model_shape(task: str | None, options: LiveOptions) -> tuple[int, int] | None:
        """(vocabulary size, labels) of the models ``options`` train on ``task``, where the
        options tell them: a trained vocabulary (a pretrained one's size is in its folder,
        not the options; a trained one can also come out smaller than ``vocab_size`` on a
        small corpus, which the surrogate's check against the rows catches), and a GLUE task
        or a regression (a custom task's classes are in its data)."""
        if options.vocab or (options.text_columns and not options.regression):
            return None
        labels = 1 if options.text_columns else glue_task(str(task or Live.default_task)).num_labels
        return options.vocab_size, labels

    @classmethod
    def card_metrics(cls, space: Space, task: str | None,
                     options: Mapping[str, Any]) -> dict[str, Callable[[Arch], float]]:
        """``params`` and ``flops``, counted by the space for the recipe's vocabulary size,
        sequence length and the task's number of labels (where the options tell those)."""
        o = cls.make_options(dict(options))
        if not isinstance(space, BuildsModels) or (shape := cls._model_shape(task, o)) is None:
            return {}
        vocab_size, labels = shape
        return {
            "params": lambda arch: float(space.count_parameters(
                arch, vocab_size=vocab_size, num_labels=labels, max_len=o.max_len)),
            "flops": lambda arch: float(space.count_flops(
                arch, vocab_size=vocab_size, seq_len=o.max_len, num_labels=labels)),
        }

    @classmethod
    def timed_metrics(cls, space: Space, task: str | None,
                      options: Mapping[str, Any]) -> dict[str, Callable[[Arch], float]]:
        """``latency_ms`` of an untrained model of the card, timed as :meth:`evaluate` times
        the trained one (inference in fp32 on ``max_len`` tokens, batch ``latency_batch``):
        the weights' values do not change how long a forward pass takes."""
        o = cls.make_options(dict(options))
        if not isinstance(space, BuildsModels) or (shape := cls._model_shape(task, o)) is None:
            return {}
        vocab_size, labels = shape
        device = training_device(o)

        def latency(arch: Arch) -> float:
            with torch_threads(o.threads):
                torch.manual_seed(0)
                model = space.build_model(arch, vocab_size=vocab_size, num_labels=labels, max_len=o.max_len)
                return latency_ms(model.to(device), o.max_len, o.latency_batch, device)

        return {"latency_ms": latency}

    @property
    def metrics(self) -> tuple[Metric, ...]:
        return (
            *(Metric(name, maximize=True) for name in self.spec.metrics),
            Metric("loss", maximize=False),
            Metric("params", maximize=False),
            Metric("flops", maximize=False, unit="FLOPs/sequence"),
            Metric("latency_ms", maximize=False, unit="ms", timed=True),
        )

    def conditions(self) -> dict[str, str]:
        device = training_device(self.options)
        return {"device": device.type, "precision": "bf16" if uses_bf16(self.options, device) else "fp32",
                "timed_on": describe(device, self.options.threads or torch.get_num_threads())}

    @property
    def tokenized(self) -> Tokenized:
        return self.context.tokenized

    # -- checkpoints ----------------------------------------------------------------------------
    def resources(self) -> dict[str, float]:
        return self.context.resources()

    def attach_run_dir(self, run_dir: Path) -> None:
        self.checkpoints = run_dir / "checkpoints"

    @cached_property
    def recipe_key(self) -> str:
        """What makes two trainings of the same arch and seed interchangeable."""
        options = {k: v for k, v in options_dict(self.options).items() if k not in ("threads", "latency_batch")}
        key = {"space": self.space.models_key(), "task": self.spec.name, "options": options}
        return hashlib.sha256(canonical_json(key).encode()).hexdigest()[:16]

    def _checkpoint(self, arch: Arch, seed: int) -> Path | None:
        if self.checkpoints is None:
            return None
        return self.checkpoints / f"{arch.id}-{seed}-{self.recipe_key}.safetensors"

    @staticmethod
    def _header(path: Path) -> dict[str, Any] | None:
        try:
            with safe_open(str(path), framework="pt") as handle:
                meta = json.loads((handle.metadata() or {}).get("nasbench_txf", "null"))
        except Exception:  # unreadable or foreign file: not ours to use
            return None
        return meta if isinstance(meta, dict) and meta.get("format") == CHECKPOINT_FORMAT else None

    def _save(self, path: Path, arch: Arch, seed: int, model: torch.nn.Module, result: Result) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": CHECKPOINT_FORMAT, "card": arch.card, "seed": seed, "recipe": self.recipe_key,
                "result": {"metrics": dict(result.metrics), "cost_seconds": result.cost_seconds,
                           "info": dict(result.info)}}
        tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        with atomic_path(path) as partial:  # two workers writing one checkpoint never clash
            save_file(tensors, str(partial), metadata={"nasbench_txf": json.dumps(meta)})

    def _transfer(self, arch: Arch, model: torch.nn.Module, num_labels: int) -> dict[str, Any]:
        """Seed ``model`` from the trained neighbour with the largest overlap fraction >= tau."""
        space = self.space
        if not isinstance(space, TransfersWeights) or self.checkpoints is None or not self.checkpoints.is_dir():
            return {}
        best: tuple[float, str, Path, Arch] | None = None
        for path in sorted(self.checkpoints.glob(f"*-{self.recipe_key}.safetensors")):
            meta = self._header(path)
            if meta is None:
                continue
            try:
                other = (space.neighbour_arch(meta["card"]) if isinstance(space, TransfersAcrossLevels)
                         else space.arch(meta["card"]))  # type: ignore[attr-defined]
            except UserError:  # not a card of this space's family: not a neighbour
                continue
            if other == arch:
                continue
            fraction = space.overlap_fraction(arch, other)
            if fraction >= self.options.tau and (best is None or (fraction, other.id) > (best[0], best[1])):
                best = (fraction, other.id, path, other)
        if best is None:
            return {}
        fraction, _, path, other = best
        neighbour = self.space.build_model(  # type: ignore[attr-defined]
            other, vocab_size=self.tokenized.vocab_size, num_labels=num_labels, max_len=self.options.max_len)
        neighbour.load_state_dict(load_file(str(path)))
        layers = space.transfer_weights(model, neighbour)
        return {"transferred_from": other.id, "transferred_layers": layers, "overlap_fraction": fraction}

    # -- evaluation -----------------------------------------------------------------------------
    def evaluate(self, arch: Arch, seed: int) -> Result:
        started = time.perf_counter()
        checkpoint = self._checkpoint(arch, seed)
        if checkpoint is not None and checkpoint.is_file() and (meta := self._header(checkpoint)):
            stored = meta["result"]
            return Result(stored["metrics"], stored["cost_seconds"], info=stored["info"])
        o, data = self.options, self.tokenized
        if o.threads:
            torch.set_num_threads(o.threads)
        num_labels = self.spec.num_labels
        torch.manual_seed(seed)
        model = self.space.build_model(  # type: ignore[attr-defined]
            arch, vocab_size=data.vocab_size, num_labels=num_labels, max_len=o.max_len, dropout=o.dropout)
        transferred = self._transfer(arch, model, num_labels) if o.transfer else {}
        recipe = dataclasses.replace(o, epochs=o.transfer_epochs) if transferred and o.transfer_epochs else o
        try:
            outcome = train(model, data.train, data.evaluations, self.spec, recipe, seed, data.pad)
        except Diverged as exc:
            return Result.failed(str(exc), cost_seconds=time.perf_counter() - started, **transferred)
        labels = np.concatenate([split.labels for split in data.evaluations.values()])
        predictions = np.concatenate(list(outcome.predictions.values()))
        scores = task_scores(self.spec.metrics, labels, predictions)
        weights = np.array([len(split) for split in data.evaluations.values()])
        scores["loss"] = float(np.average(list(outcome.losses.values()), weights=weights))
        splits = {name: {**task_scores(self.spec.metrics, data.evaluations[name].labels, outcome.predictions[name]),
                         "loss": outcome.losses[name]} for name in data.evaluations}
        device = training_device(o)
        metrics = {
            **scores,
            "params": float(sum(p.numel() for p in model.parameters())),
            "flops": float(self.space.count_flops(  # type: ignore[attr-defined]
                arch, vocab_size=data.vocab_size, seq_len=o.max_len, num_labels=num_labels)),
            "latency_ms": latency_ms(model, o.max_len, o.latency_batch, device),
        }
        info = {
            "splits": splits, "selection_loss": outcome.selection_loss, "train_loss": outcome.train_loss,
            "best_epoch": outcome.best_epoch, "steps": outcome.steps, "train_seconds": outcome.seconds,
            "train_cpu_seconds": outcome.cpu_seconds, "train_rows": len(data.train), "device": device.type,
            "precision": outcome.precision, "timed_on": describe(device, torch.get_num_threads()),
            "chance_loss": chance_loss(data.train.labels, labels, self.spec), **transferred,
        }
        result = Result(metrics, time.perf_counter() - started, info=info)
        if checkpoint is not None:
            self._save(checkpoint, arch, seed, model, result)
        return result
