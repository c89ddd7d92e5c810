"""The build folder of an EFTNAS super-network: its files, and reading a finished one.

``nasbench-txf eftnas build`` (:mod:`.pipeline`) writes, stage by stage::

    BUILD/build.json            what was built from what: the base (path, config and weight
                                digests, sizes), the task, the options, and per stage its key,
                                seconds and results
    BUILD/bert_config.json      the base's Hugging Face configuration (with the task's labels)
    BUILD/tokenizer/            the base's tokenizer files (tokenizer.json and/or vocab.txt)
    BUILD/finetuning/           (a) the fine-tuning's last checkpoint (while it runs)
    BUILD/teacher.safetensors   (a) the base fine-tuned on the task: the distillation teacher
    BUILD/scores.safetensors    (a) movement importance per head and per FFN channel
    BUILD/space.json            (b) the search space of Algorithm 1
    BUILD/reordered.safetensors (c) the teacher with heads and channels sorted by importance
    BUILD/training/             (d) the super-network training's last checkpoint (while it runs)
    BUILD/supernet.safetensors  (d) the trained super-network

Every output names the key of its stage (in its safetensors metadata, or its JSON), a digest of
the base, the task and every option the stage's result depends on, chained through the stages
before it: a stage whose output carries the build's key is done. Weights are safetensors,
everything else JSON; nothing is pickled.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from nasbench_txf.core.arch import canonical_json
from nasbench_txf.core.errors import DataError, UserError
from nasbench_txf.core.files import atomic_path, read_text, write_atomic
from nasbench_txf.core.safe_json import parse, shown
from nasbench_txf.spaces.eftnas.base import transformers_module
from nasbench_txf.spaces.eftnas.config import Shape, SubnetConfig
from nasbench_txf.spaces.eftnas.generation import SearchSpace

FORMAT = "nasbench-txf/eftnas-build/1"
BUILD_FILE = "build.json"
CONFIG_FILE = "bert_config.json"
TOKENIZER_DIR = "tokenizer"
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")
TEACHER_FILE = "teacher.safetensors"
SCORES_FILE = "scores.safetensors"
SPACE_FILE = "space.json"
REORDERED_FILE = "reordered.safetensors"
FINETUNING_DIR = "finetuning"
TRAINING_DIR = "training"
SUPERNET_FILE = "supernet.safetensors"
#: the stages in the order they run, with what each writes
STAGES = {"finetune": (TEACHER_FILE, SCORES_FILE), "generate": (SPACE_FILE,), "reorder": (REORDERED_FILE,),
          "supernet": (SUPERNET_FILE,)}
#: the safetensors metadata entry that names a file's stage key
KEY_META = "nasbench_txf_eftnas_key"


def digest(value: Any) -> str:
    """A short SHA-256 of ``value``'s canonical JSON: a stage key."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:20]


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], key: str) -> None:
    """Write ``tensors`` atomically as safetensors, tagged with the stage ``key``."""
    with atomic_path(path) as partial:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(partial),
                  metadata={KEY_META: key})


def tensors_key(path: Path) -> str | None:
    """The stage key a safetensors file of a build carries; ``None`` if it is missing, unreadable or foreign."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return (handle.metadata() or {}).get(KEY_META)
    except (OSError, SafetensorError):
        return None


def load_tensors(path: Path, key: str | None = None, device: str = "cpu") -> dict[str, torch.Tensor]:
    """The tensors of a build's safetensors file; a :class:`DataError` if it is unreadable or,
    with ``key``, carries another stage key (a file of another build)."""
    if key is not None and tensors_key(path) != key:
        raise DataError(f"{path}: missing, unreadable or not written by this build; build it again")
    try:
        return load_file(str(path), device=device)
    except (OSError, SafetensorError) as exc:
        raise DataError(f"{path}: cannot read the weights ({exc})") from None


def read_json(path: Path) -> Any:
    return parse(read_text(path), str(path))


def _int_lists(value: Any, what: str) -> tuple[tuple[int, ...], ...]:
    if not isinstance(value, list) or not all(isinstance(c, list) and c and all(type(v) is int for v in c)
                                              for c in value):
        raise DataError(f"{what} must be a list of non-empty lists of integers, got {shown(value)}")
    return tuple(tuple(c) for c in value)


def space_from_dict(data: Any, shape: Shape, what: str) -> SearchSpace:
    """The :class:`SearchSpace` that :meth:`SearchSpace.to_dict` wrote, checked against ``shape``."""
    if not isinstance(data, dict):
        raise DataError(f"{what}: not a search space")
    heads, ffn = _int_lists(data.get("heads"), f"{what}: 'heads'"), _int_lists(data.get("ffn"), f"{what}: 'ffn'")
    configs = data.get("configs")
    if not isinstance(configs, list) or not configs:
        raise DataError(f"{what}: 'configs' must be a non-empty list")
    try:
        parsed = tuple(SubnetConfig.from_dict(c, f"{what}: a configuration") for c in configs)
        for config in parsed:
            shape.check(config)
    except UserError as exc:
        raise DataError(str(exc)) from None
    if len(heads) != shape.layers or len(ffn) != shape.layers:
        raise DataError(f"{what}: {len(heads)} and {len(ffn)} layers of choices for an encoder of {shape.layers}")
    for name, choices, top in (("heads", heads, shape.heads), ("ffn", ffn, shape.intermediate)):
        for layer, values in enumerate(choices, start=1):
            if list(values) != sorted(set(values)) or not 1 <= values[0] <= values[-1] <= top:
                raise DataError(f"{what}: layer {layer}: '{name}' choices {list(values)} must be distinct, "
                                f"ascending and in [1, {top}]")
    measure, seq_len = data.get("measure"), data.get("seq_len")
    complexities, targets = data.get("complexities"), data.get("targets")
    if measure not in ("macs", "params") or type(seq_len) is not int or seq_len < 1:
        raise DataError(f"{what}: 'measure' must be macs or params and 'seq_len' a positive integer")
    if not (isinstance(complexities, list) and isinstance(targets, list)
            and all(isinstance(v, int | float) for v in complexities + targets)):
        raise DataError(f"{what}: 'complexities' and 'targets' must be lists of numbers")
    return SearchSpace(heads, ffn, parsed, tuple(int(c) for c in complexities), tuple(float(t) for t in targets),
                       measure, seq_len)


@dataclass(frozen=True)
class BuildRecord:
    """What a build folder says about its task and base, read from ``build.json`` and the base's
    configuration (the component-composition space reads the fine-tuned base of one, too)."""

    folder: Path
    record: dict[str, Any]
    bert_config: dict[str, Any]

    @property
    def task(self) -> str:
        return str(self.record["task"])

    @property
    def num_labels(self) -> int:
        return int(self.record["num_labels"])

    @property
    def task_options(self) -> dict[str, Any]:
        """The options of the training context the build trained with (data, subset, length),
        with the build's own copy of the base's tokenizer as the vocabulary."""
        return {**self.record["task_options"], "vocab": str(self.folder / TOKENIZER_DIR)}


@dataclass(frozen=True)
class Build(BuildRecord):
    """A finished build folder, read and checked (:func:`open_build`)."""

    shape: Shape
    space: SearchSpace

    @property
    def key(self) -> str:
        """The key of the last stage: what identifies this super-network."""
        return str(self.record["stages"]["supernet"]["key"])

    @property
    def base_parameters(self) -> int:
        return int(self.record["base"]["parameters"])

    @property
    def has_weights(self) -> bool:
        """Whether the folder holds the trained super-network (an exported space does not)."""
        return (self.folder / SUPERNET_FILE).is_file()

    def require_weights(self, purpose: str) -> None:
        """A :class:`UserError` naming ``purpose`` if the folder holds no super-network weights."""
        if not self.has_weights:
            raise UserError(f"{self.folder}: the space of an EFTNAS build without its super-network weights "
                            f"({SUPERNET_FILE}), enough for tables and surrogates but not for {purpose}; give "
                            f"--space-opt build=FOLDER, a folder written by `nasbench-txf eftnas build`")

    @cached_property
    def weights(self) -> dict[str, torch.Tensor]:
        """The trained super-network's weights (read once)."""
        self.require_weights("building the super-network")
        return load_tensors(self.folder / SUPERNET_FILE, self.key)


def open_build(folder: Path) -> Build:
    """The finished build in ``folder``; a :class:`UserError` saying what is missing or wrong."""
    path = folder / BUILD_FILE
    if not folder.is_dir():
        raise UserError(f"{folder}: no such build folder; make one with `nasbench-txf eftnas build --out {folder}`")
    if not path.is_file():
        raise UserError(f"{folder}: no {BUILD_FILE}, so not an EFTNAS build folder (`nasbench-txf eftnas build`)")
    record = read_json(path)
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise DataError(f"{path}: not an EFTNAS build record (format {FORMAT})")
    stages = record.get("stages")
    if not isinstance(stages, dict):
        raise DataError(f"{path}: no 'stages'")
    missing = [name for name in STAGES if not isinstance(stages.get(name), dict) or "key" not in stages[name]]
    if missing:
        raise UserError(f"{folder}: the build is not finished (stages {', '.join(missing)} to do); run "
                        f"`nasbench-txf eftnas build` with the same --base, --task and options and --out {folder}")
    for name in ("task", "num_labels", "base", "task_options"):
        if name not in record:
            raise DataError(f"{path}: no {name!r}")
    bert_config = read_json(folder / CONFIG_FILE)
    if not isinstance(bert_config, dict):
        raise DataError(f"{folder / CONFIG_FILE}: not a model configuration")
    try:
        shape = Shape(*(int(bert_config[k]) for k in ("num_hidden_layers", "hidden_size", "num_attention_heads",
                                                      "intermediate_size")))
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{folder / CONFIG_FILE}: not a BERT configuration") from None
    space_record = read_json(folder / SPACE_FILE)
    if not isinstance(space_record, dict) or space_record.get("key") != stages["generate"]["key"]:
        raise DataError(f"{folder / SPACE_FILE}: not the search space of this build")
    space = space_from_dict(space_record.get("space"), shape, str(folder / SPACE_FILE))
    weights = folder / SUPERNET_FILE
    if weights.exists() and tensors_key(weights) != stages["supernet"]["key"]:
        raise DataError(f"{weights}: not the super-network of this build; build it again")
    return Build(folder, record, bert_config, shape, space)


def export_space(build: Build, out: Path) -> None:
    """Write ``build``'s space without its weights into the new folder ``out``: the record (the
    local paths of the base and the data left out), the base's configuration and the generated
    space. That folder opens as the ``eftnas`` space's ``build``, which is enough for tables,
    surrogates and every strategy on them, and is small enough to share or ship."""
    record = {**build.record, "base": {k: v for k, v in build.record["base"].items() if k != "path"},
              "task_options": {k: v for k, v in build.record["task_options"].items() if k != "data_dir"}}
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / CONFIG_FILE, build.bert_config)
    write_json(out / SPACE_FILE, read_json(build.folder / SPACE_FILE))
    write_json(out / BUILD_FILE, record)  # last: a folder cut short is no build


def bert_model(config: dict[str, Any], weights: dict[str, torch.Tensor] | None = None) -> Any:
    """A ``BertForSequenceClassification`` of ``config`` (a Hugging Face configuration as a dict),
    holding ``weights`` when given; the caller's random state is left alone."""
    transformers = transformers_module()
    with torch.random.fork_rng(devices=[]):
        model = transformers.BertForSequenceClassification(transformers.BertConfig.from_dict(dict(config)))
    if weights is not None:
        try:
            model.load_state_dict(weights)
        except RuntimeError as exc:
            raise DataError(f"the weights do not fit the model's configuration ({str(exc).splitlines()[0]})") from None
    return model.eval()


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` as indented JSON, atomically."""
    write_atomic(path, json.dumps(value, indent=1, sort_keys=True) + "\n")
