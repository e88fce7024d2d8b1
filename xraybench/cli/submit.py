"""`xraybench submit`: validate a model's predictions, score them, judge them against an arena's field."""

from __future__ import annotations

import argparse
import json


def add_parser(parser: argparse.ArgumentParser) -> None:
    from arena.api import SubmitConfig
    from xraybench.config import add_arguments

    add_arguments(parser, SubmitConfig)  # `--json`: print the manifest as JSON


def run(args: argparse.Namespace) -> int:
    from arena.api import SubmitConfig, submit
    from arena.submission import summary
    from xraybench.config import from_namespace

    config = from_namespace(SubmitConfig, args)
    manifest = submit(config)
    if config.json:
        print(json.dumps(manifest, indent=2))
    else:
        print("\n".join(summary(manifest)))
    return 0
