"""`xraybench validate`: every problem of a predictions file in one pass, without scoring.

Malformed rows (with file:line), conflicting rows, ids no task has (with their lines), ids a task misses, and
every task that cannot be loaded (each missing data root) are all listed before the exit status says no.
"""

from __future__ import annotations

import argparse

from xraybench.config import add_arguments, from_namespace


def add_parser(parser: argparse.ArgumentParser) -> None:
    from xraybench.api import ValidateConfig

    add_arguments(parser, ValidateConfig)


def run(args: argparse.Namespace) -> int:
    from xraybench import api

    result = api.validate(from_namespace(api.ValidateConfig, args))
    for line in result.lines:
        print(line)
    print("OK" if result.ok else "PROBLEMS FOUND")
    return 0 if result.ok else 1
