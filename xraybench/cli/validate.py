"""`xraybench validate`: coverage, duplicates, unknown ids and malformed lines of a predictions file."""

from __future__ import annotations

import argparse


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="predictions:FILE", help="the predictions file to check")
    parser.add_argument("--tasks", required=True, help="comma-separated tasks/suites the file answers")
    parser.add_argument("--data-root", action="append", default=[], metavar="NAME=PATH", dest="data_roots")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)


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
    ok = not report.malformed
    for line in report.malformed[:50]:
        print(f"malformed: {line}")
    if len(report.malformed) > 50:
        print(f"... {len(report.malformed) - 50} more malformed lines")
    known_ids: set[str] = set()
    for name in names:
        caps = [n for n in (args.limit, sizes.get(name)) if n is not None]
        data = load_task(name, roots, limit=min(caps) if caps else None, seed=args.seed)
        known_ids |= {s.id for s in data.samples}
        res = validate_rows(report.rows, name, data.samples)
        print(
            f"{name}: {res.covered}/{res.n_samples} covered, {len(res.missing)} missing, "
            f"{len(res.duplicates)} duplicated"
        )
        for label, ids in (("missing", res.missing), ("duplicated", res.duplicates)):
            if ids:
                print(f"  {label}: {', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''}")
        ok = ok and not res.missing and not res.duplicates
    unknown = sorted({r.id for r in report.rows if r.task in (None, *names)} - known_ids)
    if unknown:
        ok = False
        print(
            f"unknown ids (in no task): {len(unknown)}: {', '.join(unknown[:10])}{' ...' if len(unknown) > 10 else ''}"
        )
    print("OK" if ok else "PROBLEMS FOUND")
    return 0 if ok else 1
