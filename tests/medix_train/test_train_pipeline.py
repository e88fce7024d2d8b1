"""init-tiny -> sft -> coldstart -> grpo on CPU through `xraybench train`, then `xraybench run` scores the result.

The stages run once per module (about a minute on a loaded 2-core machine); each test checks one property.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import CONFIGS as CONFIG_DIR
from conftest import TinyPipeline, train_cli

from medix_train.checkpoints import DONE_FILE
from medix_train.train import METRICS_FILE
from xraybench.cli import main

STAGES = ("sft", "coldstart", "grpo")


@dataclass(frozen=True)
class Trained:
    inputs: dict[str, Path]  # stage -> its input model
    outputs: dict[str, Path]  # stage -> its output folder


@pytest.fixture(scope="module")
def trained(tiny_pipeline: TinyPipeline, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    root = tmp_path_factory.mktemp("trained")
    data = {"sft": tiny_pipeline.sft, "coldstart": tiny_pipeline.coldstart, "grpo": tiny_pipeline.grpo}
    inputs, outputs = {}, {}
    model = tiny_pipeline.tiny
    for stage in STAGES:
        out = root / stage
        assert train_cli(stage, model=model, data=data[stage], out=out) == 0
        inputs[stage], outputs[stage] = model, out
        model = out
    return Trained(inputs, outputs)


def _weights(folder: Path) -> dict[str, object]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_changes_the_weights(trained: Trained, stage: str) -> None:
    import torch

    before, after = _weights(trained.inputs[stage]), _weights(trained.outputs[stage])
    assert before.keys() == after.keys()
    changed = [k for k in before if not torch.equal(before[k], after[k])]  # type: ignore[arg-type]
    assert len(changed) > len(before) // 2, f"{stage}: only {len(changed)} of {len(before)} tensors changed"


@pytest.mark.parametrize("stage", STAGES)
def test_stage_output_is_a_finished_hf_checkpoint_with_metrics(trained: Trained, stage: str) -> None:
    out = trained.outputs[stage]
    for name in ("config.json", "model.safetensors", "preprocessor_config.json", "tokenizer.json"):
        assert (out / name).is_file(), name
    marker = json.loads((out / DONE_FILE).read_text())
    assert marker["stage"] == stage and marker["resumed_from"] is None
    assert marker["global_step"] == marker["config"]["max_steps"]
    logged = [json.loads(line) for line in (out / METRICS_FILE).read_text().splitlines()]
    assert [row["step"] for row in logged if "loss" in row] == list(range(1, marker["global_step"] + 1))
    assert sorted(p.name for p in out.glob("checkpoint-*")), "no HF checkpoint folders"


def test_grpo_rewards_vary_within_groups(trained: Trained) -> None:
    """The tiny run must see non-zero advantages, or GRPO would not move the weights (its loss is ~0 anyway)."""
    logged = [json.loads(line) for line in (trained.outputs["grpo"] / METRICS_FILE).read_text().splitlines()]
    steps = [row for row in logged if "reward_std" in row]
    assert steps and all(row["reward_std"] > 0 for row in steps)
    assert all("rewards/deepmedix_overall_paper/mean" in row for row in steps)
    assert all(row["kl"] >= 0 for row in steps)


def test_rerun_of_a_finished_stage_is_a_no_op(trained: Trained, capsys: pytest.CaptureFixture[str]) -> None:
    out = trained.outputs["sft"]
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    assert train_cli("sft", model=trained.inputs["sft"], data=_data_of(out), out=out) == 0
    assert "already finished" in capsys.readouterr().out
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp


def test_rerun_with_other_settings_is_refused(trained: Trained, capsys: pytest.CaptureFixture[str]) -> None:
    out = trained.outputs["sft"]
    code = train_cli("sft", model=trained.inputs["sft"], data=_data_of(out), out=out, extra=("--learning-rate", "0.5"))
    assert code == 1
    err = capsys.readouterr().err
    assert "learning_rate" in err and "--force" in err


def test_xraybench_run_scores_the_grpo_model(trained: Trained, tmp_path: Path) -> None:
    argv = ["run", "--model", f"hf:{trained.outputs['grpo']}", "--template", "reasoning", "--tasks", "demo_vqa",
            "--limit", "4", "--max-new-tokens", "8", "--bootstrap-rounds", "0", "--no-progress",
            "--out", str(tmp_path / "run")]  # fmt: skip
    assert main(argv) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    task = results["tasks"]["demo_vqa"]
    assert task["n"] == 4 and task["n_failed"] == 0
    assert task["metrics"]["answer_score"]["value"] is not None


def _data_of(out: Path) -> Path:
    return Path(json.loads((out / DONE_FILE).read_text())["config"]["data"][0])


def test_lora_through_the_python_api_saves_a_merged_model(tiny_pipeline: TinyPipeline, tmp_path: Path) -> None:
    """LoRA adapters are merged at the end, so `hf:` loads the output as a plain Qwen2.5-VL (same tensor names)."""
    import torch

    from medix_train.config import LoraSettings, SFTStageConfig, load_config
    from medix_train.train import run_sft

    config = load_config(SFTStageConfig, CONFIG_DIR / "sft.yaml", model=str(tiny_pipeline.tiny),
                         data=[str(tiny_pipeline.sft)], output_dir=str(tmp_path / "out"), max_steps=2)  # fmt: skip
    config.lora = LoraSettings(r=4, alpha=8, dropout=0.0, target_modules=["q_proj", "v_proj"])
    result = run_sft(config)
    assert (result.global_step, result.already_finished) == (2, False)
    before, after = _weights(tiny_pipeline.tiny), _weights(result.output_dir)
    assert before.keys() == after.keys()  # merged: no lora_A / lora_B tensors left
    changed = {k for k in before if not torch.equal(before[k], after[k])}  # type: ignore[arg-type]
    assert changed and all(k.endswith(("q_proj.weight", "v_proj.weight")) for k in changed)
