"""Super-network training: the sandwich rule with knowledge distillation [EFTNAS24 §3.3, §4, Eqs. 4-6].

Each step trains the largest and the smallest subnetwork of the search space and ``random_subnets``
subnetworks drawn uniformly from it (the sandwich rule of Yu and Huang 2019, which [EFTNAS24
§4] applies; two random ones by default, as in that paper, where the authors' implementation
draws one), and sums their gradients into one optimiser step. Every subnetwork learns from
the labels and from the teacher, the fine-tuned base model, with the loss of Lagunas et al.
(2021) that the paper follows::

    L    = α_KD · L_KD + α_ce · L_ce                               (Eq. 4)
    L_KD = T² · Σ_i p_i^t(T) · log(p_i^t(T) / p_i^s(T))            (Eq. 5)
    p_i(T) = exp(z_i / T) / Σ_j exp(z_j / T)                        (Eq. 6)

L_KD is the Kullback-Leibler divergence of the student's softened distribution from the
teacher's, averaged over the batch; Eq. 6 as printed lacks the ``exp`` in its denominator, and
a softmax is meant. L_ce is the cross-entropy with the labels. The paper gives no values for T,
α_KD and α_ce; the defaults are those of the authors' public implementation (T = 2, α_KD = 0.9,
α_ce = 0.1). A one-output model (a regression) has a constant softmax, so Eq. 5 would vanish:
there the squared difference to the teacher's output takes its place, and L_ce is the squared
error to the labels.

AdamW with cosine annealing and no weight decay [EFTNAS24 §4]. The learning rate is a function
of the step, and step ``t`` draws its random subnetworks and its dropout from ``(seed, t)``, so a
training restored from :meth:`SandwichTrainer.save` goes on exactly as it would have without
the interruption.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from nasbench_txf.core.errors import DataError, UserError
from nasbench_txf.core.files import atomic_path, contained, read_text, write_atomic
from nasbench_txf.core.options import option
from nasbench_txf.core.safe_json import parse
from nasbench_txf.spaces.eftnas.base import Batch, batch_labels, device_of, model_inputs
from nasbench_txf.spaces.eftnas.config import SubnetConfig
from nasbench_txf.spaces.eftnas.elastic import ElasticBert
from nasbench_txf.spaces.eftnas.generation import SearchSpace
from nasbench_txf.spaces.eftnas.importance import cosine_lr
from nasbench_txf.training.loop import Diverged

#: the format tag of a saved training state
FORMAT = "nasbench-txf/eftnas-supernet-training/1"
STATE_FILE = "state.json"


@dataclass(frozen=True)
class SandwichSettings:
    """How the super-network is trained."""

    steps: int = option(1000, "optimiser steps in all (the cosine schedule runs over them)")
    lr: float = option(2e-5, "peak learning rate ([EFTNAS24 §4]: 2e-5 to 3e-5 on GLUE)")
    random_subnets: int = option(2, "random subnetworks per step besides the largest and the smallest")
    temperature: float = option(2.0, "distillation temperature T (Eqs. 5-6)")
    alpha_kd: float = option(0.9, "weight of the distillation loss, α_KD (Eq. 4)")
    alpha_ce: float = option(0.1, "weight of the loss on the labels, α_ce (Eq. 4)")
    weight_decay: float = option(0.0, "AdamW weight decay ([EFTNAS24 §4]: 0 for BERT)")
    seed: int = option(0, "seed of the random subnetworks and of dropout")

    def __post_init__(self) -> None:
        if self.steps < 1 or self.random_subnets < 0:
            raise ValueError(f"steps must be at least 1 and random_subnets at least 0, got {self.steps} and "
                             f"{self.random_subnets}")
        if self.lr <= 0 or self.temperature <= 0 or min(self.alpha_kd, self.alpha_ce, self.weight_decay) < 0:
            raise ValueError("lr and temperature must be positive; alpha_kd, alpha_ce and weight_decay not negative")


def distillation_loss(logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
                      settings: SandwichSettings) -> torch.Tensor:
    """Eq. 4: ``α_KD · L_KD + α_ce · L_ce`` of a student's logits (see the module's docstring)."""
    if logits.shape[-1] == 1:
        kd = F.mse_loss(logits.float(), teacher_logits.float())
        ce = F.mse_loss(logits.squeeze(-1).float(), labels.float())
    else:
        t = settings.temperature
        kd = F.kl_div(F.log_softmax(logits.float() / t, dim=-1), F.log_softmax(teacher_logits.float() / t, dim=-1),
                      reduction="batchmean", log_target=True) * t * t
        ce = F.cross_entropy(logits.float(), labels)
    return settings.alpha_kd * kd + settings.alpha_ce * ce


class SandwichTrainer:
    """Trains an elastic super-network over a search space, distilling from ``teacher`` (which it
    puts in eval mode: the teacher's soft targets are computed without dropout)."""

    def __init__(self, supernet: ElasticBert, teacher: nn.Module, space: SearchSpace,
                 settings: SandwichSettings) -> None:
        supernet.shape.check(space.largest())
        self.supernet, self.teacher, self.space, self.settings = supernet, teacher.eval(), space, settings
        self.optimizer = torch.optim.AdamW(supernet.model.parameters(), lr=settings.lr,
                                           weight_decay=settings.weight_decay)
        self.step = 0
        #: wall-clock seconds spent training, over every run of this training (restores included)
        self.seconds = 0.0

    def subnetworks(self, step: int) -> list[SubnetConfig]:
        """The subnetworks step ``step`` trains: the largest, the smallest, then the random ones."""
        rng = np.random.default_rng([self.settings.seed, step])
        drawn = [self.space.sample(rng) for _ in range(self.settings.random_subnets)]
        return [self.space.largest(), self.space.smallest(), *drawn]

    def train(self, batches: Sequence[Batch], steps: int | None = None) -> list[float]:
        """Run ``steps`` more steps (by default up to ``settings.steps``); step ``t`` trains on
        ``batches[t % len(batches)]``. Returns each step's mean loss over its subnetworks and
        leaves the full model active."""
        if not batches:
            raise UserError("super-network training needs at least one batch")
        end = self.settings.steps if steps is None else min(self.settings.steps, self.step + steps)
        model, device = self.supernet.model, device_of(self.supernet.model)
        losses = []
        started = time.perf_counter()
        try:
            while self.step < end:
                batch = batches[self.step % len(batches)]
                inputs, labels = model_inputs(batch, device), batch_labels(batch, device)
                with torch.no_grad():
                    teacher_logits = self.teacher(**inputs).logits
                for group in self.optimizer.param_groups:
                    group["lr"] = cosine_lr(self.settings.lr, self.step, self.settings.steps)
                torch.manual_seed(int(np.random.default_rng([self.settings.seed, self.step, 1]).integers(2**62)))
                model.train()
                total = 0.0
                for config in self.subnetworks(self.step):
                    self.supernet.activate(config)
                    loss = distillation_loss(model(**inputs).logits, teacher_logits, labels, self.settings)
                    loss.backward()
                    total += loss.item()
                if not math.isfinite(total):
                    raise Diverged(f"the super-network's loss became {total} at step {self.step}")
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                losses.append(total / (2 + self.settings.random_subnets))
                self.step += 1
        finally:
            self.supernet.deactivate()
            self.seconds += time.perf_counter() - started
        return losses

    def _identity(self) -> dict[str, object]:
        """What a restored training must share with the saved one."""
        return {"settings": asdict(self.settings), "space": self.space.to_dict()}

    def save(self, directory: Path | str) -> None:
        """Write the training state (weights and optimiser state as safetensors, the step, time
        and settings as JSON) so that :meth:`restore` resumes it. The JSON file is written last
        and names the weight files of its step, so a save cut short leaves the previous state."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        names = {"model": f"model-{self.step:08d}.safetensors", "optimizer": f"optimizer-{self.step:08d}.safetensors"}
        state = self.optimizer.state_dict()["state"]
        tensors = {"model": {k: v.contiguous() for k, v in self.supernet.model.state_dict().items()},
                   "optimizer": {f"{index}.{key}": value for index, values in state.items()
                                 for key, value in values.items()}}
        for kind, name in names.items():
            with atomic_path(path / name) as partial:
                save_file(tensors[kind], str(partial))
        record = {"format": FORMAT, "step": self.step, "seconds": self.seconds, "files": names, **self._identity()}
        write_atomic(path / STATE_FILE, json.dumps(record, indent=1))
        for stale in [*path.glob("model-*.safetensors"), *path.glob("optimizer-*.safetensors")]:
            if stale.name not in names.values():
                stale.unlink(missing_ok=True)

    def restore(self, directory: Path | str) -> None:
        """Continue the training :meth:`save` wrote to ``directory``: a :class:`UserError` if it
        was a training with other settings or another search space."""
        path = Path(directory)
        record = parse(read_text(path / STATE_FILE), str(path / STATE_FILE))
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise DataError(f"{path / STATE_FILE}: not a saved EFTNAS super-network training")
        for key, value in self._identity().items():
            if record.get(key) != json.loads(json.dumps(value)):
                raise UserError(f"{path}: the saved training has other {key} than this one; resume it with the same")
        files = record.get("files")
        step, seconds = record.get("step"), record.get("seconds")
        if not isinstance(files, dict) or type(step) is not int or not isinstance(seconds, int | float):
            raise DataError(f"{path / STATE_FILE}: the step, time or file names are missing")
        device = device_of(self.supernet.model)
        try:
            weights = load_file(str(contained(path, files.get("model"), "model file")), device=str(device))
            flat = load_file(str(contained(path, files.get("optimizer"), "optimiser file")), device=str(device))
            self.supernet.model.load_state_dict(weights)
            state: dict[int, dict[str, torch.Tensor]] = {}
            for name, value in flat.items():
                index, key = name.split(".", 1)
                state.setdefault(int(index), {})[key] = value
            groups = self.optimizer.state_dict()["param_groups"]
            self.optimizer.load_state_dict({"state": state, "param_groups": groups})
        except (OSError, RuntimeError, ValueError, SafetensorError) as exc:
            raise DataError(f"{path}: cannot restore the saved weights ({exc})") from None
        self.step, self.seconds = step, float(seconds)
