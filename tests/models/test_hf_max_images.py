"""hf: `max_images`: a multi-view study (ReXrank's) gives the model at most that many images, the key view first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch", reason="the hf extra (torch) is not installed")
pytest.importorskip("transformers", reason="the hf extra (transformers) is not installed")

from xraybench.generate import GenerateConfig  # noqa: E402
from xraybench.models.base import ModelContext  # noqa: E402
from xraybench.models.hf import HFModel, HFOptions  # noqa: E402
from xraybench.records import Sample  # noqa: E402
from xraybench.testing.tiny_qwen_vl import build_tiny_qwen2_5_vl  # noqa: E402


def test_max_images_keeps_the_key_view(tmp_path: Path) -> None:
    tiny = build_tiny_qwen2_5_vl(tmp_path / "tiny", seed=0)
    rng = np.random.default_rng(0)
    paths = []
    for k, (w, h) in enumerate([(56, 112), (64, 64), (80, 56)]):  # the key (frontal) view first, as loaders order
        path = tmp_path / f"view{k}.png"
        Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), mode="L").save(path)
        paths.append(str(path))
    study = Sample("s", "rexrank_iu_xray", "rexrank", "test", "Write the report.", "", image_paths=paths)
    key_only = Sample("k", "rexrank_iu_xray", "rexrank", "test", "Write the report.", "", image_paths=paths[:1])
    other_only = Sample("o", "rexrank_iu_xray", "rexrank", "test", "Write the report.", "", image_paths=paths[1:2])

    def tokens(options: HFOptions, sample: Sample) -> int | None:
        model = HFModel(str(tiny), options, ModelContext(), GenerateConfig(max_tokens=1, seed=0))
        return model.generate([sample], [sample.prompt])[0].prompt_tokens

    every, one = tokens(HFOptions(device="cpu"), study), tokens(HFOptions(device="cpu", max_images=1), study)
    key, other = tokens(HFOptions(device="cpu"), key_only), tokens(HFOptions(device="cpu"), other_only)
    assert key != other  # the views' sizes give different image-token counts, so the count tells them apart
    assert one == key and every is not None and every > key
