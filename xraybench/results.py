"""Scoring a run folder into a versioned `results.json`."""

from __future__ import annotations

import json
import math
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xraybench.errors import MissingExtraError, XrayBenchError
from xraybench.metrics import Scores
from xraybench.records import MetricValue, Prediction, Sample

if TYPE_CHECKING:
    from xraybench.runner import RunConfig, RunFolder
    from xraybench.taskdata import TaskData

SCHEMA_VERSION = 1
PER_SAMPLE_FILE = "scores.jsonl"  # per-sample metric values, rewritten with every scoring
PACKAGES = ("xraybench", "numpy", "torch", "transformers", "vllm", "litellm")


def metric_options(name: str, config: RunConfig) -> dict[str, Any]:
    if name == "chexpert":
        return {"uncertain_as": config.uncertain_as}
    if name == "chexbert":
        return {"uncertain_as": config.uncertain_as, "progress": config.progress}
    if name in ("bertscore", "radgraph"):
        return {"progress": config.progress}
    if name == "answer_score":
        return {"variant": config.answer_variant}
    if name == "grounding":
        return {"image_size": config.image_size}
    return {}


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


def align(samples: list[Sample], done: dict[tuple[str, str], Prediction], model: str) -> tuple[list[Prediction], int]:
    """Predictions in sample order; a missing or failed item scores as an empty output and is counted."""
    preds, missing = [], 0
    for s in samples:
        pred = done.get((s.task, s.id))
        if pred is None:
            missing += 1
            pred = Prediction(s.id, s.task, model, raw="", answer="", error="missing")
        preds.append(pred)
    return preds, missing


def compute_scores(
    td: TaskData, preds: list[Prediction], config: RunConfig
) -> tuple[dict[str, Scores], dict[str, str]]:
    """Every metric of the task; a metric whose extra or runtime (Java) is missing is skipped with the reason."""
    from xraybench.metrics._lexical import TokenCache
    from xraybench.metrics.api import construct_metric

    all_scores: dict[str, Scores] = {}
    skipped: dict[str, str] = {}
    cache = TokenCache()  # lexical metrics of a task tokenize each text once
    extra = [m for m in config.extra_metrics if m not in td.task.metrics] if td.task.kind == "report" else []
    for name in (*td.task.metrics, *extra):
        if name in config.skip_metrics:
            continue
        try:
            options = {**metric_options(name, config), **td.task.metric_options.get(name, {})}
            metric = construct_metric(name, config.tokenizer, cache, options)
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
    all_scores, skipped = compute_scores(td, preds, config)
    if per_sample is not None:
        per_sample.extend(per_sample_rows(td, all_scores))
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
    return {"metrics": metrics, "metric_details": details, "skipped_metrics": skipped, "categories": categories}


def suite_aggregates(tasks: dict[str, Any], suites: list[str]) -> dict[str, Any]:
    """Sample-count-weighted average of each metric over the suite's tasks that report it."""
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
                counts = {t: tasks[t]["n"] for t in values}
                agg[m] = {"value": weighted_average(values, counts), "n": sum(counts.values()), "tasks": len(values)}
        out[name] = {"tasks": members, "weighting": "sample_count", "metrics": agg}
    return out


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


def score_run(
    config: RunConfig, folder: RunFolder, tasks: list[TaskData], suites: list[str], *, model_name: str, resumed: bool
) -> dict[str, Any]:
    started = time.perf_counter()
    done = folder.load_predictions()
    task_results: dict[str, Any] = {}
    n_missing_total = 0
    per_sample: list[dict[str, Any]] = []
    for td in tasks:
        preds, missing = align(td.samples, done, model_name)
        n_missing_total += missing
        scored = score_task(td, preds, config, per_sample)
        task_results[td.task.name] = {
            "dataset": td.task.dataset,
            "split": td.task.split,
            "version": td.task.version,
            "n": len(td.samples),
            "n_failed": missing,
            "population": td.population,
            "sampling": {"limit": len(td.samples) if len(td.samples) < td.population else None, "seed": config.seed},
            "dropped": td.dropped,
            "fingerprint": td.fingerprint,
            "credentialed": any(s.credentialed for s in td.samples),
            **scored,
        }
    _write_jsonl(folder.file(PER_SAMPLE_FILE), per_sample)
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": folder.run_id(),
        "status": "complete" if n_missing_total == 0 else "incomplete",
        "resumed": resumed,
        "model": {"spec": config.model, "name": model_name},
        "template": config.template,
        "decoding": config.model_options().decoding(),
        "seed": config.seed,
        "tokenizer": config.tokenizer,
        "uncertain_as": config.uncertain_as,
        "answer_variant": config.answer_variant,
        "image_size": config.image_size,
        "bootstrap_rounds": config.bootstrap_rounds,
        "dataset_fingerprints": {n: t["fingerprint"] for n, t in task_results.items()},
        "packages": package_versions(),
        "git_sha": git_sha(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "tasks": task_results,
        "suites": suite_aggregates(task_results, suites),
        "timings": {"scoring_s": time.perf_counter() - started},
    }


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    tmp.replace(path)


def write_results(path: Path, results: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    tmp.replace(path)


def read_results(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    if not p.exists():
        raise XrayBenchError(f"no results.json at {p}")
    data = json.loads(p.read_text())
    if data.get("schema_version") != SCHEMA_VERSION:
        raise XrayBenchError(
            f"{p}: schema_version {data.get('schema_version')!r}, this xraybench reads {SCHEMA_VERSION}"
        )
    return data
