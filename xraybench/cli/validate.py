"""`xraybench validate`: every problem of a predictions file in one pass, without scoring.

Malformed rows (with file:line), conflicting rows, ids no task has (with their lines), ids a task misses, and
every task that cannot be loaded (each missing data root) are all listed before the exit status says no.
"""

from __future__ import annotations

import argparse

SHOWN_LINES = 50
SHOWN_IDS = 10


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="predictions:FILE", help="the predictions file to check")
    parser.add_argument("--tasks", required=True, help="comma-separated tasks/suites the file answers")
    from xraybench.taskdata import add_data_source_argument

    add_data_source_argument(parser)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)


def _ids(ids: list[str]) -> str:
    return ", ".join(ids[:SHOWN_IDS]) + (" ..." if len(ids) > SHOWN_IDS else "")


def run(args: argparse.Namespace) -> int:
    from xraybench.errors import XrayBenchError
    from xraybench.models.predictions import read_prediction_file, validate_rows
    from xraybench.taskdata import load_task, parse_data_roots
    from xraybench.tasks import expand

    kind, _, path = args.model.partition(":")
    if kind != "predictions" or not path:
        raise XrayBenchError(f"validate checks prediction files: expected --model predictions:FILE, got {args.model!r}")
    report = read_prediction_file(path)
    names, sizes, _ = expand([t.strip() for t in args.tasks.split(",") if t.strip()])
    roots = parse_data_roots(args.data_roots)
    problems = len(report.malformed)
    for line in report.malformed[:SHOWN_LINES]:
        print(f"malformed: {line}")
    if len(report.malformed) > SHOWN_LINES:
        print(f"... {len(report.malformed) - SHOWN_LINES} more malformed lines")
    known_ids: set[str] = set()
    unchecked: list[str] = []
    for name in names:
        caps = [n for n in (args.limit, sizes.get(name)) if n is not None]
        try:
            data = load_task(name, roots, limit=min(caps) if caps else None, seed=args.seed)
        except XrayBenchError as exc:  # keep going: every task that cannot be loaded is listed, not the first
            print(f"{name}: cannot check: {exc}")
            unchecked.append(name)
            continue
        known_ids |= {s.id for s in data.samples}
        res = validate_rows(report.rows, name, data.samples)
        print(f"{name}: {res.covered}/{res.n_samples} covered, {len(res.missing)} missing")
        if res.missing:
            print(f"  missing: {_ids(res.missing)}")
        problems += len(res.missing)
    if unchecked:
        problems += len(unchecked)
        print(f"unknown ids are not checked: {len(unchecked)} task(s) could not be loaded ({', '.join(unchecked)})")
    else:
        unknown = [r for r in report.rows if r.task in (None, *names) and r.id not in known_ids]
        if unknown:
            problems += len(unknown)
            print(f"unknown ids (in no task): {len(unknown)}:")
            for row in unknown[:SHOWN_LINES]:
                print(f"  {row.where(report.path)}: id {row.id!r}")
            if len(unknown) > SHOWN_LINES:
                print(f"  ... {len(unknown) - SHOWN_LINES} more")
    print("OK" if not problems else "PROBLEMS FOUND")
    return 0 if not problems else 1
