"""Small test plugins (a space and a benchmark with a known optimum), registered through a
``.dist-info`` entry-point file exactly as a third-party package would register them.

The classes live in the test kit (:mod:`nasbench_txf.testing.toy`), where the contract checks
use them by class; this module registers the same classes as ``toy-grid`` and
``toy-quadratic`` for the project's own tests and CLI runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from nasbench_txf.core.arch import Arch
from nasbench_txf.core.checkpoints import load_checkpoint, save_checkpoint
from nasbench_txf.core.result import Result
from nasbench_txf.core.strategy import Requirements, Strategy
from nasbench_txf.run.problems import Problem, Suite
from nasbench_txf.testing.toy import (
    DEPTHS,
    OPS,
    TARGET,
    QuadraticOptions,
    ToyGrid,
    ToyQuadratic,
    ToyTrainable,
    size_of,
    true_score,
)

__all__ = ["DEPTHS", "OPS", "TARGET", "TOY_SCORE", "TOY_SIZE", "TOY_SUITE", "QuadraticOptions", "ToyGrid", "ToyOneShot",
           "ToyQuadratic", "ToyTrainable", "size_of", "true_score"]

#: benchmark problems and a suite on the toy benchmark, registered as a plugin package registers its own
TOY_SCORE = Problem("toy-score", "toy-grid's score, with seed noise", "toy-grid", "toy-quadratic", "match",
                    benchmark_options={"noise": 0.3}, budget=12)
TOY_SIZE = Problem("toy-size", "toy-grid's score against its size", "toy-grid", "toy-quadratic", "match",
                   costs=("size",), budget=12)
TOY_SUITE = Suite("toy", "the toy problems", ("toy-score", "toy-size"), encodings="onehot")


@dataclass(frozen=True)
class OneShotOptions:
    steps: int = field(default=5, metadata={"help": "training steps before the first ask"})
    step_seconds: float = field(default=10.0, metadata={"help": "compute reported per training step"})
    step_delay: float = field(default=0.0, metadata={"help": "real seconds each training step sleeps"})


class ToyOneShot(Strategy):
    """A one-shot strategy in miniature: trains (a counter, checkpointed every step), then asks."""

    name = "toy-oneshot"
    Options = OneShotOptions
    requires = Requirements(trains=True)

    def setup(self) -> None:
        self.folder: Path | None = None
        self.trained: torch.Tensor | None = None
        self.spent = 0.0
        self._asked: set[str] = set()

    def attach_training(self, context: Any, folder: Path) -> None:
        self.context, self.folder = context, folder

    def _train(self) -> torch.Tensor:
        assert self.folder is not None, "attach_training was not called"
        loaded = load_checkpoint(self.folder)
        weights, step = (loaded[0]["w"], int(loaded[1]["step"])) if loaded else (torch.zeros(1), 0)
        self.spent = float(loaded[1]["spent"]) if loaded else 0.0
        while step < self.options.steps:
            time.sleep(self.options.step_delay)
            weights, step = weights + 1, step + 1
            self.spent += self.options.step_seconds
            save_checkpoint(self.folder, {"w": weights}, {"step": step, "spent": self.spent})
            with (self.folder.parent / "trained-steps.log").open("a") as log:  # a logged step is checkpointed
                log.write(f"{self.folder.name} {step}\n")
        return weights

    def ask(self, n: int = 1) -> list[Arch]:
        if self.trained is None:
            self.trained = self._train()
        archs = []
        while len(archs) < n:
            arch = self.space.sample(self.rng)
            if arch.id not in self._asked:
                self._asked.add(arch.id)
                archs.append(arch)
        return archs

    def tell(self, arch: Arch, result: Result) -> None:
        pass

    def cost_seconds(self) -> float:
        return self.spent
