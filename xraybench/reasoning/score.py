"""Judge-based reasoning scores of a run (`xraybench reasoning-score`), after ChestX-Reasoner's RadRScore.

For every report-task sample whose prediction has a reasoning (a think block), an LLM judge

1. extracts the findings of the reference report and of the reasoning (one call per distinct text, so a
   reference shared by several runs on one store is read once), then
2. judges, in one call, which reference findings the reasoning recalls, which of its own findings are
   consistent with the reference report, and which reasoning steps (`xraybench.reasoning.steps`) the
   reference supports.

Per sample: completeness = recalled reference findings / reference findings; factuality = consistent model
findings / model findings; effectiveness = supported steps / steps. A share with an empty denominator is not
applicable (NaN) for that sample. A task's value of each is the mean over its samples (NaN-aware), and
`reasoning_score` is the mean of the three task values; all four carry bootstrap 95% CIs over samples.

Calls go through `xraybench.llm.CallRunner` on an append-only call store (kind "reasoning-score"; default
`RUN/reasoning_calls.sqlite`): a rerun makes no call already answered, failures are retried, the budget cap,
rate limit, retries and the one re-ask of an unreadable answer come from the engine, and credentialed data
never goes to a non-local judge unless allowed (checked before any call).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xraybench.callstore import CallStore
from xraybench.config import Bootstrap, Seeded, option, shared_option
from xraybench.errors import XrayBenchError
from xraybench.llm.options import DryRun, LLMOptions, llm_option
from xraybench.metrics.aggregate import nanmean_rows
from xraybench.metrics.base import Scores
from xraybench.reasoning.cases import RunCases, load_run_cases
from xraybench.reasoning.prompt import (
    EXTRACT_VERSION,
    JUDGE_VERSION,
    extraction_messages,
    judgment_messages,
    parse_extraction,
    parse_judgment,
    reask_messages,
)
from xraybench.reasoning.steps import reasoning_steps
from xraybench.records import MetricValue, Prediction, Sample

KIND = "reasoning-score"
SCHEMA_VERSION = 1
RESULTS_FILE = "reasoning_score.json"
PER_SAMPLE_FILE = "reasoning_score.jsonl"
STORE_FILE = "reasoning_calls.sqlite"
COMPONENTS = ("completeness", "factuality", "effectiveness")
OVERALL = "reasoning_score"


@dataclass
class ReasoningScoreConfig(LLMOptions, DryRun, Bootstrap, Seeded):
    """`xraybench reasoning-score`: one object drives the CLI and the Python API (the judge's: `LLMOptions`)."""

    run: str = option(help="run folder to score (its report tasks' predictions with a reasoning)")
    judge: str = option(help="judge model as PROVIDER/MODEL, e.g. openai/gpt-4o (local servers: openai/NAME)")
    tasks: list[str] = option(
        [], help="comma-separated report tasks of the run (default: all of them)", split_commas=True
    )
    store: str | None = option(
        None, help=f"call store file (default: RUN/{STORE_FILE}); share one across runs to read each reference once"
    )
    max_tokens: int = llm_option("max_tokens", 2048)
    bootstrap_rounds: int = shared_option(Bootstrap, "bootstrap_rounds")
    seed: int = shared_option(Seeded, "seed", help="bootstrap seed")
    progress: bool = option(True, help="show a progress bar")


@dataclass
class Item:
    """One sample of a scored task and what is known about it so far."""

    task: str
    sample: Sample
    prediction: Prediction | None
    status: str  # scored | missing_prediction | no_reasoning | failed_calls
    reasoning: str = ""
    steps: list[str] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # reference / reasoning / judgment -> call key


def select_items(cases: RunCases, tasks: list[str]) -> list[Item]:
    """Every sample of the chosen report tasks, marked scorable when its prediction has a reasoning."""
    from xraybench.tasks import get_task

    names = tasks or [t for t in cases.samples if get_task(t).kind == "report"]
    if not names:
        raise XrayBenchError(
            f"the run has no report task (tasks: {', '.join(cases.samples)}): reasoning scores "
            "compare a reasoning with a reference report"
        )
    items = []
    for name in names:
        if name not in cases.samples:
            raise XrayBenchError(f"task {name!r} is not in this run (tasks: {', '.join(cases.samples)})")
        if get_task(name).kind != "report":
            raise XrayBenchError(f"task {name!r} is a {get_task(name).kind} task: reasoning scores need a report task")
        for sample in cases.samples[name]:
            pred = cases.cases.get((name, sample.id), (sample, None))[1]
            if pred is None or pred.error:
                items.append(Item(name, sample, pred, "missing_prediction"))
            elif not (pred.reasoning or "").strip():
                items.append(Item(name, sample, pred, "no_reasoning"))
            else:
                steps = [s.text for s in reasoning_steps(pred.reasoning)]
                items.append(Item(name, sample, pred, "scored", pred.reasoning or "", steps))
    return items


class CallBuilder:
    """Builds the keyed calls of both stages for one judge (its model and decoding parameters are in every key)."""

    def __init__(self, judge: str, params: dict[str, Any]):
        self.judge, self.params = judge, params

    def _call(
        self,
        identity: dict[str, Any],
        messages: list[dict[str, Any]],
        parse: Callable[[str], Any],
        parser_version: str,
        label: dict[str, Any],
    ) -> Any:
        from xraybench.llm.calls import LLMCall

        return LLMCall(
            key=CallStore.key_of(**identity), identity=identity, messages=messages, parse=parse,
            reask=lambda bad: reask_messages(messages, bad), parser_version=parser_version, label=label,
        )  # fmt: skip

    def extraction(self, text: str, source: str, label: dict[str, Any]) -> Any:
        identity = {
            "kind": KIND,
            "stage": "extract",
            "prompt_version": EXTRACT_VERSION,
            "judge": self.judge,
            "params": self.params,
            "source": source,
            "text": text,
        }
        return self._call(
            identity,
            extraction_messages(text, source),
            parse_extraction,
            EXTRACT_VERSION,
            {**label, "stage": f"extract {source}"},
        )

    def judgment(
        self,
        reference: str,
        reference_findings: list[dict[str, Any]],
        model_findings: list[dict[str, Any]],
        steps: list[str],
        label: dict[str, Any],
    ) -> Any:
        identity = {
            "kind": KIND,
            "stage": "judge",
            "prompt_version": JUDGE_VERSION,
            "judge": self.judge,
            "params": self.params,
            "reference": reference,
            "reference_findings": reference_findings,
            "model_findings": model_findings,
            "steps": steps,
        }
        counts = (len(reference_findings), len(model_findings), len(steps))
        return self._call(
            identity,
            judgment_messages(reference, reference_findings, model_findings, steps),
            lambda text: parse_judgment(text, *counts),
            JUDGE_VERSION,
            {**label, "stage": "judge"},
        )


def _findings(store: CallStore, key: str) -> list[dict[str, Any]] | None:
    record = store.get(key)
    return record.parsed["findings"] if record is not None and record.ok else None


class MeanOfMeans:
    """Corpus value = mean over components of each component's NaN-aware mean on the (resampled) samples."""

    def __init__(self, components: np.ndarray):
        self.components = components  # shape (n_components, n_samples)

    def __call__(self, indices: np.ndarray) -> float:
        return float(self.many(np.asarray(indices)[None, :])[0])

    def many(self, index_matrix: np.ndarray) -> np.ndarray:
        means = np.stack([nanmean_rows(c[index_matrix]) for c in self.components])
        return nanmean_rows(means.T)


def task_scores(rows: list[dict[str, Any]]) -> dict[str, Scores]:
    """The three shares and their mean as `Scores` over a task's scored samples."""
    out: dict[str, Scores] = {}
    arrays = []
    for name in COMPONENTS:
        values = np.array([r[name] if r[name] is not None else np.nan for r in rows], dtype=np.float64)
        arrays.append(values)
        value = float(nanmean_rows(values)) if len(values) else float("nan")
        out[name] = Scores(name, value, values)
    overall = MeanOfMeans(np.stack(arrays)) if rows else None
    value = overall(np.arange(len(rows))) if overall is not None else float("nan")
    per_sample = nanmean_rows(np.stack(arrays).T) if rows else np.empty(0)
    out[OVERALL] = Scores(OVERALL, value, per_sample, overall)
    return out


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def sample_row(item: Item, store: CallStore) -> dict[str, Any]:
    """One per-sample record: the findings with their verdicts, the steps and the three shares."""
    row: dict[str, Any] = {"task": item.task, "id": item.sample.id, "status": item.status}
    if item.status != "scored":
        return row
    ref = _findings(store, item.keys["reference"])
    model = _findings(store, item.keys["reasoning"])
    record = store.get(item.keys["judgment"]) if "judgment" in item.keys else None
    if ref is None or model is None or record is None or not record.ok:
        item.status = row["status"] = "failed_calls"
        return row
    verdicts = record.parsed
    shares = {
        "completeness": _share(verdicts["recalled"]),
        "factuality": _share(verdicts["consistent"]),
        "effectiveness": _share(verdicts["supported"]),
    }
    defined = [v for v in shares.values() if v is not None]
    return {
        **row, **shares, OVERALL: sum(defined) / len(defined) if defined else None,
        "reference_findings": [{**f, "recalled": v} for f, v in zip(ref, verdicts["recalled"], strict=True)],
        "model_findings": [{**f, "consistent": v} for f, v in zip(model, verdicts["consistent"], strict=True)],
        "steps": [{"text": s, "supported": v} for s, v in zip(item.steps, verdicts["supported"], strict=True)],
    }  # fmt: skip


def _summary(scores: dict[str, Scores], rounds: int, seed: int) -> dict[str, dict[str, float | None]]:
    from xraybench.metrics.bootstrap import bootstrap_cis

    n = len(next(iter(scores.values())).per_sample)
    cis = bootstrap_cis(scores, n_rounds=rounds, seed=seed) if rounds > 0 and n else {}
    out = {}
    for name, s in scores.items():
        low, high = cis.get(name, (None, None))
        out[name] = MetricValue(
            *(None if v is None or math.isnan(v) else float(v) for v in (s.value, low, high))
        ).to_json()  # type: ignore[arg-type]
    return out


def _estimate_json(estimates: list[Any]) -> dict[str, Any]:
    costs = [e.cost_usd for e in estimates]
    return {
        "n_calls": sum(e.n_calls for e in estimates),
        "prompt_tokens": sum(e.prompt_tokens for e in estimates),
        "completion_tokens": sum(e.completion_tokens for e in estimates),
        "cost_usd": None if any(c is None for c in costs) else sum(costs),
    }


def reasoning_score(config: ReasoningScoreConfig, *, sleep: Callable[[float], object] = time.sleep) -> dict[str, Any]:
    """Score the run's reasoning (or, with `dry_run`, plan it); writes and returns `reasoning_score.json`."""
    cases = load_run_cases(config.run)
    items = select_items(cases, config.tasks)
    scored = [i for i in items if i.status == "scored"]
    if not scored:
        counts = {s: sum(i.status == s for i in items) for s in ("no_reasoning", "missing_prediction")}
        raise XrayBenchError(
            f"nothing to score in {config.run}: of {len(items)} samples, {counts['no_reasoning']} have an output "
            f"without a reasoning (<think> block) and {counts['missing_prediction']} have no prediction"
        )
    client = config.client(config.judge)
    config.check_governance([i.sample for i in scored], client, action="reasoning-score")
    run_dir = Path(config.run)
    store = CallStore(config.store or run_dir / STORE_FILE)
    try:
        runner = config.runner(client, store, sleep=sleep, progress=config.progress)
        builder = CallBuilder(client.model, client.params)
        extractions = []
        for item in scored:
            label = {"task": item.task, "id": item.sample.id}
            ref_call = builder.extraction(item.sample.reference, "reference", label)
            model_call = builder.extraction(item.reasoning, "reasoning", label)
            item.keys.update(reference=ref_call.key, reasoning=model_call.key)
            extractions += [ref_call, model_call]
        runner.run(extractions, dry_run=config.dry_run)
        estimates = [runner.report.estimate]
        judgments = []
        for item in scored:
            ref, model = _findings(store, item.keys["reference"]), _findings(store, item.keys["reasoning"])
            if (ref is None or model is None) and not config.dry_run:
                continue  # an extraction failed: this sample is retried on the next run
            call = builder.judgment(
                item.sample.reference, ref or [], model or [], item.steps, {"task": item.task, "id": item.sample.id}
            )
            item.keys["judgment"] = call.key
            judgments.append(call)
        runner.run(judgments, dry_run=config.dry_run)
        estimates.append(runner.report.estimate)
        report = runner.report
        calls = {k: v for k, v in asdict(report).items() if k != "estimate"}
        calls["estimate"] = _estimate_json([e for e in estimates if e is not None])
        if config.dry_run:
            return {
                "dry_run": True,
                "n_samples": len(scored),
                "calls": calls,
                "note": "judgment prompts are estimated without the findings not extracted yet",
            }
        rows = [sample_row(item, store) for item in items]
    finally:
        store.close()
    results = _results(config, cases, client, items, rows, calls)
    _write(run_dir, results, rows)
    return results


def _results(
    config: ReasoningScoreConfig,
    cases: RunCases,
    client: Any,
    items: list[Item],
    rows: list[dict[str, Any]],
    calls: dict[str, Any],
) -> dict[str, Any]:
    tasks: dict[str, Any] = {}
    for name in dict.fromkeys(i.task for i in items):
        task_rows = [r for r in rows if r["task"] == name]
        scored = [r for r in task_rows if r["status"] == "scored"]
        counts = {
            s: sum(r["status"] == s for r in task_rows) for s in ("missing_prediction", "no_reasoning", "failed_calls")
        }
        tasks[name] = {
            "n": len(task_rows),
            "n_scored": len(scored),
            **{f"n_{k}": v for k, v in counts.items()},
            "metrics": _summary(task_scores(scored), config.bootstrap_rounds, config.seed),
        }
    complete = all(r["status"] != "failed_calls" for r in rows) and not calls["n_budget_stopped"]
    return {
        "schema_version": SCHEMA_VERSION,
        "status": "complete" if complete else "incomplete",
        "model": cases.model,
        "judge": {"model": client.model, "params": client.params, "extract_prompt_version": EXTRACT_VERSION,
                  "judge_prompt_version": JUDGE_VERSION},
        "bootstrap_rounds": config.bootstrap_rounds,
        "seed": config.seed,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "tasks": tasks,
        "calls": calls,
    }  # fmt: skip


def _write(run_dir: Path, results: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    for name, text in (
        (RESULTS_FILE, json.dumps(results, indent=2, ensure_ascii=False)),
        (PER_SAMPLE_FILE, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)),
    ):
        tmp = run_dir / (name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(run_dir / name)
