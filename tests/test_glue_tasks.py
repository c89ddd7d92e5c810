"""Reading GLUE-format TSVs: every shipped task, and every way a file can be wrong."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
from nbt_testing import GLUE

from nasbench_txf.core.errors import DataError, UnknownNameError
from nasbench_txf.training.tasks import GLUE_TASKS, custom_task, glue_task, hf_examples, read_examples, task_folder

# official row counts (shared/data/glue/README.md)
ROWS = {"sst2": (67_349, 872), "cola": (8_551, 1_043), "mrpc": (3_668, 408), "rte": (2_490, 277),
        "stsb": (5_749, 1_500), "wnli": (635, 71)}


@pytest.mark.parametrize("task", sorted(ROWS))
def test_reads_every_glue_task_with_official_row_counts(task: str) -> None:
    spec = GLUE_TASKS[task]
    folder = task_folder(GLUE, spec)
    train, dev = read_examples(folder / "train.tsv", spec), read_examples(folder / "dev.tsv", spec)
    assert (len(train), len(dev)) == ROWS[task]
    assert all(len(row) == len(spec.text_columns) and all(row) for row in train.texts[:100])
    if spec.regression:
        assert train.labels.dtype == np.float32 and train.labels.min() >= 0 and train.labels.max() <= 5
    else:
        assert set(np.unique(train.labels)) == set(range(spec.num_labels))


def test_qnli_dev_reads_and_missing_train_is_named() -> None:
    spec = glue_task("QNLI")
    assert len(read_examples(GLUE / "QNLI" / "dev.tsv", spec)) == 5_463
    with pytest.raises(DataError, match=r"QNLI/train.tsv: no such file"):
        read_examples(GLUE / "QNLI" / "train.tsv", spec)


def test_mrpc_header_bom_is_dropped() -> None:
    spec = glue_task("mrpc")
    assert read_examples(GLUE / "MRPC" / "train.tsv", spec).texts[0][0].startswith("Amrozi")


def test_unknown_task_suggests_the_closest() -> None:
    with pytest.raises(UnknownNameError, match="did you mean sst2"):
        glue_task("sst3")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("text\tlabel\nfine\t1\n", r"missing column\(s\) sentence"),
        ("sentence\tlabel\ngood\t1\nbad\n", r"line 3: 1 fields, the header has 2"),
        ("sentence\tlabel\ngood\t1\nbad\t7\n", r"line 3: label '7' is not one of 0, 1"),
        ("sentence\tlabel\n", r"no data rows"),
        ("", r"empty file"),
    ],
)
def test_bad_files_name_the_problem_and_line(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_examples(write(tmp_path / "train.tsv", content), glue_task("sst2"))


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "train.tsv"
    path.write_bytes(b"sentence\tlabel\n\xff\xfe\x00\x01\t1\n")
    with pytest.raises(DataError, match="not a UTF-8 text file"):
        read_examples(path, glue_task("sst2"))


def test_regression_labels_must_be_numbers(tmp_path: Path) -> None:
    spec = custom_task("mine", "a,b", "y", None)
    path = write(tmp_path / "train.tsv", "a\tb\ty\nx\ty\t0.5\nx\ty\thigh\n")
    with pytest.raises(DataError, match=r"line 3: label 'high' is not a number"):
        read_examples(path, spec)


def test_quotes_are_plain_characters(tmp_path: Path) -> None:
    path = write(tmp_path / "train.tsv", 'sentence\tlabel\n" an unmatched quote\t1\nnext\t0\n')
    examples = read_examples(path, glue_task("sst2"))
    assert examples.texts == (('" an unmatched quote',), ("next",))


def test_missing_data_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        task_folder(tmp_path / "nowhere", glue_task("sst2"))
    with pytest.raises(DataError, match=r"holds neither SST-2/train.tsv"):
        task_folder(tmp_path, glue_task("sst2"))


def test_hugging_face_rows_are_converted(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def load_dataset(path: str, name: str, split: str) -> dict[str, list]:
        calls.append((path, name, split))
        return {"question": ["q1", "q2"], "sentence": ["s1", "s2"], "label": [1, 0]}

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    examples = hf_examples(glue_task("qnli"), "dev")
    assert calls == [("nyu-mll/glue", "qnli", "validation")]
    assert examples.texts == (("q1", "s1"), ("q2", "s2")) and examples.labels.tolist() == [1, 0]


def test_hugging_face_failure_is_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise ConnectionError("no network")

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=offline))
    with pytest.raises(DataError, match="without the network give --benchmark-opt data_dir=DIR"):
        hf_examples(glue_task("sst2"), "train")
    monkeypatch.setitem(sys.modules, "datasets", None)  # not installed
    with pytest.raises(DataError, match="datasets` package is not installed"):
        hf_examples(glue_task("sst2"), "train")
