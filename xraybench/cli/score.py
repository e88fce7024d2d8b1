"""`xraybench score`: score hypothesis and reference files (one report per line)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_METRICS = "bleu,meteor,rouge_l,cider,chexpert"


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hyps", required=True, help="hypotheses, one report per line")
    parser.add_argument(
        "--refs", required=True, action="append", help="references, one report per line; repeat for multiple references"
    )
    parser.add_argument("--metrics", default=DEFAULT_METRICS, help=f"comma-separated (default {DEFAULT_METRICS})")
    parser.add_argument("--tokenizer", default="coco", help="coco | r2gen | raw")
    parser.add_argument("--json", action="store_true", help="print one JSON object (default: a table)")
    parser.add_argument("--per-sample", action="store_true", help="include per-sample scores in the JSON")


def read_lines(path: str) -> list[str]:
    from xraybench.errors import XrayBenchError

    p = Path(path)
    if not p.exists():
        raise XrayBenchError(f"file not found: {p}")
    return p.read_text(encoding="utf-8").rstrip("\n").split("\n") if p.stat().st_size else []


def run(args: argparse.Namespace) -> int:
    from xraybench.errors import XrayBenchError
    from xraybench.metrics.api import score_texts

    hyps = read_lines(args.hyps)
    ref_sets = [read_lines(r) for r in args.refs]
    for path, refs in zip(args.refs, ref_sets, strict=True):
        if len(refs) != len(hyps):
            raise XrayBenchError(
                f"{path} has {len(refs)} lines but {args.hyps} has {len(hyps)}: "
                "expected one reference per hypothesis line"
            )
    references = [list(group) for group in zip(*ref_sets, strict=True)]
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    scores = score_texts(hyps, references, metrics, tokenizer=args.tokenizer)
    out: dict[str, object] = {name: s.value for name, s in scores.items()}
    out["tokenizer"] = args.tokenizer
    out["n"] = len(hyps)
    if args.per_sample:
        out["per_sample"] = {name: [float(v) for v in s.per_sample] for name, s in scores.items()}
    if args.json:
        print(json.dumps(out))
    else:
        for name, s in scores.items():
            print(f"{name:28s} {s.value:.6f}")
    return 0
