"""vllm: adapter: a clear missing-extra error everywhere; real generation only where vLLM and a GPU exist."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
from PIL import Image

from xraybench.errors import MissingExtraError
from xraybench.generate import GenerateConfig
from xraybench.models.base import ModelContext
from xraybench.models.vllm import VLLMModel
from xraybench.records import Sample


def test_missing_vllm_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` fail even where it is installed
    with pytest.raises(MissingExtraError, match=r"xraybench\[vllm\]") as info:
        VLLMModel(str(tmp_path), None, ModelContext())
    assert info.value.extra == "vllm"


def _gpu_ready() -> bool:
    if importlib.util.find_spec("vllm") is None or importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _gpu_ready(), reason="needs vllm and a CUDA GPU")
def test_generates_on_gpu(tmp_path: Path) -> None:
    """Greedy generation is deterministic and counts tokens; XRAYBENCH_VLLM_MODEL picks a real checkpoint."""
    from xraybench.testing.tiny_qwen_vl import build_tiny_qwen2_5_vl

    path = os.environ.get("XRAYBENCH_VLLM_MODEL") or str(build_tiny_qwen2_5_vl(tmp_path / "tiny"))
    image = tmp_path / "cxr.png"
    Image.new("L", (112, 112), color=100).save(image)
    samples = [
        Sample(
            id=f"g{i}",
            task="demo",
            dataset="demo",
            split="test",
            prompt="Describe.",
            reference="",
            image_paths=[str(image)],
        )
        for i in range(3)
    ]
    model = VLLMModel(path, {"gpu_memory_utilization": 0.3}, ModelContext(), GenerateConfig(max_tokens=8))
    first = model.generate(samples, [s.prompt for s in samples])
    second = model.generate(samples, [s.prompt for s in samples])
    assert [g.text for g in first] == [g.text for g in second]
    assert all(1 <= g.completion_tokens <= 8 and g.prompt_tokens > 0 for g in first)
