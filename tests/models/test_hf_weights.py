"""hf: refuses a checkpoint whose weights do not match the model (missing, unexpected, reshaped, unreadable).

transformers only logs such keys and fills the gaps with random weights, so an unchecked load would evaluate a
partly random model and print confident numbers. The tiny Qwen2.5-VL is built offline; the broken checkpoints are
copies of it with `model.safetensors` edited.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the hf extra (torch) is not installed")
pytest.importorskip("transformers", reason="the hf extra (transformers) is not installed")
safetensors_torch = pytest.importorskip("safetensors.torch", reason="the hf extra (safetensors) is not installed")

from xraybench.errors import XrayBenchError  # noqa: E402
from xraybench.generate import GenerateConfig  # noqa: E402
from xraybench.models.base import ModelContext  # noqa: E402
from xraybench.models.hf import HFModel  # noqa: E402
from xraybench.testing.tiny_qwen_vl import build_tiny_qwen2_5_vl  # noqa: E402

LAYER = "model.layers.0.mlp.down_proj.weight"  # the name in the file (release layout)
LIVE = "model.language_model.layers.0.mlp.down_proj.weight"  # the same tensor as the loaded model names it


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("tiny_qwen"), seed=0)


def edited(tiny_dir: Path, out: Path, edit: Callable[[dict[str, object]], None]) -> Path:
    shutil.copytree(tiny_dir, out)
    tensors = safetensors_torch.load_file(out / "model.safetensors")
    edit(tensors)
    safetensors_torch.save_file(tensors, out / "model.safetensors", metadata={"format": "pt"})
    return out


def load(path: Path) -> HFModel:
    return HFModel(str(path), {"device": "cpu"}, ModelContext(), GenerateConfig(max_tokens=2))


def test_clean_checkpoint_and_a_trainer_style_resave_load_with_every_weight(tiny_dir: Path, tmp_path: Path) -> None:
    model = load(tiny_dir)
    saved = safetensors_torch.load_file(tiny_dir / "model.safetensors")
    assert torch.equal(model.model.state_dict()[LIVE], saved[LAYER])
    # transformers' Trainer saves `checkpoint-N` with save_pretrained(state_dict=model.state_dict()) of the live
    # model: the file is in the release layout again, which from_pretrained converts back without a leftover key
    checkpoint = tmp_path / "checkpoint-3"
    model.model.save_pretrained(checkpoint, state_dict=model.model.state_dict())
    for name in tiny_dir.iterdir():
        if name.suffix != ".safetensors" and name.name != "config.json":
            shutil.copy(name, checkpoint / name.name)
    assert LAYER in safetensors_torch.load_file(checkpoint / "model.safetensors")
    again = load(checkpoint)
    for key, value in model.model.state_dict().items():
        assert torch.equal(again.model.state_dict()[key], value), key


def test_removed_tensor_is_refused_by_the_cli_with_the_key_and_no_traceback(tiny_dir: Path, tmp_path: Path) -> None:
    broken = edited(tiny_dir, tmp_path / "removed", lambda t: t.pop(LAYER))
    env = {**os.environ, "PYTHONSAFEPATH": "1"}
    argv = [sys.executable, "-m", "xraybench", "run", "--model", f"hf:{broken}", "--tasks", "demo_vqa",
            "--limit", "1", "--max-tokens", "2", "--out", str(tmp_path / "run")]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    message = " ".join(proc.stderr.split())  # rich may wrap the line
    assert f"hf:{broken}" in message and "model.safetensors" in message
    assert f"missing 1: {LIVE}" in message
    assert not (tmp_path / "run" / "predictions.jsonl").exists()


def test_renamed_tensor_names_missing_and_unexpected_keys(tiny_dir: Path, tmp_path: Path) -> None:
    renamed = LAYER.replace("down_proj", "down_projX")
    broken = edited(tiny_dir, tmp_path / "renamed", lambda t: t.__setitem__(renamed, t.pop(LAYER)))
    with pytest.raises(XrayBenchError) as info:
        load(broken)
    message = str(info.value)
    assert message.startswith(f"hf:{broken} (model.safetensors): the checkpoint's weights do not match")
    assert f"missing 1: {LIVE}" in message
    assert f"unexpected 1: {LIVE.replace('down_proj', 'down_projX')}" in message


def test_reshaped_tensor_names_both_shapes(tiny_dir: Path, tmp_path: Path) -> None:
    broken = edited(tiny_dir, tmp_path / "reshaped", lambda t: t.__setitem__(LAYER, torch.zeros(3, 3)))
    expected = list(safetensors_torch.load_file(tiny_dir / "model.safetensors")[LAYER].shape)
    with pytest.raises(XrayBenchError, match=r"mismatched shape 1: ") as info:
        load(broken)
    assert f"{LIVE} (checkpoint [3, 3], model {expected})" in str(info.value)


def test_truncated_weight_file_is_a_clear_error(tiny_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "truncated"
    shutil.copytree(tiny_dir, broken)
    data = (broken / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(XrayBenchError, match=rf"hf:{broken}: cannot load the model from {broken}: .*"):
        load(broken)
