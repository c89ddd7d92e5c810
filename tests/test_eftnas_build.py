"""``nasbench-txf eftnas build`` on a tiny BERT and synthetic SST-2: the build folder, stages
skipped when done, a killed super-network training continued from its checkpoint, and bad
input refused in one line with exit code 2 and nothing stored lost."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from nbt_testing import EFTNAS_TINY, eftnas_base, shared_eftnas_build, synthetic_sst2
from safetensors.torch import load_file, save_file

from nasbench_txf.cli import main
from nasbench_txf.core.errors import UserError
from nasbench_txf.core.options import parse_options
from nasbench_txf.spaces.eftnas import request
from nasbench_txf.spaces.eftnas.folder import SUPERNET_FILE
from nasbench_txf.spaces.eftnas.importance import FineTuner
from nasbench_txf.spaces.eftnas.pipeline import build
from nasbench_txf.spaces.eftnas.request import BuildOptions
from nasbench_txf.spaces.eftnas.train import SandwichTrainer

transformers = pytest.importorskip("transformers")

STAGES = ["finetune", "generate", "reorder", "supernet"]


def options(**changes: str) -> BuildOptions:
    return parse_options("eftnas build", BuildOptions, {**EFTNAS_TINY, **changes})


def opts_args(**changes: str) -> list[str]:
    return [arg for k, v in {**EFTNAS_TINY, **changes}.items() for arg in ("--build-opt", f"{k}={v}")]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the digest of its content."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny base and the synthetic data of the shared build, made again (the same bytes)."""
    folder = tmp_path_factory.mktemp("eftnas-inputs")
    return eftnas_base(folder / "base"), synthetic_sst2(folder / "glue")


def test_build_writes_the_folder_and_skips_finished_stages(inputs: tuple[Path, Path], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    base, data = inputs
    out = tmp_path / "build"
    args = ["eftnas", "build", "--base", str(base), "--data-dir", str(data), "--out", str(out), *opts_args()]
    assert main([*args, "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["task"] == "sst2" and report["subnetworks"] > 1 and set(report["seconds"]) == set(STAGES)
    assert [f"stage {i}/4, {s}" in captured.err for i, s in enumerate(STAGES, start=1)] == [True] * 4
    assert "layer  heads" in captured.err  # the generated space, as Fig. 5 shows one (on stderr with --json)
    record = json.loads((out / "build.json").read_text())
    assert record["base"]["path"] == str(base.resolve()) and len(record["base"]["config_sha256"]) == 64
    assert record["options"]["finetune_steps"] == 60 and record["task_options"]["max_len"] == 24
    assert 0 <= record["stages"]["finetune"]["scores"]["dev"]["accuracy"] <= 1
    assert all(record["stages"][s]["seconds"] >= 0 for s in STAGES)
    assert sorted(p.name for p in out.iterdir()) == ["bert_config.json", "build.json", "reordered.safetensors",
                                                     "scores.safetensors", "space.json", "supernet.safetensors",
                                                     "teacher.safetensors", "tokenizer"]
    # the same request again: every stage is skipped and nothing changes
    before = snapshot(out)
    assert main(args) == 0
    again = capsys.readouterr()
    assert again.err.count("done before, skipped") == 4 and "layer  heads" in again.out
    assert snapshot(out) == before
    # the build is the one the shared fixture made from the same base, data and options
    assert load_file(str(out / SUPERNET_FILE)).keys() == load_file(str(shared_eftnas_build() / SUPERNET_FILE)).keys()


def killed_at_save(monkeypatch: pytest.MonkeyPatch, cls: type, n: int) -> list[int]:
    """Make ``cls.save`` raise ``KeyboardInterrupt`` right after its ``n``-th save (a kill), then
    save normally again; the list returned gets the step of each save."""
    save, saves = cls.save, []

    def killed(self: Any, directory: Path) -> None:
        save(self, directory)
        saves.append(self.step)
        if len(saves) == n:
            monkeypatch.setattr(cls, "save", save)
            raise KeyboardInterrupt

    monkeypatch.setattr(cls, "save", killed)
    return saves


def test_a_killed_supernet_training_continues_from_its_checkpoint(inputs: tuple[Path, Path], tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    base, data = inputs
    out = tmp_path / "build"
    killed_at_save(monkeypatch, SandwichTrainer, 1)
    with pytest.raises(KeyboardInterrupt):
        build(base, "sst2", str(data), out, options(), echo=lambda text: None)
    record = json.loads((out / "build.json").read_text())
    assert list(record["stages"]) == STAGES[:3] and (out / "training" / "state.json").is_file()
    assert json.loads((out / "training" / "state.json").read_text())["step"] == 4
    steps: list[int] = []
    train = SandwichTrainer.train
    monkeypatch.setattr(SandwichTrainer, "train", lambda self, *a, **k: steps.append(self.step) or train(self, *a, **k))
    build(base, "sst2", str(data), out, options(), echo=lambda text: None)
    assert steps[0] == 4 and not (out / "training").exists()
    resumed, straight = load_file(str(out / SUPERNET_FILE)), load_file(str(shared_eftnas_build() / SUPERNET_FILE))
    assert all((resumed[k] - straight[k]).abs().max() <= 1e-5 for k in straight)


def test_a_killed_fine_tuning_continues_from_its_checkpoint(inputs: tuple[Path, Path], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    base, data = inputs
    out = tmp_path / "build"
    saves = killed_at_save(monkeypatch, FineTuner, 2)
    with pytest.raises(KeyboardInterrupt):
        build(base, "sst2", str(data), out, options(), echo=lambda text: None)
    record = json.loads((out / "build.json").read_text())
    assert record["stages"] == {} and saves == [4, 8]
    assert sorted(p.name for p in (out / "finetuning").iterdir()) == [
        "model-00000008.safetensors", "optimizer-00000008.safetensors", "scores-00000008.safetensors", "state.json"]
    steps: list[int] = []
    train = FineTuner.train
    monkeypatch.setattr(FineTuner, "train", lambda self, *a, **k: steps.append(self.step) or train(self, *a, **k))
    messages: list[str] = []
    monkeypatch.setattr("nasbench_txf.spaces.eftnas.pipeline.announce", messages.append)
    build(base, "sst2", str(data), out, options(), echo=lambda text: None)
    assert steps[0] == 8 and not (out / "finetuning").exists()
    assert "eftnas build: continuing the fine-tuning at step 8" in messages
    for name in ("teacher.safetensors", "scores.safetensors"):
        resumed, straight = load_file(str(out / name)), load_file(str(shared_eftnas_build() / name))
        assert resumed.keys() == straight.keys()
        assert all((resumed[k] - straight[k]).abs().max() <= 1e-5 for k in straight), name


def test_an_unreadable_checkpoint_is_trained_again(inputs: tuple[Path, Path], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    base, data = inputs
    out = tmp_path / "build"
    killed_at_save(monkeypatch, FineTuner, 1)
    with pytest.raises(KeyboardInterrupt):
        build(base, "sst2", str(data), out, options(supernet_steps="4"), echo=lambda text: None)
    (out / "finetuning" / "model-00000004.safetensors").write_bytes(b"damaged")
    messages: list[str] = []
    monkeypatch.setattr("nasbench_txf.spaces.eftnas.pipeline.announce", messages.append)
    build(base, "sst2", str(data), out, options(supernet_steps="4"), echo=lambda text: None)
    assert any("the fine-tuning checkpoint cannot be read" in m and "training from the start" in m for m in messages)
    teacher, straight = load_file(str(out / "teacher.safetensors")), load_file(
        str(shared_eftnas_build() / "teacher.safetensors"))
    assert all((teacher[k] - straight[k]).abs().max() <= 1e-5 for k in straight)


def test_bad_input_is_refused_before_anything_is_stored(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    base, data = inputs
    out = tmp_path / "build"
    shutil.copytree(shared_eftnas_build(), out)
    before = snapshot(out)

    def refused(pattern: str, base: Path = base, target: Path = out, **changes: str) -> None:
        with pytest.raises(UserError, match=pattern):
            build(base, "sst2", str(data), target, options(**changes), echo=lambda text: None)
        assert snapshot(out) == before

    gpt2 = tmp_path / "gpt2"
    transformers.GPT2Config(n_layer=1, n_embd=32, n_head=4).save_pretrained(gpt2)
    refused("type 'gpt2', not BERT-family", base=gpt2)
    no_weights = tmp_path / "no-weights"
    no_weights.mkdir()
    shutil.copyfile(base / "config.json", no_weights / "config.json")
    refused("no weights; the directory needs model.safetensors", base=no_weights)
    no_tokenizer = tmp_path / "no-tokenizer"
    shutil.copytree(base, no_tokenizer)
    (no_tokenizer / "vocab.txt").unlink()
    refused(r"no tokenizer \(tokenizer.json or vocab.txt\)", base=no_tokenizer, target=tmp_path / "new")
    refused(r"<= c_min < c_max <= 294,912 MACs for this base .* got c_min = 5,", c_min="5")
    refused(r"c_max = 300,000", c_max="300000")
    other = tmp_path / "other-base"
    shutil.copytree(base, other)
    weights = load_file(str(other / "model.safetensors"))
    save_file({k: v + 1 for k, v in weights.items()}, str(other / "model.safetensors"), metadata={"format": "pt"})
    refused(r"is a build from another base .* give another --out or that --base", base=other)
    refused(r"built with other options \(supernet_steps='?40'? there, 41 here\)", supernet_steps="41")
    record = json.loads((out / "build.json").read_text())
    (out / "build.json").write_text(json.dumps({**record, "task": "rte"}))
    before = snapshot(out)
    refused("is a build for task rte, not sst2")
    not_a_build = tmp_path / "files"
    not_a_build.mkdir()
    (not_a_build / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match=r"not empty and holds no build\.json"):
        build(base, "sst2", str(data), not_a_build, options(), echo=lambda text: None)
    assert (not_a_build / "notes.txt").read_text() == "mine" and len(list(not_a_build.iterdir())) == 1


def test_the_command_says_what_is_wrong_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "nasbench_txf", "eftnas", "build", "--base", str(tmp_path),
                           "--data-dir", str(tmp_path), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nasbench-txf: error:"), done.stderr
    assert not (tmp_path / "out").exists()
    code = main(["eftnas", "build", "--data-dir", str(tmp_path), "--out", str(tmp_path / "out"),
                 "--build-opt", "configs=6"])
    assert code == 2 and "configs (N) must lie in [2, 5], got 6" in capsys.readouterr().err


def test_pipeline_keys_change_with_the_options_of_their_stage() -> None:
    identity = {"config_sha256": "a", "weights_sha256": "b"}
    keys = request.stage_keys(identity, "sst2", options())
    changed = request.stage_keys(identity, "sst2", options(tolerance="0.2"))
    assert keys["finetune"] == changed["finetune"]
    assert all(keys[s] != changed[s] for s in STAGES[1:])
    assert request.stage_keys(identity, "sst2", options(threads="2")) == keys  # how fast, not what
