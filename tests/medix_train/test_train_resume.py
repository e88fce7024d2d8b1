"""A stage killed with SIGKILL after a checkpoint resumes its WEIGHTS, not only its step counter.

For sft, coldstart, grpo and LoRA sft: an uninterrupted reference run, then a real `python -m medix_train` process
killed with SIGKILL once a checkpoint is complete, then the same command again. The resumed run must hold exactly
the checkpoint's tensors when it continues, and then log the same metrics (loss, grad norm, rewards, KL, token
counts ...) and end with the same weights as the reference, within 1e-5 (CPU, same seed). Before the fix the
checkpoint's hub-layout keys (`model.layers.*`, `visual.*`) matched 1 of the live model's 57 tensors and the
resumed loss was off by ~0.8 with only a warning.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CONFIGS, TinyPipeline, train_cli

from medix_train import checkpoints as ckpt
from medix_train.checkpoints import DONE_FILE, STATE_FILE, checkpoints
from medix_train.train import METRICS_FILE
from xraybench.errors import XrayBenchError

STEPS = 3
TOLERANCE = 1e-5
COMMON = ("--max-steps", str(STEPS), "--save-steps", "1", "--save-total-limit", "2", "--per-device-train-batch-size", "2")  # fmt: skip
# smaller than the tiny-cpu config so a case costs seconds: 2 completions of 8 tokens per GRPO step
GRPO = ("--num-generations", "2", "--max-completion-length", "8")
LORA = "lora: {r: 4, alpha: 8, dropout: 0.0, target_modules: [q_proj, v_proj]}\n"
TIMING = ("step_time", "train_runtime", "train_samples_per_second", "train_steps_per_second")


def _case(case: str, tiny_pipeline: TinyPipeline, tmp_path: Path) -> tuple[str, Path, Path, tuple[str, ...]]:
    """(stage, config file, data file, overrides) of a case."""
    stage = "sft" if case == "sft-lora" else case
    config = CONFIGS / f"{stage}.yaml"
    if case == "sft-lora":
        config = tmp_path / "sft-lora.yaml"
        config.write_text((CONFIGS / "sft.yaml").read_text().replace("lora: null\n", LORA), encoding="utf-8")
    data = {"sft": tiny_pipeline.sft, "coldstart": tiny_pipeline.coldstart, "grpo": tiny_pipeline.grpo}[stage]
    return stage, config, data, COMMON + (GRPO if stage == "grpo" else ())


class KillAfterFirstCheckpoint(threading.Thread):
    """Starts `argv` and SIGKILLs it as soon as a checkpoint in `out` is complete; watches from a thread so the
    test can run the reference training meanwhile (the child's start-up, mostly imports, overlaps it)."""

    def __init__(self, argv: list[str], out: Path, timeout_s: float = 300.0) -> None:
        super().__init__(daemon=True)
        self.out, self.timeout_s = out, timeout_s
        # a file, not a pipe: a child blocked on a full pipe would never reach its checkpoint
        self.log = out.with_name(out.name + ".log")
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
        self.problem: str | None = None
        self.start()

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        try:
            while not list(self.out.glob(f"checkpoint-*/{STATE_FILE}")):
                if self.proc.poll() is not None:
                    self.problem = f"training ended (rc {self.proc.returncode}) before a checkpoint"
                    return
                if time.monotonic() > deadline:
                    self.problem = "no checkpoint written in time"
                    return
                time.sleep(0.01)
        finally:
            os.kill(self.proc.pid, signal.SIGKILL)

    def result(self) -> None:
        self.join()
        self.proc.wait()
        assert self.problem is None, f"{self.problem}: {self.log.read_text(errors='replace')[-2000:]}"
        assert self.proc.returncode == -signal.SIGKILL


def _logged_steps(out: Path) -> dict[int, dict[str, Any]]:
    """Per-step metric rows of metrics.jsonl (the last row for a step wins: the resumed run's)."""
    rows = [json.loads(line) for line in (out / METRICS_FILE).read_text().splitlines()]
    return {row["step"]: row for row in rows if "loss" in row}


def _live_name(saved: str) -> str:
    """The live transformers-5 parameter name of a tensor saved in the hub layout (written out here on purpose,
    independent of the conversion code under test)."""
    if saved.startswith("visual."):
        return "model." + saved
    if saved.startswith("model."):
        return "model.language_model." + saved.removeprefix("model.")
    if ".lora_A." in saved or ".lora_B." in saved:  # peft: adapter keys are saved without the adapter name
        return saved.replace(".weight", ".default.weight")
    return saved


def _saved_tensors(checkpoint: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    name = "adapter_model.safetensors" if (checkpoint / "adapter_model.safetensors").is_file() else "model.safetensors"
    return {_live_name(k): v for k, v in load_file(str(checkpoint / name)).items()}


@pytest.fixture
def loaded_at_resume(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """The live model's tensors right after a resume loaded the checkpoint into it."""
    captured: list[dict[str, Any]] = []
    original = ckpt.load_weights

    def spy(model: Any, checkpoint: Path) -> None:
        original(model, checkpoint)
        captured.append({k: v.detach().clone() for k, v in model.state_dict().items()})

    monkeypatch.setattr(ckpt, "load_weights", spy)
    yield captured


@pytest.mark.parametrize("case", ["sft", "coldstart", "grpo", "sft-lora"])
def test_sigkill_then_rerun_resumes_the_weights_and_the_loss_curve(
    case: str, tiny_pipeline: TinyPipeline, tmp_path: Path, loaded_at_resume: list[dict[str, Any]]
) -> None:
    import torch

    stage, config, data, extra = _case(case, tiny_pipeline, tmp_path)
    reference, out = tmp_path / "reference", tmp_path / "killed"
    argv = [sys.executable, "-m", "medix_train", stage, "--config", str(config), "--model", str(tiny_pipeline.tiny),
            "--data", str(data), "--output-dir", str(out), *extra]  # fmt: skip
    killer = KillAfterFirstCheckpoint(argv, out)
    assert train_cli(stage, model=tiny_pipeline.tiny, data=data, out=reference, extra=extra, config=config) == 0
    killer.result()
    assert not (out / DONE_FILE).exists(), "the stage finished before the kill; the test needs more steps"
    last = checkpoints(out)[-1]
    resumed_at = ckpt.global_step(last)
    assert 1 <= resumed_at < STEPS
    saved = _saved_tensors(last)

    assert train_cli(stage, model=tiny_pipeline.tiny, data=data, out=out, extra=extra, config=config) == 0
    assert json.loads((out / DONE_FILE).read_text())["resumed_from"] == last.name

    # 1. at the checkpoint step the live model holds every saved tensor, exactly
    assert len(loaded_at_resume) == 1
    live = loaded_at_resume[0]
    trained = {k: v for k, v in live.items() if ".lora_" in k} if case == "sft-lora" else live
    assert saved.keys() == trained.keys()
    different = [k for k in saved if not torch.equal(saved[k], live[k])]
    assert not different, f"{len(different)} of {len(saved)} tensors differ from {last}: {different[:3]}"

    # 2. the steps after the checkpoint log what the uninterrupted run logged
    want, got = _logged_steps(reference), _logged_steps(out)
    assert sorted(got) == list(range(1, STEPS + 1))
    for step in range(resumed_at + 1, STEPS + 1):
        assert want[step].keys() == got[step].keys()
        for key, value in want[step].items():
            if isinstance(value, (int, float)) and key not in TIMING:
                assert math.isclose(got[step][key], value, rel_tol=0, abs_tol=TOLERANCE), (
                    step,
                    key,
                    got[step][key],
                    value,
                )

    # 3. and it ends with the same weights (what matters for GRPO, whose logged loss is ~0)
    final_want, final_got = _saved_tensors(reference), _saved_tensors(out)
    assert final_want.keys() == final_got.keys()
    for key, tensor in final_want.items():
        torch.testing.assert_close(final_got[key], tensor, rtol=0, atol=TOLERANCE, msg=key)


def test_force_retrains_from_scratch(tiny_pipeline: TinyPipeline, tmp_path: Path) -> None:
    out = tmp_path / "sft"
    extra = ("--max-steps", "2", "--save-steps", "1", "--per-device-train-batch-size", "2")
    assert train_cli("sft", model=tiny_pipeline.tiny, data=tiny_pipeline.sft, out=out, extra=extra) == 0
    assert train_cli("sft", model=tiny_pipeline.tiny, data=tiny_pipeline.sft, out=out, extra=(*extra, "--force")) == 0
    marker = json.loads((out / DONE_FILE).read_text())
    assert marker["resumed_from"] is None and marker["global_step"] == 2
    assert sorted(_logged_steps(out)) == [1, 2]
    rows = [json.loads(line) for line in (out / METRICS_FILE).read_text().splitlines()]
    assert [row["step"] for row in rows if "loss" in row] == [1, 2, 1, 2]


def _model_with_one_tensor_changed(tiny: Path, out: Path, *, drop: bool) -> Path:
    """A copy of the tiny model whose weights file lacks one tensor (drop) or has one extra (not drop)."""
    import shutil

    from safetensors.torch import load_file, save_file

    shutil.copytree(tiny, out)
    tensors = load_file(str(out / "model.safetensors"))
    if drop:
        del tensors["model.norm.weight"]
    else:
        tensors["model.extra_head.weight"] = tensors["model.norm.weight"].clone()
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    return out


@pytest.mark.parametrize("drop", [True, False], ids=["missing", "unexpected"])
def test_a_key_mismatch_is_an_error_on_resume_and_on_the_stage_input(
    tiny_pipeline: TinyPipeline, tmp_path: Path, drop: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    import transformers

    broken = _model_with_one_tensor_changed(tiny_pipeline.tiny, tmp_path / "broken", drop=drop)
    problem = "missing 1: model.language_model.norm.weight" if drop else "unexpected 1: "
    live = transformers.AutoModelForImageTextToText.from_pretrained(tiny_pipeline.tiny)
    with pytest.raises(XrayBenchError) as raised:
        ckpt.load_weights(live, broken)
    assert problem in str(raised.value) and str(broken) in str(raised.value)
    capsys.readouterr()
    assert train_cli("sft", model=broken, data=tiny_pipeline.sft, out=tmp_path / "out") == 1
    assert problem in capsys.readouterr().err


def test_a_metrics_line_torn_by_a_kill_is_cut_before_the_resumed_run_logs(tmp_path: Path) -> None:
    """Regression (issue 16): metrics.jsonl was appended with a plain open("a"), so the first line a resumed run
    logged continued the half line the killed run left, and the file no longer parsed. Now it is an `AppendLog`."""
    import numpy as np
    import transformers

    from medix_train.train import _metrics_callback

    path = tmp_path / METRICS_FILE
    path.write_text('{"stage": "sft", "step": 1, "loss": 2.5}\n{"stage": "sft", "step": 2, "lo')  # killed mid-line
    callback = _metrics_callback(path, "sft")
    state = transformers.TrainerState(global_step=2)
    callback.on_log(None, state, None, logs={"loss": np.float32(2.25), "learning_rate": 1e-5})
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows == [{"stage": "sft", "step": 1, "loss": 2.5},
                    {"stage": "sft", "step": 2, "loss": "2.25", "learning_rate": 1e-5}]  # fmt: skip
