"""`xraybench arena ...`: Report Arena commands (`judge`, `battles`, `reparse`, `ratings`, `leaderboard`, `demo`).

Only argv -> config and printing: each command's options come from its config dataclass in `arena.api` (through
`xraybench.config.add_arguments` / `from_namespace`), and the work is done by the `arena.api` function it names.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from arena import api
from xraybench.config import add_arguments, from_namespace

if TYPE_CHECKING:
    from arena.ratings import Ratings

# command -> (config, help, description)
COMMANDS: dict[str, tuple[type, str, str]] = {
    "judge": (
        api.JudgeConfig,
        "judge pairwise battles between models' reports with an LLM judge into the arena's store",
        "Judge every pair of models on the chosen studies, in both orders, through litellm. Answers go to "
        "arenas/ARENA/judgments.sqlite: done judgments are never asked again, failures are retried on the next run.",
    ),
    "battles": (
        api.BattlesConfig,
        "export an arena's judgments as a battle file for `arena ratings`",
        "Write the arena's judged battles (canonical model orientation) as JSONL, with the per-judge order-flip "
        "rate. --view consistent counts a pair whose two orders disagree as a tie.",
    ),
    "reparse": (
        api.ReparseConfig,
        "re-parse the stored judge answers with this version's verdict parser (no calls, no cost)",
        "Re-parse every stored judgment whose parser version differs from the current one.",
    ),
    "ratings": (
        api.RatingsConfig,
        "Bradley-Terry ratings with bootstrap CIs from a battle file",
        "Bradley-Terry ratings (ties = half a win, Elo scale) with 95%% bootstrap CIs over studies (over battles "
        "when the file has no study_id), rank ranges, win rates and online Elo.",
    ),
    "leaderboard": (
        api.LeaderboardConfig,
        "write arenas/ARENA/leaderboard/ (or --out): md, csv, json, PNG figures and a static HTML page",
        "Rate the battles (as `arena ratings`) and write leaderboard.md/.csv/.json, heatmaps of the pairwise "
        "matrices, a win-rate chart and index.html. Metric columns come from each model's run (--runs "
        "MODEL=RUN_DIR): the headline metrics of every suite the run scored, or of every task. A leaderboard with "
        "too few judge verdicts is refused, from the store or from a battle file.",
    ),
    "demo": (
        api.DemoConfig,
        "build the demo arena leaderboard offline (baselines + synthetic models, metric:clinical judge)",
        "",
    ),
}


def add_parser(parser: argparse.ArgumentParser) -> None:
    import arena.demo

    sub = parser.add_subparsers(dest="arena_command", metavar="ARENA_COMMAND")
    for command, (config, help_text, description) in COMMANDS.items():
        if command == "demo" and arena.demo.__doc__:
            description = arena.demo.__doc__.split("\n\n")[1].replace("\n", " ")
        add_arguments(sub.add_parser(command, help=help_text, description=description), config)


def run(args: argparse.Namespace) -> int:
    command = args.arena_command
    if command not in COMMANDS:
        print("usage: xraybench arena {" + ",".join(COMMANDS) + "} ... (see xraybench arena --help)")
        return 2
    config = from_namespace(COMMANDS[command][0], args)
    return _RUNNERS[command](config)


def _judge(config: api.JudgeConfig) -> int:
    from arena.judges import is_metric_judge

    report, path = api.judge_arena(config, progress=not config.json)
    if config.json:
        print(json.dumps({"store": str(path), "dry_run": config.dry_run, **asdict(report)}, indent=2))
        return 1 if report.n_failed else 0
    for name in config.judge:
        if is_metric_judge(name):
            print(f"{name}: a reference-based proxy judge (offline, free), not an LLM judgment")
    for name, own in report.judges.items():  # a judge ensemble: each judge's report, then the total
        print(f"judge {name}:")
        _print_judge_report(own, path, config.dry_run)
    if report.judges:
        print(f"all {len(report.judges)} judges:")
    _print_judge_report(report, path, config.dry_run)
    if not all(is_metric_judge(name) for name in config.judge):
        from arena.budget import ArenaBudget, stored_cap
        from xraybench.callstore import CallStore

        with CallStore(path) as store:
            print(ArenaBudget(stored_cap(path), store.totals().cost_usd).describe())
    return 1 if report.n_failed else 0


def _battles(config: api.BattlesConfig) -> int:
    written = api.battles(config)
    export = written.export
    print(f"wrote {written.n_rows} battles to {config.out}")
    _print_counts(export.counts())
    for judge, rate in export.flip_rate.items():
        shown = "n/a" if rate is None else f"{rate:.1%}"
        print(
            f"order-flip rate of {judge}: {shown} over {export.n_pairs_both_orders[judge]} pairs with judge verdicts "
            "in both orders (ties between identical reports excluded)"
        )
    return 0


def _reparse(config: api.ReparseConfig) -> int:
    from arena.verdict import PARSER_VERSION

    result = api.reparse(config)
    print(
        f"re-parsed {result.n_rows} judgments with parser {PARSER_VERSION}: {result.n_changed} changed, "
        f"{result.n_recovered} failed judgments recovered from their stored answers (no call)"
    )
    return 0


def _ratings(config: api.RatingsConfig) -> int:
    result = api.ratings(config)
    if config.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        _print_table(result, config.battles)
    return 0


def _leaderboard(config: api.LeaderboardConfig) -> int:
    board = api.build_leaderboard(config)
    print(f"wrote {len(board.written)} files to {board.out}")
    print(str(board.ratings.settings["prior_statement"]))
    if board.counts is not None and board.counts.get("n_failed") is not None:  # from the store
        _print_counts(board.counts)
    elif board.counts is not None:  # a battle file with a source column
        print(
            f"{board.counts['n_verdicts']} judge verdicts, {board.counts['n_identical']} automatic ties between "
            f"identical reports in {board.source}"
        )
    if board.ensemble is not None:  # a judge ensemble: each judge, and how far they agree
        for item in board.ensemble["judges"]:
            flips = "n/a" if item["order_flip_rate"] is None else f"{item['order_flip_rate']:.1%}"
            pooled = "pooled" if item["pooled"] else "left out of the pooled rating"
            print(f"judge {item['judge']}: {item['n_verdicts']} verdicts, order-flip rate {flips}, {pooled}")
        alpha = board.ensemble["agreement"]["krippendorff_alpha_ordinal"]
        shown = "n/a" if alpha["value"] is None else f"{alpha['value']:.3f}"
        if alpha["ci_low"] is not None:
            shown += f" [{alpha['ci_low']:.3f}, {alpha['ci_high']:.3f}]"
        print(f"agreement of the judges (Krippendorff's ordinal alpha over {alpha['n']} battles): {shown}")
    if board.banner:
        print(f"WARNING: {board.banner}")
    return 0


def _demo(config: api.DemoConfig) -> int:
    from arena.demo import render_demo

    data = api.build_demo_arena(config)
    print(render_demo(data), end="")
    print(f"leaderboard: {config.out}/leaderboard.md")
    return 0


_RUNNERS: dict[str, Any] = {
    "judge": _judge, "battles": _battles, "reparse": _reparse, "ratings": _ratings, "leaderboard": _leaderboard,
    "demo": _demo,
}  # fmt: skip


def _print_counts(counts: dict[str, Any]) -> None:
    """Judge verdicts, automatic ties and failures apart, and the judge configuration(s) they come from."""
    print(
        f"{counts['n_verdicts']} judge verdicts, {counts['n_identical']} automatic ties between identical reports "
        f"(no call), {counts['n_failed']} failed, {counts['n_missing']} missing"
    )
    used = counts["judge_configs"]
    print(("mixes judge configurations: " if len(used) > 1 else "judge configuration: ") + "; ".join(used))
    for other in counts["other_judge_configs"]:
        print(f"left out (pass --judge-config or --all-configs): {other}")
    for item in counts["flagged"]:
        print(f"flagged: {item['model']} on study {item['study_id']} ({', '.join(item['flags'])})")


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
    columns.insert(4, "sandwich CI")
    if result.length_rating is not None:
        columns.insert(4, "length-controlled")
    if result.style is not None:
        columns[4:4] = ["style-controlled", "style 95% CI"]
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
        row.insert(4, _interval(result.sandwich_low, result.sandwich_high, i))
        if result.length_rating is not None:
            row.insert(4, f"{result.length_rating[i]:.1f}")
        if result.style is not None:
            row[4:4] = [f"{result.style.rating[i]:.1f}", _interval(result.style.ci_low, result.style.ci_high, i)]
        table.add_row(*row)
    out = make_console()
    out.print(table)
    notes = ["win rate = mean over opponents of the observed win fraction (ties = half)"]
    if result.length_coef is not None:
        notes.append(f"length coefficient {result.length_coef:+.3f} log-odds per unit log length ratio")
    if s["rounds_degenerate"]:
        notes.append(f"{s['rounds_degenerate']} bootstrap rounds had infinite ratings and were left out")
    quality = result.quality()
    notes.append(
        "separability (model pairs whose 95% CIs do not overlap): "
        + ", ".join(
            f"{label} {'n/a' if quality.get(key) is None else format(quality[key], '.0%')}"
            for key, label in (("separability", "bootstrap"), ("separability_sandwich", "sandwich"),
                               ("separability_style", "style-controlled"))
            if key in quality
        )
    )  # fmt: skip
    if result.style is not None:
        for c in result.style.coefficients():
            low, high = c["ci_low"], c["ci_high"]
            ci = "" if low is None else f" [{low:+.3f}, {high:+.3f}]"
            notes.append(f"style coefficient {c['feature']}: {c['coef']:+.3f}{ci} log-odds per RMS difference")
        if result.style.dropped:
            notes.append(f"style features left out (no variation): {', '.join(result.style.dropped)}")
    notes.append(str(s["prior_statement"]))
    for note in notes:
        out.print(note)


def _interval(low: Any, high: Any, i: int) -> str:
    if low is None or not math.isfinite(low[i]):
        return "-"
    return f"[{low[i]:.1f}, {high[i]:.1f}]"


def _print_judge_report(report: object, path: object, dry_run: bool) -> None:
    from arena.judging import JudgeReport

    assert isinstance(report, JudgeReport)
    est = report.estimate
    cost = "unknown price" if est is None or est.cost_usd is None else f"~${est.cost_usd:.4f}"
    print(
        f"{report.n_battles} battles ({report.n_identical} identical reports = ties without a call), "
        f"{report.n_unique} distinct judgments, {report.n_done_before} already in {path}"
    )
    if est is not None:
        print(
            f"estimate for {est.n_calls} calls: ~{est.prompt_tokens} prompt + ~{est.completion_tokens} answer tokens, {cost}"
        )
    for item in report.flagged:
        print(
            f"flagged: {item['model']} on study {item['study_id']} has instruction-like text ({', '.join(item['flags'])})"
        )
    if dry_run:
        print("dry run: no call was made")
        return
    print(
        f"ok {report.n_ok}, failed {report.n_failed}, stopped by budget {report.n_budget_stopped}, "
        f"claimed by another process {report.n_claimed_elsewhere}; {report.n_requests} requests "
        f"({report.n_reasked} re-asks), ${report.cost_usd:.4f}"
    )
    if report.schedule == "adaptive":
        print(f"adaptive schedule: {report.n_rounds} rounds, stopped: {report.stop_reason}")
    if report.n_leases_recovered:
        print(f"took back {report.n_leases_recovered} leases of killed judge processes")
    for failure in report.failures:
        print(f"failed: study {failure['study_id']} {failure['models']} ({failure['order']}): {failure['error']}")
    if report.n_failed or report.n_budget_stopped:
        print("rerun the same command to retry what is missing; finished judgments are not asked again")
