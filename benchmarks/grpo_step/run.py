"""GRPO step time and peak GPU memory of the real Qwen2.5-VL-7B architecture (randomly initialised, LoRA).

    .venv/bin/python benchmarks/grpo_step/run.py [--steps 3] [--max-completion-length 256] [--lora-r 64]

Nothing is downloaded: the model is built from the Qwen2.5-VL-7B-Instruct architecture numbers below and saved to
a temporary folder (the trainer always loads its policy from disk), with the offline tiny tokenizer/processor
(its ids fit the real vocabulary). The GRPO steps run through `medix_train.train.run_grpo` — the same code path
as `xraybench train grpo` — on synthetic 512x512 images with the reasoning prompt, group size 5, KL beta 0.01.
A random model never stops early, so every completion is `--max-completion-length` tokens: a worst case.

Anchor (same run, same GPU): one forward + backward of the bare bf16 model over one GRPO batch's tokens
(5 sequences of prompt + completion). The printed ratio is GRPO step time / anchor (generation dominates).
Needs CUDA; prints a clear skip otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

# Qwen2.5-VL-7B-Instruct (config.json of the release), written out so nothing is fetched.
TEXT = {"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
        "num_key_value_heads": 4, "vocab_size": 152064, "max_position_embeddings": 128000, "rms_norm_eps": 1e-6,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]},
        "tie_word_embeddings": False}  # fmt: skip
VISION = {"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16, "out_hidden_size": 3584,
          "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 112,
          "fullatt_block_indexes": [7, 15, 23, 31], "hidden_act": "silu"}  # fmt: skip


def build_model(out: Path) -> None:
    """The 7B architecture with random bf16 weights plus the offline processor, saved to `out`."""
    import torch
    import transformers

    from xraybench.testing.tiny_qwen_vl import SPECIAL_TOKENS, build_tiny_qwen2_5_vl

    build_tiny_qwen2_5_vl(out)  # tokenizer, processor, chat template; the weights are replaced below
    tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    ids = {tok: tokenizer.convert_tokens_to_ids(tok) for tok in SPECIAL_TOKENS}
    text = {**TEXT, "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"]}  # fmt: skip
    config = transformers.Qwen2_5_VLConfig(
        text_config=text,
        vision_config=VISION,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = transformers.AutoModelForImageTextToText.from_config(config, dtype=torch.bfloat16)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    for name in ("model.safetensors", "xraybench_tiny.json"):  # the tiny weights would shadow the sharded ones
        (out / name).unlink()
    model.save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: Qwen2.5-VL-7B architecture, {n_params / 1e9:.2f} B parameters (random, bf16)")
    del model
    torch.cuda.empty_cache()


def write_records(root: Path, n: int) -> Path:
    """`n` GRPO prompt records (DATA_FORMAT.md) over synthetic 512x512 images."""
    from medix_train.data import answer_form
    from xraybench.prompts import render_prompt

    rng = np.random.default_rng(0)
    path = root / "grpo.jsonl"
    truths = ["effusion|cardiomegaly", "yes", "The heart size is normal. The lungs are clear. No effusion."]
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            image = root / f"img{i}.png"
            Image.fromarray(rng.integers(0, 255, (512, 512), dtype=np.uint8)).convert("RGB").save(image)
            truth = truths[i % len(truths)]
            text = render_prompt("Describe the findings and answer: is there a pleural effusion?", "reasoning")
            record = {"id": f"bench/{i}", "stage": "grpo",
                      "source": {"dataset": "synthetic", "task": "bench", "split": "train", "sample_id": str(i)},
                      "images": [str(image)],
                      "prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}],
                      "ground_truth": truth, "answer_form": answer_form(truth)}  # fmt: skip
            fh.write(json.dumps(record) + "\n")
    return path


def anchor_seconds(model_dir: Path, n_seq: int, seq_len: int) -> float:
    """One forward + backward of the bare model on `n_seq` x `seq_len` text tokens (best of 3)."""
    import torch
    import transformers

    model = transformers.AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.bfloat16).cuda()
    model.gradient_checkpointing_enable()
    ids = torch.randint(100, 500, (n_seq, seq_len), device="cuda")
    best = float("inf")
    for _ in range(3):
        torch.cuda.synchronize()
        start = time.perf_counter()
        model(input_ids=ids, labels=ids).loss.backward()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
        model.zero_grad(set_to_none=True)
    del model
    torch.cuda.empty_cache()
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3, help="GRPO steps (the first includes warm-up)")
    parser.add_argument("--max-completion-length", type=int, default=256)
    parser.add_argument("--num-generations", type=int, default=5)
    parser.add_argument("--lora-r", type=int, default=64)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("skip: torch is not installed")
        return 0
    if not torch.cuda.is_available():
        print("skip: no CUDA GPU (this benchmark times the real 7B architecture; run it on a GPU machine)")
        return 0
    from medix_train.config import GRPOStageConfig, LoraSettings
    from medix_train.train import METRICS_FILE, run_grpo

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_model(root / "model")
        data = write_records(root, args.steps * 2)
        anchor = anchor_seconds(root / "model", args.num_generations, 400 + args.max_completion_length)
        torch.cuda.reset_peak_memory_stats()
        config = GRPOStageConfig(
            model=str(root / "model"), data=[str(data)], output_dir=str(root / "grpo"),
            max_steps=args.steps, per_device_train_batch_size=args.num_generations,
            num_generations=args.num_generations, max_tokens=args.max_completion_length,
            dtype="bfloat16", bf16=True, gradient_checkpointing=True, save_steps=10**6, logging_steps=1,
            report_to="none", lora=LoraSettings(r=args.lora_r, alpha=2 * args.lora_r),
        )  # fmt: skip
        started = time.perf_counter()
        run_grpo(config)
        wall = time.perf_counter() - started
        peak = torch.cuda.max_memory_allocated() / 2**30
        rows = [json.loads(line) for line in (root / "grpo" / METRICS_FILE).read_text().splitlines()]
        step_times = [row["step_time"] for row in rows if "step_time" in row]
    steady = step_times[1:] or step_times
    per_step = sum(steady) / len(steady)
    print(f"device: {torch.cuda.get_device_name(0)}")
    print(f"GRPO steps: {len(step_times)} x (1 prompt x {args.num_generations} completions of "
          f"{args.max_completion_length} tokens, 512x512 image), LoRA r={args.lora_r}, bf16, grad checkpointing")  # fmt: skip
    print(
        f"step time (steady, excluding the first): {per_step:.2f} s; all steps: "
        + ", ".join(f"{t:.2f}" for t in step_times)
        + f"; wall incl. load + final merge/save {wall:.0f} s"
    )
    print(f"peak GPU memory allocated: {peak:.1f} GiB")
    print(f"anchor fwd+bwd of {args.num_generations} x {400 + args.max_completion_length} tokens: {anchor:.2f} s; "
          f"ratio step/anchor: {per_step / anchor:.1f}x")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
