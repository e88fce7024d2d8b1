"""GRPO's rollout decoding is xraybench's one `GenerateConfig`: same names, validation and errors as `xraybench run`,
one mapping to `trl.GRPOConfig`, old key `max_completion_length` still read, what TRL cannot do refused.

Was: the trainer declared its own `temperature`, `top_p` and `max_completion_length` (no range checks: `top_p: 0`
or `temperature: -1` reached TRL), and copied them into `trl.GRPOConfig` by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from medix_train import checkpoints
from medix_train.config import GRPOStageConfig, config_dict, grpo_generation_args, load_config
from xraybench.cli import main
from xraybench.errors import XrayBenchError
from xraybench.generate import GenerateConfig
from xraybench.runner import RunConfig

pytest.importorskip("trl", reason="the [train] extra (trl) is not installed")

from medix_train.train import grpo_config  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[2] / "medix_train" / "configs"


def _yaml(tmp_path: Path, text: str, *, batch: int = 5) -> Path:
    path = tmp_path / "grpo.yaml"
    path.write_text(
        f"model: m\ndata: [d.jsonl]\noutput_dir: {tmp_path / 'out'}\nseed: 7\nper_device_train_batch_size: {batch}\n{text}"
    )
    return path


def _trl_args(config: GRPOStageConfig) -> object:
    return grpo_config(config, [], reward_weights=[1.0])


def test_new_keys_reach_trls_grpo_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = load_config(GRPOStageConfig, _yaml(tmp_path, "max_tokens: 96\ntemperature: 0.7\ntop_p: 0.9\n"))
    args = _trl_args(config)
    got = (args.max_completion_length, args.temperature, args.top_p, args.seed)  # type: ignore[attr-defined]
    assert got == (96, 0.7, 0.9, 7)
    # TRL's other sampling knobs are off, so the rollouts sample exactly as the GenerateConfig says
    assert (args.top_k, args.min_p, args.repetition_penalty) == (0, None, 1.0)  # type: ignore[attr-defined]
    assert "deprecated" not in capsys.readouterr().err


def test_old_key_max_completion_length_still_works_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = load_config(GRPOStageConfig, _yaml(tmp_path, "max_completion_length: 48\ntop_p: 0.99\n"))
    assert config.max_tokens == 48
    assert (_trl_args(config).max_completion_length, _trl_args(config).top_p) == (48, 0.99)  # type: ignore[attr-defined]
    assert "'max_completion_length' is deprecated; use 'max_tokens'" in capsys.readouterr().err
    with pytest.raises(XrayBenchError, match="both 'max_completion_length' and its new name 'max_tokens'"):
        load_config(GRPOStageConfig, _yaml(tmp_path, "max_completion_length: 48\nmax_tokens: 64\n"))


def test_old_flag_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`xraybench train grpo --max-completion-length 5` reaches the config as max_tokens (the stage then stops at
    the missing model folder, before loading anything)."""
    path = _yaml(tmp_path, "max_tokens: 96\n")
    assert main(["train", "grpo", "--config", str(path), "--max-completion-length", "5", "--top-p", "0"]) == 1
    err = capsys.readouterr().err
    assert "--max-completion-length is deprecated; use --max-tokens" in err
    assert "--top-p must be a number in (0, 1], got 0.0" in err


@pytest.mark.parametrize(("key", "value"), [("top_p", 0.0), ("top_p", 1.5), ("temperature", -1.0),
                                            ("max_tokens", 0), ("max_tokens", -3)])  # fmt: skip
def test_bad_values_fail_as_in_xraybench_run(tmp_path: Path, key: str, value: float) -> None:
    with pytest.raises(XrayBenchError) as run_error:
        RunConfig(model="baseline:normal", tasks=["demo_findings"], out="x", **{key: value})
    with pytest.raises(XrayBenchError) as grpo_error:
        load_config(GRPOStageConfig, _yaml(tmp_path, f"{key}: {value}\n"))
    assert str(grpo_error.value) == f"{tmp_path / 'grpo.yaml'}: {run_error.value}"


def test_greedy_rollouts_are_refused(tmp_path: Path) -> None:
    with pytest.raises(XrayBenchError, match=r"grpo\.yaml: --temperature must be > 0 for GRPO rollouts, got 0"):
        load_config(GRPOStageConfig, _yaml(tmp_path, "temperature: 0\n"))


@pytest.mark.parametrize(("option", "value"), [("stop_seqs", ["</answer>"]), ("timeout_s", 5.0),
                                               ("max_answer_bytes", 1000)])  # fmt: skip
def test_what_trl_cannot_do_is_refused_not_dropped(option: str, value: object) -> None:
    generate = GenerateConfig(temperature=1.0, **{option: value})  # type: ignore[arg-type]
    with pytest.raises(XrayBenchError, match=rf"GRPO rollouts cannot use {option}={value!r}".replace("[", r"\[")):
        grpo_generation_args(generate)
    assert grpo_generation_args(GenerateConfig(temperature=1.0, seed=3))["seed"] == 3


def test_stop_seqs_in_a_trainer_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(XrayBenchError, match="unknown key 'stop_seqs'"):
        load_config(GRPOStageConfig, _yaml(tmp_path, "stop_seqs: ['</answer>']\n"))


def test_shipped_grpo_configs_use_the_new_key(capsys: pytest.CaptureFixture[str]) -> None:
    tiny = load_config(GRPOStageConfig, CONFIGS / "tiny-cpu" / "grpo.yaml")
    recipe = load_config(GRPOStageConfig, CONFIGS / "deepmedix-r1" / "grpo.yaml")
    assert (tiny.max_tokens, recipe.max_tokens) == (24, 2048)
    assert "deprecated" not in capsys.readouterr().err


def test_a_stage_finished_under_the_old_key_is_still_finished(tmp_path: Path) -> None:
    """A run finished before the rename recorded `max_completion_length` in its marker: same settings, no retrain."""
    config = load_config(GRPOStageConfig, _yaml(tmp_path, "max_tokens: 64\n"))
    old = config_dict(config)
    old["max_completion_length"] = old.pop("max_tokens")
    out = tmp_path / "out"
    out.mkdir()
    checkpoints.write_marker(out, {"stage": "grpo", "global_step": 3, "config": old})
    marker = checkpoints.finished(out, "grpo", config_dict(config), GRPOStageConfig)
    assert marker is not None and marker["global_step"] == 3
    changed = config_dict(load_config(GRPOStageConfig, _yaml(tmp_path, "max_tokens: 65\n")))
    with pytest.raises(XrayBenchError, match=r"differs in: max_tokens\)"):
        checkpoints.finished(out, "grpo", changed, GRPOStageConfig)


def test_trls_own_refusal_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    """TRL checks that a generation batch holds whole groups; its ValueError becomes the command's error."""
    config = load_config(GRPOStageConfig, _yaml(tmp_path, "", batch=1))
    with pytest.raises(XrayBenchError, match=r"grpo: TRL refuses these settings: generation_batch_size \(1\) must be "
                                             r"divisible by num_generations \(5\)"):  # fmt: skip
        _trl_args(config)


@pytest.mark.parametrize(("key", "value"), [("temperature", -1.0), ("max_tokens", 0)])
def test_the_synthesis_teacher_decodes_by_the_same_definitions(tmp_path: Path, key: str, value: float) -> None:
    """`train synthesize`'s teacher options are `LLMOptions`, redeclared from `GenerateConfig`: same checks."""
    from medix_train.synthesize import SynthesizeConfig, load_synthesize_config

    assert SynthesizeConfig.__dataclass_fields__["temperature"].metadata["defined_in"] == "GenerateConfig"
    with pytest.raises(XrayBenchError) as run_error:
        RunConfig(model="baseline:normal", tasks=["demo_findings"], out="x", **{key: value})
    path = tmp_path / "synthesize.yaml"
    path.write_text(f"teacher: builtin:template\n{key}: {value}\n")
    with pytest.raises(XrayBenchError) as teacher_error:
        load_synthesize_config(path)
    assert str(teacher_error.value) == f"{path}: {run_error.value}"


def test_a_rollout_batch_without_whole_groups_is_refused_before_the_model_loads(tmp_path: Path) -> None:
    """Batch 1 x 5 generations on one process: refused with the options to change, before any model is read (the
    model path does not exist, so a later check would fail on the model instead)."""
    from medix_train.train import run_grpo

    config = load_config(GRPOStageConfig, _yaml(tmp_path, "", batch=1))
    with pytest.raises(XrayBenchError, match=r"TRL refuses these settings: .*num_generations \(5\).*"
                                             r"per_device_train_batch_size x processes x steps_per_generation"):  # fmt: skip
        run_grpo(config)
    assert not (tmp_path / "out").exists()
