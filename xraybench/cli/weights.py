"""`xraybench weights fetch chexbert|radgraph|bertscore`: download model-based metrics' weights (see xraybench.weights)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from xraybench.config import add_arguments, from_namespace
from xraybench.errors import XrayBenchError

if TYPE_CHECKING:
    from xraybench.api import WeightsOptions


def add_parser(parser: argparse.ArgumentParser) -> None:
    from xraybench.api import FetchWeightsConfig

    sub = parser.add_subparsers(dest="weights_command", metavar="WEIGHTS_COMMAND")
    fetch = sub.add_parser(
        "fetch",
        help="download metric weights into the Hugging Face cache (progress bar, checksum checked)",
        description="Download the weights of model-based metrics into the Hugging Face cache (HF_HOME; HF_ENDPOINT "
        "for a mirror), with a progress bar and a checksum check per file. The metrics themselves never download.",
    )
    add_arguments(fetch, FetchWeightsConfig)


def fetch_and_report(
    names: Sequence[str], options: WeightsOptions, metric_options: dict[str, dict[str, Any]] | None = None
) -> None:
    """Fetch each metric's weights (those its `metric_options` name) and print one table row per file."""
    from rich.table import Table

    from xraybench.api import fetch_weights
    from xraybench.cli._console import console as make_console

    console = make_console()
    table = Table(title="metric weights in the Hugging Face cache (checksums checked)")
    for column in ("metric", "repo", "file", "size", "checksum", "path"):
        table.add_column(column, overflow="fold")
    for name in dict.fromkeys(names):
        console.print(f"{name}: fetching")
        notify = lambda line: console.print(f"  {line}", highlight=False)  # noqa: E731
        for _, files in fetch_weights([name], options, notify=notify, metric_options=metric_options):
            for f in files:
                table.add_row(name, f.repo, f.filename, f"{f.size:,}", f.checksum[:24] + "…", str(f.path))
    console.print(table)


def run(args: argparse.Namespace) -> int:
    from xraybench.api import FetchWeightsConfig

    if getattr(args, "weights_command", None) != "fetch":
        raise XrayBenchError("xraybench weights: choose a sub-command: fetch (see xraybench weights --help)")
    config = from_namespace(FetchWeightsConfig, args)
    fetch_and_report(config.names, config)
    return 0
