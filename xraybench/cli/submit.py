"""`xraybench submit`: validate a model's predictions, score them, judge them against an arena's field."""

from __future__ import annotations

import argparse
import json


def add_parser(parser: argparse.ArgumentParser) -> None:
    from arena.submission import SubmitConfig
    from xraybench.config import add_arguments

    add_arguments(parser, SubmitConfig)
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON")


def run(args: argparse.Namespace) -> int:
    from arena.submission import SubmitConfig, submit, summary
    from xraybench.config import from_namespace

    manifest = submit(from_namespace(SubmitConfig, args))
    if args.json:
        print(json.dumps(manifest, indent=2))
    else:
        print("\n".join(summary(manifest)))
    return 0
