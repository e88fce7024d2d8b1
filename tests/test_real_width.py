"""The real-width model builders behind benchmarks/green and benchmarks/crimson (`xraybench.testing.real_width`).

- The width constants give Llama-2-7B's published parameter count (6,738,415,616) at 32 layers, built on the meta
  device (no memory), and Gemma 3's attention pattern (5 full-attention layers of 34, every 6th).
- The builders' code path, run at a narrow width: a greedy run decodes exactly the allowed number of tokens (the EOS
  output rows are zero), the forward timer splits a generate call into one prefill and the decode steps, and the
  CRIMSON-layout folder loads in the text-generation pipeline with its chat template.
- The depth fit recovers a line and reports its residual.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the real-width builders need torch (the 'hf' extra)")
transformers = pytest.importorskip("transformers", reason="the real-width builders need transformers (the 'hf' extra)")

from xraybench.testing.real_width import (  # noqa: E402
    GEMMA3_4B_TEXT,
    LLAMA2_7B,
    ForwardTimer,
    bpe_tokenizer,
    build_gemma3_real_width,
    build_llama_real_width,
    gemma3_layer_types,
    linear_fit,
)
from xraybench.testing.tiny_bert import CORPUS  # noqa: E402

NARROW_LLAMA = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 4}
NARROW_GEMMA = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2,
                "head_dim": 16, "query_pre_attn_scalar": 16, "sliding_window": 16}  # fmt: skip


def test_llama_width_has_llama2_7b_parameter_count() -> None:
    config = transformers.LlamaConfig(**LLAMA2_7B)
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(config)
    assert sum(p.numel() for p in model.parameters()) == 6_738_415_616


def test_gemma3_layer_pattern() -> None:
    types = gemma3_layer_types(GEMMA3_4B_TEXT["num_hidden_layers"])
    assert [i + 1 for i, t in enumerate(types) if t == "full_attention"] == [6, 12, 18, 24, 30]
    assert gemma3_layer_types(4) == ["sliding_attention"] * 4


def test_narrow_llama_decodes_exactly_the_allowed_tokens(tmp_path: Path) -> None:
    tokenizer = bpe_tokenizer(CORPUS.splitlines(), 800)
    folder = build_llama_real_width(tmp_path / "m", 2, tokenizer, width=NARROW_LLAMA)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    assert model.config.num_hidden_layers == 2 and model.config.vocab_size == LLAMA2_7B["vocab_size"]
    eos = model.config.eos_token_id
    assert torch.count_nonzero(model.get_output_embeddings().weight[eos]) == 0
    timer = ForwardTimer()
    timer.watch(model)
    ids = tokenizer("The heart is normal in size and the lungs are clear.", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=40, do_sample=False,
                             eos_token_id=eos, pad_token_id=eos)  # fmt: skip
    new = out[:, ids.shape[1] :]
    assert new.shape[1] == 40 and not (new == eos).any()
    assert len(timer.prefill) == 1 and len(timer.steps) == 39


def test_narrow_gemma3_runs_in_the_pipeline_for_the_forced_tokens(tmp_path: Path) -> None:
    tokenizer = bpe_tokenizer(CORPUS.splitlines(), 800)
    folder = build_gemma3_real_width(tmp_path / "m", 6, tokenizer, max_new_tokens=12, width=NARROW_GEMMA)
    pipe = transformers.pipeline("text-generation", model=str(folder), dtype=torch.bfloat16, device_map="cpu")
    text = pipe.model.config.get_text_config()
    assert text.vocab_size == GEMMA3_4B_TEXT["vocab_size"] and text.layer_types[-1] == "full_attention"
    timer = ForwardTimer()
    timer.watch(pipe.model)
    chat = [{"role": "system", "content": "You evaluate reports."}, {"role": "user", "content": "No effusion."}]
    out = pipe(chat, generation_config=pipe.model.generation_config)
    assert out[0]["generated_text"][-1]["role"] == "assistant"
    assert len(timer.prefill) == 1 and len(timer.steps) == 11  # exactly 12 new tokens: no EOS chosen


def test_linear_fit_recovers_a_line() -> None:
    a, b, residual = linear_fit([1, 2, 4], [3.0, 5.0, 9.0])
    assert (a, b, residual) == pytest.approx((1.0, 2.0, 0.0))
    a, b, residual = linear_fit([1, 2, 4], [3.0, 5.5, 9.0])
    assert residual > 0.2
    with pytest.raises(ValueError):
        linear_fit([2, 2], [1.0, 1.0])


def test_sentencepiece_model_becomes_a_llama_tokenizer_with_bos(tmp_path: Path) -> None:
    spm = pytest.importorskip("sentencepiece", reason="reading a tokenizer.model needs sentencepiece (dev extra)")
    pytest.importorskip("google.protobuf", reason="converting a tokenizer.model needs protobuf (dev extra)")
    from xraybench.testing.real_width import sentencepiece_tokenizer

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS)
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(tmp_path / "sp"), vocab_size=300,
                                   model_type="bpe", bos_id=1, eos_id=2, unk_id=0, character_coverage=1.0)  # fmt: skip
    tokenizer = sentencepiece_tokenizer(tmp_path / "sp.model")
    text = next(line for line in CORPUS.splitlines() if len(line.split()) > 4).strip()
    ids = tokenizer(text)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and len(tokenizer) == 300
    assert tokenizer.decode(ids, skip_special_tokens=True) == text
    with pytest.raises(FileNotFoundError):
        sentencepiece_tokenizer(tmp_path / "missing.model")
