"""GLUE-format tasks: what each task's TSV files hold, read without quoting.

A task is a few text columns, a label column and the metrics GLUE scores it with. The
built-in specs follow the classic ``download_glue_data.py`` layout; any other task is a
folder of ``train.tsv`` and ``dev.tsv`` with a header, described by column names
(:func:`custom_task`). Files are read with ``csv.QUOTE_NONE`` because QNLI and STS-B hold
stray, unmatched ``"``; a BOM (MRPC) is dropped by reading as ``utf-8-sig``.
"""

from __future__ import annotations

import csv
import difflib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nasbench_txf.core.errors import DataError, UnknownNameError


@dataclass(frozen=True)
class TaskSpec:
    """Where a task's inputs and labels are, and how it is scored.

    ``labels`` lists the label values as written in the files, in class-index order (the
    order Hugging Face's ``nyu-mll/glue`` uses); ``None`` makes the task a regression.
    ``metrics[0]`` is the task's objective. Headerless files (CoLA) name their columns in
    ``columns``.
    """

    name: str
    folder: str
    text_columns: tuple[str, ...]
    label_column: str
    labels: tuple[str, ...] | None
    metrics: tuple[str, ...]
    columns: tuple[str, ...] | None = None
    #: text columns of the task in Hugging Face's ``nyu-mll/glue`` (``None``: not there)
    hf_text_columns: tuple[str, ...] | None = None

    @property
    def regression(self) -> bool:
        return self.labels is None

    @property
    def num_labels(self) -> int:
        return 1 if self.labels is None else len(self.labels)


GLUE_TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec("sst2", "SST-2", ("sentence",), "label", ("0", "1"), ("accuracy",),
                 hf_text_columns=("sentence",)),
        TaskSpec("cola", "CoLA", ("sentence",), "label", ("0", "1"), ("mcc",),
                 columns=("source", "label", "original_label", "sentence"), hf_text_columns=("sentence",)),
        TaskSpec("mrpc", "MRPC", ("#1 String", "#2 String"), "Quality", ("0", "1"), ("f1", "accuracy"),
                 hf_text_columns=("sentence1", "sentence2")),
        TaskSpec("qnli", "QNLI", ("question", "sentence"), "label", ("entailment", "not_entailment"),
                 ("accuracy",), hf_text_columns=("question", "sentence")),
        TaskSpec("rte", "RTE", ("sentence1", "sentence2"), "label", ("entailment", "not_entailment"),
                 ("accuracy",), hf_text_columns=("sentence1", "sentence2")),
        TaskSpec("wnli", "WNLI", ("sentence1", "sentence2"), "label", ("0", "1"), ("accuracy",),
                 hf_text_columns=("sentence1", "sentence2")),
        TaskSpec("stsb", "STS-B", ("sentence1", "sentence2"), "score", None, ("pearson", "spearman"),
                 hf_text_columns=("sentence1", "sentence2")),
    )
}


def glue_task(name: str) -> TaskSpec:
    key = name.lower().replace("-", "")
    if key in GLUE_TASKS:
        return GLUE_TASKS[key]
    close = difflib.get_close_matches(key, list(GLUE_TASKS), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise UnknownNameError(
        f"unknown task {name!r}{hint}; GLUE tasks: {', '.join(GLUE_TASKS)}; any other task needs "
        "--benchmark-opt data_dir=DIR text_columns=A[,B] (and label_column=, regression=)"
    )


def custom_task(name: str, text_columns: str, label_column: str, labels: tuple[str, ...] | None) -> TaskSpec:
    """A task given as a folder of TSVs with a header; ``labels=None`` makes it a regression."""
    columns = tuple(c.strip() for c in text_columns.split(",") if c.strip())
    if not 1 <= len(columns) <= 2:
        raise DataError(f"text_columns takes one or two column names, got {text_columns!r}")
    metrics = ("pearson", "spearman") if labels is None else ("accuracy",)
    return TaskSpec(name, name, columns, label_column, labels, metrics)


@dataclass(frozen=True)
class Examples:
    """Inputs (one or two texts per row) and labels (class indices, or floats)."""

    texts: tuple[tuple[str, ...], ...]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, rows: np.ndarray) -> Examples:
        return Examples(tuple(self.texts[i] for i in rows), self.labels[rows])


def read_rows(path: Path, columns: tuple[str, ...] | None) -> tuple[tuple[str, ...], list[tuple[int, list[str]]]]:
    """The header (or ``columns`` for headerless files) and the rows with their line numbers."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            lines = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: not a TSV file ({exc})") from None
    numbered = [(number, row) for number, row in enumerate(lines, start=1) if row]
    if columns is None:
        if not numbered:
            raise DataError(f"{path}: empty file, expected a header line")
        (_, header), numbered = numbered[0], numbered[1:]
        columns = tuple(h.strip() for h in header)
    for number, row in numbered:
        if len(row) != len(columns):
            raise DataError(f"{path}, line {number}: {len(row)} fields, the header has {len(columns)}")
    return columns, numbered


def read_examples(path: Path, spec: TaskSpec, labels: tuple[str, ...] | None = None) -> Examples:
    """Read one split; every label must be one of the task's (or ``labels``) values."""
    columns, rows = read_rows(path, spec.columns)
    needed = (*spec.text_columns, spec.label_column)
    missing = [c for c in needed if c not in columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; the file has {', '.join(columns)}")
    text_at = [columns.index(c) for c in spec.text_columns]
    label_at = columns.index(spec.label_column)
    allowed = labels if labels is not None else spec.labels
    values: list[float] = []
    for number, row in rows:
        raw = row[label_at].strip()
        if allowed is None:
            try:
                values.append(float(raw))
            except ValueError:
                raise DataError(f"{path}, line {number}: label {raw!r} is not a number") from None
        elif raw in allowed:
            values.append(allowed.index(raw))
        else:
            raise DataError(f"{path}, line {number}: label {raw!r} is not one of {', '.join(allowed)}")
    if not rows:
        raise DataError(f"{path}: no data rows")
    texts = tuple(tuple(row[i] for i in text_at) for _, row in rows)
    dtype = np.float32 if allowed is None else np.int64
    return Examples(texts, np.asarray(values, dtype=dtype))


def discover_labels(path: Path, label_column: str) -> tuple[str, ...]:
    """The sorted label values of a custom classification task's training file."""
    columns, rows = read_rows(path, None)
    if label_column not in columns:
        raise DataError(f"{path}: missing column {label_column}; the file has {', '.join(columns)}")
    at = columns.index(label_column)
    return tuple(sorted({row[at].strip() for _, row in rows}))


def task_folder(data_dir: Path, spec: TaskSpec) -> Path:
    """``data_dir/<folder>`` in the GLUE layout, or ``data_dir`` itself if it holds the TSVs."""
    if not data_dir.is_dir():
        raise DataError(f"data directory {data_dir} does not exist")
    for candidate in (data_dir / spec.folder, data_dir):
        if (candidate / "train.tsv").is_file() or (candidate / "dev.tsv").is_file():
            return candidate
    raise DataError(
        f"{data_dir} holds neither {spec.folder}/train.tsv nor train.tsv; expected the GLUE layout "
        f"(DIR/{spec.folder}/train.tsv and dev.tsv) or a task folder"
    )


def hf_examples(spec: TaskSpec, split: str) -> Examples:
    """One split (``train`` or ``dev``) from Hugging Face's ``nyu-mll/glue`` (needs the network).

    Only called when no ``data_dir`` is given; tests never reach the network.
    """
    if spec.hf_text_columns is None:
        raise DataError(f"task {spec.name} is not in nyu-mll/glue; give --benchmark-opt data_dir=DIR")
    try:
        import datasets  # optional: pip install datasets
    except ImportError:
        raise DataError(
            "no data_dir given and the `datasets` package is not installed: give --benchmark-opt "
            "data_dir=DIR (a GLUE TSV folder) or pip install datasets"
        ) from None
    hf_split = {"train": "train", "dev": "validation"}[split]
    try:
        table = datasets.load_dataset("nyu-mll/glue", spec.name, split=hf_split)
    except Exception as exc:  # offline, hub errors, ...: one message
        raise DataError(
            f"could not load nyu-mll/glue/{spec.name} from Hugging Face ({type(exc).__name__}: {exc}); "
            "without the network give --benchmark-opt data_dir=DIR"
        ) from None
    texts = tuple(zip(*(table[c] for c in spec.hf_text_columns), strict=True))
    dtype = np.float32 if spec.regression else np.int64
    return Examples(texts, np.asarray(table["label"], dtype=dtype))
