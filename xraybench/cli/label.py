"""`xraybench label`: label reports with the offline CheXpert-style labeler.

Input is a CSV with a `Reports` column or a text file with one report per line; the output CSV has
the CheXpert labeler's layout (`Reports`, then the 14 observations, values 1.0 / 0.0 / -1.0 / empty)
so existing scripts that read CheXpert or CheXbert output read ours unchanged.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator
from pathlib import Path

from xraybench.errors import DataFormatError, XrayBenchError
from xraybench.metrics.chexpert import CHEXPERT_LABELS, label_report

REPORTS_COLUMN = "Reports"
PROGRESS_FROM = 2000  # show a progress bar from this many reports on


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reports", required=True, type=Path, help="CSV with a 'Reports' column, or one report per line"
    )
    parser.add_argument("--out", required=True, type=Path, help="output CSV (Reports + 14 CheXpert columns)")


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


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="xraybench label", description=__doc__)
    add_parser(_parser)
    try:
        sys.exit(run(_parser.parse_args()))
    except XrayBenchError as _exc:
        print(f"error: {_exc}", file=sys.stderr)
        sys.exit(1)
