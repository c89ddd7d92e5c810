"""The training context: everything training a model on a task needs, in one place.

A task's data (a GLUE TSV folder, or Hugging Face ``nyu-mll/glue`` when online), its fixed
training subset and held-out part, the tokenizer, the recipe, and the device and threads
to train on. The live benchmark trains each card with it; a super-network benchmark and a
one-shot strategy train a super-network with the same context, so all three train on the
same data in the same way. Everything that can be wrong with the data is found when the
context is made, before a run stores anything; the tokenizer is trained (and cached) when
it is first needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from nasbench_txf.core.errors import DataError, OptionError
from nasbench_txf.core.options import option
from nasbench_txf.training.loop import Encoded, Recipe, resolve_device
from nasbench_txf.training.tasks import (
    Examples,
    TaskSpec,
    custom_task,
    discover_labels,
    glue_task,
    hf_examples,
    read_examples,
    task_folder,
)
from nasbench_txf.training.tokenizer import pretrained_tokenizer, trained_tokenizer


@dataclass(frozen=True)
class TaskOptions(Recipe):
    """The training recipe plus where the task's data come from and how they are split."""

    data_dir: str = option("", "GLUE TSV folder (DIR/SST-2/train.tsv) or one task's folder; "
                               "empty = Hugging Face nyu-mll/glue (needs the network)")
    text_columns: str = option("", "a task that is not GLUE: its text column(s), A[,B]")
    label_column: str = option("label", "a task that is not GLUE: its label column")
    regression: bool = option(False, "a task that is not GLUE: labels are numbers")
    train_size: int = option(0, "training rows used (a fixed random subset); 0 = all")
    holdout_size: int = option(0, "training rows held out and scored with dev")
    data_seed: int = option(0, "seed of the fixed training subset and holdout")
    vocab_size: int = option(8000, "WordPiece vocabulary trained on the training text")
    vocab: str = option("", "local pretrained model folder whose vocabulary to use")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.train_size < 0 or self.holdout_size < 0 or self.vocab_size < 100:
            raise ValueError("train_size and holdout_size must be >= 0, vocab_size >= 100")


@dataclass(frozen=True)
class TaskData:
    """The training rows and the evaluation splits (dev first: it selects the epoch)."""

    train: Examples
    evaluations: dict[str, Examples]


@dataclass(frozen=True)
class Tokenized:
    """The task's splits as token ids, with the tokenizer they came from."""

    train: Encoded
    evaluations: dict[str, Encoded]
    vocab_size: int
    pad: int
    tokenizer_path: str


class TrainingContext:
    """The task ``task`` read and split as ``options`` say, ready to train on."""

    def __init__(self, task: str, options: TaskOptions) -> None:
        self.options = options
        self.spec, self.data = load_task(task, options)

    @property
    def device(self) -> torch.device:
        return training_device(self.options)

    def resources(self) -> dict[str, float]:
        """What training asks of a machine: ``threads`` CPUs (1 when torch picks) and a GPU
        with ``device=cuda`` (with ``device=auto`` a GPU is used where there is one, but a
        cluster is not asked for it)."""
        return {"num_cpus": float(max(self.options.threads, 1)),
                "num_gpus": 1.0 if self.options.device == "cuda" else 0.0}

    @cached_property
    def tokenized(self) -> Tokenized:
        o = self.options
        if o.vocab:
            tokenizer, path = pretrained_tokenizer(o.vocab), Path(o.vocab)
        else:
            tokenizer, path = trained_tokenizer(self.data.train.texts, o.vocab_size)
        tokenizer.no_padding()
        tokenizer.enable_truncation(o.max_len)

        def encode(examples: Examples) -> Encoded:
            encodings = tokenizer.encode_batch([row if len(row) > 1 else row[0] for row in examples.texts])
            return Encoded(tuple(tuple(e.ids) for e in encodings), tuple(tuple(e.type_ids) for e in encodings),
                           examples.labels)

        pad = tokenizer.token_to_id("[PAD]")
        return Tokenized(encode(self.data.train), {k: encode(v) for k, v in self.data.evaluations.items()},
                         tokenizer.get_vocab_size(), 0 if pad is None else pad, str(path))


def training_device(recipe: Recipe) -> torch.device:
    """The device ``recipe`` trains on; ``device=cuda`` on a machine without one is refused."""
    try:
        return resolve_device(recipe)
    except ValueError as exc:
        raise OptionError(str(exc)) from None


def load_task(task: str, options: TaskOptions) -> tuple[TaskSpec, TaskData]:
    """The task's spec and its data, split into a fixed training subset, dev and a holdout."""
    o = options
    data_dir = Path(o.data_dir).expanduser() if o.data_dir else None
    if o.text_columns:
        if data_dir is None:
            raise OptionError(f"task {task}: a task that is not GLUE needs --benchmark-opt data_dir=DIR")
        folder = task_folder(data_dir, custom_task(task, o.text_columns, o.label_column, None))
        labels = None if o.regression else discover_labels(folder / "train.tsv", o.label_column)
        spec = custom_task(task, o.text_columns, o.label_column, labels)
    else:
        spec = glue_task(task)
    if data_dir is None:
        train, dev = hf_examples(spec, "train"), hf_examples(spec, "dev")
    else:
        folder = task_folder(data_dir, spec)
        train, dev = read_examples(folder / "train.tsv", spec), read_examples(folder / "dev.tsv", spec)
    if o.train_size + o.holdout_size > len(train):
        raise DataError(f"train_size {o.train_size} + holdout_size {o.holdout_size} exceed the "
                        f"{len(train):,} training rows of {task}")
    order = np.random.default_rng(o.data_seed).permutation(len(train))
    holdout, rest = order[:o.holdout_size], order[o.holdout_size:]
    rows = np.sort(rest[:o.train_size] if o.train_size else rest)
    evaluations = {"dev": dev}
    if o.holdout_size:
        evaluations["holdout"] = train.subset(np.sort(holdout))
    return spec, TaskData(train.subset(rows), evaluations)
