"""`xraybench train` wiring and the stage config objects: YAML loading, errors, command-line overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from medix_train.config import GRPOStageConfig, SFTStageConfig, load_config
from medix_train.train import report_targets
from xraybench.cli import main
from xraybench.errors import XrayBenchError

CONFIGS = Path(__file__).resolve().parents[2] / "medix_train" / "configs" / "tiny-cpu"
BASE = "model: m\ndata: [d.jsonl]\noutput_dir: o\n"


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stage.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("name", "cls"), [("sft", SFTStageConfig), ("coldstart", SFTStageConfig),
                                           ("grpo", GRPOStageConfig)])  # fmt: skip
def test_shipped_tiny_cpu_configs_load_and_state_the_cpu_settings(name: str, cls: type) -> None:
    config = load_config(cls, CONFIGS / f"{name}.yaml")
    assert config.bf16 is False and config.report_to == "none" and config.max_steps > 0
    if isinstance(config, GRPOStageConfig):
        assert (config.num_generations, config.beta, config.loss_type) == (5, 0.01, "grpo")
        assert config.shaping_reward == "distinct_characters"  # tiny only; see the config's comment


def test_grpo_defaults_are_the_authors_settings_not_trls() -> None:
    config = GRPOStageConfig(model="m", data=["d"], output_dir="o")
    assert (config.num_generations, config.beta, config.max_tokens) == (5, 0.01, 2048)
    assert (config.learning_rate, config.image_size, config.max_pixels, config.bf16) == (1e-6, 512, 262144, False)
    assert config.shaping_reward == "none" and config.vllm is None


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    with pytest.raises(XrayBenchError, match=r"stage\.yaml: unknown key 'learnig_rate'; did you mean 'learning_rate'"):
        load_config(SFTStageConfig, _yaml(tmp_path, BASE + "learnig_rate: 0.1\n"))


def test_unknown_nested_key_is_named_with_its_section(tmp_path: Path) -> None:
    with pytest.raises(XrayBenchError, match=r"unknown key 'lora\.alpah'; did you mean 'lora\.alpha'"):
        load_config(SFTStageConfig, _yaml(tmp_path, BASE + "lora: {r: 4, alpah: 8}\n"))


@pytest.mark.parametrize(("line", "message"), [
    ("max_steps: ten\n", r"key 'max_steps': expected int, got 'ten'"),
    ("bf16: 1\n", r"key 'bf16': expected bool, got 1"),
    ("learning_rate: fast\n", r"key 'learning_rate': expected float"),
    ("data: 3\n", r"key 'data': expected a list of str"),
    ("lora: 8\n", r"key 'lora': expected a mapping of LoraSettings settings"),
])  # fmt: skip
def test_wrong_type_names_file_key_and_expected_type(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(XrayBenchError, match=r"stage\.yaml: " + message):
        load_config(SFTStageConfig, _yaml(tmp_path, BASE + line))


def test_yaml_1_1_exponent_without_dot_is_still_a_float(tmp_path: Path) -> None:
    assert load_config(SFTStageConfig, _yaml(tmp_path, BASE + "learning_rate: 1e-6\n")).learning_rate == 1e-6


def test_missing_required_keys_and_bad_choices(tmp_path: Path) -> None:
    with pytest.raises(XrayBenchError, match="missing required key.*output_dir"):
        load_config(SFTStageConfig, _yaml(tmp_path, "model: m\ndata: [d]\n"))
    with pytest.raises(XrayBenchError, match="loss_type: expected one of"):
        load_config(GRPOStageConfig, _yaml(tmp_path, BASE + "loss_type: ppo\n"))
    with pytest.raises(XrayBenchError, match="vllm.mode: expected one of colocate, server"):
        load_config(GRPOStageConfig, _yaml(tmp_path, BASE + "vllm: {mode: remote}\n"))


def test_max_length_must_hold_the_image_tokens(tmp_path: Path) -> None:
    """Pitfall 6: truncation inside the image placeholders breaks the forward pass, so refuse it up front."""
    with pytest.raises(XrayBenchError, match="324 tokens at image_size 512"):
        load_config(SFTStageConfig, _yaml(tmp_path, BASE + "max_length: 300\n"))
    assert load_config(SFTStageConfig, _yaml(tmp_path, BASE + "max_length: 0\n")).max_length is None


def test_command_line_overrides_win_and_absent_flags_keep_the_file(tmp_path: Path) -> None:
    path = _yaml(tmp_path, BASE + "bf16: true\nlearning_rate: 0.5\n")
    config = load_config(SFTStageConfig, path, learning_rate=0.25, data="a.jsonl,b.jsonl", bf16=None)
    assert (config.learning_rate, config.data, config.bf16) == (0.25, ["a.jsonl", "b.jsonl"], True)


def test_report_to_auto_is_explicit_about_what_it_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    assert report_targets("none") == [] and report_targets("wandb") == ["wandb"]
    assert "wandb" not in report_targets("auto")


def test_train_without_a_sub_command_explains(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train"]) == 1
    assert "choose a sub-command" in capsys.readouterr().err


def test_stage_command_reports_config_errors_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _yaml(tmp_path, BASE + "num_generation: 4\n")
    assert main(["train", "grpo", "--config", str(path)]) == 1
    assert "did you mean 'num_generations'" in capsys.readouterr().err


def test_stage_refuses_to_write_into_its_input_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _yaml(tmp_path, f"model: {tmp_path}\ndata: [d.jsonl]\noutput_dir: {tmp_path}\n")
    assert main(["train", "sft", "--config", str(path)]) == 1
    assert "is the input model's folder" in capsys.readouterr().err


def test_init_tiny_writes_a_loadable_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("transformers")
    assert main(["train", "init-tiny", "--out", str(tmp_path / "tiny")]) == 0
    printed = capsys.readouterr().out
    for name in ("config.json", "model.safetensors", "preprocessor_config.json", "chat_template.jinja"):
        assert name in printed and (tmp_path / "tiny" / name).is_file()
