"""Compare two run folders metric by metric with paired tests on the same samples.

Direction: every row carries its score's declared direction (`MetricSpec.direction`, found by
`xraybench.metrics.score_direction`): `rel_gain` is A's improvement over B (positive = A better, also for a
lower-is-better score such as RadCliQ-v1 or GREEN's error counts) and `better` names the better run. A score with
no direction (a count such as boxes per answer) or an unknown one (a plugin metric not installed here) gets neither,
with the reason in `why`. `diff` stays A − B as measured and the p-values are two-sided, so neither depends on it.
A suite row compares one score's sample-weighted average over the suite's tasks: it never mixes scores.
"""

from __future__ import annotations

import math
from dataclasses import asdict, is_dataclass, replace
from pathlib import Path
from typing import Any

from xraybench.errors import XrayBenchError
from xraybench.results import completed_items, compute_scores, incomplete_note, read_results, split_missing
from xraybench.runner import RESULTS_FILE, RUN_FILE, RunConfig, RunFolder, RunRecord, load_tasks, rescoring_configs


def load_run(path: str | Path) -> tuple[RunConfig, RunFolder]:
    folder = RunFolder(path)
    run_file = folder.file(RUN_FILE)
    if not run_file.exists():
        raise XrayBenchError(f"{path} is not a run folder (no {RUN_FILE})")
    config = RunConfig.from_record(RunRecord.read(run_file).config, str(run_file))
    return config, folder


def unshared_tasks(path_a: str | Path, path_b: str | Path) -> dict[str, list[str]]:
    """Tasks only one of the two runs scored, by side ("A", "B"): `compare` leaves them out and says so."""
    from xraybench.tasks import expand

    names = {side: expand(load_run(path)[0].tasks)[0] for side, path in (("A", path_a), ("B", path_b))}
    return {side: [t for t in names[side] if t not in names["B" if side == "A" else "A"]] for side in names}


def direction_fields(metric: str, a: float | None, b: float | None) -> dict[str, Any]:
    """`direction`, `rel_gain` (A's improvement over B in that direction) and `better` ("A", "B", "tie") of a row."""
    from xraybench.metrics import score_direction
    from xraybench.metrics.aggregate import better_side, relative_gain

    direction = score_direction(metric)
    nan = float("nan")
    gain = nan if a is None or b is None else relative_gain(a, b, direction)
    return {"direction": direction, "rel_gain": gain, "better": better_side(a, b, direction)}


def compare_runs(
    path_a: str | Path,
    path_b: str | Path,
    *,
    rounds: int = 1000,
    seed: int = 0,
    metric_args: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Per task and metric: A, B, A − B with its paired-bootstrap CI and p-values, the score's direction, A's
    relative gain over B in it and the better run; then the suites both runs scored (sample-count-weighted values,
    relative gain and the better run only)."""
    from xraybench.metrics.significance import compare_scores

    (config_a, folder_a), (config_b, folder_b) = load_run(path_a), load_run(path_b)
    # each run's recorded metric options, or `--metric-arg` for both; refused when the two would score differently
    config_a, config_b = rescoring_configs(config_a, config_b, metric_args)
    tasks_a = {td.task.name: td for td in load_tasks(config_a)[0]}
    tasks_b = {td.task.name: td for td in load_tasks(config_b)[0]}
    shared = [name for name in tasks_a if name in tasks_b]
    if not shared:
        raise XrayBenchError(f"{path_a} and {path_b} share no task")
    done_a, done_b = folder_a.load_predictions(), folder_b.load_predictions()
    # what tells an item that failed from one never asked (a run stopped on --budget-usd): no model failure
    asked_a = folder_a.load_asked_and_failed() | {k for k, p in done_a.items() if p.error}
    asked_b = folder_b.load_asked_and_failed() | {k for k, p in done_b.items() if p.error}
    rows: list[dict[str, Any]] = []
    for name in shared:
        td_a, td_b = tasks_a[name], tasks_b[name]
        if td_a.fingerprint != td_b.fingerprint:
            raise XrayBenchError(
                f"task {name}: the two runs scored different samples (fingerprints "
                f"{td_a.fingerprint} vs {td_b.fingerprint}); a paired test needs the same items"
            )
        # paired on the items both runs completed: a failed item is in no metric (see `completed_items`)
        kept_a, _, failed_a = completed_items(td_a.samples, done_a)
        kept_b, _, failed_b = completed_items(td_b.samples, done_b)
        both = {s.id for s in kept_a} & {s.id for s in kept_b}
        samples = [s for s in td_a.samples if s.id in both]
        if not samples:
            raise XrayBenchError(
                f"task {name}: no item completed in both runs ({len(failed_a)} failed in {path_a}, "
                f"{len(failed_b)} in {path_b}); there is nothing to compare"
            )
        note = None
        if failed_a or failed_b:
            (fa, na), (fb, nb) = split_missing(name, failed_a, asked_a), split_missing(name, failed_b, asked_b)
            left_out = (
                f"{len(fa)} failed in A, {len(fb)} in B"
                if not na and not nb
                else f"{len(fa)} failed and {len(na)} never asked in A, {len(fb)} and {len(nb)} in B"
            )
            note = (
                f"incomplete: paired on the {len(samples)} of {len(td_a.samples)} items both runs completed "
                f"({left_out})"
            )
        scores_a, _ = compute_scores(replace(td_a, samples=samples), [done_a[(name, s.id)] for s in samples], config_a)
        scores_b, _ = compute_scores(replace(td_b, samples=samples), [done_b[(name, s.id)] for s in samples], config_b)
        for row in compare_scores(scores_a, scores_b, n_rounds=rounds, seed=seed):
            data = asdict(row) if is_dataclass(row) else dict(row)
            rows.append(
                {"task": name, **data, **direction_fields(data["metric"], data["a"], data["b"]), "n": len(samples),
                 "note": note}
            )  # fmt: skip
    suite_rows = _suite_rows(folder_a, folder_b)
    if metric_args:  # suite rows are each run's results.json as scored, not rescored: none for a metric rescored here
        suite_rows = [r for r in suite_rows if not any(_emits(m, r["metric"]) for m in metric_args)]
    rows.extend(suite_rows)
    return [explain_missing(row, rounds) for row in rows]


def _emits(metric: str, score: str) -> bool:
    from xraybench.metrics import metric_spec

    try:
        return metric_spec(metric).emits(metric, score)
    except XrayBenchError:  # not importable here: its scores are in no row of this comparison either
        return False


NUMBERS = ("a", "b", "diff", "ci_low", "ci_high", "p_bootstrap", "p_randomization", "rel_gain")


def _missing(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def explain_missing(row: dict[str, Any], rounds: int) -> dict[str, Any]:
    """The row with every NaN replaced by None and `why` mapping each such field to the reason, so no output
    shows a bare `nan` (and `--json` stays valid JSON)."""
    why: dict[str, str] = {}
    a, b, metric = row.get("a"), row.get("b"), row.get("metric")
    for side, value in (("a", a), ("b", b)):
        if _missing(value):
            why[side] = (
                f"run {side.upper()} has no {metric} value: it is undefined on these items (no item or no case it counts)"
            )
    value_missing = _missing(a) or _missing(b)
    if _missing(row.get("diff")):
        why["diff"] = "no difference: a value is missing"
    direction_why = {
        "none": f"{metric} has no direction (neither a higher nor a lower value is better)",
        None: f"no metric here declares which way {metric} improves (a plugin's score, not installed here?)",
    }.get(row.get("direction", "higher"))
    if direction_why:
        why["better"] = f"no better run: {direction_why}"
    elif value_missing:
        why["better"] = "no better run: a value is missing"
    if _missing(row.get("rel_gain")):
        if direction_why:
            why["rel_gain"] = f"no relative gain: {direction_why}"
        else:
            why["rel_gain"] = "no relative gain: B is 0" if b == 0 else "no relative gain: a value is missing"
    for key in ("ci_low", "ci_high", "p_bootstrap", "p_randomization"):
        if not _missing(row.get(key)):
            continue
        if value_missing:
            why[key] = "no test: a value is missing"
        elif rounds <= 0:
            why[key] = "no test: --rounds 0"
        elif key == "p_randomization":
            why[key] = (
                "no randomisation test: this corpus-level metric's statistics cannot be swapped between the runs "
                "item by item (see the bootstrap p)"
            )
        else:
            why[key] = "no test: no bootstrap resample gave a finite difference"
    out = {k: (None if k in NUMBERS and _missing(v) else v) for k, v in row.items()}
    out["why"] = why or None
    return out


def _suite_rows(folder_a: RunFolder, folder_b: RunFolder) -> list[dict[str, Any]]:
    """One row per score both runs' suite aggregates have: the same score averaged over the suite's tasks (never
    several scores in one number), compared in that score's direction."""
    paths = folder_a.file(RESULTS_FILE), folder_b.file(RESULTS_FILE)
    if not all(p.exists() for p in paths):
        return []
    results_a, results_b = (read_results(p) for p in paths)
    suites_a, suites_b = results_a["suites"], results_b["suites"]
    rows = []
    for suite in suites_a.keys() & suites_b.keys():
        notes = [
            f"{side}: {n}"
            for side, n in (
                ("A", incomplete_note(results_a, f"suite:{suite}")),
                ("B", incomplete_note(results_b, f"suite:{suite}")),
            )
            if n
        ]
        metrics_a, metrics_b = suites_a[suite]["metrics"], suites_b[suite]["metrics"]
        for metric in sorted(metrics_a.keys() & metrics_b.keys()):
            a, b = metrics_a[metric]["value"], metrics_b[metric]["value"]
            rows.append(
                {
                    "task": f"suite:{suite}",
                    "metric": metric,
                    "a": a,
                    "b": b,
                    "diff": a - b,
                    "ci_low": None,
                    "ci_high": None,
                    "p_bootstrap": None,
                    "p_randomization": None,
                    **direction_fields(metric, a, b),
                    "note": "; ".join(notes) or None,
                }
            )
    return rows
