"""`xraybench score`: score hypothesis and reference files (one report per line)."""

from __future__ import annotations

import argparse
import json

from xraybench.config import add_arguments, from_namespace


def add_parser(parser: argparse.ArgumentParser) -> None:
    from xraybench.api import ScoreConfig

    add_arguments(parser, ScoreConfig)


def run(args: argparse.Namespace) -> int:
    from xraybench import api

    config = from_namespace(api.ScoreConfig, args)
    out = api.score(config)
    if config.json:
        print(json.dumps(out))
    else:
        for name, value in out.items():
            if name not in ("tokenizer", "n", "per_sample"):
                print(f"{name:28s} {value:.6f}")
    return 0
