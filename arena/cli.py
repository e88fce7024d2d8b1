"""`xraybench arena ...`: Report Arena commands (`ratings`, `leaderboard`, `judge`, `battles`, `reparse`)."""

from __future__ import annotations

import argparse
import json
import math
from typing import TYPE_CHECKING, Any

from arena.api import JudgeConfig, judge_arena

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
    _add_rating_options(ratings)
    _add_judge_parser(sub)
    _add_battles_parser(sub)
    _add_reparse_parser(sub)

    _add_leaderboard_parser(sub)
    from arena.demo import add_demo_parser

    add_demo_parser(sub)


def _add_leaderboard_parser(sub: argparse._SubParsersAction) -> None:
    board = sub.add_parser(
        "leaderboard",
        help="write arenas/NAME/leaderboard/ (or --out): md, csv, json, PNG figures and a static HTML page",
        description="Rate the battles (as `arena ratings`) and write leaderboard.md/.csv/.json, heatmaps of the "
        "pairwise matrices, a win-rate chart and index.html. Metric columns come from each model's run "
        "(--runs MODEL=RUN_DIR): the headline metrics of every suite the run scored, or of every task.",
    )
    board.add_argument(
        "--battles",
        help="CSV or JSONL with model_a, model_b, winner[, study_id] "
        "(default: the battles judged in arena NAME's store, with its missing count and cost)",
    )
    board.add_argument("--store", help="judgment store file (default: arenas/NAME/judgments.sqlite)")
    board.add_argument("--name", required=True, help="leaderboard name (a plain folder name)")
    board.add_argument(
        "--out", help="output folder (default: arenas/NAME/leaderboard; the tracked leaderboards/ only when given)"
    )
    board.add_argument("--judge", help="judge that produced the battles; a metric: judge is marked as a proxy")
    board.add_argument("--prompt-version", help="judge prompt version shown on the leaderboard")
    board.add_argument("--runs", nargs="+", default=[], metavar="MODEL=RUN_DIR", help="benchmark run of each model")
    _add_config_options(board)
    board.add_argument(
        "--min-verdicts", type=int, metavar="N",
        help="refuse a leaderboard from the store with fewer judge verdicts (default: arena.leaderboard.MIN_VERDICTS,"
        " 1); ties between identical reports are not verdicts",
    )  # fmt: skip
    board.add_argument(
        "--min-verdict-share", type=float, metavar="F",
        help="refuse it when the judge gave a verdict on less than this share of the judgments it answered or failed "
        "(default: arena.leaderboard.MIN_VERDICT_SHARE, 0.5)",
    )  # fmt: skip
    board.add_argument(
        "--allow-few-verdicts", action="store_true", help="write it anyway, with a warning banner on every page"
    )
    _add_rating_options(board)


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """Which judge configuration (judge, decoding parameters, output protocol, prompt version) to export."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--judge-config", metavar="LABEL",
        help="only this judge configuration (default: the one judged most recently; the others are listed)",
    )  # fmt: skip
    group.add_argument("--all-configs", action="store_true", help="mix every judge configuration (each is named)")


def _add_rating_options(parser: argparse.ArgumentParser) -> None:
    """The Bradley-Terry options shared by `ratings` and `leaderboard`."""
    parser.add_argument("--anchor", help="model held at --anchor-rating (default: first alphabetically)")
    parser.add_argument("--anchor-rating", type=float, default=1000.0)
    parser.add_argument("--rounds", type=int, default=1000, help="bootstrap rounds (0: no CIs)")
    parser.add_argument("--seed", type=int, default=0)
    from arena.ratings import DEFAULT_PRIOR

    parser.add_argument(
        "--prior", type=float, default=DEFAULT_PRIOR,
        help=f"virtual ties per model pair (default {DEFAULT_PRIOR:g}: always finite; 0: plain MLE, infinite when a "
        "model never wins)",
    )  # fmt: skip
    parser.add_argument(
        "--length-control",
        action="store_true",
        help="also fit BT with a log length-ratio covariate (needs length_a, length_b)",
    )


def _rate(battles: Any, args: argparse.Namespace) -> Ratings:
    from arena.ratings import compute_ratings

    return compute_ratings(
        battles,
        anchor=args.anchor,
        anchor_rating=args.anchor_rating,
        rounds=args.rounds,
        seed=args.seed,
        prior=args.prior,
        length_control=args.length_control,
    )


def _parse_runs(specs: list[str]) -> dict[str, str]:
    from xraybench.errors import XrayBenchError

    runs: dict[str, str] = {}
    for spec in specs:
        model, sep, path = spec.partition("=")
        if not sep or not model.strip() or not path.strip():
            raise XrayBenchError(f"--runs expects MODEL=RUN_DIR, got {spec!r}")
        if model.strip() in runs:
            raise XrayBenchError(f"--runs names model {model.strip()!r} twice")
        runs[model.strip()] = path.strip()
    return runs


def _run_leaderboard(args: argparse.Namespace) -> int:
    from pathlib import Path

    from arena.battles import read_battles
    from arena.leaderboard import default_board, proxy_note_for, run_metrics, run_note, write_leaderboard
    from xraybench.errors import XrayBenchError
    from xraybench.names import check_name

    name = check_name(args.name.strip(), "--name")
    runs = _parse_runs(args.runs)
    n_missing: int | None = None
    cost_usd: float | None = None
    counts: dict[str, Any] | None = None
    banner: str | None = None
    judge, prompt_version = args.judge, args.prompt_version
    if args.battles:
        battles = read_battles(args.battles)
        source = args.battles
    else:
        from arena.leaderboard import MIN_VERDICT_SHARE, MIN_VERDICTS, check_verdicts

        battles, export, cost_usd, judges, source = _store_battles(
            name, args.store, args.judge_config, args.all_configs
        )
        counts, n_missing = export.counts(), export.n_missing
        banner = check_verdicts(
            counts,
            min_verdicts=MIN_VERDICTS if args.min_verdicts is None else args.min_verdicts,
            min_share=MIN_VERDICT_SHARE if args.min_verdict_share is None else args.min_verdict_share,
            allow_few=args.allow_few_verdicts, source=source,
        )  # fmt: skip
        judge = judge or (judges[0] if len(judges) == 1 else ", ".join(judges))
        if prompt_version is None:
            from arena.metric_judge import VERSION, is_metric_judge
            from arena.prompt import PROMPT_VERSION

            llm_judged = not all(is_metric_judge(j) for j in judges)
            prompt_version = PROMPT_VERSION if llm_judged else f"none (metric judge v{VERSION})"
    unknown = sorted(set(runs) - set(battles.models))
    if unknown:
        raise XrayBenchError(
            f"--runs names models with no battles in {source}: {', '.join(unknown)} "
            f"(models: {', '.join(battles.models)})"
        )
    # the arena's task columns for every model (a suite run would give other columns than a submitted task run)
    tasks = [] if args.battles else sorted({r["task"] for r in export.rows})
    task = tasks[0] if len(tasks) == 1 else None
    metrics = {model: run_metrics(path, task) for model, path in sorted(runs.items())}
    run_notes = {model: run_note(path, task) for model, path in sorted(runs.items())}
    result = _rate(battles, args)
    proxy = proxy_note_for(judge)
    out = Path(args.out) if args.out else default_board(name)
    written = write_leaderboard(
        out,
        result,
        name=name,
        judge=judge,
        prompt_version=prompt_version,
        n_judgments=len(battles),
        n_missing=n_missing,
        cost_usd=cost_usd,
        metrics=metrics,
        proxy_note=proxy,
        counts=counts,
        banner=banner,
        run_notes=run_notes,
    )
    print(f"wrote {len(written)} files to {out}")
    print(str(result.settings["prior_statement"]))
    if counts is not None:
        _print_counts(counts)
    if banner:
        print(f"WARNING: {banner}")
    return 0


def _store_battles(
    name: str, store: str | None, config: str | None = None, mix: bool = False
) -> tuple[Any, Any, float, list[str], str]:
    """Battles judged in an arena's store (one judge configuration unless `mix`), their export, spend, judges."""
    from arena.battles import from_records
    from arena.judging import export_battles, plan_path, store_path
    from xraybench.callstore import CallStore
    from xraybench.errors import XrayBenchError

    path = store_path(name, store)
    if not path.exists():
        raise XrayBenchError(f"no judgment store {path}: pass --battles FILE, or run `xraybench arena judge` first")
    with CallStore(path) as calls:
        export = export_battles(calls, plan_path(path), config=config, mix=mix)
        cost = calls.totals().cost_usd
    if not export.rows:
        raise XrayBenchError(f"{path}: no judged battles yet ({export.n_missing} planned judgments are missing)")
    records = [
        (i, {k: r[k] for k in ("model_a", "model_b", "winner", "study_id")}) for i, r in enumerate(export.rows, start=1)
    ]
    judges = sorted({r["judge"] for r in export.rows})
    return from_records(records, path), export, cost, judges, str(path)


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


def run(args: argparse.Namespace) -> int:
    if args.arena_command == "demo":
        from arena.demo import run_demo

        return run_demo(args)
    if args.arena_command == "leaderboard":
        return _run_leaderboard(args)
    if args.arena_command == "judge":
        return _judge(args)
    if args.arena_command == "battles":
        return _battles(args)
    if args.arena_command == "reparse":
        return _reparse(args)
    if args.arena_command != "ratings":
        print("usage: xraybench arena ratings --battles FILE [--json]")
        return 2
    from arena.battles import read_battles

    battles = read_battles(args.battles)
    result = _rate(battles, args)
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
    notes.append(str(s["prior_statement"]))
    for note in notes:
        out.print(note)


def _add_judge_parser(sub: argparse._SubParsersAction) -> None:
    from xraybench.config import add_arguments

    judge = sub.add_parser(
        "judge",
        help="judge pairwise battles between models' reports with an LLM judge into the arena's store",
        description="Judge every pair of models on the chosen studies, in both orders, through litellm. Answers go "
        "to arenas/NAME/judgments.sqlite: done judgments are never asked again, failures are retried on the next run.",
    )
    add_arguments(judge, JudgeConfig)
    judge.add_argument("--json", action="store_true", help="print the run report as JSON")


def _add_battles_parser(sub: argparse._SubParsersAction) -> None:
    battles = sub.add_parser(
        "battles",
        help="export an arena's judgments as a battle file for `arena ratings`",
        description="Write the arena's judged battles (canonical model orientation) as JSONL, with the per-judge "
        "order-flip rate. --view consistent counts a pair whose two orders disagree as a tie.",
    )
    battles.add_argument("--name", required=True, help="arena name")
    battles.add_argument("--out", required=True, help="battle file to write (JSONL)")
    battles.add_argument("--store", help="judgment store file (default: arenas/NAME/judgments.sqlite)")
    battles.add_argument("--judge", help="only this judge's battles")
    _add_config_options(battles)
    battles.add_argument("--view", choices=("both", "consistent"), default="both", help="both orders, or one per pair")


def _judge(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from arena.metric_judge import is_metric_judge
    from xraybench.config import from_namespace

    config = from_namespace(JudgeConfig, args)
    report, path = judge_arena(config, progress=not args.json)
    if args.json:
        print(json.dumps({"store": str(path), "dry_run": config.dry_run, **asdict(report)}, indent=2))
        return 1 if report.n_failed else 0
    if is_metric_judge(config.judge):
        print(f"{config.judge}: a reference-based proxy judge (offline, free), not an LLM judgment")
    _print_judge_report(report, path, config.dry_run)
    if not is_metric_judge(config.judge):
        from arena.budget import ArenaBudget, stored_cap
        from xraybench.callstore import CallStore

        with CallStore(path) as store:
            print(ArenaBudget(stored_cap(path), store.totals().cost_usd).describe())
    return 1 if report.n_failed else 0


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


def _battles(args: argparse.Namespace) -> int:
    from arena.judging import export_battles, plan_path, store_path, write_battles
    from xraybench.callstore import CallStore
    from xraybench.errors import XrayBenchError

    path = store_path(args.name, args.store)
    if not path.exists():
        raise XrayBenchError(f"no judgment store {path}: run `xraybench arena judge --name {args.name} ...` first")
    with CallStore(path) as store:
        export = export_battles(store, plan_path(path), args.judge, args.judge_config, mix=args.all_configs)
    rows = export.consistent_rows if args.view == "consistent" else export.rows
    if not rows:
        raise XrayBenchError(f"{path}: no judged battles yet ({export.n_missing} planned judgments are missing)")
    write_battles(rows, args.out)
    print(f"wrote {len(rows)} battles to {args.out}")
    _print_counts(export.counts())
    for judge, rate in export.flip_rate.items():
        shown = "n/a" if rate is None else f"{rate:.1%}"
        print(
            f"order-flip rate of {judge}: {shown} over {export.n_pairs_both_orders[judge]} pairs with judge verdicts "
            "in both orders (ties between identical reports excluded)"
        )
    return 0


def _add_reparse_parser(sub: argparse._SubParsersAction) -> None:
    reparse = sub.add_parser(
        "reparse",
        help="re-parse the stored judge answers with this version's verdict parser (no calls, no cost)",
        description="Re-parse every stored judgment whose parser version differs from the current one.",
    )
    reparse.add_argument("--name", required=True, help="arena name")
    reparse.add_argument("--store", help="judgment store file (default: arenas/NAME/judgments.sqlite)")


def _reparse(args: argparse.Namespace) -> int:
    from arena.judging import KIND, store_path
    from arena.verdict import PARSER_VERSION, parse_verdict
    from xraybench.callstore import CallStore
    from xraybench.errors import XrayBenchError

    path = store_path(args.name, args.store)
    if not path.exists():
        raise XrayBenchError(f"no judgment store {path}")
    with CallStore(path) as store:
        result = store.reparse(parse_verdict, PARSER_VERSION, kind=KIND)
    print(
        f"re-parsed {result.n_rows} judgments with parser {PARSER_VERSION}: {result.n_changed} changed, "
        f"{result.n_recovered} failed judgments recovered from their stored answers (no call)"
    )
    return 0
