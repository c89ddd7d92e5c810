"""A build request, checked before anything is written: the options, the base, the data, the
targets, the build folder, and the key of each stage.

Everything that can be wrong with ``nasbench-txf eftnas build`` is found here, in one line
each (:class:`~nasbench_txf.core.errors.UserError`): a base that is not BERT-family, has no
weights or no tokenizer; data that cannot be read; target complexities outside the base's
range; an ``--out`` folder that holds another base's, task's or options' build, or files that
are not a build. Each stage's key is a digest of the base (its configuration and weight files),
the task and the options the stage depends on, chained through the stages before it
(:mod:`.folder`).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from nasbench_txf.core.errors import UserError
from nasbench_txf.core.options import option, options_dict
from nasbench_txf.spaces.eftnas.base import WEIGHT_FILES, load_base
from nasbench_txf.spaces.eftnas.complexity import complexity
from nasbench_txf.spaces.eftnas.config import Shape
from nasbench_txf.spaces.eftnas.folder import BUILD_FILE, FORMAT, TOKENIZER_FILES, digest, read_json
from nasbench_txf.spaces.eftnas.generation import MAX_CONFIGS, UNITS
from nasbench_txf.spaces.eftnas.model import parameter_count
from nasbench_txf.training.context import TaskOptions, TrainingContext
from nasbench_txf.training.tokenizer import pretrained_tokenizer

#: options that change how fast a build runs, not what it builds (left out of the keys)
MACHINE_OPTIONS = ("threads", "device", "checkpoint_every", "eval_batch")
#: the options each stage's result depends on (besides the stages before it)
STAGE_OPTIONS = {
    "finetune": ("train_size", "holdout_size", "data_seed", "max_len", "batch_size", "finetune_epochs",
                 "finetune_steps", "finetune_lr", "seed"),
    "generate": ("configs", "measure", "c_min", "c_max", "tolerance", "seq_len"),
    "reorder": (),
    "supernet": ("supernet_epochs", "supernet_steps", "supernet_lr", "random_subnets", "temperature", "alpha_kd",
                 "alpha_ce"),
}


@dataclass(frozen=True)
class BuildOptions:
    """How an EFTNAS super-network is built (``--build-opt KEY=VALUE``)."""

    train_size: int = option(0, "training rows used (a fixed random subset); 0 = all")
    holdout_size: int = option(0, "training rows held out of every stage, scored with dev by the supernet benchmark")
    data_seed: int = option(0, "seed of the training subset and the holdout")
    max_len: int = option(128, "tokens per input; longer inputs are truncated")
    batch_size: int = option(32, "rows per training batch")
    finetune_epochs: int = option(3, "(a) fine-tuning passes over the training rows")
    finetune_steps: int = option(0, "(a) fine-tuning steps; 0 = finetune_epochs passes")
    finetune_lr: float = option(2e-5, "(a) peak learning rate, cosine-annealed ([EFTNAS24 §4]: 2e-5 to 3e-5)")
    configs: int = option(MAX_CONFIGS, "(b) N, the configurations Algorithm 1 places (2 to 5)")
    measure: Literal["macs", "params"] = option("macs", "(b) complexity measure of the targets")
    c_min: float = option(0.0, "(b) C(a_min), the smallest target; 0 = the smallest subnetwork")
    c_max: float = option(0.0, "(b) C(a_max), the largest target; 0 = the full model")
    tolerance: float = option(0.02, "(b) how far a configuration may miss its target, as a fraction of the range")
    seq_len: int = option(128, "(b) tokens per sequence the MACs are counted at")
    supernet_epochs: int = option(3, "(d) super-network training passes over the training rows")
    supernet_steps: int = option(0, "(d) super-network training steps; 0 = supernet_epochs passes")
    supernet_lr: float = option(2e-5, "(d) peak learning rate, cosine-annealed")
    random_subnets: int = option(2, "(d) random subnetworks per step besides the largest and the smallest")
    temperature: float = option(2.0, "(d) distillation temperature T (Eqs. 5-6)")
    alpha_kd: float = option(0.9, "(d) weight of the distillation loss (Eq. 4)")
    alpha_ce: float = option(0.1, "(d) weight of the loss on the labels (Eq. 4)")
    seed: int = option(0, "seed of the classifier's initialisation, batch order, dropout and random subnetworks")
    checkpoint_every: int = option(100, "(d) steps between checkpoints of the super-network training")
    eval_batch: int = option(64, "rows per batch when scoring the dev split")
    threads: int = option(0, "CPU threads for torch; 0 = torch's default")
    device: Literal["auto", "cpu", "cuda"] = option("auto", "auto = cuda when present")

    def __post_init__(self) -> None:
        for name in ("max_len", "batch_size", "finetune_epochs", "supernet_epochs", "seq_len", "checkpoint_every",
                     "eval_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("train_size", "holdout_size", "finetune_steps", "supernet_steps", "random_subnets", "threads",
                     "c_min", "c_max", "alpha_kd", "alpha_ce"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if not 2 <= self.configs <= MAX_CONFIGS:
            raise ValueError(f"configs (N) must lie in [2, {MAX_CONFIGS}], got {self.configs}")
        if min(self.finetune_lr, self.supernet_lr, self.temperature, self.tolerance) <= 0:
            raise ValueError("finetune_lr, supernet_lr, temperature and tolerance must be positive")


def file_digest(paths: list[Path]) -> str:
    digest_ = hashlib.sha256()
    for path in paths:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest_.update(block)
    return digest_.hexdigest()


def base_identity(base: Path) -> dict[str, str]:
    """Digests of the base's configuration and weight files: what a build folder is tied to."""
    weights = sorted(p for p in base.glob("*.safetensors")) + [p for p in (base / WEIGHT_FILES[1],) if p.is_file()]
    return {"config_sha256": file_digest([base / "config.json"]), "weights_sha256": file_digest(weights)}


def stage_keys(base: dict[str, str], task: str, options: BuildOptions) -> dict[str, str]:
    """Each stage's key: the base, the task and the options its result depends on, chained."""
    values = options_dict(options)
    keys: dict[str, str] = {}
    before: Any = {"base": base, "task": task}
    for stage, names in STAGE_OPTIONS.items():
        keys[stage] = digest({"stage": stage, "after": before, "options": {n: values[n] for n in names}})
        before = keys[stage]
    return keys


@dataclass
class Request:
    """A checked build request: the base loaded, the data read, the keys computed."""

    base: Path
    task: str
    out: Path
    options: BuildOptions
    context: TrainingContext
    model: nn.Module
    shape: Shape
    identity: dict[str, str]
    keys: dict[str, str]
    record: dict[str, Any]


def _check_tokenizer(base: Path, model: nn.Module) -> None:
    if not any((base / name).is_file() for name in TOKENIZER_FILES):
        raise UserError(f"{base}: no tokenizer ({' or '.join(TOKENIZER_FILES)}); the build tokenizes the task with "
                        "the base's own vocabulary, so that token ids match its embeddings")
    size, embeddings = pretrained_tokenizer(base).get_vocab_size(), model.config.vocab_size
    if size > embeddings:
        raise UserError(f"{base}: the tokenizer has {size:,} tokens but the model embeds only {embeddings:,}; "
                        "they are not of one model")


def _check_targets(shape: Shape, options: BuildOptions) -> None:
    lowest = complexity(shape, shape.minimal(), options.measure, options.seq_len)
    highest = complexity(shape, shape.full(), options.measure, options.seq_len)
    c_min, c_max = options.c_min or lowest, options.c_max or highest
    if not lowest <= c_min < c_max <= highest:
        raise UserError(f"the target complexities must satisfy {lowest:,} <= c_min < c_max <= {highest:,} "
                        f"{UNITS[options.measure]} for this base (the smallest subnetwork, one head and one FFN "
                        f"channel per layer, and the full model); got c_min = {c_min:,.0f}, c_max = {c_max:,.0f}")


def _check_existing(out: Path, base: Path, task: str, identity: dict[str, str], options: BuildOptions) -> \
        dict[str, Any] | None:
    """The record of the build already in ``out`` if it is this build's; ``None`` for a new
    folder; a :class:`UserError` for anything else (nothing in it is touched)."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: not a folder")
    path = out / BUILD_FILE
    if not path.is_file():
        if out.is_dir() and any(out.iterdir()):
            raise UserError(f"--out {out}: the folder is not empty and holds no {BUILD_FILE}; give a new or empty "
                            "folder (or an unfinished build's)")
        return None
    record = read_json(path)
    if not isinstance(record, dict) or record.get("format") != FORMAT or not isinstance(record.get("base"), dict):
        raise UserError(f"--out {out}: its {BUILD_FILE} is not an EFTNAS build record; give another folder")
    was = record["base"]
    if {k: was.get(k) for k in identity} != identity:
        raise UserError(f"--out {out} is a build from another base ({was.get('path')}, config "
                        f"{str(was.get('config_sha256'))[:12]}), not {base}; give another --out or that --base")
    if record.get("task") != task:
        raise UserError(f"--out {out} is a build for task {record.get('task')}, not {task}; give another --out "
                        "or that --task")
    stored, given = record.get("options") if isinstance(record.get("options"), dict) else {}, options_dict(options)
    changed = [f"{k}={stored.get(k)!r} there, {v!r} here" for k, v in given.items()
               if k not in MACHINE_OPTIONS and stored.get(k) != v]
    if changed:
        raise UserError(f"--out {out} was built with other options ({'; '.join(changed)}); give those options to "
                        "finish it, or another --out")
    return record


def prepare(base: Path, task: str, data_dir: str, out: Path, options: BuildOptions) -> Request:
    """Check everything about the request before anything is written."""
    if not data_dir:
        raise UserError("the build needs --data-dir, a folder of GLUE TSVs (DIR/SST-2/train.tsv); nothing downloads")
    base = base.expanduser().resolve()
    task_options = TaskOptions(data_dir=str(Path(data_dir).expanduser().resolve()), train_size=options.train_size,
                               holdout_size=options.holdout_size, data_seed=options.data_seed,
                               max_len=options.max_len, batch_size=options.batch_size, vocab=str(base),
                               threads=options.threads, device=options.device)
    context = TrainingContext(task, task_options)  # reads and checks the data
    torch.manual_seed(options.seed)  # the new classifier's initialisation
    model = load_base(base, num_labels=context.spec.num_labels)
    shape = Shape.of(model)
    _check_tokenizer(base, model)
    _check_targets(shape, options)
    identity = base_identity(base)
    record = _check_existing(out, base, context.spec.name, identity, options)
    if record is None:
        record = {"format": FORMAT, "task": context.spec.name, "num_labels": context.spec.num_labels,
                  "base": {"path": str(base), **identity, "shape": asdict(shape), "parameters": parameter_count(model),
                           "model_type": model.config.model_type},
                  "task_options": {k: getattr(task_options, k) for k in ("data_dir", "train_size", "holdout_size",
                                                                          "data_seed", "max_len")},
                  "options": options_dict(options), "stages": {}}
    return Request(base, context.spec.name, out, options, context, model, shape, identity,
                   stage_keys(identity, context.spec.name, options), record)
