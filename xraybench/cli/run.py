"""`xraybench run`: evaluate a model and print a results table."""

from __future__ import annotations

import argparse
from typing import Any

from xraybench.config import add_arguments, from_namespace


def _boxes_note(metrics: dict[str, Any], n: int) -> str:
    """Box counts beside the format-validity rate: a model that never draws a box is format-valid too."""
    per_answer = (metrics.get("grounding_boxes_per_answer") or {}).get("value")
    if per_answer is None:
        return ""
    return f" ({round(per_answer * n)} boxes in {n} answers)"


def _n_cell(tr: dict[str, Any]) -> str:
    """A task's item count with its failed and never-asked items apart: a run stopped on --budget-usd before an
    item did not see the model fail it."""
    missing = [f"{tr['n_failed']} failed"] if tr.get("n_failed") else []
    missing += [f"{tr['n_not_asked']} not asked"] if tr.get("n_not_asked") else []
    return f"{tr['n']}" + (f" ({', '.join(missing)})" if missing else "")


def add_parser(parser: argparse.ArgumentParser) -> None:
    from xraybench.api import DownloadOptions
    from xraybench.runner import RunConfig

    add_arguments(parser, RunConfig)
    add_arguments(parser, DownloadOptions)  # --download and where the weights go (as `xraybench weights fetch`)


def print_results(results: dict[str, Any]) -> None:
    from rich.table import Table

    from xraybench.cli._console import console as make_console
    from xraybench.metrics import headline_scores, score_direction

    console = make_console()
    marks = {"lower": " ↓", "none": " ·"}  # beside a score that is not higher-is-better (`MetricSpec.directions`)
    shown_marks: set[str] = set()
    headline = headline_scores()  # what each registered metric declares (`MetricSpec.headline`), in their order
    table = Table(title=f"{results['model']['name']} — {results['status']}")
    table.add_column("task")
    table.add_column("n", justify="right")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("95% CI", justify="right")
    for task, tr in results["tasks"].items():
        if not tr["metrics"] and tr.get("no_metrics_reason"):  # every item failed: no number, the reason
            table.add_row(task, _n_cell(tr), "—", "none", tr["no_metrics_reason"][:60])
        names = [m for m in headline if m in tr["metrics"]] or sorted(tr["metrics"])
        for i, m in enumerate(names):
            v = tr["metrics"][m]
            ci = f"[{v['ci_low']:.3f}, {v['ci_high']:.3f}]" if v.get("ci_low") is not None else ""
            value = f"{v['value']:.4f}" if v["value"] is not None else "n/a"
            if m == "grounding_format_valid" and v["value"] is not None:
                value += _boxes_note(tr["metrics"], tr.get("n_scored", tr["n"]))
            mark = marks.get(score_direction(m) or "", "")
            shown_marks.add(mark)
            table.add_row(task if i == 0 else "", _n_cell(tr) if i == 0 else "", m + mark, value, ci)
        for m, reason in tr["skipped_metrics"].items():
            table.add_row("", "", m, "skipped", reason[:60])
    console.print(table)
    legend = [
        text for mark, text in ((" ↓", "↓ lower is better"), (" ·", "· no direction (a count)")) if mark in shown_marks
    ]
    if legend:
        console.print("; ".join(legend) + "; every other score: higher is better")
    for suite, agg in results["suites"].items():
        shown = {
            m + marks.get(score_direction(m) or "", ""): v["value"] for m, v in agg["metrics"].items() if m in headline
        }
        console.print(f"suite {suite} (sample-count weighted): " + ", ".join(f"{m}={v:.4f}" for m, v in shown.items()))
    for task, tr in results["tasks"].items():  # e.g. a seeded split instead of the official one
        for data_note in tr.get("data_notes", []):
            console.print(f"[yellow]{task}: {data_note}[/yellow]")
    skipped: dict[tuple[str, str], list[str]] = {}
    for task, tr in results["tasks"].items():
        for m, reason in tr["skipped_metrics"].items():
            skipped.setdefault((m, reason), []).append(task)
    for (m, reason), tasks in skipped.items():  # in full, once: the table cell is cut, and the fix is in the reason
        console.print(f"{m} skipped ({', '.join(tasks)}): {reason}", style="yellow", markup=False, highlight=False)
    from xraybench.results import incomplete_note

    usage = results.get("usage")
    if usage:  # an API model: the cost ledger beside the numbers
        cost = f"${usage['cost_usd']:.4f}" + ("" if usage["cost_known"] else " (some answers unpriced: at least)")
        console.print(
            f"usage: {usage['prompt_tokens']} prompt + {usage['completion_tokens']} answer tokens, {cost} over "
            f"{usage['n_predictions']} predictions",
            markup=False, highlight=False,
        )  # fmt: skip
    stopped = results.get("stopped")
    if stopped:  # the items not asked are not failures: say why the run ended
        console.print(stopped["message"], style="yellow", markup=False, highlight=False)
    note = incomplete_note(results)
    if note:  # failed (or, after a budget stop, not asked) items are in no metric: say so next to the numbers
        again = (
            "rerun the same command to retry them" if not stopped else "raise --budget-usd and rerun to ask the rest"
        )
        console.print(f"[yellow]{note}; {again}[/yellow]")


def _check_download_flags(download: Any, options: dict[str, dict[str, Any]], wanted: list[str]) -> None:
    """`run --download` fetches what the run loads (its `--metric-arg` options): the `weights fetch` flags that pick
    another model or folder would fetch weights the run never uses, so they are refused unless they agree."""
    from xraybench.errors import XrayBenchError

    flags = (
        ("bertscore_model", "--bertscore-model", "bertscore", "model"),
        ("radgraph_dir", "--radgraph-dir", "radgraph", "model_dir"),
        ("radgraph_dir", "--radgraph-dir", "radcliq", "radgraph_dir"),
        ("radgraph_model_type", "--radgraph-model-type", "radgraph", "model_type"),
    )
    for field_name, flag, metric, key in flags:
        value = getattr(download, field_name)
        if value is None or (field_name == "radgraph_model_type" and value == "radgraph") or metric not in wanted:
            continue
        if options.get(metric, {}).get(key) != value:
            raise XrayBenchError(
                f"run {flag} {value}: the run's {metric} metric loads what --metric-arg {metric}.{key} says (or its "
                f"default), not this; say --metric-arg {metric}.{key}={value} instead, and --download fetches it"
            )


def run(args: argparse.Namespace) -> int:
    from xraybench import api
    from xraybench.runner import RESULTS_FILE, RunConfig

    config = from_namespace(RunConfig, args)
    download = from_namespace(api.DownloadOptions, args)
    if download.download:
        from xraybench.cli.weights import fetch_and_report
        from xraybench.weights import WEIGHTS

        wanted = [m for m in config.extra_metrics if m in WEIGHTS]
        if wanted:
            options = config.metric_options()  # --metric-arg, checked: the models the run will load are fetched
            _check_download_flags(download, options, wanted)
            fetch_and_report(wanted, download, options)
        else:
            print(f"--download: no model-based metric ({', '.join(WEIGHTS)}) in --extra-metrics; nothing to fetch")
    results = api.run(config)
    print_results(results)
    print(f"results: {config.out}/{RESULTS_FILE}")
    return 0 if results["status"] == "complete" else 3
