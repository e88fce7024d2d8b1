"""`xraybench score`: score hypothesis and reference files (one report per line)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_METRICS = "bleu,meteor,rouge_l,cider,chexpert"
ROUGE_SCORE = "rouge_score"  # rouge-score's convention; its scores rouge1, rouge2, rougeL are also names here


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hyps", required=True, help="hypotheses, one report per line")
    parser.add_argument(
        "--refs", required=True, action="append", help="references, one report per line; repeat for multiple references"
    )
    parser.add_argument(
        "--metrics",
        default=DEFAULT_METRICS,
        help=f"comma-separated (default {DEFAULT_METRICS}); rouge1, rouge2, rougeL (or {ROUGE_SCORE} for all three) "
        "are Google rouge-score's F values",
    )
    parser.add_argument(
        "--no-stemmer",
        action="store_true",
        help="rouge1/rouge2/rougeL without the Porter stemmer (rouge-score's default)",
    )
    parser.add_argument("--tokenizer", default="coco", help="coco | r2gen | raw")
    parser.add_argument("--json", action="store_true", help="print one JSON object (default: a table)")
    parser.add_argument("--per-sample", action="store_true", help="include per-sample scores in the JSON")


def read_lines(path: str) -> list[str]:
    """One text per line. The final newline ends the last line; an empty line is an empty text (a legal empty
    hypothesis), so `a.\\nb.\\n\\n` holds three. An empty file or bytes that are not UTF-8 are refused."""
    from xraybench.errors import DataFormatError, XrayBenchError

    p = Path(path)
    if not p.is_file():
        raise XrayBenchError(f"file not found: {p}")
    data = p.read_bytes().removeprefix(b"\xef\xbb\xbf")
    if not data:
        raise DataFormatError(p, "the file is empty; expected one report per line")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataFormatError(p, f"not UTF-8 text ({exc.reason}); save it as UTF-8", line=line) from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line starts no new one
    return [line.removesuffix("\r") for line in lines]


def metric_plan(names: list[str], stemmer: bool) -> tuple[list[str], dict[str, dict[str, object]]]:
    """Metric families to build and their options: rouge1/rouge2/rougeL become one rouge_score metric."""
    from xraybench.metrics.rouge import ROUGE_SCORE_NAMES

    wanted = [n for n in names if n in ROUGE_SCORE_NAMES]
    families = [n for n in names if n not in ROUGE_SCORE_NAMES]
    if wanted and ROUGE_SCORE not in families:
        families.append(ROUGE_SCORE)
    chosen = list(ROUGE_SCORE_NAMES) if ROUGE_SCORE in names else wanted
    return families, {ROUGE_SCORE: {"stemmer": stemmer, "names": chosen}}


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
    metrics, options = metric_plan([m.strip() for m in args.metrics.split(",") if m.strip()], not args.no_stemmer)
    scores = score_texts(hyps, references, metrics, tokenizer=args.tokenizer, options=options)
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
