"""`xraybench arena ...`: Report Arena commands (only `ratings` so far)."""

from __future__ import annotations

import argparse
import json
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from arena.ratings import Ratings


def add_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="arena_command", metavar="ARENA_COMMAND")
    ratings = sub.add_parser(
        "ratings",
        help="Bradley-Terry ratings with bootstrap CIs from a battle file",
        description="Bradley-Terry ratings (ties = half a win, Elo scale) with 95%% bootstrap CIs over studies "
        "(over battles when the file has no study_id), rank ranges, win rates and online Elo.",
    )
    ratings.add_argument("--battles", required=True, help="CSV or JSONL with model_a, model_b, winner[, study_id]")
    ratings.add_argument("--json", action="store_true", help="print everything (matrices included) as JSON")
    ratings.add_argument("--anchor", help="model held at --anchor-rating (default: first alphabetically)")
    ratings.add_argument("--anchor-rating", type=float, default=1000.0)
    ratings.add_argument("--rounds", type=int, default=1000, help="bootstrap rounds (0: no CIs)")
    ratings.add_argument("--seed", type=int, default=0)
    ratings.add_argument(
        "--prior", type=float, default=0.0, help="virtual ties per model pair (0: plain MLE; > 0 keeps ratings finite)"
    )
    ratings.add_argument(
        "--length-control",
        action="store_true",
        help="also fit BT with a log length-ratio covariate (needs length_a, length_b)",
    )


def run(args: argparse.Namespace) -> int:
    if args.arena_command != "ratings":
        print("usage: xraybench arena ratings --battles FILE [--json]")
        return 2
    from arena.battles import read_battles
    from arena.ratings import compute_ratings

    battles = read_battles(args.battles)
    result = compute_ratings(
        battles,
        anchor=args.anchor,
        anchor_rating=args.anchor_rating,
        rounds=args.rounds,
        seed=args.seed,
        prior=args.prior,
        length_control=args.length_control,
    )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    _print_table(result, args.battles)
    return 0


def _print_table(result: Ratings, source: str) -> None:
    from rich.table import Table

    from xraybench.cli._console import console as make_console

    s = result.settings
    title = (
        f"{source}: {s['n_battles']} battles, anchor {result.anchor} = {s['anchor_rating']:g}, "
        f"95% CI over {s['rounds_used']} {s['bootstrap_unit']} bootstrap rounds (seed {s['seed']})"
    )
    table = Table(title=title)
    columns = ["rank", "model", "rating", "95% CI", "rank range", "win rate", "n battles", "online Elo"]
    if result.length_rating is not None:
        columns.insert(4, "length-controlled")
    for col in columns:
        table.add_column(col, justify="left" if col == "model" else "right")
    for i in result.order():
        low, high = result.ci_low[i], result.ci_high[i]
        ci = f"[{low:.1f}, {high:.1f}]" if math.isfinite(low) else "-"
        row = [
            str(result.rank[i]),
            result.models[i],
            f"{result.rating[i]:.1f}",
            ci,
            f"{result.rank_best[i]}-{result.rank_worst[i]}",
            f"{result.win_rate[i]:.3f}",
            str(int(result.n_battles[i])),
            f"{result.elo[i]:.1f}",
        ]
        if result.length_rating is not None:
            row.insert(4, f"{result.length_rating[i]:.1f}")
        table.add_row(*row)
    out = make_console()
    out.print(table)
    notes = ["win rate = mean over opponents of the observed win fraction (ties = half)"]
    if result.length_coef is not None:
        notes.append(f"length coefficient {result.length_coef:+.3f} log-odds per unit log length ratio")
    if s["rounds_degenerate"]:
        notes.append(f"{s['rounds_degenerate']} bootstrap rounds had infinite ratings and were left out")
    for note in notes:
        out.print(note)
