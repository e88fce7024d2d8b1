"""The real-scale DeepMedix-R1 recipe: every YAML loads into the config class its command uses, and the
authors' RL settings are stated explicitly rather than left to TRL defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from medix_train.data import load_build_config

yaml = pytest.importorskip("yaml")
train_config = pytest.importorskip("medix_train.config", reason="medix_train.config is not importable")

RECIPE = Path(__file__).resolve().parents[2] / "medix_train" / "configs" / "deepmedix-r1"
GPUS = 8


def test_every_recipe_file_is_checked_here() -> None:
    names = sorted(str(p.relative_to(RECIPE)) for p in RECIPE.rglob("*.yaml"))
    assert names == ["accelerate/fsdp2.yaml", "accelerate/zero3.yaml", "build-data.yaml", "coldstart.yaml",
                     "grpo.yaml", "sft.yaml", "synthesize.yaml"]  # fmt: skip


@pytest.mark.parametrize("stage", ["sft", "coldstart"])
def test_sft_stages_load(stage: str) -> None:
    config = train_config.load_config(train_config.SFTStageConfig, RECIPE / f"{stage}.yaml")
    assert (config.image_size, config.max_pixels, config.bf16, config.dtype) == (512, 262144, True, "bfloat16")
    assert config.max_length is not None and config.max_length > 324  # more than a 512 x 512 image's tokens
    assert config.data == [f"data/deepmedix-r1/{stage}.jsonl"]


def test_grpo_states_the_authors_rl_settings() -> None:
    config = train_config.load_config(train_config.GRPOStageConfig, RECIPE / "grpo.yaml")
    assert config.model == "checkpoints/deepmedix-coldstart"
    assert (config.learning_rate, config.num_generations, config.beta) == (1e-6, 5, 0.01)
    assert (config.max_tokens, config.num_train_epochs, config.temperature, config.top_p) == (2048, 15, 1.0, 0.99)
    assert (config.image_size, config.max_pixels, config.reward_variant) == (512, 262144, "paper")
    completions_per_step = config.per_device_train_batch_size * GPUS * config.gradient_accumulation_steps
    assert completions_per_step == 128 * config.num_generations  # EasyR1 global batch: 128 prompts
    assert config.vllm is not None and config.vllm.mode == "colocate"


def test_build_data_stages_load() -> None:
    sft = load_build_config(RECIPE / "build-data.yaml", "sft")
    assert "cxr14" in sft.tasks and sft.limit is None and sft.split == "train"
    grpo = load_build_config(RECIPE / "build-data.yaml", "grpo")
    assert sum(grpo.limits.values()) == 6600  # the paper's ~6.6K RL samples
    coldstart = load_build_config(RECIPE / "build-data.yaml", "coldstart")
    synth = yaml.safe_load((RECIPE / "synthesize.yaml").read_text())
    assert str(coldstart.out_path) == synth["prompts"]


def test_synthesize_config_loads() -> None:
    synthesize = pytest.importorskip("medix_train.synthesize")
    config = synthesize.load_synthesize_config(RECIPE / "synthesize.yaml")
    assert config.out == "data/deepmedix-r1/coldstart.jsonl"


@pytest.mark.parametrize("name", ["zero3", "fsdp2"])
def test_accelerate_files(name: str) -> None:
    path = RECIPE / "accelerate" / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    config_args = pytest.importorskip("accelerate.commands.config.config_args")
    assert config_args.load_config_from_file(str(path)).num_processes == GPUS  # accelerate itself accepts it
    assert (data["num_processes"], data["mixed_precision"], data["use_cpu"]) == (GPUS, "bf16", False)
    if name == "zero3":
        assert data["distributed_type"] == "DEEPSPEED" and data["deepspeed_config"]["zero_stage"] == 3
    else:
        assert data["distributed_type"] == "FSDP" and data["fsdp_config"]["fsdp_version"] == 2
