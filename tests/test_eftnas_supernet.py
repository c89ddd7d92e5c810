"""The ``supernet`` benchmark on the tiny EFTNAS build: metrics, determinism, the seeded dev
subsample, the training context it lends, refusals; NSGA-II and random search through it; and
``eftnas extract``, whose standalone subnetwork scores what the benchmark scores for the card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nbt_testing import shared_eftnas_build

from nasbench_txf.benchmarks.supernet import SupernetBenchmark
from nasbench_txf.cli import main
from nasbench_txf.core.benchmark import LendsTraining
from nasbench_txf.core.errors import UserError
from nasbench_txf.core.registry import get_benchmark, get_space, open_benchmark
from nasbench_txf.run.store import Store
from nasbench_txf.spaces.eftnas.elastic import load_extracted
from nasbench_txf.training.context import TrainingContext

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def bench() -> SupernetBenchmark:
    return open_benchmark("eftnas", {"build": str(shared_eftnas_build())}, "supernet", None,  # type: ignore[return-value]
                          {"threads": "1"})


def test_scores_a_card_deterministically_with_its_costs(bench: SupernetBenchmark) -> None:
    assert [m.name for m in bench.metrics] == ["accuracy", "loss", "macs", "params", "latency_ms"]
    assert bench.task == "sst2" and bench.measures_time
    space = bench.space
    small, large = space.resolve("smallest"), space.resolve("largest")
    first, again, other_seed = bench.evaluate(small, 0), bench.evaluate(small, 0), bench.evaluate(small, 9)
    steady = ("accuracy", "loss", "macs", "params")
    assert {k: first.metrics[k] for k in steady} == {k: again.metrics[k] for k in steady}
    assert {k: first.metrics[k] for k in steady} == {k: other_seed.metrics[k] for k in steady}  # no subsample
    assert first.info["latency_on"] == "extracted subnetwork" and first.info["splits"]["dev"]["rows"] == 80
    assert first.cost_seconds > 0 and first.metrics["latency_ms"] > 0
    big = bench.evaluate(large, 0)
    assert big.metrics["macs"] > first.metrics["macs"] and big.metrics["params"] > first.metrics["params"]
    counted = SupernetBenchmark.card_metrics(space, "sst2", {})
    assert {name: f(small) for name, f in counted.items()} == {"macs": first.metrics["macs"],
                                                                "params": first.metrics["params"]}


def test_a_subsample_of_dev_is_drawn_by_the_seed(bench: SupernetBenchmark) -> None:
    cls = get_benchmark("supernet")
    sub = cls(bench.space, options=cls.make_options({"subsample": "20", "threads": "1"}))
    arch = bench.space.resolve("config-2")
    rows = [sub.evaluate(arch, seed).info["splits"]["dev"]["rows"] for seed in (0, 1)]
    assert rows == [20, 20]
    assert sub.scored_rows(0)["dev"].tolist() == sub.scored_rows(0)["dev"].tolist()  # type: ignore[index]
    assert sub.scored_rows(0)["dev"].tolist() != sub.scored_rows(1)["dev"].tolist()  # type: ignore[index]


def test_bootstrap_seeds_resample_dev_around_the_full_score(bench: SupernetBenchmark) -> None:
    cls = get_benchmark("supernet")
    boot = cls(bench.space, options=cls.make_options({"bootstrap": "true", "threads": "1"}))
    arch = bench.space.resolve("config-3")
    full = bench.evaluate(arch, 0).metrics["accuracy"]
    draws = [boot.scored_rows(seed)["dev"] for seed in range(40)]  # type: ignore[index]
    assert all(len(d) == 80 and len(set(d.tolist())) < 80 for d in draws)  # with replacement
    assert boot.scored_rows(7)["dev"].tolist() == draws[7].tolist()  # type: ignore[index]
    scores = [boot.evaluate(arch, seed).metrics["accuracy"] for seed in range(6)]
    assert len(set(scores)) > 1 and min(scores) <= full + 0.2 and max(scores) >= full - 0.2
    assert boot.evaluate(arch, 3).metrics["accuracy"] == scores[3]


def test_lends_the_context_the_supernet_was_trained_with(bench: SupernetBenchmark) -> None:
    assert isinstance(bench, LendsTraining)
    context = bench.training_context()
    assert isinstance(context, TrainingContext)
    assert Path(context.options.vocab) == shared_eftnas_build() / "tokenizer"
    assert len(context.data.train) == 160 and context.options.max_len == 24


def test_refuses_other_spaces_and_tasks(bench: SupernetBenchmark) -> None:
    flexibert = get_space("flexibert")
    reason = SupernetBenchmark.unsupported(flexibert(flexibert.make_options()))
    assert reason is not None and "no super-network" in reason
    with pytest.raises(UserError, match="was trained on sst2, not mrpc"):
        SupernetBenchmark(bench.space, task="mrpc")


@pytest.mark.parametrize("strategy", [["nsga2"], ["rs"]])  # nsga2's against=auto takes macs, as EFTNAS does
def test_strategies_search_the_space_through_the_supernet(strategy: list[str], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--space", "eftnas", "--space-opt", f"build={shared_eftnas_build()}", "--benchmark",
                 "supernet", "--benchmark-opt", "threads=1", "--strategy", *strategy, "--budget", "8",
                 "--store", str(tmp_path / "s.sqlite"), "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads(out)
    (cell,) = report["cells"]
    assert cell["trials"] == 8 and cell["failed"] == 0 and cell["objective"] == "accuracy"
    with Store.open(tmp_path / "s.sqlite") as store:
        trials = store.trials(cell["cell_id"])
    assert len({t.arch_id for t in trials}) == 8
    assert all({"accuracy", "macs", "params", "latency_ms"} <= set(t.metrics) for t in trials)
    if strategy[0] == "nsga2":
        assert cell["pareto_objectives"] == ["accuracy", "macs"] and cell["pareto"]

def test_extract_saves_a_smaller_model_that_scores_as_the_supernet(bench: SupernetBenchmark, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    card = bench.space.resolve("config-2")
    code = main(["eftnas", "extract", json.dumps(card.card), "--build", str(shared_eftnas_build()),
                 "--out", str(tmp_path / "sub"), "--benchmark-opt", "threads=1", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["agree"]
    expected = bench.evaluate(card, 0)
    assert report["extracted"]["accuracy"] == expected.metrics["accuracy"]
    assert report["params"] == expected.metrics["params"] < report["base_params"]
    assert report["macs"] == expected.metrics["macs"] < report["base_macs"]
    model, spec = load_extracted(tmp_path / "sub")
    assert spec["subnetwork"] == card.card and sum(p.numel() for p in model.parameters()) == report["params"]
    assert (tmp_path / "sub" / "vocab.txt").is_file()
    assert report["latency_ms"] > 0 and report["base_latency_ms"] > 0
    assert report["speedup"] == pytest.approx(report["base_latency_ms"] / report["latency_ms"], rel=1e-2)
    assert report["latency_on"] == {"batch": 1, "seq_len": 24, "threads": 1, "device": "cpu"}
    assert report["transformers"] is None  # per-layer head counts: transformers cannot describe them
    assert main(["eftnas", "extract", "largest", "--build", str(shared_eftnas_build()), "--out",
                 str(tmp_path / "sub")]) == 2  # an existing folder is never replaced
    assert "not an empty folder" in capsys.readouterr().err


def test_export_writes_a_weightless_space_once(bench: SupernetBenchmark, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "space"
    assert main(["eftnas", "export", str(shared_eftnas_build()), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["subnetworks"] == bench.space.cardinality()
    assert report["use"] == f"--space eftnas --space-opt build={out}"
    cls = get_space("eftnas")
    assert cls(cls.make_options({"build": str(out)})).key() == bench.space.key()
    assert main(["eftnas", "export", str(shared_eftnas_build()), "--out", str(out)]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert main(["eftnas", "export", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]) == 2
    assert "no such build folder" in capsys.readouterr().err


def test_a_subnetwork_transformers_can_describe_is_also_a_transformers_model(bench: SupernetBenchmark, tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """All heads kept and one FFN width: ``from_pretrained`` loads it offline and it computes
    what the super-network computes for the card."""
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    space = bench.space
    width = next(w for w in space.choices.ffn[0] if all(w in c for c in space.choices.ffn) and w < 64)
    card = {"heads": [c[-1] for c in space.choices.heads], "ffn": [width] * len(space.choices.ffn)}
    assert main(["eftnas", "extract", json.dumps(card), "--build", str(shared_eftnas_build()), "--out",
                 str(tmp_path / "sub"), "--benchmark-opt", "threads=1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["transformers"] == str(tmp_path / "sub" / "transformers")
    plain = BertForSequenceClassification.from_pretrained(report["transformers"], local_files_only=True).eval()
    assert plain.config.intermediate_size == width
    assert sum(p.numel() for p in plain.parameters()) == report["params"]
    AutoTokenizer.from_pretrained(report["transformers"], local_files_only=True)
    supernet = bench.supernet
    space.activate(supernet, space.arch(card))
    ids = torch.randint(5, 30, (3, 12))
    with torch.no_grad():
        assert (plain(input_ids=ids).logits - supernet(ids, torch.ones_like(ids))).abs().max() <= 1e-5
