"""Build a tiny, randomly initialised Llama causal LM fully offline, for the LLM-based metric tests (GREEN).

The folder is laid out like a Hugging Face Llama release (GREEN-radllama2-7b's architecture): `config.json`
(`LlamaForCausalLM`), weights, and a `LlamaTokenizer` (fast) with `<s>`, `</s>`, `<unk>`. Its byte-level BPE is
trained here on the invented report text of `tiny_bert.CORPUS` and the given extra texts (e.g. a metric's prompt),
so prompts come to a few hundred tokens and any text round-trips through encode / decode.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xraybench.lazy import require
from xraybench.testing.tiny_bert import CORPUS


def build_tiny_llama(
    out_dir: str | Path, extra_texts: Sequence[str] = (), seed: int = 0, *, vocab_size: int = 1200, hidden: int = 32
) -> Path:
    """Write a tiny Llama (config, random weights, tokenizer) to `out_dir` and return it."""
    torch = require("torch", "hf", "the tiny Llama")
    tokenizers = require("tokenizers", "hf", "the tiny Llama")
    transformers = require("transformers", "hf", "the tiny Llama")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator([*CORPUS.splitlines(), *extra_texts], trainer=trainer)
    tokenizer = transformers.LlamaTokenizerFast(
        tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", unk_token="<unk>", model_max_length=4096
    )
    tokenizer.save_pretrained(out)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    transformers.LlamaForCausalLM(config).eval().save_pretrained(out)
    return out
