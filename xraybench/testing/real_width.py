"""Randomly initialised decoder LMs at the REAL WIDTH of the LLM-judge metrics' checkpoints, at a chosen depth.

For cost measurements without the weights (benchmarks/green, benchmarks/crimson): compute per token depends on the
layer shapes, the vocabulary and the number of layers, not on the weight values, so a model built here at the real
width and 1, 2, 4 ... layers times the real pipeline per layer, and a fit over depths extrapolates to the real depth.

- `LLAMA2_7B`: StanfordAIMI/GREEN-RadLlama2-7b's config.json (LlamaForCausalLM, the RadLLaMA-7b base; bf16).
- `GEMMA3_4B_TEXT`: the text decoder of MedGemma 4B / Gemma 3 4B (Gemma3ForConditionalGeneration's `text_config`,
  the architecture of rajpurkarlab/medgemma-4b-it-crimson). The SigLIP vision tower is built tiny: CRIMSON's
  prompts are text only, so the tower never runs.

Random weights never choose EOS here: the output-embedding rows of the end-of-sequence tokens are zeroed, so their
logit is 0 while the largest of the other (random) logits is positive, and a greedy run decodes exactly as many tokens
as the caller allows (a cost measurement needs a fixed answer length).

Tokenizers: `sentencepiece_tokenizer` reads a Llama 2 `tokenizer.model` (the 32,000-piece SentencePiece model GREEN's
checkpoint uses; not shipped here, give its path); `bpe_tokenizer` trains a byte-level BPE on given texts instead.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from xraybench.lazy import require
from xraybench.testing.tiny_gemma3 import CHAT_TEMPLATE as GEMMA_CHAT_TEMPLATE
from xraybench.testing.tiny_gemma3 import SPECIAL_TOKENS as GEMMA_SPECIAL_TOKENS
from xraybench.testing.tiny_gemma3 import gemma3_config, save_greedy_generation_config

# StanfordAIMI/GREEN-RadLlama2-7b config.json (the layer count is the builder's `layers`)
LLAMA2_7B: dict[str, Any] = {
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "num_hidden_layers": 32,
    "vocab_size": 32000,
    "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "hidden_act": "silu",
    "tie_word_embeddings": False,
}
# Gemma 3 4B / MedGemma 4B text_config (gemma-3-4b config.json; sliding window every layer but each 6th)
GEMMA3_4B_TEXT: dict[str, Any] = {
    "hidden_size": 2560,
    "intermediate_size": 10240,
    "num_hidden_layers": 34,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 256,
    "query_pre_attn_scalar": 256,
    "vocab_size": 262208,
    "sliding_window": 1024,
    "sliding_window_pattern": 6,
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-6,
    "hidden_activation": "gelu_pytorch_tanh",
}


def sentencepiece_tokenizer(model_file: str | Path) -> Any:
    """The Llama tokenizer of a SentencePiece `tokenizer.model` (BOS added, as Llama 2's tokenizer_config says)."""
    transformers = require("transformers", "hf", "the real-width models")
    require("sentencepiece", "dev", "reading a SentencePiece tokenizer.model")
    require("google.protobuf", "dev", "reading a SentencePiece tokenizer.model")
    path = Path(model_file)
    if not path.is_file():
        raise FileNotFoundError(f"SentencePiece model not found: {path}")
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="spm-") as folder:  # from_pretrained looks for it under this name
        shutil.copy(path, Path(folder) / "tokenizer.model")
        return transformers.LlamaTokenizer.from_pretrained(folder, legacy=False, add_bos_token=True)


def bpe_tokenizer(
    texts: Sequence[str], vocab_size: int, special_tokens: Sequence[str] = ("<unk>", "<s>", "</s>")
) -> Any:
    """A byte-level BPE trained on `texts` (at most `vocab_size` entries; a small corpus gives fewer)."""
    tokenizers = require("tokenizers", "hf", "the real-width models")
    transformers = require("transformers", "hf", "the real-width models")
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token=special_tokens[0]))
    bpe.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(list(texts), trainer=trainer)
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=bpe, unk_token=special_tokens[0], bos_token=special_tokens[1], eos_token=special_tokens[2]
    )


def gemma3_layer_types(layers: int, pattern: int = GEMMA3_4B_TEXT["sliding_window_pattern"]) -> list[str]:
    """Gemma 3's attention per layer: a sliding window, except every `pattern`-th layer (full attention)."""
    return ["full_attention" if (i + 1) % pattern == 0 else "sliding_attention" for i in range(layers)]


def _save_tokenizer(tokenizer: Any, out: Path, **config: Any) -> None:
    tokenizer.save_pretrained(out)
    path = out / "tokenizer_config.json"
    saved = json.loads(path.read_text())
    saved.update(config)  # e.g. add_bos_token: a reload by AutoTokenizer keeps the real tokenizer's behaviour
    path.write_text(json.dumps(saved, indent=2))


def _zero_rows(weight: Any, ids: Sequence[int]) -> None:
    torch = require("torch", "hf", "the real-width models")
    with torch.no_grad():
        for i in ids:
            weight[i].zero_()


def build_llama_real_width(
    out_dir: str | Path, layers: int, tokenizer: Any, seed: int = 0, *, width: dict[str, Any] | None = None
) -> Path:
    """GREEN-RadLlama2-7b's architecture with `layers` decoder layers, random bf16 weights, `tokenizer`
    (`width`: overrides of `LLAMA2_7B`, for fast tests of this code path only)."""
    torch = require("torch", "hf", "the real-width models")
    transformers = require("transformers", "hf", "the real-width models")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _save_tokenizer(tokenizer, out, add_bos_token=True)
    shape = {**LLAMA2_7B, **(width or {}), "num_hidden_layers": layers}
    if len(tokenizer) > shape["vocab_size"]:
        raise ValueError(f"tokenizer has {len(tokenizer)} entries, more than the model's {shape['vocab_size']}")
    config = transformers.LlamaConfig(
        **shape,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)  # built in the checkpoint's dtype: half the memory of fp32
    try:
        model = transformers.LlamaForCausalLM(config).eval()
    finally:
        torch.set_default_dtype(previous)
    _zero_rows(model.get_output_embeddings().weight, [tokenizer.eos_token_id])
    model.save_pretrained(out)
    return out


def build_gemma3_real_width(
    out_dir: str | Path,
    layers: int,
    tokenizer: Any,
    seed: int = 0,
    *,
    max_new_tokens: int | None = None,
    width: dict[str, Any] | None = None,
) -> Path:
    """MedGemma 4B's text decoder with `layers` layers (tiny vision tower), random bf16 weights, `tokenizer` with
    Gemma's turn tokens and chat template added; `max_new_tokens`: a greedy generation_config.json of its own;
    `width`: overrides of `GEMMA3_4B_TEXT`, for fast tests of this code path only."""
    torch = require("torch", "hf", "the real-width models")
    transformers = require("transformers", "hf", "the real-width models")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    missing = [t for t in GEMMA_SPECIAL_TOKENS if t not in tokenizer.get_vocab()]
    tokenizer.add_special_tokens({"additional_special_tokens": missing})
    tokenizer.pad_token = "<pad>"
    tokenizer.chat_template = GEMMA_CHAT_TEMPLATE
    _save_tokenizer(tokenizer, out, add_bos_token=False)  # Gemma's template writes the BOS itself
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in GEMMA_SPECIAL_TOKENS}
    eos = [tokenizer.eos_token_id, ids["<end_of_turn>"]]
    shape = {**GEMMA3_4B_TEXT, **(width or {}), "num_hidden_layers": layers}
    if len(tokenizer) > shape["vocab_size"]:
        raise ValueError(f"tokenizer has {len(tokenizer)} entries, more than the model's {shape['vocab_size']}")
    text_config = transformers.Gemma3TextConfig(
        **{k: v for k, v in shape.items() if k != "sliding_window_pattern"},
        layer_types=gemma3_layer_types(layers, shape["sliding_window_pattern"]),
        rope_parameters={
            "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1_000_000.0},
            "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
        },
        pad_token_id=ids["<pad>"],
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos,
    )
    config = gemma3_config(text_config, ids, tokenizer.bos_token_id, eos)
    torch.manual_seed(seed)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        model = transformers.Gemma3ForConditionalGeneration(config).eval()
    finally:
        torch.set_default_dtype(previous)
    _zero_rows(model.get_output_embeddings().weight, eos)  # tied with the input embeddings, as in Gemma 3
    model.save_pretrained(out)
    if max_new_tokens is not None:
        save_greedy_generation_config(out, max_new_tokens, tokenizer.bos_token_id, ids["<pad>"], eos)
    return out


class ForwardTimer:
    """Times every forward call of a model inside `generate`, in wall seconds and in CPU seconds of this process
    (all threads; less moved than wall time by other jobs on a shared machine): a call with more than one new
    position per row is a prefill, a call with one is a decode step. `watch(model)` wraps that model's forward."""

    def __init__(self) -> None:
        self.prefill: list[float] = []
        self.steps: list[float] = []
        self.prefill_cpu: list[float] = []
        self.steps_cpu: list[float] = []

    def watch(self, model: Any) -> None:
        import functools
        import time

        forward = model.forward

        @functools.wraps(forward)  # generate checks its keyword arguments against forward's signature
        def timed(*args: Any, **kwargs: Any) -> Any:
            ids = kwargs.get("input_ids", args[0] if args else None)
            start, cpu = time.perf_counter(), time.process_time()
            out = forward(*args, **kwargs)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
            prefill = ids is not None and ids.shape[-1] > 1
            (self.prefill if prefill else self.steps).append(seconds)
            (self.prefill_cpu if prefill else self.steps_cpu).append(cpu_seconds)
            return out

        model.forward = timed


def time_generation(run: Callable[[], Any], model: Any, calls: int, new_tokens: int) -> dict[str, Any]:
    """Run `run()` once with a `ForwardTimer` on `model`, which must make `calls` generate calls of exactly
    `new_tokens` tokens each: per call, the mean prefill, the median decode step and the whole (wall and CPU seconds
    of this process), and what `run` returned ("result"). Exits naming the counts if the model stopped early (the
    numbers would then not be per answer length)."""
    import statistics
    import sys
    import time

    timer = ForwardTimer()
    timer.watch(model)
    start, cpu = time.perf_counter(), time.process_time()
    result = run()
    whole, whole_cpu = time.perf_counter() - start, time.process_time() - cpu
    if len(timer.prefill) != calls or len(timer.steps) != calls * (new_tokens - 1):
        sys.exit(f"expected {calls} prefills and {calls * (new_tokens - 1)} decode steps, timed {len(timer.prefill)} "
                 f"and {len(timer.steps)}: the model stopped early, the measurement would not be per answer length")  # fmt: skip
    return {
        "wall": {"prefill": statistics.mean(timer.prefill), "step": statistics.median(timer.steps),
                 "whole": whole / calls},
        "cpu": {"prefill": statistics.mean(timer.prefill_cpu), "step": statistics.median(timer.steps_cpu),
                "whole": whole_cpu / calls},
        "result": result,
    }  # fmt: skip


def benchmark_arguments(description: str, pairs: int, pairs_help: str | None, anchor: str) -> argparse.ArgumentParser:
    """The options of every real-width benchmark (benchmarks/green, benchmarks/crimson): `--pairs` (default `pairs`),
    the measured depths, `--anchor-depths` (`anchor`: what also runs there), the forced and the answer's tokens,
    the Llama 2 tokenizer, the threads and `--save`."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=pairs, help=pairs_help)
    parser.add_argument("--depths", default="1,2,3")
    parser.add_argument("--anchor-depths", default="1,2,3", help=f"depths that also run {anchor}")
    parser.add_argument("--new-tokens", type=int, default=6)
    parser.add_argument("--answer-tokens", type=int, default=None)
    parser.add_argument("--llama-tokenizer", type=Path, default=None, help="a Llama 2 SentencePiece tokenizer.model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--save", type=Path, default=None, help="also write the measured timings here (JSON)")
    return parser


def depths_of(args: argparse.Namespace) -> tuple[list[int], list[int]]:
    """(`--depths`, `--anchor-depths`; the depths when it is empty) as numbers."""
    return [int(d) for d in args.depths.split(",")], [int(d) for d in (args.anchor_depths or args.depths).split(",")]


def report_run(
    rows: dict[int, dict[str, Any]],
    *,
    header: str,
    tokenizer: str,
    workload: str,
    load_start: float,
    save: Path | None = None,
    saved: dict[str, Any] | None = None,
) -> None:
    """What precedes `print_depth_report` in the benchmarks: `header`, the machine (python, torch, threads, load
    average from `load_start` to now), the `tokenizer` and `workload` lines, peak RSS and build times; and the
    timings (wall and CPU, no outputs) written to `save` as JSON: `saved`, then "rows"."""
    import os
    import platform
    import resource

    torch = require("torch", "hf", "the real-width models")
    print(header)
    print(f"python {platform.python_version()}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs; load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end")  # fmt: skip
    print(f"tokenizer: {tokenizer}")
    print(workload)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GiB")
    print("builds (s): " + ", ".join(f"depth {d}: {row['build']:.0f}" for d, row in rows.items()))
    if save:
        keep = {d: {k: ({c: v[c] for c in ("wall", "cpu")} if isinstance(v, dict) else v) for k, v in row.items()}
                for d, row in rows.items()}  # fmt: skip
        save.write_text(json.dumps({**(saved or {}), "rows": keep}, indent=1))


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Least-squares t(L) = a + b * L over the measured depths: (a, b, largest |residual|)."""
    n = len(xs)
    if n < 2 or len(set(xs)) < 2:
        raise ValueError(f"a line needs at least two different depths, got {list(xs)}")
    mx, my = sum(xs) / n, sum(ys) / n
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    a = my - b * mx
    return a, b, max(abs(y - (a + b * x)) for x, y in zip(xs, ys, strict=True))


def print_depth_report(
    rows: dict[int, dict[str, Any]],
    names: Sequence[str],
    real_depth: int,
    answer_tokens: int,
    new_tokens: int,
    pairs_per_call: float,
    same: str = "same outcome",
) -> dict[str, dict[str, float]]:
    """Print, in wall and CPU seconds, each pipeline's prefill / decode step / whole call per measured depth, the
    line fitted over the depths with its largest residual, and the extrapolated cost per pair and per 1,000 pairs
    for answers of `answer_tokens` (whole call at `new_tokens` + the missing decode steps). `rows[depth][name]` is
    {"wall": {...}, "cpu": {...}} with keys prefill, step, whole (seconds per call of `pairs_per_call` pairs);
    `rows[depth]["same"]`: whether the pipelines agreed. Returns {clock: {name: seconds per 1,000 pairs}}."""
    out: dict[str, dict[str, float]] = {}
    for clock, unit in (("wall", "wall s"), ("cpu", "CPU s, all threads")):
        print(f"\n{unit}, per call of {pairs_per_call:g} pair(s):")
        print(
            "| depth | " + " | ".join(f"{n} prefill | {n} decode step | {n} whole call" for n in names) + f" | {same} |"
        )
        print("|---:|" + "---:|---:|---:|" * len(names) + "---|")
        for depth, row in rows.items():
            cells = [
                f"{row[n][clock]['prefill']:.2f} | {row[n][clock]['step']:.3f} | {row[n][clock]['whole']:.2f}"
                if n in row
                else "- | - | -"
                for n in names
            ]
            agreed = ("yes" if row["same"] else "NO") if "same" in row else "-"
            print(f"| {depth} | " + " | ".join(cells) + f" | {agreed} |")
        costs: dict[str, float] = {}
        for name in names:
            measured = [d for d in rows if name in rows[d]]
            if len(set(measured)) < 2:
                print(f"{name}: measured at fewer than two depths, no extrapolation")
                continue
            fits = {}
            for key in ("prefill", "step", "whole"):
                a, b, residual = linear_fit(measured, [rows[d][name][clock][key] for d in measured])
                fits[key] = a + b * real_depth
                print(f"{name:9} {key:7}: t(L) = {a:.4f} + {b:.4f} * L (depths {measured}, largest residual "
                      f"{residual:.4f}) -> t({real_depth}) = {fits[key]:.2f}")  # fmt: skip
            call = fits["whole"] + (answer_tokens - new_tokens) * fits["step"]
            costs[name] = call / pairs_per_call * 1000
            print(f"{name:9} at depth {real_depth} ({unit}): prefill {fits['prefill'] / pairs_per_call:.1f}/pair, "
                  f"decode {fits['step']:.2f}/step per call, {answer_tokens}-token answers: "
                  f"{call / pairs_per_call:,.0f}/pair = {costs[name]:,.0f} ({costs[name] / 3600:,.1f} h) per 1,000 pairs")  # fmt: skip
        for name in names[:-1]:
            if name in costs and names[-1] in costs:
                print(f"{name} / {names[-1]} ({unit}, extrapolated): {costs[name] / costs[names[-1]]:.2f}")
        out[clock] = costs
    return out
