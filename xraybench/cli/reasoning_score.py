"""`xraybench reasoning-score`: judge-based completeness, factuality and effectiveness of a run's reasoning."""

from __future__ import annotations

import argparse
from typing import Any

from xraybench.config import add_arguments, from_namespace


def add_parser(parser: argparse.ArgumentParser) -> None:
    from xraybench.reasoning.score import ReasoningScoreConfig

    add_arguments(parser, ReasoningScoreConfig)


def _money(value: float | None) -> str:
    return "unknown (no price: pass --price-per-1k-tokens)" if value is None else f"${value:.4f}"


def print_plan(plan: dict[str, Any]) -> None:
    calls = plan["calls"]
    estimate = calls["estimate"]
    print(
        f"dry run: {plan['n_samples']} samples with a reasoning; {calls['n_unique']} distinct calls, "
        f"{calls['n_done_before']} already in the store"
    )
    print(
        f"to make: {estimate['n_calls']} calls, ~{estimate['prompt_tokens']} prompt + "
        f"~{estimate['completion_tokens']} completion tokens, estimated cost {_money(estimate['cost_usd'])}"
    )
    print(f"note: {plan['note']}")


def print_results(results: dict[str, Any]) -> None:
    from rich.table import Table

    from xraybench.cli._console import console as make_console

    table = Table(title=f"reasoning scores of {results['model']} by {results['judge']['model']} — {results['status']}")
    for column, justify in (
        ("task", "left"),
        ("scored", "right"),
        ("metric", "left"),
        ("value", "right"),
        ("95% CI", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for task, tr in results["tasks"].items():
        skipped = ", ".join(
            f"{tr[k]} {k[2:].replace('_', ' ')}"
            for k in ("n_missing_prediction", "n_no_reasoning", "n_failed_calls")
            if tr[k]
        )
        for i, (name, v) in enumerate(tr["metrics"].items()):
            value = "n/a" if v["value"] is None else f"{v['value']:.4f}"
            ci = "" if v["ci_low"] is None else f"[{v['ci_low']:.3f}, {v['ci_high']:.3f}]"
            scored = f"{tr['n_scored']}/{tr['n']}" + (f" ({skipped})" if skipped else "")
            table.add_row(task if i == 0 else "", scored if i == 0 else "", name, value, ci)
    make_console().print(table)
    calls = results["calls"]
    print(
        f"calls: {calls['n_ok']} answered, {calls['n_failed']} failed, {calls['n_done_before']} from the store, "
        f"{calls['n_requests']} requests, cost ${calls['cost_usd']:.4f}"
    )
    for failure in calls["failures"][:10]:
        print(f"  failed: {failure.get('task')} {failure.get('id')} {failure.get('stage')}: {failure['error']}")
    if calls["n_budget_stopped"]:
        print(f"budget reached: {calls['n_budget_stopped']} calls not made; rerun with a higher --budget-usd")


def run(args: argparse.Namespace) -> int:
    from xraybench import api
    from xraybench.reasoning.score import PER_SAMPLE_FILE, RESULTS_FILE

    config = from_namespace(api.ReasoningScoreConfig, args)
    results = api.reasoning_score(config)
    if results.get("dry_run"):
        print_plan(results)
        return 0
    print_results(results)
    print(f"results: {config.run}/{RESULTS_FILE} (per sample: {config.run}/{PER_SAMPLE_FILE})")
    return 0 if results["status"] == "complete" else 3
