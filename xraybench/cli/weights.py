"""`xraybench weights fetch chexbert|radgraph|bertscore`: download model-based metrics' weights (see xraybench.weights)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from xraybench.errors import XrayBenchError


def add_parser(parser: argparse.ArgumentParser) -> None:
    from xraybench.weights import WEIGHTS

    sub = parser.add_subparsers(dest="weights_command", metavar="WEIGHTS_COMMAND")
    fetch = sub.add_parser(
        "fetch",
        help="download metric weights into the Hugging Face cache (progress bar, checksum checked)",
        description="Download the weights of model-based metrics into the Hugging Face cache (HF_HOME; HF_ENDPOINT "
        "for a mirror), with a progress bar and a checksum check per file. The metrics themselves never download.",
    )
    fetch.add_argument("names", nargs="+", choices=WEIGHTS, metavar="NAME", help=f"one or more of {', '.join(WEIGHTS)}")
    add_fetch_options(fetch)


def add_fetch_options(parser: argparse.ArgumentParser) -> None:
    """Where the weights go / which ones: shared by `weights fetch` and `run --download`."""
    parser.add_argument(
        "--bertscore-model", help="bertscore: repo id (default: XRAYBENCH_BERTSCORE_MODEL or roberta-large)"
    )
    parser.add_argument("--radgraph-dir", help="radgraph: unpack into DIR/<model type>/ (default: "
                        "XRAYBENCH_RADGRAPH_DIR, else the radgraph package's cache)")  # fmt: skip
    parser.add_argument("--radgraph-model-type", default="radgraph", help="radgraph: model type (default radgraph)")


def fetch_and_report(names: Sequence[str], args: argparse.Namespace) -> None:
    """Fetch each metric's weights and print one table row per file (path, size, checksum)."""
    from rich.table import Table

    from xraybench.cli._console import console as make_console
    from xraybench.weights import fetch

    console = make_console()
    table = Table(title="metric weights in the Hugging Face cache (checksums checked)")
    for column in ("metric", "repo", "file", "size", "checksum", "path"):
        table.add_column(column, overflow="fold")
    for name in dict.fromkeys(names):
        console.print(f"{name}: fetching")
        files = fetch(
            name,
            bertscore_model=getattr(args, "bertscore_model", None),
            radgraph_dir=getattr(args, "radgraph_dir", None),
            radgraph_model_type=getattr(args, "radgraph_model_type", None) or "radgraph",
            notify=lambda line: console.print(f"  {line}", highlight=False),
        )
        for f in files:
            table.add_row(name, f.repo, f.filename, f"{f.size:,}", f.checksum[:24] + "…", str(f.path))
    console.print(table)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "weights_command", None) != "fetch":
        raise XrayBenchError("xraybench weights: choose a sub-command: fetch (see xraybench weights --help)")
    fetch_and_report(args.names, args)
    return 0
