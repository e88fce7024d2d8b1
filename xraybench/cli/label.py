"""`xraybench label`: label reports with the offline CheXpert-style labeler.

Input is a CSV with a `Reports` column or a text file with one report per line; the output CSV has
the CheXpert labeler's layout (`Reports`, then the 14 observations, values 1.0 / 0.0 / -1.0 / empty)
so existing scripts that read CheXpert or CheXbert output read ours unchanged.

With `--eval GOLD.csv` it scores the labeler against a human gold standard instead (CheXpert layout
1/0/-1/blank or NegBio layout `filename` + 0/1; see `xraybench.metrics.chexpert.evaluate` for how
rows are matched to texts) and prints per-observation and micro/macro P/R/F1 under both
`uncertain_as` policies; `--out` then writes one row per gold report with gold and labeler values.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from pathlib import Path

from xraybench.errors import DataFormatError, XrayBenchError
from xraybench.metrics.chexpert import CHEXPERT_LABELS, label_report, label_reports

REPORTS_COLUMN = "Reports"
PROGRESS_FROM = 2000  # show a progress bar from this many reports on


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reports",
        type=Path,
        help="CSV with a 'Reports' column, or one report per line; with --eval: the CSV of report texts "
        "joined to the gold on its key column (not needed when the gold has a 'Reports'/'text' column)",
    )
    parser.add_argument(
        "--out", type=Path, help="output CSV (Reports + 14 CheXpert columns); with --eval: per-report gold vs labeler"
    )
    parser.add_argument(
        "--eval", type=Path, metavar="GOLD.csv", help="score against a gold file (CheXpert or NegBio layout)"
    )
    parser.add_argument(
        "--id-column", help="with --eval: the key column shared by gold and reports (default: filename, uid, id, ...)"
    )
    parser.add_argument(
        "--text-column",
        help="with --eval: comma-separated text columns of --reports (default: Reports/report/text, "
        "else findings,impression)",
    )


def read_reports(path: Path) -> list[str]:
    """Reports from a CSV (`Reports` column) or a text file (one per line)."""
    if not path.is_file():
        raise XrayBenchError(f"{path}: no such file")
    try:
        if path.suffix.lower() == ".csv":
            return list(_csv_reports(path))
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _csv_reports(path: Path) -> Iterator[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or REPORTS_COLUMN not in reader.fieldnames:
            found = ", ".join(reader.fieldnames or []) or "none"
            raise DataFormatError(path, f"expected a '{REPORTS_COLUMN}' column in the header; found: {found}", line=1)
        for row in reader:
            text = row.get(REPORTS_COLUMN)
            if text is None:
                raise DataFormatError(
                    path, f"row has fewer fields than the header (no '{REPORTS_COLUMN}' value)", line=reader.line_num
                )
            yield text


def _cell(value: int | None) -> str:
    return "" if value is None else f"{float(value):.1f}"


def run(args: argparse.Namespace) -> int:
    if getattr(args, "eval", None) is not None:
        return run_eval(args)
    if args.reports is None or args.out is None:
        raise XrayBenchError("xraybench label needs --reports and --out (or --eval GOLD.csv to score a gold file)")
    reports = read_reports(args.reports)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows: Iterator[str] | list[str] = reports
    if len(reports) >= PROGRESS_FROM:
        from rich.console import Console
        from rich.progress import track

        rows = track(reports, description="labelling", console=Console(stderr=True))
    with args.out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([REPORTS_COLUMN, *CHEXPERT_LABELS])
        for text in rows:
            writer.writerow([text, *(_cell(v) for v in label_report(text))])
    print(f"labelled {len(reports)} reports -> {args.out}", file=sys.stderr)
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from xraybench.metrics.chexpert import evaluate

    gold = evaluate.read_gold(args.eval, key_column=getattr(args, "id_column", None))
    has_text = all(r.text is not None for r in gold.rows)
    if args.reports is not None:
        if gold.key_column is None:
            keys = ", ".join(evaluate.KEY_COLUMNS)
            raise DataFormatError(args.eval, f"no key column to join --reports on; expected one of: {keys}", line=1)
        text_cols = [c.strip() for c in args.text_column.split(",")] if getattr(args, "text_column", None) else None
        evaluate.attach_texts(gold, evaluate.read_report_texts(args.reports, gold.key_column, text_cols))
    elif not has_text:
        raise DataFormatError(
            args.eval,
            f"the gold has no report text column ({', '.join(evaluate.TEXT_COLUMNS)}); pass --reports CSV "
            f"with a '{gold.key_column or 'filename'}' column",
            line=1,
        )
    predicted = label_reports([r.text or "" for r in gold.rows])
    results = evaluate.score(gold, predicted)
    console = Console()
    empty = sum(1 for r in gold.rows if not (r.text or "").strip())
    console.print(
        f"{len(gold.rows)} gold reports ({gold.layout} layout, key {gold.key_column or 'row number'}) from {args.eval}"
        + (f"; ignored columns: {', '.join(gold.ignored_columns)}" if gold.ignored_columns else "")
        + (f"; [yellow]{empty} with empty text[/yellow]" if empty else "")
    )
    for policy, res in results.items():
        table = Table(title=f"uncertain_as={policy}")
        for col in ("observation", "support", "precision", "recall", "F1", "tp", "fp", "fn"):
            table.add_column(col, justify="left" if col == "observation" else "right")
        for obs, m in res.per_observation.items():
            table.add_row(obs, str(m["support"]), *(f"{m[k]:.3f}" for k in ("precision", "recall", "f1")),
                          str(m["tp"]), str(m["fp"]), str(m["fn"]))  # fmt: skip
        for name, m in (("micro", res.micro), ("macro", res.macro)):
            table.add_row(
                f"[bold]{name}[/bold]", "", *(f"{m[k]:.3f}" for k in ("precision", "recall", "f1")), "", "", ""
            )
        console.print(table)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        cols = [CHEXPERT_LABELS.index(o) for o in gold.observations]
        with args.out.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(
                ["key", REPORTS_COLUMN, *(f"{o} ({w})" for o in gold.observations for w in ("gold", "labeler"))]
            )
            for r, pred in zip(gold.rows, predicted, strict=True):
                pairs = [_cell(v) for g, c in zip(r.values, cols, strict=True) for v in (g, pred[c])]
                writer.writerow([r.key, r.text, *pairs])
        print(f"per-report gold vs labeler -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="xraybench label", description=__doc__)
    add_parser(_parser)
    try:
        sys.exit(run(_parser.parse_args()))
    except XrayBenchError as _exc:
        print(f"error: {_exc}", file=sys.stderr)
        sys.exit(1)
