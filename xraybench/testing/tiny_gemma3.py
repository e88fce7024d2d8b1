"""Build a tiny, randomly initialised Gemma 3 (MedGemma) checkpoint fully offline, for the CRIMSON metric tests.

The folder is laid out like a Hugging Face MedGemma-4B-IT release (the architecture of CRIMSON's
rajpurkarlab/medgemma-4b-it-crimson): `config.json` (`Gemma3ForConditionalGeneration`, a text decoder plus a
SigLIP vision tower), weights, a `GemmaTokenizer` (fast) with Gemma's special tokens and a Gemma-style chat template
(the system turn folded into the first user turn, `<start_of_turn>user` / `<start_of_turn>model`), and a
`generation_config.json` of its own (greedy, `max_new_tokens`; a real checkpoint may ship one too, and CRIMSON then
uses it). The byte-level BPE is trained here on the invented report text of `tiny_bert.CORPUS` plus the given extra
texts (e.g. CRIMSON's prompt), so prompts stay a few thousand tokens and any text round-trips through encode / decode.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xraybench.lazy import require
from xraybench.testing.tiny_bert import CORPUS

SPECIAL_TOKENS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>", "<start_of_image>",
                  "<end_of_image>", "<image_soft_token>"]  # fmt: skip

# Gemma 3's template in spirit: a system message is prepended to the first user turn; the assistant role is "model".
# No `{%-`/`-%}` trimming next to the "\n" after a role (it would silently eat it).
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% if messages[0]['role'] == 'system' %}{% set prefix = messages[0]['content'] + '\n\n' %}"
    "{% set turns = messages[1:] %}{% else %}{% set prefix = '' %}{% set turns = messages %}{% endif %}"
    "{% for message in turns %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{{ '<start_of_turn>' + role + '\n' + (prefix if loop.first else '') + message['content'] }}<end_of_turn>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)


def build_tiny_gemma3(
    out_dir: str | Path,
    extra_texts: Sequence[str] = (),
    seed: int = 0,
    *,
    vocab_size: int = 1500,
    hidden: int = 32,
    max_new_tokens: int | None = 48,
) -> Path:
    """Write a tiny MedGemma-layout checkpoint to `out_dir` and return it.

    `max_new_tokens`: written to its own generation_config.json (greedy); None leaves the one `save_pretrained`
    derives from the model config (marked as such, so CRIMSON falls back to its own generation settings)."""
    torch = require("torch", "hf", "the tiny Gemma 3")
    tokenizers = require("tokenizers", "hf", "the tiny Gemma 3")
    transformers = require("transformers", "hf", "the tiny Gemma 3")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator([*CORPUS.splitlines(), *extra_texts], trainer=trainer)
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
        pad_token="<pad>",
        additional_special_tokens=SPECIAL_TOKENS[4:],
        model_max_length=32768,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(out)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    text_config = transformers.Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=32768,
        sliding_window=64,
        pad_token_id=ids["<pad>"],
        bos_token_id=ids["<bos>"],
        eos_token_id=[ids["<eos>"], ids["<end_of_turn>"]],
    )
    config = gemma3_config(text_config, ids, ids["<bos>"], [ids["<eos>"], ids["<end_of_turn>"]])
    torch.manual_seed(seed)
    transformers.Gemma3ForConditionalGeneration(config).eval().save_pretrained(out)
    if max_new_tokens is not None:
        save_greedy_generation_config(
            out, max_new_tokens, ids["<bos>"], ids["<pad>"], [ids["<eos>"], ids["<end_of_turn>"]]
        )
    return out


def gemma3_config(text_config: Any, ids: dict[str, int], bos: int, eos: list[int]) -> Any:
    """MedGemma's multimodal config around `text_config` (`ids`: `SPECIAL_TOKENS`' ids), with a tiny SigLIP tower:
    text prompts never run it, so its size changes no text result."""
    transformers = require("transformers", "hf", "the Gemma 3 builders")
    vision_config = transformers.SiglipVisionConfig(
        hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=28, patch_size=14
    )
    return transformers.Gemma3Config(
        text_config=text_config.to_dict(),
        vision_config=vision_config.to_dict(),
        mm_tokens_per_image=4,
        image_token_index=ids["<image_soft_token>"],
        boi_token_index=ids["<start_of_image>"],
        eoi_token_index=ids["<end_of_image>"],
        pad_token_id=ids["<pad>"],
        bos_token_id=bos,
        eos_token_id=eos,
    )


def save_greedy_generation_config(out: Path, max_new_tokens: int, bos: int, pad: int, eos: list[int]) -> None:
    """A greedy generation_config.json of the checkpoint's own in `out` (what the metric's package reads)."""
    transformers = require("transformers", "hf", "the Gemma 3 builders")
    transformers.GenerationConfig(
        do_sample=False, max_new_tokens=max_new_tokens, bos_token_id=bos, pad_token_id=pad, eos_token_id=eos
    ).save_pretrained(out)
