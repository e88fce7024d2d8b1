"""`xraybench samples`: print a task's samples so external models can be run on them."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, help="task name (see `xraybench list tasks`)")
    from xraybench.taskdata import add_data_source_argument

    add_data_source_argument(parser)
    parser.add_argument("--split", default=None, help="dataset split (default: the task's)")
    parser.add_argument("--limit", type=int, default=None, help="a seeded sample of at most N items")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--template", default="plain", help="also print the rendered prompt for this template")
    parser.add_argument("--jsonl", action="store_true", help="one JSON object per line (default: a table)")


def run(args: argparse.Namespace) -> int:
    from xraybench.prompts import render_prompt
    from xraybench.taskdata import load_task, parse_data_roots

    data = load_task(args.task, parse_data_roots(args.data_roots), split=args.split, limit=args.limit, seed=args.seed)
    if args.jsonl:
        out = sys.stdout
        for s in data.samples:
            row = {
                "id": s.id,
                "task": s.task,
                "prompt": s.prompt,
                "rendered_prompt": render_prompt(s.prompt, args.template),
                "reference": s.reference,
                "image_paths": s.image_paths,
                "metadata": s.metadata,
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return 0
    from rich.table import Table

    from xraybench.cli._console import console as make_console

    table = Table(title=f"{args.task}: {len(data.samples)} samples (of {data.population})")
    for col in ("id", "prompt", "reference", "images"):
        table.add_column(col)
    for s in data.samples:
        table.add_row(s.id, s.prompt[:60], s.reference[:80], str(len(s.image_paths)))
    make_console().print(table)
    return 0
