"""`xraybench list`: what can be run and scored."""

from __future__ import annotations

import argparse


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "what", nargs="?", default="all", choices=["all", "tasks", "suites", "datasets", "models", "metrics"]
    )


def _options_note(dataset: str) -> str:
    """The loader's options as `--data-option` accepts them (NAME.KEY=VALUE), with their defaults."""
    from xraybench.taskdata import loader_options

    options = loader_options(dataset)
    shown = ", ".join(f"{k}={'' if p.default is None else p.default}" for k, p in options.items())
    return f" [--data-option {dataset}.KEY=VALUE: {shown}]" if shown else ""


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from xraybench.cli._console import console as make_console
    from xraybench.datasets import LOADERS
    from xraybench.metrics import METRICS
    from xraybench.models import MODELS
    from xraybench.tasks import SUITES, TASKS

    console = make_console()
    sections = {
        "tasks": [
            (t.name, f"{t.kind}; {t.dataset}/{t.split}; metrics: {', '.join(t.metrics)} — {t.description}")
            for t in TASKS.values()
        ],
        "suites": [(s.name, f"{', '.join(s.tasks)} — {s.description}") for s in SUITES.values()],
        "datasets": [(e.name, e.help + _options_note(e.name)) for e in LOADERS.entries()],
        "models": [(e.name, e.help + (f" [extra: {e.extra}]" if e.extra else "")) for e in MODELS.entries()],
        "metrics": [(e.name, e.help + (f" [extra: {e.extra}]" if e.extra else "")) for e in METRICS.entries()],
    }
    for name, rows in sections.items():
        if args.what not in ("all", name):
            continue
        table = Table(title=name, show_header=False, title_justify="left")
        table.add_column("name", style="bold")
        table.add_column("description")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    return 0
