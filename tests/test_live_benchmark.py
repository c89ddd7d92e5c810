"""The live benchmark end to end: real training on small data, in seconds."""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch
from nbt_testing import GLUE, LIVE_SMALL, space
from safetensors.torch import load_file

from nasbench_txf.benchmarks.live import Live
from nasbench_txf.core.errors import DataError, OptionError
from nasbench_txf.tables.build import BuildRequest, build
from nasbench_txf.tables.machine import describe
from nasbench_txf.tables.table import ROWS
from nasbench_txf.training.loop import Recipe, chance_loss, uses_bf16

FLEXIBERT = space("flexibert")
TINY = FLEXIBERT.resolve("bert-tiny")


def live(task: str = "sst2", **options: str) -> Live:
    return Live(FLEXIBERT, task=task, options=Live.make_options({**LIVE_SMALL, **options}))


def toy_task(folder: Path) -> Path:
    """A task a model learns perfectly; dev has one wrongly labelled row of four."""
    rng = np.random.default_rng(0)
    fillers = ["the film", "this story", "a plot", "the cast", "my evening"]
    rows = [f"{fillers[rng.integers(5)]} was {w}\t{'pos' if w == 'good' else 'neg'}"
            for w in rng.choice(["good", "bad"], 400)]
    folder.mkdir()
    (folder / "train.tsv").write_text("text\tlabel\n" + "\n".join(rows) + "\n")
    (folder / "dev.tsv").write_text(
        "text\tlabel\nthe film was good\tpos\nthe cast was bad\tneg\na plot was good\tpos\nmy evening was bad\tpos\n")
    return folder


def test_learnable_task_scores_as_worked_out_by_hand(tmp_path: Path) -> None:
    bench = live("toy", data_dir=str(toy_task(tmp_path / "toy")), text_columns="text", train_size="0",
                 holdout_size="0", epochs="3", lr="1e-3", batch_size="16")
    assert bench.spec.labels == ("neg", "pos") and bench.objective.name == "accuracy"
    result = bench.evaluate(TINY, seed=0)
    assert result.ok, result.reason
    assert result.metrics["accuracy"] == pytest.approx(3 / 4)  # every row right but the mislabelled one


def test_sst2_subset_end_to_end() -> None:
    bench = live()
    result = bench.evaluate(TINY, seed=3)
    assert result.ok, result.reason
    splits = result.info["splits"]
    assert set(splits) == {"dev", "holdout"} and result.info["train_rows"] == 256
    # the objective pools dev (872 rows) and holdout (64 rows)
    pooled = (splits["dev"]["accuracy"] * 872 + splits["holdout"]["accuracy"] * 64) / 936
    assert result.metrics["accuracy"] == pytest.approx(pooled)
    assert result.metrics["params"] == FLEXIBERT.count_parameters(TINY, vocab_size=bench.tokenized.vocab_size,
                                                                  max_len=32)
    assert result.metrics["flops"] > 0 and result.metrics["latency_ms"] > 0
    # what predicting the training labels' frequencies costs on the scored rows (dev and holdout)
    scored = np.concatenate([split.labels for split in bench.tokenized.evaluations.values()])
    assert result.info["chance_loss"] == pytest.approx(chance_loss(bench.tokenized.train.labels, scored, bench.spec))
    assert abs(result.info["chance_loss"] - math.log(2)) < 0.02  # SST-2's labels are nearly balanced
    # the benchmark's counts from the card alone reproduce the trained model's, at the size
    # the vocabulary came out (a table's surrogate answers them exactly where they do)
    counted = Live.card_metrics(FLEXIBERT, "sst2", {**LIVE_SMALL, "vocab_size": str(bench.tokenized.vocab_size)})
    assert {name: count(TINY) for name, count in counted.items()} == {
        name: result.metrics[name] for name in ("params", "flops")}
    # an untrained model of the card takes about as long (what bench retime times)
    timed = Live.timed_metrics(FLEXIBERT, "sst2", {**LIVE_SMALL, "device": "cpu"})
    assert 0.2 < timed["latency_ms"](TINY) / result.metrics["latency_ms"] < 5
    assert result.info["timed_on"] == describe(torch.device("cpu"), 1)
    assert len(result.info["selection_loss"]) == result.info["best_epoch"] == 1
    assert result.info["steps"] == 256 // 32
    # both clocks are kept: wall time (what a sweep simulates) and CPU time (immune to contention)
    assert result.info["train_cpu_seconds"] > 0 and result.info["train_seconds"] > 0


def test_card_metrics_only_where_the_options_tell_the_model_size(tmp_path: Path) -> None:
    """A pretrained vocabulary's size and a custom task's classes are not in the options."""
    assert set(Live.card_metrics(FLEXIBERT, "stsb", LIVE_SMALL)) == {"params", "flops"}
    assert set(Live.timed_metrics(FLEXIBERT, "stsb", LIVE_SMALL)) == {"latency_ms"}
    custom = {**LIVE_SMALL, "text_columns": "text"}
    for metrics in (Live.card_metrics, Live.timed_metrics):
        assert metrics(FLEXIBERT, "sst2", {**LIVE_SMALL, "vocab": str(tmp_path)}) == {}
        assert metrics(FLEXIBERT, "toy", custom) == {}
    regression = Live.card_metrics(FLEXIBERT, "toy", {**custom, "regression": "true"})
    two_labels = Live.card_metrics(FLEXIBERT, "sst2", LIVE_SMALL)
    hidden = FLEXIBERT.layers(TINY)[-1].hidden
    assert two_labels["params"](TINY) - regression["params"](TINY) == hidden + 1  # one head output fewer


def test_same_seed_same_result_other_seed_other_result() -> None:
    bench = live()
    first, again, other = (bench.evaluate(TINY, seed=s) for s in (1, 1, 2))
    steady = lambda r: {k: v for k, v in r.metrics.items() if k != "latency_ms"}  # noqa: E731
    assert steady(first) == steady(again)
    assert first.info["train_loss"] == again.info["train_loss"]
    assert first.info["train_loss"] != other.info["train_loss"]


def test_length_grouping_is_part_of_the_recipe() -> None:
    grouped, shuffled = live(), live(group_by_length="false")
    assert grouped.recipe_key != shuffled.recipe_key
    results = [bench.evaluate(TINY, seed=1) for bench in (grouped, shuffled)]
    assert all(r.ok for r in results) and results[0].info["steps"] == results[1].info["steps"] == 256 // 32
    assert results[0].info["train_loss"] != results[1].info["train_loss"]


@pytest.mark.parametrize("native", [True, False])
def test_bf16_on_cpu_only_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    assert uses_bf16(Recipe(device="cpu"), torch.device("cpu")) is native
    assert not uses_bf16(Recipe(device="cpu", bf16=False), torch.device("cpu"))
    mixed, full = live(device="cpu").evaluate(TINY, seed=1), live(device="cpu", bf16="false").evaluate(TINY, seed=1)
    assert (mixed.info["precision"], full.info["precision"]) == ("bf16" if native else "fp32", "fp32")
    assert (mixed.info["train_loss"] != full.info["train_loss"]) is native  # autocast changes the arithmetic


def test_diverging_training_is_a_failed_result() -> None:
    result = live(lr="1e30", clip="0").evaluate(TINY, seed=0)  # non-finite after the first step, always
    assert not result.ok and "diverged" in (result.reason or "") and result.cost_seconds > 0


def test_checkpoints_are_saved_and_reused(tmp_path: Path) -> None:
    bench = live()
    bench.attach_run_dir(tmp_path)
    first = bench.evaluate(TINY, seed=4)
    (checkpoint,) = (tmp_path / "checkpoints").glob("*.safetensors")
    assert TINY.id in checkpoint.name
    tensors = load_file(str(checkpoint))
    assert any(name.startswith("layers.0.") for name in tensors)
    again = live()
    again.attach_run_dir(tmp_path)
    reused = again.evaluate(TINY, seed=4)
    assert reused == first  # the stored evaluation, latency and cost included: nothing retrained


def test_transfer_from_the_trained_neighbour(tmp_path: Path) -> None:
    bench = live(transfer="true", tau="0.5")
    bench.attach_run_dir(tmp_path)
    neighbour = FLEXIBERT.resolve("bert-4-128")
    bench.evaluate(neighbour, seed=0)
    query = FLEXIBERT.arch({**neighbour.card, "f": [[512], [512], [1024], [1024]]})
    result = bench.evaluate(query, seed=0)
    assert result.info["transferred_from"] == neighbour.id
    assert result.info["transferred_layers"] == 2 and result.info["overlap_fraction"] == 0.5
    # BERT-Tiny's two layers are BERT-4/128's first two: the whole query is covered
    assert bench.evaluate(TINY, seed=0).info["overlap_fraction"] == 1.0
    assert "transferred_from" not in bench.evaluate(FLEXIBERT.resolve("fnet-tiny"), seed=0).info


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"data_dir": "/nonexistent/glue"}, DataError, "does not exist"),
        ({"train_size": "70000"}, DataError, "exceed the 67,349 training rows"),
        ({"text_columns": "a", "data_dir": ""}, OptionError, "needs --benchmark-opt data_dir"),
        ({"tau": "0"}, OptionError, r"tau must be in \(0, 1\]"),
        ({"epochs": "0"}, OptionError, "epochs must be at least 1"),
    ],
)
def test_bad_options(options: dict[str, str], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        live(**options)


def run_live(cli, store: Path, *extra: str):  # type: ignore[no-untyped-def]
    opts = [f"{k}={v}" for k, v in LIVE_SMALL.items()]
    return cli("run", "--space", "flexibert", "--strategy", "rs", "--benchmark", "live", "--task", "sst2",
               "--budget", "2", "--store", str(store), *[x for o in opts for x in ("--benchmark-opt", o)], *extra)


def test_cli_run_with_live_benchmark(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = tmp_path / "live.sqlite"
    done = run_live(cli, store, "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["cells"][0]["trials"] == 2 and summary["cells"][0]["objective"] == "accuracy"
    with sqlite3.connect(store) as db:
        assert db.execute("select count(*) from trials where status = 'ok'").fetchone() == (2,)
    assert len(list((tmp_path / "live.files" / "checkpoints").glob("*.safetensors"))) == 2


def test_cli_bad_data_writes_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "glue" / "SST-2"
    folder.mkdir(parents=True)
    (folder / "train.tsv").write_text("sentence\tlabel\nfine\t1\nbroken row\n")
    (folder / "dev.tsv").write_text("sentence\tlabel\nfine\t1\n")
    store = tmp_path / "bad.sqlite"
    done = run_live(cli, store, "--benchmark-opt", f"data_dir={tmp_path / 'glue'}")
    assert done.returncode == 2
    message = f"nasbench-txf: error: {folder / 'train.tsv'}, line 3: 1 fields, the header has 2"
    assert done.stderr.strip().splitlines() == [message]
    assert not store.exists()
    unknown = run_live(cli, store, "--task", "sst3")
    assert unknown.returncode == 2 and "did you mean sst2" in unknown.stderr and not store.exists()


@pytest.mark.slow
def test_bert_mini_learns_sst2_on_more_data() -> None:
    bench = live(train_size="8000", holdout_size="2000", epochs="2", max_len="64", vocab_size="8000", threads="0")
    result = bench.evaluate(FLEXIBERT.resolve("bert-mini"), seed=0)
    assert result.ok and result.metrics["accuracy"] > 0.7


def test_glue_data_is_present() -> None:
    assert (GLUE / "SST-2" / "train.tsv").is_file(), f"GLUE data expected at {GLUE} (set NASBENCH_TXF_GLUE)"


def test_tokenizer_is_trained_once_and_cached(tmp_path: Path) -> None:
    from nasbench_txf.training.tokenizer import pretrained_tokenizer, trained_tokenizer

    texts = (("a good film",), ("a bad plot",)) * 50
    first, path = trained_tokenizer(texts, 120)
    again, same = trained_tokenizer(texts, 120)
    assert path == same and path.is_file() and first.to_str() == again.to_str()
    pair = first.encode("a good film", "a bad plot")
    assert pair.tokens[0] == "[CLS]" and pair.tokens.count("[SEP]") == 2 and set(pair.type_ids) == {0, 1}
    path.write_text("{ damaged")
    rebuilt, _ = trained_tokenizer(texts, 120)
    assert rebuilt.encode("a good film").ids == first.encode("a good film").ids
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "film", "a"]))
    local = pretrained_tokenizer(folder)
    assert local.encode("a good film").tokens == ["[CLS]", "a", "good", "film", "[SEP]"]
    with pytest.raises(DataError, match=r"tokenizer\.json or vocab\.txt"):
        pretrained_tokenizer(tmp_path)


def test_failed_trainings_are_stored_as_failed_and_the_run_goes_on(tmp_path: Path) -> None:
    from nasbench_txf.run.cell import CellSpec
    from nasbench_txf.run.runner import run_cell
    from nasbench_txf.run.store import Store
    from nasbench_txf.run.trials import Budget

    spec = CellSpec(space="flexibert", strategy="rs", benchmark="live", seed=0, task="sst2",
                    benchmark_options={**LIVE_SMALL, "lr": "1e30", "clip": "0", "train_size": "64"})
    # an infinite learning rate makes the weights non-finite after the first step, whatever the
    # arch and however the floating-point sums fall (a large finite rate diverges on some machines only)
    summary = run_cell(spec, tmp_path / "failing.sqlite", Budget(queries=3))
    assert summary.trials == 3 and summary.failed == 3  # the run goes on after each failure
    with Store.open(tmp_path / "failing.sqlite") as store:
        failed = [r for r in store.trials(summary.cell_id) if r.status == "failed"]
    assert failed and all("diverged" in (r.reason or "") and not r.metrics for r in failed)


def test_a_build_resumed_under_other_conditions_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """bf16 depends on the machine, not the recipe: resuming a table measured in another
    precision is announced (rows record theirs), and an impossible device is an option error."""
    request = BuildRequest("flexibert", {}, "live", "sst2", LIVE_SMALL, n=1, seeds=1)
    build(request, tmp_path / "t", progress=False)
    assert "note:" not in capsys.readouterr().err  # a new table: nothing to compare with
    rows = (tmp_path / "t" / ROWS).read_text().splitlines()
    row = json.loads(rows[0])
    expected = row["info"]["precision"]
    assert expected == live().conditions()["precision"] and row["info"]["device"] == "cpu"
    row["info"]["precision"] = "fp16"  # as if measured on another machine
    (tmp_path / "t" / ROWS).write_text(json.dumps(row) + "\n")
    build(dataclasses.replace(request, n=2), tmp_path / "t", progress=False)
    assert (f"note: this machine measures with precision = {expected}, but 1 of the table's 1 rows were "
            "measured with precision = fp16") in capsys.readouterr().err
    if not torch.cuda.is_available():
        with pytest.raises(OptionError, match="device=cuda but torch sees no CUDA device"):
            live(device="cuda").conditions()
