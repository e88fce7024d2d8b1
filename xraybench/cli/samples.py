"""`xraybench samples`: print a task's samples so external models can be run on them."""

from __future__ import annotations

import argparse
import json
import sys

from xraybench.config import add_arguments, from_namespace


def add_parser(parser: argparse.ArgumentParser) -> None:
    from xraybench.api import SamplesConfig

    add_arguments(parser, SamplesConfig)


def run(args: argparse.Namespace) -> int:
    from xraybench import api

    config = from_namespace(api.SamplesConfig, args)
    data = api.samples(config)
    if config.jsonl:
        for s in data.samples:
            sys.stdout.write(json.dumps(api.sample_row(s, config.template), ensure_ascii=False) + "\n")
        return 0
    from rich.table import Table

    from xraybench.cli._console import console as make_console

    table = Table(title=f"{config.task}: {len(data.samples)} samples (of {data.population})")
    for col in ("id", "prompt", "reference", "images"):
        table.add_column(col)
    for s in data.samples:
        table.add_row(s.id, s.prompt[:60], s.reference[:80], str(len(s.image_paths)))
    make_console().print(table)
    return 0
