"""Benchmark: CRIMSON's cost per 1,000 real IU X-ray report pairs on CPU, ours against the authors' package.

The real model (rajpurkarlab/medgemma-4b-it-crimson, 4B parameters) is not here and does not fit this box's CPU
time, so both run one tiny random Gemma 3 in MedGemma's layout (`xraybench.testing.tiny_gemma3`, hidden 32, 2
layers) with a generation config of its own (greedy, `--new-tokens`): what is measured is the machinery around the
model (prompt building, chat template, pipeline, parsing, bookkeeping) and a tiny model's prefill of CRIMSON's long
prompt, not MedGemma's cost, which is a GPU number (prefill of about 1,500 prompt tokens + decoding of the JSON,
hundreds to thousands of tokens per pair). Random weights write no JSON, so every pair is a (marked) failure.

Timed in one process, same pairs (`iu_report_pairs`, read in place from `../shared/data/iu_xray/`) and model:
  * ours: `CrimsonMetric(model=DIR).score(samples, predictions)`;
  * anchor: `CRIMSON.CRIMSONScore(api="hf", model_name=DIR).evaluate_batch(refs, hyps, include_guidelines=False)`.
Run: `.venv/bin/python benchmarks/crimson/run.py [--n 20] [--new-tokens 32] [--repeats 2] [--threads 0]`.
Prints seconds per 1,000 pairs (measured on `--n` pairs, scaled), ours / anchor, and the mean prompt length in the
tiny tokenizer's tokens.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "metrics"))
from fixtures_lexical import IU_REPORTS, iu_report_pairs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2, help="alternating timed rounds; the best of each is kept")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if not IU_REPORTS.is_file():
        sys.exit(f"real IU X-ray reports not found at {IU_REPORTS}: nothing to measure")
    import torch
    import transformers
    from CRIMSON.generate_score import CRIMSONScore

    from xraybench.metrics.api import build_records
    from xraybench.metrics.crimson import CrimsonMetric, build_prompt
    from xraybench.testing.tiny_gemma3 import build_tiny_gemma3

    if args.threads:
        torch.set_num_threads(args.threads)
    hyps, refs = iu_report_pairs(args.n, seed=0)
    references = [r[0] for r in refs]
    samples, predictions = build_records(hyps, refs)
    per_k = 1000 / len(hyps)
    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny_gemma3(Path(tmp) / "model", [build_prompt("", "")], max_new_tokens=args.new_tokens)
        tokenizer = transformers.AutoTokenizer.from_pretrained(model)
        prompt_tokens = sum(
            len(tokenizer(build_prompt(r, h))["input_ids"]) for r, h in zip(references, hyps, strict=True)
        )

        ours = CrimsonMetric(model=str(model), progress=False)
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints a warning per unparsable pair
            anchor = CRIMSONScore(api="hf", model_name=str(model))
        t_ours, t_anchor = float("inf"), float("inf")
        for _ in range(args.repeats):  # alternating, best of each: the shared box's load moves between minutes
            start = time.perf_counter()
            scores = ours.score(samples, predictions)
            t_ours = min(t_ours, time.perf_counter() - start)
            with contextlib.redirect_stdout(io.StringIO()):
                start = time.perf_counter()
                results = anchor.evaluate_batch(references, hyps, include_guidelines=False)
                t_anchor = min(t_anchor, time.perf_counter() - start)
    assert scores["crimson_failed"].value == sum(r is None for r in results) / len(results)
    print(f"CRIMSON, tiny random Gemma 3 (hidden 32, 2 layers), {args.new_tokens} new tokens, {len(hyps)} IU pairs")
    print(f"python {platform.python_version()}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"mean prompt tokens (tiny BPE): {prompt_tokens / len(hyps):.0f}")
    print(f"ours   : {t_ours * per_k:8.0f} s / 1,000 pairs")
    print(f"anchor : {t_anchor * per_k:8.0f} s / 1,000 pairs (crimson-score evaluate_batch)")
    print(f"ours / anchor time: {t_ours / t_anchor:.2f}")


if __name__ == "__main__":
    main()
