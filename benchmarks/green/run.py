"""Benchmark: GREEN's CPU cost per 1,000 real IU X-ray report pairs at the real model's width, ours against RadEval's.

GREEN-RadLlama2-7b (32 Llama-2-7B layers, 4096 wide, 32,000-entry vocabulary) is not here and does not fit this box
in fp32, so the model is built at its REAL WIDTH with random weights at reduced depths (`--depths`, default 1,2,3;
`xraybench.testing.real_width`), the real pipelines are timed at each depth, and a least-squares line
t(L) = a + b * L over the depths is extrapolated to L = 32 (the fit and its largest residual are printed).

Per depth, on the same model folder and the same real IU pairs (`iu_report_pairs`, read in place), one after the
other (never two models in memory):
  * ours: `GreenMetric(model=DIR, device="cpu").assess(refs, hyps)` (fp32, batches of 8, greedy);
  * anchor: RadEval's `GREEN(model_name=DIR, cpu=True)(refs, hyps)` (radeval 2.2.1, what green.py reproduces).
Both stop at `max_length` = the batch's padded prompt + `--new-tokens`, and random weights never emit EOS (its output
row is zeroed), so each batch decodes exactly `--new-tokens` tokens. Every forward call is timed: the first of a
batch is the prefill of the prompts, the others are decode steps. The cost per pair for a real answer of A tokens
is (whole call at `--new-tokens` + (A - new_tokens) x decode step) / pairs, at depth 32.

A (`--answer-tokens`, default: the length of `EXAMPLE_ANSWER` below in the tokenizer used) is a short assessment in
GREEN's output format (the format of the instruction in `xraybench.metrics.green`: an explanation, six significant and
six insignificant error lines, the matched findings) for an IU-like pair with one missed finding; longer explanations
cost proportionally more decode steps. Decode steps are measured at the prompt's context length: later steps of a
long answer attend over more positions, so the decode share is a lower bound.

Tokenizer: `--llama-tokenizer PATH` = a Llama 2 SentencePiece `tokenizer.model` (the 32,000-piece model of GREEN's
checkpoint; not shipped here). Without it a byte-level BPE trained on the IU reports and GREEN's instruction stands
in, and the token counts (prompt and answer) are that tokenizer's, not Llama 2's: the output says which.

Run: `.venv/bin/python benchmarks/green/run.py [--pairs 8] [--depths 1,2,3] [--anchor-depths 1,2,3]
[--new-tokens 6] [--answer-tokens A] [--llama-tokenizer PATH] [--threads 2]`.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "metrics"))
from fixtures_lexical import IU_REPORTS, iu_report_pairs  # noqa: E402

REAL_DEPTH = 32  # GREEN-RadLlama2-7b's num_hidden_layers
EXAMPLE_ANSWER = """[Explanation]:
The candidate report correctly describes the normal heart size, the unremarkable mediastinum and the clear lungs \
without pneumothorax, but it states that there is no pleural effusion, whereas the reference report describes a \
small left pleural effusion.

[Clinically Significant Errors]:
(a) False report of a finding in the candidate: 0.
(b) Missing a finding present in the reference: 1. Small left pleural effusion.
(c) Misidentification of a finding's anatomic location/position: 0.
(d) Misassessment of the severity of a finding: 0.
(e) Mentioning a comparison that isn't in the reference: 0.
(f) Omitting a comparison detailing a change from a prior study: 0.

[Clinically Insignificant Errors]:
(a) False report of a finding in the candidate: 0.
(b) Missing a finding present in the reference: 0.
(c) Misidentification of a finding's anatomic location/position: 0.
(d) Misassessment of the severity of a finding: 0.
(e) Mentioning a comparison that isn't in the reference: 0.
(f) Omitting a comparison detailing a change from a prior study: 0.

[Matched Findings]:
3. Normal heart size; unremarkable mediastinum; clear lungs without pneumothorax.
"""


def _prompt_lengths(tokenizer: Any, refs: list[str], hyps: list[str]) -> list[int]:
    from xraybench.metrics.green import make_prompt

    chats = [
        [{"from": "human", "value": make_prompt(r, h)}, {"from": "gpt", "value": ""}]
        for r, h in zip(refs, hyps, strict=True)
    ]
    texts = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in chats]
    return [len(tokenizer(t)["input_ids"]) for t in texts]


def _time_pipeline(run: Any, model: Any, batches: list[tuple[list[str], list[str]]], lengths: list[int],
                   new_tokens: int) -> dict[str, Any]:  # fmt: skip
    """Run `run(refs, hyps, max_length)` per batch with a forward timer on `model`; seconds per batch and outputs."""
    from xraybench.testing.real_width import time_generation

    def every_batch() -> list[str]:
        outputs: list[str] = []
        offset = 0
        for refs, hyps in batches:
            max_length = max(lengths[offset : offset + len(refs)]) + new_tokens
            outputs += run(refs, hyps, max_length)
            offset += len(refs)
        return outputs

    return time_generation(every_batch, model, len(batches), new_tokens)


def main() -> None:
    from xraybench.testing.real_width import benchmark_arguments, depths_of

    args = benchmark_arguments(__doc__, 8, "IU pairs (GREEN's batch is 8)", "RadEval").parse_args()
    if not IU_REPORTS.is_file():
        sys.exit(f"real IU X-ray reports not found at {IU_REPORTS}: nothing to measure")
    depths, anchor_depths = depths_of(args)
    import torch

    from xraybench.metrics.green import BATCH_SIZE, INSTRUCTION, GreenMetric, load_tokenizer
    from xraybench.testing.real_width import (
        LLAMA2_7B,
        bpe_tokenizer,
        build_llama_real_width,
        print_depth_report,
        report_run,
        sentencepiece_tokenizer,
    )

    torch.set_num_threads(args.threads)
    hyps, refs_lists = iu_report_pairs(args.pairs, seed=0)
    refs = [r[0] for r in refs_lists]
    batches = [(refs[i : i + BATCH_SIZE], hyps[i : i + BATCH_SIZE]) for i in range(0, len(refs), BATCH_SIZE)]
    if args.llama_tokenizer:
        tokenizer = sentencepiece_tokenizer(args.llama_tokenizer)
        tok_name = f"Llama 2 SentencePiece ({len(tokenizer):,} pieces, {args.llama_tokenizer.name})"
    else:
        all_hyps, all_refs = iu_report_pairs(None, seed=0)
        tokenizer = bpe_tokenizer([*all_hyps, *INSTRUCTION.splitlines()], LLAMA2_7B["vocab_size"])
        tok_name = f"byte-level BPE trained here on IU reports + GREEN's instruction ({len(tokenizer):,} entries; NOT Llama 2's counts)"
    load = os.getloadavg()
    rows: dict[int, dict[str, Any]] = {}
    lengths: list[int] = []
    answer_tokens = args.answer_tokens
    for depth in depths:
        with tempfile.TemporaryDirectory(dir="/tmp", prefix="green-real-width-") as tmp:
            t0 = time.perf_counter()
            folder = build_llama_real_width(Path(tmp) / "model", depth, tokenizer, seed=depth)
            build = time.perf_counter() - t0
            ours = GreenMetric(model=str(folder), device="cpu", progress=False)
            if not lengths:
                lengths = _prompt_lengths(ours.tokenizer, refs, hyps)
                if answer_tokens is None:
                    answer_tokens = len(ours.tokenizer(EXAMPLE_ANSWER, add_special_tokens=False)["input_ids"])

            def run_ours(r: list[str], h: list[str], max_length: int, metric: Any = ours) -> list[str]:
                metric.max_length = max_length
                return metric.assess(r, h)

            row = {"build": build, "ours": _time_pipeline(run_ours, ours.model, batches, lengths, args.new_tokens)}
            del ours, run_ours
            gc.collect()
            if depth in anchor_depths:
                from radeval.metrics.green_score.green import GREEN

                with contextlib.redirect_stdout(io.StringIO()):
                    reference = GREEN(model_name=str(folder), cpu=True)
                # RadEval's tokenizer load drops BOS on transformers 5: give it GREEN's encoding, as ours has
                reference.tokenizer = load_tokenizer(folder)

                def run_anchor(r: list[str], h: list[str], max_length: int, green: Any = reference) -> list[str]:
                    green.max_length = max_length
                    with contextlib.redirect_stdout(io.StringIO()):
                        _, _, _, table = green(r, h)
                    return list(table["green_analysis"])

                row["anchor"] = _time_pipeline(run_anchor, reference.model, batches, lengths, args.new_tokens)
                row["same"] = row["anchor"]["result"] == row["ours"]["result"]
                del reference, run_anchor
                gc.collect()
            rows[depth] = row
            done = ", ".join(f"{w} {row[w]['wall']['whole']:.1f} s / {row[w]['cpu']['whole']:.1f} CPU s per batch"
                             for w in ("ours", "anchor") if w in row)  # fmt: skip
            print(f"depth {depth} done: {done}", flush=True)

    assert answer_tokens is not None
    per_batch = len(refs) / len(batches)
    report_run(
        rows,
        header=f"\nGREEN at GREEN-RadLlama2-7b's width (hidden {LLAMA2_7B['hidden_size']}, intermediate "
        f"{LLAMA2_7B['intermediate_size']}, {LLAMA2_7B['num_attention_heads']} heads, vocab "
        f"{LLAMA2_7B['vocab_size']:,}), random bf16 weights run in fp32, depths {depths} -> {REAL_DEPTH}",
        tokenizer=tok_name,
        workload=f"{len(refs)} IU pairs in {len(batches)} batch(es); prompt tokens (chat template included) mean "
        f"{statistics.mean(lengths):.0f}, min {min(lengths)}, max {max(lengths)}; forced new tokens "
        f"{args.new_tokens}; answer length used: {answer_tokens} tokens",
        load_start=load[0], save=args.save,
        saved={"answer_tokens": answer_tokens, "new_tokens": args.new_tokens, "per_batch": per_batch},
    )  # fmt: skip
    print_depth_report(rows, ["ours", "anchor"], REAL_DEPTH, answer_tokens, args.new_tokens, per_batch,
                       same="same assessments")  # fmt: skip


if __name__ == "__main__":
    main()
