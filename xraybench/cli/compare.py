"""`xraybench compare RUN_A RUN_B`: paired significance of every shared metric.

`xraybench compare RUN published:NAME` prints the run's metrics beside a paper's published numbers instead
(no test: a published number has no per-sample values behind it).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from xraybench.config import add_arguments, from_namespace


def add_parser(parser: argparse.ArgumentParser) -> None:
    from xraybench.api import CompareConfig

    add_arguments(parser, CompareConfig)


def run(args: argparse.Namespace) -> int:
    from xraybench import api

    config = from_namespace(api.CompareConfig, args)
    result = api.compare(config)
    if config.published:
        return _print_published(config, result)
    rows = result["rows"]
    for side, tasks in result["left_out"].items():  # stderr: --json stays one document
        if tasks:
            print(f"warning: left out, scored only by {side}: {', '.join(tasks)}", file=sys.stderr)
    if config.json:
        print(json.dumps(rows, indent=2, allow_nan=False))  # NaN is null with its reason in "why"
        return 0
    from rich.table import Table

    from xraybench.cli._console import console as make_console

    table = Table(title=f"{config.run_a} (A) vs {config.run_b} (B)")
    for col in (
        "task",
        "metric",
        "A",
        "B",
        "A − B",
        "95% CI",
        "better",
        "gain of A over B",
        "p (bootstrap)",
        "p (randomisation)",
    ):
        table.add_column(col, justify="right" if col not in ("task", "metric") else "left")

    labels = {"a": "A", "b": "B", "diff": "A − B", "ci_low": "95% CI", "ci_high": "95% CI",
              "rel_gain": "gain of A over B", "p_bootstrap": "p (bootstrap)", "p_randomization": "p (randomisation)",
              "better": "better"}  # fmt: skip
    reasons: dict[tuple[str, str], list[str]] = {}  # (column, reason) -> where: each reason printed once

    def fmt(r: dict, key: str, spec: str) -> str:
        if r[key] is not None:
            return format(r[key], spec)
        why = (r.get("why") or {}).get(key)
        if why is None:
            return ""  # not computed for this kind of row (a suite has no per-sample test)
        where = f"{r['task']} {r['metric']}"
        places = reasons.setdefault((labels[key], why), [])
        if where not in places:
            places.append(where)
        return "n/a"

    arrows = {"lower": " ↓", "none": " ·"}  # higher-is-better scores carry no mark; the legend says so
    for r in rows:
        ci = f"[{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]" if r["ci_low"] is not None else fmt(r, "ci_low", "")
        table.add_row(
            r["task"],
            r["metric"] + arrows.get(r.get("direction"), " ?" if r.get("direction") is None else ""),
            fmt(r, "a", ".4f"),
            fmt(r, "b", ".4f"),
            fmt(r, "diff", "+.4f"),
            ci,
            fmt(r, "better", ""),
            fmt(r, "rel_gain", "+.1%"),
            fmt(r, "p_bootstrap", ".4f"),
            fmt(r, "p_randomization", ".4f"),
        )
    console = make_console()
    console.print(table)
    marks = {r.get("direction") for r in rows}
    console.print(
        "Higher is better unless marked"
        + ("; ↓ lower is better" if "lower" in marks else "")
        + ("; · no direction" if "none" in marks else "")
        + ("; ? direction unknown here" if None in marks else "")
        + ". 'better' and the gain of A over B follow each score's direction (a positive gain: A is better);"
        " A − B is as measured; p-values are two-sided."
    )
    for (column, why), places in reasons.items():
        shown = ", ".join(places[:6]) + (f" and {len(places) - 6} more" if len(places) > 6 else "")
        console.print(f"n/a in {column} ({shown}): {why}")
    for task, note in dict.fromkeys((r["task"], r.get("note")) for r in rows if r.get("note")):
        console.print(f"[yellow]{task}: {note}[/yellow]")  # an incomplete run is never shown as complete
    return 0


WIDE = 8  # published models beyond which the comparison is printed one model per row


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


ARROWS = {"higher": " ↑", "lower": " ↓"}  # a published column's direction; none / unknown: no arrow, no rank


def _run_cell(r: dict[str, Any], bold: bool = False) -> str:
    """This run's value with its place among the published models in the column's direction ("#3/8")."""
    if r["run"] is None:
        return "n/a" if r.get("run_why") else ""
    text = f"{r['run']:.4f}" + (f" (#{r['rank']['place']}/{r['rank']['of']})" if r.get("rank") else "")
    return f"[bold]{text}[/bold]" if bold else text


def _leaderboard_table(run_dir: str, name: str, rows: list[dict[str, Any]], models: list[str]) -> Any:
    """One scope beside a long published leaderboard: a row for this run, then one per published model with
    the date its row was listed (the metrics matched are the columns)."""
    from rich.table import Table

    from xraybench.published import MARK, PREFIX

    info = rows[0].get("published_rows") or {}
    table = Table(title=f"{rows[0]['task']} ({run_dir}) beside {PREFIX}{name} ({MARK})")
    table.add_column("model")
    table.add_column("listed since")
    for r in rows:
        table.add_column(
            f"{r['published_metric']} ({r['metric']}){ARROWS.get(r.get('direction'), '')}", justify="right"
        )
    table.add_row("[bold]this run[/bold]", "", *(_run_cell(r, bold=True) for r in rows))
    for model in models:
        table.add_row(model, (info.get(model) or {}).get("date", ""), *(_cell(r["published"][model]) for r in rows))
    return table


def _print_published(config: Any, result: dict[str, Any]) -> int:
    from rich.table import Table

    from xraybench.cli._console import console as make_console
    from xraybench.published import MARK, PREFIX, get_published

    if config.json:
        print(json.dumps(result, indent=2, allow_nan=False))
        return 0
    run_dir, rows, pub = result["run"], result["rows"], get_published(result["published"])
    out = make_console()
    for table_id in dict.fromkeys(r["table"] for r in rows):
        part = [r for r in rows if r["table"] == table_id]
        models = list(part[0]["published"])
        if len(models) > WIDE or part[0].get("published_rows"):  # a leaderboard (ReXrank's): a row per model
            for scope in dict.fromkeys(r["task"] for r in part):
                out.print(_leaderboard_table(run_dir, pub.name, [r for r in part if r["task"] == scope], models))
            continue
        table = Table(title=f"{run_dir} beside {PREFIX}{pub.name} ({MARK})")
        for col in ("task", "metric", "published as", "this run", *(f"{m} (published)" for m in models)):
            table.add_column(col, justify="left" if col in ("task", "metric", "published as") else "right")
        for r in part:
            table.add_row(r["task"], r["metric"], r["published_metric"] + ARROWS.get(r.get("direction"), ""),
                          _run_cell(r), *(_cell(r["published"][m]) for m in models))  # fmt: skip
        out.print(table)
    out.print(f"Published values: {MARK}. {pub.note}. Source: {pub.source}. No significance test is possible.")
    out.print("↑ higher is better, ↓ lower is better; (#k/n): this run's place among the n-1 published models with a "
              "value in that column, by its direction")  # fmt: skip
    for r in rows:
        if r.get("run_why"):
            out.print(f"[yellow]{r['task']} {r['metric']}: {r['run_why']}[/yellow]")
    for note in dict.fromkeys(r["run_note"] for r in rows if r.get("run_note")):
        out.print(f"[yellow]this run: {note}[/yellow]")
    for scope, note in dict.fromkeys((r["task"], r["coverage"]) for r in rows if r.get("coverage")):
        out.print(f"[bold yellow]{scope}: {note}[/bold yellow]")
    for scope, datasets in (rows[0].get("left_out") or {}).items():  # never beside numbers from other data
        out.print(f"[bold red]left out: {scope} ({', '.join(datasets)}): not the data the published numbers were "
                  "measured on[/bold red]")  # fmt: skip
    return 0
