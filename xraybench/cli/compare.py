"""`xraybench compare RUN_A RUN_B`: paired significance of every shared metric."""

from __future__ import annotations

import argparse
import json


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_a", help="first run folder")
    parser.add_argument("run_b", help="second run folder")
    parser.add_argument("--rounds", type=int, default=1000, help="bootstrap / randomisation rounds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    from xraybench.compare import compare_runs

    rows = compare_runs(args.run_a, args.run_b, rounds=args.rounds, seed=args.seed)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.table import Table

    from xraybench.cli._console import console as make_console

    table = Table(title=f"{args.run_a} (A) vs {args.run_b} (B)")
    for col in ("task", "metric", "A", "B", "A − B", "95% CI", "gain of A over B", "p (bootstrap)",
                "p (randomisation)"):
        table.add_column(col, justify="right" if col not in ("task", "metric") else "left")

    def fmt(value: float | None, spec: str) -> str:
        return "" if value is None else format(value, spec)

    for r in rows:
        ci = f"[{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]" if r["ci_low"] is not None else ""
        table.add_row(r["task"], r["metric"], fmt(r["a"], ".4f"), fmt(r["b"], ".4f"), fmt(r["diff"], "+.4f"), ci,
                      fmt(r["rel_gain"], "+.1%"), fmt(r["p_bootstrap"], ".4f"), fmt(r["p_randomization"], ".4f"))
    make_console().print(table)
    return 0
