"""What the one-shot searches DO and SDO share [COMPOSE20 §4]: train a super-network's weights
θ together with its architecture parameters, then propose the one card they select.

The objective is ``L(w, θ) = L_o(w, θ) + λ L_c(w)`` with ``L_c(w) = Σ w_i c_i``, the costs ``c_i``
profiled on the training device (``RelaxedSupernet.gate_costs``). Training starts from the
space's base network (§5: "we initialize w to be the baseline BERT network") on the task of the
benchmark's training context, in batches drawn from a seeded shuffle per epoch; the weights are
updated by AdamW. A subclass says how the architecture parameters are held, which network a step
trains and how they are updated (:meth:`OneShotSearch.gates_for_step`,
:meth:`OneShotSearch.update_architecture`) and which card they select.

Everything a resumed run needs is checkpointed every ``checkpoint_every`` steps
(:mod:`nasbench_txf.core.checkpoints`): the weights, the architecture parameters, the optimiser's
moments, the step and, once the search has ended, the selected card; each step's randomness is
seeded by (seed, step), so a run killed and resumed trains what an uninterrupted one trains. When
the search ends the selected card's parameters are folded into the weights; ``tune_steps`` further
steps may then train the weights of that card alone (its architecture fixed: a short form of the
paper's re-training of the selected architecture, which §5 does from scratch). The weights are
saved as ``supernet.safetensors`` and the card's trial is scored with them
(:class:`~nasbench_txf.core.strategy.SharesWeights`). The training seconds of both phases, across
resumes, are the run's reported cost, so a sweep charges them on its clock.

``L_o`` is the task's loss, as in the paper; ``distill`` mixes in distillation from the base
network (:mod:`nasbench_txf.training.distillation`, T = 2), which the paper does not use but which
a search starting from a fine-tuned base has at hand: it keeps the pruned network's outputs close
to the base's.
"""

from __future__ import annotations

import json
import math
import time
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.checkpoints import load_checkpoint, save_checkpoint
from nasbench_txf.core.errors import UserError
from nasbench_txf.core.files import write_atomic
from nasbench_txf.core.options import option
from nasbench_txf.core.progress import announce
from nasbench_txf.core.result import Result
from nasbench_txf.core.strategy import Requirements, Strategy
from nasbench_txf.core.threads import torch_threads
from nasbench_txf.strategies.unseen import draw_unseen
from nasbench_txf.training.distillation import distillation_loss
from nasbench_txf.training.loop import batches, task_loss

#: the distillation temperature T of ``distill`` (that of [EFTNAS24]'s authors' implementation)
TEMPERATURE = 2.0
WEIGHTS = "supernet.safetensors"
SELECTED = "selected.json"


@dataclass(frozen=True)
class OneShotOptions:
    """The training both one-shot searches share."""

    lam: float = option(1e-2, "λ: weight of the cost term L_c(w) (in units of the base network's time)")
    steps: int = option(0, "training steps; 0 = one epoch of the task's training rows")
    batch_size: int = option(32, "rows per training step")
    lr: float = option(2e-5, "AdamW learning rate of the network's weights")
    lr_arch: float = option(0.1, "learning rate of the architecture parameters")
    checkpoint_every: int = option(50, "steps between checkpoints")
    tune_steps: int = option(0, "steps that train the selected card's weights after the search, its "
                                "architecture fixed (0: the paper's search alone)", keyed_at_default=False)
    distill: float = option(0.0, "α_KD: weight of distillation from the base network (T=2) in the task loss, "
                                 "α_ce = 1 − α_KD (0: the paper's task loss alone)", keyed_at_default=False)

    def __post_init__(self) -> None:
        if not math.isfinite(self.lam) or not 0 <= self.lam <= 100:
            raise ValueError(f"lam (λ) must be a number from 0 to 100, got {self.lam}")
        if self.steps < 0 or self.tune_steps < 0 or self.batch_size < 1 or self.checkpoint_every < 1:
            raise ValueError("steps and tune_steps must be >= 0, batch_size and checkpoint_every >= 1")
        if not 0 <= self.distill <= 1:
            raise ValueError(f"distill (α_KD) must be a number from 0 to 1, got {self.distill}")
        if not (self.lr > 0 and self.lr_arch > 0 and math.isfinite(self.lr) and math.isfinite(self.lr_arch)):
            raise ValueError("lr and lr_arch must be positive numbers")


def _step_seed(seed: int, step: int, stream: int) -> int:
    return int(np.random.SeedSequence([seed, step, stream]).generate_state(1)[0])


class OneShotSearch(Strategy):
    """Trains the relaxed super-network, then asks for the card it selected, then for the cards its
    trained parameters rank next (a run of budget 1 is the paper's one-shot search)."""

    requires = Requirements(supernet=True, trains=True, relaxes=True)

    @classmethod
    def several_objectives(cls, options: OneShotOptions) -> bool:
        """With λ > 0 a search trades the task's loss against the cost (scalarised), and its
        further asks trace that trade-off: leaderboards draw its front."""
        return options.lam > 0

    def setup(self) -> None:
        self.context: Any = None
        self.folder: Path | None = None
        self.selected: Arch | None = None
        self.parameters: torch.Tensor | None = None
        self.seconds = 0.0
        self.seen: set[Arch] = set()
        self.draws = 0

    # -- what a subclass says ---------------------------------------------------------------------
    @abstractmethod
    def initial_parameters(self, base: np.ndarray, connections: np.ndarray) -> torch.Tensor:
        """The architecture parameters at step 0 (the base network's ``w`` is ``base``)."""

    @abstractmethod
    def gates_for_step(self, parameters: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The architecture parameters the network computes in one step (differentiable where trained)."""

    @abstractmethod
    def update_architecture(self, parameters: torch.Tensor, gates: torch.Tensor, loss: torch.Tensor,
                            costs: torch.Tensor, connections: torch.Tensor) -> None:
        """Update ``parameters`` in place after a step whose network was ``gates`` (gradients computed)."""

    @abstractmethod
    def selected_gates(self, parameters: torch.Tensor) -> torch.Tensor:
        """The architecture parameters of the network the search outputs."""

    @abstractmethod
    def propose(self, parameters: torch.Tensor, draw: int) -> Arch:
        """The ``draw``-th card (from 1) proposed after the selected one, when the budget has room
        for more: a card the trained parameters rank next, scored with the same weights."""

    # -- training -----------------------------------------------------------------------------------
    def attach_training(self, context: Any, folder: Path) -> None:
        self.context, self.folder = context, folder

    def cost_seconds(self) -> float:
        return self.seconds

    def resources(self) -> dict[str, float]:
        return self.context.resources() if self.context is not None else {}

    def trained_weights(self) -> Path | None:
        if self.folder is None or self.selected is None:
            return None
        return self.folder / WEIGHTS

    def ask(self, n: int = 1) -> list[Arch]:
        """The selected card first (training on the first ask); then, while the budget lasts, the
        cards :meth:`propose` ranks next."""
        out = []
        for _ in range(n):
            if self.selected is None:
                self.selected, self.parameters = self._search()
                self.seen.add(self.selected)
                out.append(self.selected)
                continue
            out.append(draw_unseen(self.space, self.seen, self._next))
        return out

    def _next(self) -> Arch:
        assert self.parameters is not None
        self.draws += 1
        return self.propose(self.parameters, self.draws)

    def tell(self, arch: Arch, result: Result) -> None:
        """A one-shot search learns from training, not from the scored card."""

    def _search(self) -> tuple[Arch, torch.Tensor]:
        if self.context is None or self.folder is None:
            raise UserError(f"strategy {self.name} trains a super-network and needs the training context of a "
                            "benchmark that lends one (the supernet benchmark)")
        done = self._finished_search()
        if done is not None:
            return done
        with torch_threads(self.context.options.threads):
            return self._train()

    def _finished_search(self) -> tuple[Arch, torch.Tensor] | None:
        """The card and parameters of a search that finished before this run was resumed."""
        assert self.folder is not None
        try:
            record = json.loads((self.folder / SELECTED).read_text(encoding="utf-8"))
            arch = self.space.check(self.space.arch(record["card"]))
            parameters = torch.tensor([float(x) for x in record["parameters"]], dtype=torch.float32)
        except (OSError, ValueError, KeyError, TypeError, UserError):
            return None
        if not (self.folder / WEIGHTS).is_file():
            return None
        self.seconds = float(record["seconds"])
        return arch, parameters

    def _train(self) -> tuple[Arch, torch.Tensor]:
        """The search's ``steps`` (architecture and weights), the selection folded into the
        weights, then ``tune_steps`` that train the selected card's weights alone."""
        assert self.folder is not None
        space, context = self.space, self.context
        device = context.device
        tokenized = context.tokenized
        data, spec = tokenized.train, context.spec
        costs = torch.as_tensor(space.gate_costs(device), dtype=torch.float32)  # type: ignore[attr-defined]
        connections = torch.as_tensor(space.connection_gates(), dtype=torch.bool)  # type: ignore[attr-defined]
        supernet = space.build_supernet(num_labels=spec.num_labels).to(device)  # type: ignore[attr-defined]
        teacher = None
        if self.options.distill:  # the base network, frozen and without dropout
            teacher = space.build_supernet(num_labels=spec.num_labels).to(device).eval().requires_grad_(False)  # type: ignore[attr-defined]
        parameters = self.initial_parameters(space.base_gates(), space.connection_gates())  # type: ignore[attr-defined]
        optimizer = torch.optim.AdamW(supernet.parameters(), lr=self.options.lr)
        per_epoch = math.ceil(len(data) / self.options.batch_size)
        search = self.options.steps or per_epoch
        steps = search + self.options.tune_steps
        step, arch = self._resume(supernet, parameters, optimizer)
        if arch is None and step >= search:  # a checkpoint of a search that had not folded its selection
            arch = self._select(supernet, parameters, optimizer)
        if step:
            announce(f"{self.name}: continuing the training at step {step:,} of {steps:,}")
        curve: list[float] = []
        while step < steps:
            started = time.perf_counter()
            torch.manual_seed(_step_seed(self.seed, step, 0))
            generator = torch.Generator().manual_seed(_step_seed(self.seed, step, 1))
            order = np.random.default_rng([self.seed, step // per_epoch]).permutation(len(data))
            rows = order[(step % per_epoch) * self.options.batch_size:][:self.options.batch_size]
            ids, mask, types, labels = next(batches(data, [rows], tokenized.pad, device))
            supernet.train()
            if arch is None:
                gates = self.gates_for_step(parameters, generator)
                space.set_gates(supernet, gates)  # type: ignore[attr-defined]
            loss = self._task_loss(supernet, teacher, (ids, mask, types), labels, spec)
            total = loss if arch is not None else loss + self.options.lam * (gates.abs() * costs).sum()
            if not torch.isfinite(total):  # L_c(w) = Σ |w_i| c_i above
                raise UserError(f"{self.name}: the training diverged at step {step + 1:,} (loss {float(total)}); "
                                "lower lr or lr_arch")
            optimizer.zero_grad()
            parameters.grad = None
            total.backward()
            optimizer.step()
            if arch is None:
                self.update_architecture(parameters, gates, total.detach(), costs, connections)
            step += 1
            curve.append(float(loss.detach()))
            if step == search:
                arch = self._select(supernet, parameters, optimizer)
            self.seconds += time.perf_counter() - started
            if step % self.options.checkpoint_every == 0 or step in (search, steps):
                self._checkpoint(supernet, parameters, optimizer, step, arch)
                self._report(step, steps, curve, parameters, connections, tuning=step > search)
        assert arch is not None
        supernet.eval()
        self._finish(supernet, parameters, arch, search, curve)
        return arch, parameters.detach().clone()

    def _select(self, supernet: torch.nn.Module, parameters: torch.Tensor, optimizer: torch.optim.Optimizer) -> Arch:
        """Fold the selection into the weights; the network then computes the card returned. The
        optimiser's moments are cleared: folding rescales weights, so their old moments would
        size the tuning's first steps wrongly."""
        supernet.eval()
        with torch.no_grad():
            arch = self.space.fold_gates(supernet, self.selected_gates(parameters))  # type: ignore[attr-defined]
        self.space.activate(supernet, arch)  # type: ignore[attr-defined]  # as a resumed run sets it
        optimizer.state.clear()
        return arch

    def _task_loss(self, supernet: torch.nn.Module, teacher: torch.nn.Module | None,
                   inputs: tuple[torch.Tensor, ...], labels: torch.Tensor, spec: Any) -> torch.Tensor:
        """``L_o``: the task's loss, or with ``distill`` the distillation loss towards the base."""
        logits = supernet(*inputs)
        if teacher is None:
            return task_loss(logits, labels, spec)
        with torch.no_grad():
            teacher_logits = teacher(*inputs)
        return distillation_loss(logits, teacher_logits, labels, temperature=TEMPERATURE,
                                 alpha_kd=self.options.distill, alpha_ce=1 - self.options.distill)

    def _report(self, step: int, steps: int, curve: list[float], parameters: torch.Tensor,
                connections: torch.Tensor, *, tuning: bool) -> None:
        """One progress line: the step, the recent training loss and what the selection keeps."""
        chosen = self.selected_gates(parameters).detach().abs() > 1e-6
        selections = ~connections
        phase = "tuning the selected card, " if tuning else ""
        recent = np.mean(curve[-self.options.checkpoint_every:])
        announce(f"{self.name}: {phase}step {step:,}/{steps:,}, loss {recent:.4f}, "
                 f"{int((chosen & selections).sum())} of {int(selections.sum())} components kept, "
                 f"{int((chosen & connections).sum())} of {int(connections.sum())} connections vertical, "
                 f"{self.seconds:.0f} s")

    # -- checkpoints ----------------------------------------------------------------------------
    def _checkpoint(self, supernet: torch.nn.Module, parameters: torch.Tensor, optimizer: torch.optim.Optimizer,
                    step: int, selected: Arch | None) -> None:
        assert self.folder is not None
        tensors = {f"net.{k}": v for k, v in supernet.state_dict().items()}
        tensors["arch"] = parameters.detach()
        moments: dict[str, float] = {}
        for index, state in optimizer.state_dict()["state"].items():
            for name, value in state.items():
                if torch.is_tensor(value) and value.dim():
                    tensors[f"opt.{index}.{name}"] = value
                else:
                    moments[f"{index}.{name}"] = float(value)
        save_checkpoint(self.folder, tensors, {"step": step, "seconds": self.seconds, "moments": moments,
                                               "extra": self.extra_state(),
                                               "selected": None if selected is None else selected.card})

    def _resume(self, supernet: torch.nn.Module, parameters: torch.Tensor,
                optimizer: torch.optim.Optimizer) -> tuple[int, Arch | None]:
        """The step a checkpoint reached (0 without one) and the card it had selected, if it had;
        the weights (with the selection folded in, once selected), parameters and optimiser restored."""
        assert self.folder is not None
        loaded = load_checkpoint(self.folder)
        if loaded is None:
            return 0, None
        tensors, state = loaded
        supernet.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        with torch.no_grad():
            parameters.copy_(tensors["arch"])
        saved = optimizer.state_dict()
        for index in range(len(saved["param_groups"][0]["params"])):
            entry = {name.split(".", 2)[2]: t for name, t in tensors.items() if name.startswith(f"opt.{index}.")}
            entry.update({key.split(".", 1)[1]: torch.tensor(v) for key, v in state["moments"].items()
                          if key.split(".", 1)[0] == str(index)})
            if entry:
                saved["state"][index] = entry
        optimizer.load_state_dict(saved)
        self.seconds = float(state["seconds"])
        self.restore_extra_state(state.get("extra", {}))
        selected = state.get("selected")
        if selected is None:
            return int(state["step"]), None
        arch = self.space.check(self.space.arch(selected))
        self.space.activate(supernet, arch)  # type: ignore[attr-defined]
        return int(state["step"]), arch

    def extra_state(self) -> dict[str, Any]:
        """JSON state of the architecture update beyond its parameters (a running baseline)."""
        return {}

    def restore_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`extra_state` saved."""

    def _finish(self, supernet: torch.nn.Module, parameters: torch.Tensor, arch: Arch, steps: int,
                curve: list[float]) -> None:
        """Save the weights and the selected card (``steps``: the search's steps)."""
        from safetensors.torch import save

        assert self.folder is not None
        write_atomic(self.folder / WEIGHTS, save({k: v.detach().cpu().contiguous()
                                                  for k, v in supernet.state_dict().items()}))
        record = {"card": arch.card, "seconds": self.seconds, "steps": steps, "tune_steps": self.options.tune_steps,
                  "parameters": [float(x) for x in parameters.detach().cpu()],
                  "train_loss_last": float(np.mean(curve[-20:])) if curve else None}
        write_atomic(self.folder / SELECTED, json.dumps(record, sort_keys=True) + "\n")
        announce(f"{self.name}: trained {steps + self.options.tune_steps:,} steps in {self.seconds:.0f} s; selected a "
                 f"card of {self.space.supernet_costs(arch)['params']:,.0f} parameters")  # type: ignore[attr-defined]
