"""WordPiece tokenizers that work offline: trained on the task's text, or read from a local model.

Training uses Hugging Face ``tokenizers`` (BERT normalisation, lower-cased, BERT
pre-tokenisation, ``[CLS] A [SEP] B [SEP]`` templates). A trained tokenizer is cached as
JSON under the cache root, keyed by a hash of the training text and the vocabulary size, so
every evaluation of a run (and every later run) sees the same token ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from nasbench_txf.core.errors import DataError
from nasbench_txf.core.files import atomic_path, cache_root

SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
FORMAT = "wordpiece-v1"


def _bert_text(tokenizer: Tokenizer) -> Tokenizer:
    """BERT's lower-casing normalisation and word splitting (needed before training)."""
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tokenizer


def _bert_templates(tokenizer: Tokenizer) -> Tokenizer:
    """``[CLS] A [SEP] B [SEP]`` with segment ids, and WordPiece decoding."""
    tokenizer.decoder = decoders.WordPiece()
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    if cls is None or sep is None:
        raise DataError("the vocabulary has no [CLS] or [SEP] token")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    return tokenizer


def text_key(texts: Iterable[tuple[str, ...]], vocab_size: int) -> str:
    digest = hashlib.sha256(f"{FORMAT}\n{vocab_size}\n".encode())
    for row in texts:
        digest.update("\t".join(row).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:20]


def trained_tokenizer(texts: tuple[tuple[str, ...], ...], vocab_size: int) -> tuple[Tokenizer, Path]:
    """A WordPiece tokenizer trained on ``texts`` (loaded from the cache when trained before)."""
    path = cache_root() / "tokenizers" / f"{text_key(texts, vocab_size)}.json"
    if path.is_file():
        try:
            return Tokenizer.from_file(str(path)), path
        except Exception:  # a damaged cache file is rebuilt, never trusted
            path.unlink(missing_ok=True)
    tokenizer = _bert_text(Tokenizer(models.WordPiece(unk_token="[UNK]")))
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL), show_progress=False)
    tokenizer.train_from_iterator((text for row in texts for text in row), trainer=trainer)
    tokenizer = _bert_templates(tokenizer)
    with atomic_path(path) as partial:  # concurrent workers never read half a file
        tokenizer.save(str(partial))
    return tokenizer, path


def pretrained_tokenizer(model_dir: str | Path) -> Tokenizer:
    """The tokenizer of a local pretrained model folder (``tokenizer.json`` or ``vocab.txt``)."""
    folder = Path(model_dir)
    if (folder / "tokenizer.json").is_file():
        return Tokenizer.from_file(str(folder / "tokenizer.json"))
    if (folder / "vocab.txt").is_file():
        vocab = models.WordPiece.read_file(str(folder / "vocab.txt"))
        return _bert_templates(_bert_text(Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))))
    raise DataError(f"vocab={folder}: expected a folder with tokenizer.json or vocab.txt")
