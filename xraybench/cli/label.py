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
import sys
from typing import TYPE_CHECKING

from xraybench.config import add_arguments, from_namespace
from xraybench.errors import XrayBenchError

if TYPE_CHECKING:
    from xraybench.api import LabelConfig


def add_parser(parser: argparse.ArgumentParser) -> None:
    from xraybench.api import LabelConfig

    add_arguments(parser, LabelConfig)


def run(args: argparse.Namespace) -> int:
    from xraybench import api

    config = from_namespace(api.LabelConfig, args)
    if config.eval is not None:
        return run_eval(config)
    n = api.label(config)
    print(f"labelled {n} reports -> {config.out}", file=sys.stderr)
    return 0


def run_eval(config: LabelConfig) -> int:
    from rich.console import Console
    from rich.table import Table

    from xraybench import api

    gold, _, results = api.label_eval(config)
    console = Console()
    empty = sum(1 for r in gold.rows if not (r.text or "").strip())
    console.print(
        f"{len(gold.rows)} gold reports ({gold.layout} layout, key {gold.key_column or 'row number'}) from "
        f"{config.eval}"
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
    if config.out is not None:
        print(f"per-report gold vs labeler -> {config.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="xraybench label", description=__doc__)
    add_parser(_parser)
    try:
        sys.exit(run(_parser.parse_args()))
    except XrayBenchError as _exc:
        print(f"error: {_exc}", file=sys.stderr)
        sys.exit(1)
