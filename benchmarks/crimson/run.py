"""Benchmark: CRIMSON's CPU cost per 1,000 real IU X-ray report pairs at MedGemma 4B's width, ours against the package.

rajpurkarlab/medgemma-4b-it-crimson (MedGemma 4B = Gemma 3 4B: a 34-layer text decoder 2560 wide, 262,208-entry
vocabulary, plus a SigLIP tower that text prompts never run) is not here, so its text decoder is built at the REAL
WIDTH with random bf16 weights at reduced depths (`--depths`, default 1,2,3; `xraybench.testing.real_width`), the real
pipelines are timed at each depth, and a least-squares line t(L) = a + b * L over the depths is extrapolated to
L = 34 (the fit and its largest residual are printed). The measured depths are all sliding-window layers (Gemma 3's
first full-attention layer is the 6th); on CPU, transformers applies the window as a mask, so a full layer costs the
same at prompts under ~2,000 tokens.

Per depth, on the same model folder and the same real IU pairs (`iu_report_pairs`, read in place), one after the
other (never two models in memory), both as the package runs the model (transformers text-generation pipeline,
bfloat16, one pair per batch, the checkpoint's own generation config: greedy, `--new-tokens`):
  * ours: `CrimsonMetric(model=DIR).score(samples, predictions)`;
  * anchor: `CRIMSON.CRIMSONScore(api="hf", model_name=DIR).evaluate_batch(refs, hyps, include_guidelines=False)`.
Random weights never emit EOS (its output rows are zeroed), so each pair decodes exactly `--new-tokens` tokens; they
write no JSON, so every pair is a (marked) failure in ours and None in the package. Every forward call is timed: the
first of a pair is the prefill of its prompt, the others are decode steps. The cost per pair for a real answer of A
tokens is (whole call at `--new-tokens` + (A - new_tokens) x decode step) / pairs, at depth 34. `--fp32` adds ours
with the metric's option dtype=float32 (this CPU has no bf16 instructions, so bf16 matmuls are emulated).

A (`--answer-tokens`, default: the length of `EXAMPLE_ANSWER` below in the tokenizer used) is a JSON answer in the
package's output format (`CRIMSON.prompt_parts.OUTPUT_FORMAT`) for a pair with two abnormal findings on each side;
normal-vs-normal IU pairs give shorter answers, pairs with many findings longer ones. Decode steps are measured at
the prompt's context length (a lower bound for later steps of a long answer).

Tokenizer: Gemma 3's 262k SentencePiece model is not available here. `--llama-tokenizer PATH` (a Llama 2
`tokenizer.model`, a real 32,000-piece English SentencePiece) stands in for the token counts, with Gemma's turn tokens
and chat template added; without it a byte-level BPE trained on the IU reports and CRIMSON's prompt stands in. The
model's vocabulary (embeddings and output layer) is Gemma 3's 262,208 either way.

Run: `.venv/bin/python benchmarks/crimson/run.py [--pairs 2] [--depths 1,2,3] [--anchor-depths 1,2,3]
[--new-tokens 6] [--answer-tokens A] [--llama-tokenizer PATH] [--fp32] [--threads 2]`.
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

REAL_DEPTH = 34  # Gemma 3 4B's text num_hidden_layers
EXAMPLE_ANSWER = """{
    "reference_findings": [
        {"id": "R1", "finding": "mild cardiomegaly", "clinical_significance": "actionable_not_urgent"},
        {"id": "R2", "finding": "small left pleural effusion", "clinical_significance": "actionable_not_urgent"}
    ],
    "predicted_findings": [
        {"id": "P1", "finding": "moderate cardiomegaly", "clinical_significance": "actionable_not_urgent"},
        {"id": "P2", "finding": "right basilar atelectasis", "clinical_significance": "not_actionable_not_urgent"}
    ],
    "matched_findings": [
        {"ref_id": "R1", "pred_id": "P1"}
    ],
    "errors": {
        "false_findings": [
            "P2"
        ],
        "missing_findings": [
            "R2"
        ],
        "attribute_errors": [
            {"ref_id": "R1", "pred_id": "P1", "severity": "negligible", "error_types": ["severity"], "explanation": "mild versus moderate cardiomegaly"}
        ]
    }
}"""


def main() -> None:
    from xraybench.testing.real_width import benchmark_arguments, depths_of

    parser = benchmark_arguments(__doc__, 2, None, "the package")
    parser.add_argument("--fp32", action="store_true", help="also time ours with dtype=float32")
    args = parser.parse_args()
    if not IU_REPORTS.is_file():
        sys.exit(f"real IU X-ray reports not found at {IU_REPORTS}: nothing to measure")
    depths, anchor_depths = depths_of(args)
    import torch
    import transformers
    from CRIMSON.generate_score import CRIMSONScore

    from xraybench.metrics.api import build_records
    from xraybench.metrics.crimson import CrimsonMetric, build_prompt, messages
    from xraybench.testing.real_width import (
        GEMMA3_4B_TEXT,
        bpe_tokenizer,
        build_gemma3_real_width,
        print_depth_report,
        report_run,
        sentencepiece_tokenizer,
        time_generation,
    )

    torch.set_num_threads(args.threads)
    hyps, refs_lists = iu_report_pairs(args.pairs, seed=0)
    refs = [r[0] for r in refs_lists]
    samples, predictions = build_records(hyps, refs_lists)

    def make_tokenizer() -> Any:  # built afresh per depth: the builder adds Gemma's tokens to it
        if args.llama_tokenizer:
            return sentencepiece_tokenizer(args.llama_tokenizer)
        all_hyps, _ = iu_report_pairs(None, seed=0)
        return bpe_tokenizer([*all_hyps, *build_prompt("", "").splitlines()], 32000)

    tok_name = (f"Llama 2 SentencePiece ({args.llama_tokenizer.name}) as a stand-in for Gemma 3's, Gemma turn tokens added"
                if args.llama_tokenizer else
                "byte-level BPE trained here on IU reports + CRIMSON's prompt (NOT Gemma 3's counts)")  # fmt: skip
    load = os.getloadavg()
    rows: dict[int, dict[str, Any]] = {}
    lengths: list[int] = []
    answer_tokens = args.answer_tokens
    for depth in depths:
        with tempfile.TemporaryDirectory(dir="/tmp", prefix="crimson-real-width-") as tmp:
            t0 = time.perf_counter()
            folder = build_gemma3_real_width(Path(tmp) / "model", depth, make_tokenizer(), seed=depth,
                                             max_new_tokens=args.new_tokens)  # fmt: skip
            build = time.perf_counter() - t0
            if not lengths:
                tok = transformers.AutoTokenizer.from_pretrained(folder)
                prompts = [build_prompt(r, h) for r, h in zip(refs, hyps, strict=True)]
                lengths = [len(tok.apply_chat_template(messages(p), tokenize=True, add_generation_prompt=True,
                                                       return_dict=True)["input_ids"]) for p in prompts]  # fmt: skip
                if answer_tokens is None:
                    answer_tokens = len(tok(EXAMPLE_ANSWER, add_special_tokens=False)["input_ids"])
            row: dict[str, Any] = {"build": build}
            variants = [("ours", "bfloat16")] + ([("ours fp32", "float32")] if args.fp32 else [])
            for name, dtype in variants:
                metric = CrimsonMetric(model=str(folder), dtype=dtype, progress=False)
                row[name] = time_generation(lambda m=metric: m.score(samples, predictions), metric.pipe.model,
                                            len(refs), args.new_tokens)  # fmt: skip
                del metric
                gc.collect()
            if depth in anchor_depths:
                with contextlib.redirect_stdout(io.StringIO()):  # the package prints a line per unparsable pair
                    anchor = CRIMSONScore(api="hf", model_name=str(folder), device="cpu")

                    def run_anchor(a: Any = anchor) -> list[Any]:
                        return a.evaluate_batch(refs, hyps, include_guidelines=False)

                    row["anchor"] = time_generation(run_anchor, anchor.pipe.model, len(refs), args.new_tokens)
                failed = row["ours"]["result"]["crimson_failed"].per_sample
                row["same"] = [bool(f) for f in failed] == [r is None for r in row["anchor"]["result"]]
                del anchor, run_anchor
                gc.collect()
            rows[depth] = row
            done = ", ".join(f"{k} {v['wall']['whole']:.1f} s / {v['cpu']['whole']:.1f} CPU s per pair"
                             for k, v in row.items() if isinstance(v, dict))  # fmt: skip
            print(f"depth {depth} done: {done}", flush=True)

    assert answer_tokens is not None
    names = ["ours"] + (["ours fp32"] if args.fp32 else []) + ["anchor"]
    report_run(
        rows,
        header=f"\nCRIMSON at MedGemma 4B's text width (hidden {GEMMA3_4B_TEXT['hidden_size']}, intermediate "
        f"{GEMMA3_4B_TEXT['intermediate_size']}, {GEMMA3_4B_TEXT['num_attention_heads']} heads / "
        f"{GEMMA3_4B_TEXT['num_key_value_heads']} kv heads x {GEMMA3_4B_TEXT['head_dim']}, vocab "
        f"{GEMMA3_4B_TEXT['vocab_size']:,}), random bf16 weights, depths {depths} -> {REAL_DEPTH}",
        tokenizer=tok_name,
        workload=f"{len(refs)} IU pairs, one per batch; prompt tokens (system turn + chat template included) mean "
        f"{statistics.mean(lengths):.0f}, min {min(lengths)}, max {max(lengths)}; forced new tokens "
        f"{args.new_tokens}; answer length used: {answer_tokens} tokens",
        load_start=load[0], save=args.save, saved={"answer_tokens": answer_tokens, "new_tokens": args.new_tokens},
    )  # fmt: skip
    print_depth_report(rows, names, REAL_DEPTH, answer_tokens, args.new_tokens, 1, same="same failures")


if __name__ == "__main__":
    main()
