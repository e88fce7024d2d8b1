"""`xraybench list`: what can be run and scored."""

from __future__ import annotations

import argparse

from xraybench.config import add_arguments, from_namespace


def add_parser(parser: argparse.ArgumentParser) -> None:
    from xraybench.api import ListConfig

    add_arguments(parser, ListConfig)


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from xraybench import api
    from xraybench.cli._console import console as make_console

    console = make_console()
    for name, rows in api.list_entries(from_namespace(api.ListConfig, args)).items():
        table = Table(title=name, show_header=False, title_justify="left")
        table.add_column("name", style="bold")
        table.add_column("description")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    return 0
