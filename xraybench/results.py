"""Scoring a run folder into a versioned `results.json`."""

from __future__ import annotations

import json
import logging
import math
import platform
import subprocess
import time
from dataclasses import dataclass, field, fields, replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from xraybench.errors import DataFormatError, MissingExtraError, XrayBenchError
from xraybench.files import write_atomic
from xraybench.metrics import Scores
from xraybench.records import MetricValue, Prediction, Sample
from xraybench.schema import SCHEMA_KEY, check_schema

if TYPE_CHECKING:
    from xraybench.runner import RunConfig, RunFolder
    from xraybench.taskdata import TaskData

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1  # results.json's `schema_version` (`xraybench.schema`: readers refuse a newer one)
PER_SAMPLE_FILE = "scores.jsonl"  # per-sample metric values, rewritten with every scoring
PACKAGES = ("xraybench", "numpy", "torch", "transformers", "vllm", "litellm")


def run_options(config: RunConfig, cache: Any) -> dict[str, Any]:
    """The run's settings a metric may ask for in its `MetricSpec.options` (`xraybench.metrics.base.RUN_OPTIONS`)."""
    return {
        "tokenizer": config.tokenizer, "token_cache": cache, "uncertain_as": config.uncertain_as,
        "answer_variant": config.answer_variant, "progress": config.progress, **config.image_policy().options(),
    }  # fmt: skip


def _finite(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def summarise(
    all_scores: dict[str, Scores], rounds: int, seed: int, indices: np.ndarray | None = None
) -> dict[str, dict[str, float | None]]:
    """Value and bootstrap 95% CI of every metric, sharing the resamples across metrics."""
    from xraybench.metrics.bootstrap import bootstrap_cis

    cis = bootstrap_cis(all_scores, n_rounds=rounds, seed=seed, indices=indices) if rounds > 0 else {}
    out = {}
    for name, scores in all_scores.items():
        value = scores.value if indices is None else scores.on(indices)
        low, high = cis.get(name, (None, None))
        out[name] = MetricValue(_finite(value), _finite(low), _finite(high)).to_json()  # type: ignore[arg-type]
    return out


def completed_items(
    samples: list[Sample], done: dict[tuple[str, str], Prediction]
) -> tuple[list[Sample], list[Prediction], list[str]]:
    """The items that have a finished prediction (in sample order), their predictions, and the failed ids.

    The failed-item rule, one for every metric family (report, VQA, classification, grounding and the
    model-based metrics): a failed or missing item is left out of every headline metric. It is never
    scored as an empty output, which a labeler reads as "No Finding" and a normal-report reference can
    match. Its count is reported beside the metrics (`n_failed`, or `n_not_asked` for an item never sent: a run
    stopped on --budget-usd; see `split_missing`) and the run is marked incomplete.
    """
    kept, preds, failed = [], [], []
    for s in samples:
        pred = done.get((s.task, s.id))
        if pred is None or pred.error:
            failed.append(s.id)
        else:
            kept.append(s)
            preds.append(pred)
    return kept, preds, failed


def missing_counts(n_failed: int, n_not_asked: int, of: str) -> str:
    """'3 of 10 items of X failed', '5 of 10 items of X were never asked' or '3 of 10 items of X failed and 5 were
    never asked' (`of` = "10 items of X"): a never-asked item (a run stopped on --budget-usd before it) is no model
    failure, so the two are always said apart."""
    if not n_not_asked:
        return f"{n_failed} of {of} failed"
    if not n_failed:
        return f"{n_not_asked} of {of} were never asked"
    return f"{n_failed} of {of} failed and {n_not_asked} were never asked"


def no_items_reason(n_failed: int, n_not_asked: int = 0) -> str:
    """Why a task shows no number: none of its items completed (a floor value would be a made-up score)."""
    if not n_not_asked:
        return f"no completed item: all {n_failed} failed or are missing; a metric over zero items has no value"
    n = n_failed + n_not_asked
    counts = missing_counts(n_failed, n_not_asked, f"{n} items")
    return f"no completed item: {counts}; a metric over zero items has no value"


def split_missing(task: str, missing: list[str], asked_and_failed: set[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """The ids `completed_items` left out, as (asked and failed, never asked): an item with a failure record (or a
    stored prediction with an error) was asked; any other was never sent (the run stopped before it)."""
    failed = [i for i in missing if (task, i) in asked_and_failed]
    return failed, [i for i in missing if (task, i) not in asked_and_failed]


def bound_for_scoring(preds: list[Prediction], limit: int) -> tuple[list[Prediction], list[str]]:
    """The predictions with each answer cut to `limit` characters, and the ids of those cut.

    Why: the work of a metric grows faster than the answer (METEOR's aligner ran a 4M-word row out of
    memory; 8,000 words take 0.4 s and ~100 MB, 16,000 words 1.2 s and ~400 MB), so one degenerate output
    must not take the machine. The cut answer is still scored (an endless output scores badly, as it should;
    dropping it would flatter the model) and listed in `truncated_for_scoring`. Limit: `--max-scored-chars`.
    """
    if limit < 1:
        raise XrayBenchError(f"--max-scored-chars must be at least 1, got {limit}")
    out, cut = [], []
    for pred in preds:
        if pred.answer is not None and len(pred.answer) > limit:
            out.append(replace(pred, answer=pred.answer[:limit]))
            cut.append(pred.id)
        else:
            out.append(pred)
    return out, cut


def compute_scores(
    td: TaskData, preds: list[Prediction], config: RunConfig
) -> tuple[dict[str, Scores], dict[str, str]]:
    """Every metric of the task; a metric whose extra or runtime (Java) is missing is skipped with the reason.
    Answers are cut to `config.max_scored_chars` first (`bound_for_scoring`)."""
    from xraybench.metrics._lexical import TokenCache
    from xraybench.metrics.api import construct_metric, extra_metrics_for

    preds, _ = bound_for_scoring(preds, config.max_scored_chars)
    all_scores: dict[str, Scores] = {}
    cache = TokenCache()  # lexical metrics of a task tokenize each text once
    task = td.task
    extra, skipped = extra_metrics_for(task.name, task.kind, task.metrics, config.extra_metrics)  # by declared kinds
    given = config.metric_options()  # --metric-arg, typed (an option a task fixes is refused there)
    for name in (*task.metrics, *extra):
        if name in config.skip_metrics:
            continue
        try:
            options = {**task.metric_options.get(name, {}), **given.get(name, {})}
            metric = construct_metric(name, run_options(config, cache), options)
            all_scores.update(metric.score(td.samples, preds))
        except (MissingExtraError, XrayBenchError) as exc:
            skipped[name] = str(exc)
    return all_scores, skipped


def per_sample_rows(td: TaskData, all_scores: dict[str, Scores]) -> list[dict[str, Any]]:
    """One row per sample with every metric's per-sample value (None where not applicable)."""
    rows = []
    for i, sample in enumerate(td.samples):
        row: dict[str, Any] = {"task": td.task.name, "id": sample.id}
        for name, scores in all_scores.items():
            row[name] = _finite(float(scores.per_sample[i]))
        rows.append(row)
    return rows


def score_task(
    td: TaskData, preds: list[Prediction], config: RunConfig, per_sample: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Corpus values with CIs and category breakdowns; per-sample values are appended to `per_sample`."""
    limit = config.max_scored_chars
    preds, cut = bound_for_scoring(preds, limit)
    if cut:
        log.warning(
            "%s: %d answer(s) longer than %d characters were cut for scoring (e.g. %s); see truncated_for_scoring",
            td.task.name, len(cut), limit, cut[0],
        )  # fmt: skip
    all_scores, skipped = compute_scores(td, preds, config)
    if per_sample is not None:
        rows, cut_ids = per_sample_rows(td, all_scores), set(cut)
        for row in rows:
            if row["id"] in cut_ids:
                row["truncated_for_scoring"] = True
        per_sample.extend(rows)
    metrics = summarise(all_scores, config.bootstrap_rounds, config.seed)
    details = {n: s.details for n, s in all_scores.items() if s.details}
    categories: dict[str, Any] = {}
    cats = [s.metadata.get("category") for s in td.samples]
    for cat in sorted({c for c in cats if c}):
        idx = np.array([i for i, c in enumerate(cats) if c == cat])
        categories[cat] = {
            "n": len(idx),
            "metrics": summarise(all_scores, config.bootstrap_rounds, config.seed, idx),
        }
    truncated = {"limit_chars": limit, "ids": cut} if cut else None
    return {
        "metrics": metrics, "metric_details": details, "skipped_metrics": skipped, "categories": categories,
        "truncated_for_scoring": truncated,
    }  # fmt: skip


def task_status(n_scored: int, n_failed: int, n_not_asked: int = 0) -> str:
    """complete (every item scored), incomplete (some failed or never asked: metrics over the completed ones),
    failed (none completed, some failed), not_asked (none asked: the run stopped before the task)."""
    if not n_failed and not n_not_asked:
        return "complete"
    if n_scored:
        return "incomplete"
    return "failed" if n_failed else "not_asked"


def _with_failed_counts(
    categories: dict[str, Any], samples: list[Sample], failed: set[str], not_asked: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Add each category's failed and never-asked counts; a category with no completed item has no metrics."""
    out = dict(categories)
    cats = {s.id: s.metadata.get("category") for s in samples}
    for cat in sorted({c for c in cats.values() if c}):
        n_failed = sum(1 for sid, c in cats.items() if c == cat and sid in failed)
        n_not_asked = sum(1 for sid, c in cats.items() if c == cat and sid in not_asked)
        entry = out.get(cat) or {"n": 0, "metrics": {}, "no_metrics_reason": no_items_reason(n_failed, n_not_asked)}
        out[cat] = {**entry, "n_failed": n_failed, "n_not_asked": n_not_asked}
    return out


def suite_aggregates(tasks: dict[str, Any], suites: list[str]) -> dict[str, Any]:
    """Sample-count-weighted average of each metric over the suite's tasks that report it.

    A task weighs by the items its value was computed on (`n_scored`: failed items are in no metric);
    a suite with a failed item is marked incomplete and carries the count."""
    from xraybench.metrics.aggregate import weighted_average
    from xraybench.tasks import SUITES

    out: dict[str, Any] = {}
    for name in suites:
        members = [t for t in SUITES[name].tasks if t in tasks]
        metric_names = sorted({m for t in members for m in tasks[t]["metrics"]})
        agg: dict[str, Any] = {}
        for m in metric_names:
            values = {
                t: tasks[t]["metrics"][m]["value"]
                for t in members
                if m in tasks[t]["metrics"] and tasks[t]["metrics"][m]["value"] is not None
            }
            if values:
                counts = {t: tasks[t].get("n_scored", tasks[t]["n"]) for t in values}
                agg[m] = {"value": weighted_average(values, counts), "n": sum(counts.values()), "tasks": len(values)}
        n_failed = sum(tasks[t].get("n_failed") or 0 for t in members)
        n_not_asked = sum(tasks[t].get("n_not_asked") or 0 for t in members)
        entry: dict[str, Any] = {
            "tasks": members,
            "weighting": "sample_count",
            "status": "complete" if not n_failed and not n_not_asked else "incomplete",
            "n_failed": n_failed,
            "n_not_asked": n_not_asked,
            "metrics": agg,
        }
        if not agg:
            entry["no_metrics_reason"] = (
                no_items_reason(n_failed, n_not_asked) if n_failed or n_not_asked else "no member task has a metric"
            )
        out[name] = entry
    return out


def incomplete_note(results: dict[str, Any], scope: str | None = None) -> str | None:
    """A line for anything that shows a run's numbers beside others' (compare, leaderboards): None for a
    complete run, else how many items failed, how many were never asked (a run stopped on --budget-usd), and that
    the metrics are over the completed items only.

    `scope` narrows it to one task name or `suite:NAME`; older results without the counts read as complete (and
    those before `n_not_asked` counted never-asked items as failed)."""
    if scope is None:
        entries = list((results.get("tasks") or {}).values())
        where = "the run"
    elif scope.startswith("suite:"):
        suite = (results.get("suites") or {}).get(scope[len("suite:") :]) or {}
        entries = [(results.get("tasks") or {}).get(t) or {} for t in suite.get("tasks") or []]
        where = scope
    else:
        entries, where = [(results.get("tasks") or {}).get(scope) or {}], scope
    n_failed = sum(int(t.get("n_failed") or 0) for t in entries)
    n_not_asked = sum(int(t.get("n_not_asked") or 0) for t in entries)
    n_total = sum(int(t.get("n") or 0) for t in entries)
    n_missing = n_failed + n_not_asked
    if not n_missing:
        return None
    if n_missing >= n_total:
        if not n_not_asked:
            return f"incomplete: all {n_failed} items of {where} failed; it has no metric values"
        counts = missing_counts(n_failed, n_not_asked, f"all {n_total} items of {where}")
        return f"incomplete: {counts}; it has no metric values"
    return (
        f"incomplete: {missing_counts(n_failed, n_not_asked, f'{n_total} items of {where}')}; "
        f"its metrics are over the {n_total - n_missing} completed items only"
    )


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@dataclass
class TaskResult:
    """One task's entry in `results.json`: where its items came from (dataset, split, task version, population,
    seeded sampling, dropped rows, data notes, fingerprint, credentialed), how many were scored or failed and the
    task's status, and `scores`: the metrics with 95% CIs, their details, skipped metrics, per-category
    breakdowns and notes such as `no_metrics_reason` (written flat beside the other fields, as always)."""

    dataset: str | None
    split: str | None
    version: Any
    n: int | None
    n_scored: int | None
    n_failed: int | None
    status: str | None
    population: int | None
    sampling: dict[str, Any] | None
    dropped: dict[str, Any] | None
    data_notes: list[str] | None
    fingerprint: str | None
    credentialed: bool | None
    scores: dict[str, Any] = field(default_factory=dict)
    # asked = scored + failed; never asked = not sent at all (a run stopped on --budget-usd): no model failure
    n_asked: int | None = None
    n_not_asked: int | None = None

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "scores"}
        out.update(self.scores)
        return out

    @classmethod
    def from_json(cls, data: Any, path: str | Path, task: str) -> TaskResult:
        if not isinstance(data, dict):
            raise DataFormatError(path, f"task {task!r}: expected an object with the task's results")
        known = [f.name for f in fields(cls) if f.name != "scores"]
        return cls(**{k: data.get(k) for k in known}, scores={k: v for k, v in data.items() if k not in known})


@dataclass
class Results:
    """What `results.json` holds: one run's scores and everything needed to reproduce and compare them.

    `tasks` maps each task to its entry (dataset, split, task version, counts, status, sampling, fingerprint, the
    metrics with 95% CIs, per-category breakdowns); `suites` the sample-count-weighted aggregates. `extra` keeps
    fields this version does not know (written by a newer minor release or added by a caller, e.g. a cost
    ledger), so reading and writing a file back loses nothing."""

    run_id: str
    status: str
    n_failed: int
    resumed: bool
    model: dict[str, Any]
    template: str
    decoding: dict[str, Any]
    seed: int
    tokenizer: str
    uncertain_as: str
    answer_variant: str
    image_size: int | None
    image_policy: dict[str, Any]
    bootstrap_rounds: int
    dataset_fingerprints: dict[str, str]
    packages: dict[str, str]
    git_sha: str | None
    created_at: str
    tasks: dict[str, TaskResult]
    suites: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    n_not_asked: int | None = None  # items never sent (a run stopped on --budget-usd); `n_failed` are asked ones
    metric_args: dict[str, Any] = field(default_factory=dict)  # the --metric-arg options the metrics were built with
    extra: dict[str, Any] = field(default_factory=dict)

    # what every reader (compare, leaderboards, published comparisons) relies on; the rest may be absent in old files
    REQUIRED: ClassVar[tuple[str, ...]] = ("tasks",)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {SCHEMA_KEY: SCHEMA_VERSION}
        out.update((f.name, getattr(self, f.name)) for f in fields(self) if f.name != "extra")
        out["tasks"] = {name: task.to_json() for name, task in self.tasks.items()}
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, data: Any, path: str | Path = "results.json") -> Results:
        check_schema(data, SCHEMA_VERSION, path, "results")
        if not isinstance(data, dict):
            raise DataFormatError(path, "expected a JSON object with a run's results")
        missing = [k for k in cls.REQUIRED if k not in data]
        if missing:
            raise DataFormatError(path, f"missing {', '.join(missing)}; expected a run's results (xraybench run)")
        known = {f.name for f in fields(cls)} - {"extra"}
        values = {k: data.get(k) for k in known}
        values["timings"] = data.get("timings") or {}
        values["metric_args"] = data.get("metric_args") or {}  # none recorded: the metrics' defaults
        if not isinstance(data["tasks"], dict):
            raise DataFormatError(path, "tasks: expected an object of task name -> results")
        values["tasks"] = {name: TaskResult.from_json(t, path, name) for name, t in data["tasks"].items()}
        extra = {k: v for k, v in data.items() if k not in known and k != SCHEMA_KEY}
        return cls(**values, extra=extra)


def score_run(
    config: RunConfig, folder: RunFolder, tasks: list[TaskData], suites: list[str], *, model_name: str, resumed: bool
) -> dict[str, Any]:
    started = time.perf_counter()
    done = folder.load_predictions()
    asked_and_failed = folder.load_asked_and_failed() | {k for k, p in done.items() if p.error}
    task_results: dict[str, TaskResult] = {}
    n_failed_total = n_not_asked_total = 0
    per_sample: list[dict[str, Any]] = []
    for td in tasks:
        kept, preds, missing = completed_items(td.samples, done)
        failed, not_asked = split_missing(td.task.name, missing, asked_and_failed)
        n_failed_total += len(failed)
        n_not_asked_total += len(not_asked)
        if kept:  # never-asked items, like failed ones, are in no metric: not scored as wrong answers
            scored = score_task(replace(td, samples=kept), preds, config, per_sample)
            categories = _with_failed_counts(scored["categories"], td.samples, set(failed), frozenset(not_asked))
            scored["categories"] = categories
        else:  # no item completed: no number at all, the reason instead
            scored = {"metrics": {}, "metric_details": {}, "skipped_metrics": {}, "categories": {}}
            scored["no_metrics_reason"] = no_items_reason(len(failed), len(not_asked))
        task_results[td.task.name] = TaskResult(
            dataset=td.task.dataset,
            split=td.task.split,
            version=td.task.version,
            n=len(td.samples),
            n_scored=len(kept),
            n_failed=len(failed),
            status=task_status(len(kept), len(failed), len(not_asked)),
            population=td.population,
            sampling={"limit": len(td.samples) if len(td.samples) < td.population else None, "seed": config.seed},
            dropped=td.dropped,
            data_notes=td.notes,  # e.g. a seeded split instead of the official one (also printed)
            fingerprint=td.fingerprint,
            credentialed=any(s.credentialed for s in td.samples),
            scores=scored,
            n_asked=len(kept) + len(failed),
            n_not_asked=len(not_asked),
        )
    _write_jsonl(folder.file(PER_SAMPLE_FILE), per_sample)
    return Results(
        run_id=folder.run_id(),
        status="complete" if n_failed_total + n_not_asked_total == 0 else "incomplete",
        n_failed=n_failed_total,
        resumed=resumed,
        model={"spec": config.model, "name": model_name},
        template=config.template,
        decoding=config.generate_config().decoding(),
        seed=config.seed,
        tokenizer=config.tokenizer,
        uncertain_as=config.uncertain_as,
        answer_variant=config.answer_variant,
        image_size=config.image_size,
        image_policy={**config.image_policy().options(), "description": config.image_policy().describe()},
        bootstrap_rounds=config.bootstrap_rounds,
        dataset_fingerprints={n: str(t.fingerprint) for n, t in task_results.items()},
        packages=package_versions(),
        git_sha=git_sha(),
        created_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        tasks=task_results,
        suites=suite_aggregates({n: t.to_json() for n, t in task_results.items()}, suites),
        timings={"scoring_s": time.perf_counter() - started},
        n_not_asked=n_not_asked_total,
        metric_args=config.metric_options(),
    ).to_json()


# what a full disk while scoring leaves safe: scoring reads only the stored predictions
_SCORING_SAFE = "every prediction is kept in predictions.jsonl, and the rerun scores it without asking the model again"


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), safe=_SCORING_SAFE)


def write_results(path: Path, results: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(results, indent=2, ensure_ascii=False), safe=_SCORING_SAFE)


def read_results(path: str | Path) -> dict[str, Any]:
    """A run's results.json (a run folder or the file), checked as `Results`: one written before versions were
    recorded is read, a newer major version or a file without the fields every reader needs is refused."""
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    if not p.exists():
        raise XrayBenchError(f"no results.json at {p}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(p, f"not valid JSON ({exc.msg}); expected a run's results", line=exc.lineno) from None
    Results.from_json(data, p)  # the check; callers get the file as written (an old file keeps its own keys)
    return data
