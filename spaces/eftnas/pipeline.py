"""Build an EFTNAS super-network stage by stage into a build folder (:mod:`.folder`).

The stages [EFTNAS24 §3]:

(a) ``finetune``: fine-tune the base on the task, accumulating movement importance (Eq. 3); the
    fine-tuned model is the distillation teacher; its dev scores go into ``build.json``;
    checkpointed every ``checkpoint_every`` steps;
(b) ``generate``: the search space from target complexities (Algorithm 1), printed as Fig. 5;
(c) ``reorder``: the teacher's heads and FFN channels sorted by importance;
(d) ``supernet``: the elastic super-network trained from the reordered weights with the sandwich
    rule and distillation (Eqs. 4-6), checkpointed every ``checkpoint_every`` steps.

Everything the stages train on comes from a
:class:`~nasbench_txf.training.context.TrainingContext`, tokenized with the base's own tokenizer
(``vocab`` = the base folder), so token ids match the pre-trained embeddings. Each stage is
skipped when its outputs carry its key; a killed stage runs again, the two trainings from their
last checkpoints. Everything that can be wrong with the request (the base, the data,
the targets, a build folder of another base, task or options) is refused before anything is
written (:mod:`.request`).
"""

from __future__ import annotations

import copy
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch
from torch import nn

from nasbench_txf.core.errors import DataError
from nasbench_txf.core.progress import announce, bar
from nasbench_txf.core.threads import torch_threads
from nasbench_txf.spaces.eftnas.data import TrainBatches
from nasbench_txf.spaces.eftnas.folder import (
    BUILD_FILE,
    CONFIG_FILE,
    FINETUNING_DIR,
    REORDERED_FILE,
    SCORES_FILE,
    SPACE_FILE,
    STAGES,
    SUPERNET_FILE,
    TEACHER_FILE,
    TOKENIZER_DIR,
    TOKENIZER_FILES,
    TRAINING_DIR,
    bert_model,
    load_tensors,
    read_json,
    save_tensors,
    space_from_dict,
    tensors_key,
    write_json,
)
from nasbench_txf.spaces.eftnas.generation import SearchSpace, format_space, generate_space
from nasbench_txf.spaces.eftnas.importance import FineTuner, FineTuneSettings
from nasbench_txf.spaces.eftnas.model import Classifier, Supernet
from nasbench_txf.spaces.eftnas.reorder import reorder
from nasbench_txf.spaces.eftnas.request import BuildOptions, Request, prepare
from nasbench_txf.spaces.eftnas.resume import STATE_FILE
from nasbench_txf.spaces.eftnas.train import SandwichSettings, SandwichTrainer
from nasbench_txf.training.context import TrainingContext
from nasbench_txf.training.loop import predict
from nasbench_txf.training.metrics import task_scores

#: the format tag of a build's space.json
SPACE_FORMAT = "nasbench-txf/eftnas-space/1"


class _Resumable(Protocol):
    step: int
    seconds: float

    def restore(self, directory: Path | str) -> None: ...


Resumable = TypeVar("Resumable", bound=_Resumable)


def dev_scores(model: nn.Module, context: TrainingContext, batch_size: int, device: torch.device) -> \
        dict[str, dict[str, float]]:
    """The task's metrics and loss on each evaluation split (dev, and the holdout if any), in fp32."""
    tokenized = context.tokenized
    scores = {}
    for name, split in tokenized.evaluations.items():
        loss, predictions = predict(model, split, context.spec, batch_size, tokenized.pad, device, False)
        scores[name] = {**task_scores(context.spec.metrics, split.labels, predictions), "loss": loss}
    return scores


@contextmanager
def ticking(total: int, done: int, description: str) -> Iterator[Callable[[int], None]]:
    """A callback that advances a progress bar of ``total`` steps, ``done`` of them done before."""
    ticks = iter(bar(range(done, total), description, total=total - done, unit="step"))
    try:
        yield lambda _index: next(ticks, None)
    finally:
        ticks.close()  # type: ignore[attr-defined]


class Builder:
    """Runs the stages of a checked :class:`Request` into its build folder."""

    def __init__(self, request: Request, echo: Callable[[str], None] = print) -> None:
        self.r = request
        #: where the generated space is shown (as Fig. 5 shows one)
        self.echo = echo
        self.device = request.context.device
        self.config = {**request.model.config.to_dict(), "num_labels": request.context.spec.num_labels}

    # -- bookkeeping --------------------------------------------------------------------------------
    def done(self, stage: str) -> bool:
        """Whether ``stage``'s outputs carry its key (and the record says so)."""
        key = self.r.keys[stage]
        if self.r.record["stages"].get(stage, {}).get("key") != key:
            return False
        for name in STAGES[stage]:
            path = self.r.out / name
            if name.endswith(".json"):
                found = path.is_file() and isinstance(data := read_json(path), dict) and data.get("key") == key
            else:
                found = tensors_key(path) == key
            if not found:
                return False
        return True

    def finish(self, stage: str, seconds: float, **results: Any) -> None:
        """Record ``stage`` as done, with the ``seconds`` it took and its results."""
        self.r.record["stages"][stage] = {"key": self.r.keys[stage], "seconds": round(seconds, 3), **results}
        write_json(self.r.out / BUILD_FILE, self.r.record)

    def start(self, number: int, stage: str, what: str) -> bool:
        """Announce ``stage``; False when it is done already (and skipped)."""
        if self.done(stage):
            announce(f"eftnas build: stage {number}/4, {stage}: done before, skipped")
            return False
        announce(f"eftnas build: stage {number}/4, {stage}: {what}")
        return True

    # -- the stages ---------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        r = self.r
        r.out.mkdir(parents=True, exist_ok=True)
        write_json(r.out / BUILD_FILE, r.record)  # first: a folder with files is then known as this build's
        write_json(r.out / CONFIG_FILE, self.config)
        tokenizer = r.out / TOKENIZER_DIR
        tokenizer.mkdir(exist_ok=True)
        for name in TOKENIZER_FILES:
            if (r.base / name).is_file():
                shutil.copyfile(r.base / name, tokenizer / name)
        with torch_threads(r.options.threads):
            self.finetune()
            space = self.generate()
            self.reorder(space)
            self.supernet(space)
        return r.record

    def finetune(self) -> None:
        r, o = self.r, self.r.options
        tokenized = r.context.tokenized
        batches = TrainBatches(tokenized.train, o.batch_size, tokenized.pad, o.seed, o.finetune_epochs)
        steps = o.finetune_steps or len(batches)
        if not self.start(1, "finetune", f"fine-tuning {r.base.name} on {r.task} ({len(tokenized.train):,} rows, "
                                         f"{steps:,} steps) with movement importance"):
            return
        started = time.perf_counter()
        folder = r.out / FINETUNING_DIR
        tuner = self._resumed(lambda: FineTuner(copy.deepcopy(r.model).to(self.device), FineTuneSettings(
            steps=steps, lr=o.finetune_lr, seed=o.seed)), folder, "fine-tuning")
        earlier = tuner.seconds  # training time of the runs before a kill
        with ticking(steps, tuner.step, "fine-tune") as tick:
            batches.on_step = tick
            while tuner.step < steps:
                tuner.train(batches, steps=o.checkpoint_every)
                if tuner.step < steps:
                    tuner.save(folder)
        model, importance = tuner.model, tuner.importance
        dev = dev_scores(Classifier(model), r.context, o.eval_batch, self.device)
        save_tensors(r.out / SCORES_FILE, {"heads": importance.head_scores(), "channels": importance.channel_scores()},
                     r.keys["finetune"])
        save_tensors(r.out / TEACHER_FILE, model.state_dict(), r.keys["finetune"])
        self.finish("finetune", earlier + time.perf_counter() - started, steps=steps, rows=len(tokenized.train),
                    training_seconds=round(tuner.seconds, 3), scores=dev)
        shutil.rmtree(folder, ignore_errors=True)
        announce(f"eftnas build: the fine-tuned base scores {_scores(dev)}")

    @staticmethod
    def _resumed(make: Callable[[], Resumable], folder: Path, what: str) -> Resumable:
        """A new training from ``make``, restored from ``folder`` where an earlier run saved one
        (one that cannot be read is started again, with a line that says so)."""
        training = make()
        if (folder / STATE_FILE).is_file():
            try:
                training.restore(folder)
                announce(f"eftnas build: continuing the {what} at step {training.step:,}")
            except DataError as exc:
                announce(f"eftnas build: the {what} checkpoint cannot be read ({exc}); training from the start")
                training = make()
        return training

    def _scores(self) -> tuple[torch.Tensor, torch.Tensor]:
        scores = load_tensors(self.r.out / SCORES_FILE, self.r.keys["finetune"])
        return scores["heads"], scores["channels"]

    def generate(self) -> SearchSpace:
        r, o = self.r, self.r.options
        if self.start(2, "generate", f"the search space of {o.configs} configurations (Algorithm 1, {o.measure})"):
            started = time.perf_counter()
            heads, channels = self._scores()
            space = generate_space(r.shape, heads, channels, n=o.configs, c_min=o.c_min or None,
                                   c_max=o.c_max or None, measure=o.measure, seq_len=o.seq_len,
                                   tolerance=o.tolerance)
            write_json(r.out / SPACE_FILE, {"format": SPACE_FORMAT, "key": r.keys["generate"],
                                            "space": space.to_dict()})
            self.finish("generate", time.perf_counter() - started, subnetworks=space.cardinality())
        else:
            space = space_from_dict(read_json(r.out / SPACE_FILE)["space"], r.shape, str(r.out / SPACE_FILE))
        self.echo(format_space(space))
        return space

    def reorder(self, space: SearchSpace) -> None:
        r = self.r
        if not self.start(3, "reorder", "heads and FFN channels sorted by importance"):
            return
        started = time.perf_counter()
        model = bert_model(self.config, load_tensors(r.out / TEACHER_FILE, r.keys["finetune"]))
        reorder(model, *self._scores())
        save_tensors(r.out / REORDERED_FILE, model.state_dict(), r.keys["reorder"])
        self.finish("reorder", time.perf_counter() - started)

    def _trainer(self, space: SearchSpace, steps: int) -> SandwichTrainer:
        r, o = self.r, self.r.options
        teacher = bert_model(self.config, load_tensors(r.out / TEACHER_FILE, r.keys["finetune"])).to(self.device)
        student = bert_model(self.config, load_tensors(r.out / REORDERED_FILE, r.keys["reorder"])).to(self.device)
        settings = SandwichSettings(steps=steps, lr=o.supernet_lr, random_subnets=o.random_subnets,
                                    temperature=o.temperature, alpha_kd=o.alpha_kd, alpha_ce=o.alpha_ce, seed=o.seed)
        return SandwichTrainer(Supernet(student).elastic, teacher, space, settings)

    def supernet(self, space: SearchSpace) -> None:
        r, o = self.r, self.r.options
        tokenized = r.context.tokenized
        batches = TrainBatches(tokenized.train, o.batch_size, tokenized.pad, o.seed + 1, o.supernet_epochs)
        steps = o.supernet_steps or len(batches)
        if not self.start(4, "supernet", f"training the super-network of {space.cardinality():,} subnetworks "
                                         f"({steps:,} steps, sandwich rule with distillation)"):
            return
        started = time.perf_counter()
        folder = r.out / TRAINING_DIR
        trainer = self._resumed(lambda: self._trainer(space, steps), folder, "super-network training")
        earlier = trainer.seconds  # training time of the runs before a kill
        losses: list[float] = []
        with ticking(steps, trainer.step, "super-network") as tick:
            batches.on_step = tick
            while trainer.step < steps:
                losses += trainer.train(batches, steps=o.checkpoint_every)
                trainer.save(folder)
        model = trainer.supernet.model
        save_tensors(r.out / SUPERNET_FILE, model.state_dict(), r.keys["supernet"])
        supernet = Supernet(model)
        dev = {}
        for name, config in (("largest", space.largest()), ("smallest", space.smallest())):
            supernet.elastic.activate(config)
            dev[name] = dev_scores(supernet, r.context, o.eval_batch, self.device)
        supernet.elastic.deactivate()
        self.finish("supernet", earlier + time.perf_counter() - started, steps=steps,
                    training_seconds=round(trainer.seconds, 3), last_loss=losses[-1] if losses else None, scores=dev)
        shutil.rmtree(folder, ignore_errors=True)
        announce(f"eftnas build: largest subnetwork {_scores(dev['largest'])}; smallest {_scores(dev['smallest'])}")


def _scores(scores: dict[str, dict[str, float]]) -> str:
    return "; ".join(f"{split} " + ", ".join(f"{k} {v:.4f}" for k, v in values.items())
                     for split, values in scores.items())


def build(base: Path, task: str, data_dir: str, out: Path, options: BuildOptions,
          echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run (or finish) the build of ``out``; returns its ``build.json`` record. The generated
    space is shown through ``echo``."""
    return Builder(prepare(base, task, data_dir, out, options), echo).run()
