"""hf: adapter on a tiny randomly initialised Qwen2.5-VL built offline into a temporary folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch", reason="the hf extra (torch) is not installed")
pytest.importorskip("transformers", reason="the hf extra (transformers) is not installed")

from xraybench.errors import XrayBenchError  # noqa: E402
from xraybench.generate import GenerateConfig  # noqa: E402
from xraybench.models.base import ModelContext  # noqa: E402
from xraybench.models.hf import HFModel, HFOptions, load_processor  # noqa: E402
from xraybench.records import Sample  # noqa: E402
from xraybench.testing.tiny_qwen_vl import build_tiny_qwen2_5_vl  # noqa: E402

SIZES = [(64, 64), (80, 56), (56, 112)]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen2_5_vl(tmp_path_factory.mktemp("tiny_qwen"), seed=0)


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[Sample]:
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    out = []
    for i, (w, h) in enumerate(SIZES):
        path = folder / f"cxr_{i}.png"
        Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), mode="L").save(path)
        prompt = "Describe the findings." + " Be brief." * i  # different lengths: left padding is exercised
        out.append(
            Sample(
                id=f"s{i}",
                task="demo",
                dataset="demo",
                split="test",
                prompt=prompt,
                reference="",
                image_paths=[str(path)],
            )
        )
    return out


@pytest.fixture(scope="module")
def model(tiny_dir: Path) -> HFModel:
    return HFModel(str(tiny_dir), HFOptions(device="cpu"), ModelContext(), GenerateConfig(max_tokens=8, seed=0))


def prompts(samples: list[Sample]) -> list[str]:
    return [s.prompt for s in samples]


def test_checkpoint_loads_as_a_qwen2_5_vl_with_its_image_processor(tiny_dir: Path, model: HFModel) -> None:
    assert type(model.model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    processor = load_processor(tiny_dir, vision=True)
    assert type(processor).__name__ == "Qwen2_5_VLProcessor"
    assert hasattr(processor, "image_processor") and not hasattr(processor, "video_processor")
    text = model._text("What is shown?", 1)
    assert text.endswith(
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is shown?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_system_prompt_goes_through_the_chat_template(tiny_dir: Path, samples: list[Sample]) -> None:
    """`--model-arg system_prompt=...` for hf: (as for the API adapters): a system turn before the user's."""
    model = HFModel(str(tiny_dir), {"device": "cpu", "system_prompt": "You are a radiologist."}, ModelContext(),
                    GenerateConfig(max_tokens=2))  # fmt: skip
    assert model._text("What is shown?", 1).startswith("<|im_start|>system\nYou are a radiologist.<|im_end|>\n")
    assert model.generate(samples[:1], prompts(samples[:1]))[0].prompt_tokens > 0


def test_batch_generation_is_greedy_deterministic_and_matches_one_by_one(model: HFModel, samples: list[Sample]) -> None:
    batch = model.generate(samples, prompts(samples))
    again = model.generate(samples, prompts(samples))
    single = [model.generate([s], [s.prompt])[0] for s in samples]
    assert [g.text for g in batch] == [g.text for g in again] == [g.text for g in single]
    assert all(isinstance(g.text, str) and g.text for g in batch)
    for g, s in zip(batch, single, strict=True):
        assert 1 <= g.completion_tokens <= 8
        assert g.finish_reason in ("stop", "length")
        assert g.finish_reason != "length" or g.completion_tokens == 8
        assert g.prompt_tokens == s.prompt_tokens  # padding is not counted
        assert g.latency_s > 0
    # image tokens are in the prompt: a 64x64 image is 2x2 merged patches = 4 tokens, 56x112 is 2x4 = 8
    assert single[2].prompt_tokens - single[0].prompt_tokens == 4 + 2 * len(model.tokenizer(" Be brief.")["input_ids"])


def test_sampling_is_seeded(tiny_dir: Path, samples: list[Sample]) -> None:
    decoding = GenerateConfig(max_tokens=8, temperature=1.0, seed=3)
    first = HFModel(str(tiny_dir), {"device": "cpu"}, ModelContext(), decoding).generate(samples, prompts(samples))
    second = HFModel(str(tiny_dir), {"device": "cpu"}, ModelContext(), decoding).generate(samples, prompts(samples))
    assert [g.text for g in first] == [g.text for g in second]


def test_stop_seqs_end_the_answer_before_the_stop_text(tiny_dir: Path, model: HFModel, samples: list[Sample]) -> None:
    """`--stop-seqs TEXT`: the answer ends where TEXT would start (TEXT left out, as OpenAI servers and vLLM do)."""
    full = model.generate(samples[:1], prompts(samples[:1]))[0].text
    start = next(i for i in range(1, len(full) - 1) if full.find(full[i : i + 2]) == i)
    stop = full[start : start + 2]
    stopped = HFModel(str(tiny_dir), {"device": "cpu"}, ModelContext(), GenerateConfig(max_tokens=8, stop_seqs=[stop]))
    gen = stopped.generate(samples[:1], prompts(samples[:1]))[0]
    assert gen.text == full[:start] and gen.finish_reason == "stop"


def test_image_size_option_resizes_before_the_processor(tiny_dir: Path, samples: list[Sample]) -> None:
    resized = HFModel(
        str(tiny_dir), HFOptions(device="cpu"), ModelContext(image_size=112), GenerateConfig(max_tokens=2)
    )
    gens = resized.generate(samples[:2], prompts(samples[:2]))
    # 112x112 -> 8x8 patches -> 16 merged image tokens for both, whatever the original size
    assert gens[1].prompt_tokens - gens[0].prompt_tokens == len(resized.tokenizer(" Be brief.")["input_ids"])


def test_missing_image_names_sample_and_path(model: HFModel, samples: list[Sample], tmp_path: Path) -> None:
    broken = Sample(**{**samples[0].to_json(), "id": "bad1", "image_paths": [str(tmp_path / "gone.png")]})
    with pytest.raises(XrayBenchError, match=r"sample bad1: image not found: .*gone\.png"):
        model.generate([broken], [broken.prompt])


def test_not_a_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(XrayBenchError, match="config.json"):
        HFModel(str(tmp_path), HFOptions(), ModelContext())


def test_build_is_deterministic(tiny_dir: Path, tmp_path: Path) -> None:
    again = build_tiny_qwen2_5_vl(tmp_path / "again", seed=0)
    for name in ("model.safetensors", "tokenizer.json", "config.json", "chat_template.jinja"):
        assert (
            hashlib.sha256((again / name).read_bytes()).digest()
            == hashlib.sha256((tiny_dir / name).read_bytes()).digest()
        ), name


def test_text_only_causal_lm_fallback(tiny_dir: Path, samples: list[Sample], tmp_path: Path) -> None:
    import torch
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_dir)
    config = transformers.Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    transformers.Qwen2ForCausalLM(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    text_model = HFModel(str(tmp_path), HFOptions(device="cpu"), ModelContext(), GenerateConfig(max_tokens=4))
    assert not text_model.vision
    gens = text_model.generate(samples, prompts(samples))
    assert [g.text for g in gens] == [text_model.generate([s], [s.prompt])[0].text for s in samples]
    assert all(1 <= g.completion_tokens <= 4 for g in gens)
