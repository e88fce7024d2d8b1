"""Build a tiny, randomly initialised Qwen2.5-VL checkpoint fully offline, for tests and CPU smoke runs.

No weights are downloaded: the tokenizer is a byte-level BPE trained here on a bundled text, with Qwen's
special tokens and a Qwen-style chat template; the model comes from a `Qwen2_5_VLConfig` with a few
narrow layers. The checkpoint is written with `save_pretrained` in the layout of a real Qwen2.5-VL
release, so `hf:` (and the trainer) load it exactly as they load the real model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from xraybench.lazy import require

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

# Qwen2.5-VL's template in spirit: a default system turn, images as <|vision_start|><|image_pad|><|vision_end|>.
# No `{%-`/`-%}` trimming anywhere: trimming next to the "\n" after a role silently eats it.
CHAT_TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Invented text (not from any dataset) that gives the BPE common report words and the reasoning format.
CORPUS = """\
The heart size is normal. The lungs are clear. There is no pleural effusion or pneumothorax.
No acute cardiopulmonary abnormality. Mild cardiomegaly with small bilateral pleural effusions.
Patchy opacity in the right lower lobe may represent atelectasis or consolidation. Pulmonary edema is present.
The mediastinal contours are within normal limits. Degenerative changes of the thoracic spine.
Support devices: an endotracheal tube terminates above the carina. A nasogastric tube enters the stomach.
<think>The cardiac silhouette at [180, 200, 340, 360] is enlarged. The costophrenic angles are sharp.</think>
The final answer is \\boxed{cardiomegaly}. Question: is there a pleural effusion? Answer: yes, no.
Findings: left basilar opacity. Impression: pneumonia cannot be excluded. Lung opacity, fracture, lesion.
"""


def _tokenizer(vocab_size: int) -> Any:
    tokenizers = require("tokenizers", "hf", "the tiny Qwen2.5-VL tokenizer")
    transformers = require("transformers", "hf", "the tiny Qwen2.5-VL tokenizer")
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE())
    bpe.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(CORPUS.splitlines(), trainer=trainer)
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        padding_side="left",
        chat_template=CHAT_TEMPLATE,
        model_max_length=4096,
    )


def build_tiny_qwen2_5_vl(out_dir: str | Path, seed: int = 0, *, vocab_size: int = 512) -> Path:
    """Write the tiny checkpoint to `out_dir` (created) and return it; same seed, same weights and files."""
    torch = require("torch", "hf", "the tiny Qwen2.5-VL")
    transformers = require("transformers", "hf", "the tiny Qwen2.5-VL")
    from xraybench.models.hf import image_only_processor

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(vocab_size)
    ids = {tok: tokenizer.convert_tokens_to_ids(tok) for tok in SPECIAL_TOKENS}
    text_config = {
        "vocab_size": len(tokenizer),
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
        "initializer_range": 0.2,  # spread-out logits: greedy decoding is not decided by rounding noise
    }
    vision_config = {
        "depth": 2,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_heads": 2,
        "out_hidden_size": 64,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "window_size": 56,
        "fullatt_block_indexes": [1],
    }
    config = transformers.Qwen2_5_VLConfig(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(seed)
    model = transformers.Qwen2_5_VLForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.generation_config.do_sample = False
    model.save_pretrained(out)
    image_processor = transformers.Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=262144)
    processor = image_only_processor(transformers.Qwen2_5_VLProcessor, image_processor, tokenizer, CHAT_TEMPLATE)
    processor.save_pretrained(out)
    image_processor.save_pretrained(out)  # preprocessor_config.json, as real releases ship it
    (out / "xraybench_tiny.json").write_text(json.dumps({"builder": "build_tiny_qwen2_5_vl", "seed": seed}) + "\n")
    return out
