"""Judge audit: does a judge notice clinical errors, is it biased by position or length, does the arena recover
a known order?

Why: an arena is only as good as its judge, and a judge is cheap to test where the right answer is known. For N
references of a task, the mutator makes a correct candidate (the reference paraphrased) and, per error type, the
reference with that one error; "filler" (the reference padded with neutral sentences) measures length bias. Each
(error variant, correct) pair is judged in both orders through the normal arena machinery (`plan_comparisons`, the
call store and its plan file, `Judging`, `export_battles`), so cost caps, retries, governance
and resumption all apply, and a rerun pays nothing for what is already judged.

Per error type the audit reports the share of judgments preferring the correct report, preferring the erroneous
one, and ties; the order-flip rate (studies whose two orders disagree); for filler the share preferring the padded
report (length bias). With `pairs`, every two error variants of a study from different harm tiers
(`arena.mutator.HARM_TIERS`: wrong findings, then wrong attribute, then comparison, then filler) are also judged
in both orders, and per pair the audit reports how often the judge prefers the less harmful one. Every share has a
95% bootstrap CI over studies. With `synthetic`, synthetic models of known quality (`arena.synthetic`) are also
judged as a full arena and the ratings' Kendall tau with the true order is reported with its CI. Output:
`audit.json`, `audit.md` and `audit.png` in the output folder.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from arena.api import JUDGE_METRIC_ARG_HELP
from arena.judging import Field, JudgeReport, Judging, append_plan, export_battles, plan_comparisons, plan_path
from arena.mutator import CLINICAL_TYPES, HARM, HARM_TIERS, NothingToMutate, mutate
from arena.synthetic import DEFAULT_QUALITIES, SyntheticModel, order_recovery, synthetic_models, write_predictions
from xraybench.callstore import CallStore
from xraybench.config import (
    Bootstrap,
    DataSources,
    JsonOutput,
    MetricArgs,
    Seeded,
    option,
    parse_metric_args,
    shared_option,
)
from xraybench.errors import XrayBenchError
from xraybench.llm.options import DryRun, LLMOptions
from xraybench.records import Sample

CORRECT = "correct"
FILLER = "filler"
ALL_ERRORS = "all clinical errors"
ALL_PAIRS = "all pairs"
STORE_FILE = "judgments.sqlite"
SYNTHETIC_PLAN = "synthetic.plan.jsonl"
FILES = ("audit.json", "audit.md", "audit.png")


@dataclass
class AuditConfig(LLMOptions, DryRun, DataSources, Seeded, Bootstrap, JsonOutput):
    """`xraybench judge-audit`: one object drives the CLI and the Python API (the judge's options: `LLMOptions`)."""

    judge: str = option(help="judge: litellm PROVIDER/MODEL (e.g. openai/gpt-4o-mini) or metric:clinical ...")
    task: str | None = option(
        None, one_of="source", help="report task whose references are mutated, e.g. demo_findings"
    )
    preferences: str | None = option(
        None,
        one_of="source",
        help="instead of a task: rated pairs (JSON list of {id, ground_truth_report, C1_report, C2_report} with "
        "--ratings, or CSV reference,report_a,report_b,preferred), or our IU set iu-h11[:dev|:holdout] (needs "
        "--data-root iu_xray=PATH); reports agreement with the raters",
    )
    ratings: list[str] = option([], several=True, metavar="FILE", help="rater files of a JSON --preferences file")
    better_rating: str = option(
        "higher", choices=("higher", "lower"), help="with --ratings: which end of the 1-5 scale is the better report"
    )
    metrics: str = option(
        "all", help="with --preferences: metrics ranked as judges on the same pairs (all, none, or a comma list)"
    )
    credentialed: bool = option(
        False, help="with --preferences: the reports come from a credentialed dataset (governance applies)"
    )
    n: int | None = option(None, help="audit a seeded sample of N references (default: all)")
    out: str | None = option(None, help="output folder with the store and report (default: audits/JUDGE-TASK)")
    seed: int = shared_option(Seeded, "seed", help="seed for the sample, the mutations and the bootstrap")
    synthetic: bool = option(False, help="also judge synthetic models of known quality and report Kendall tau")
    pairs: bool = option(False, help="also judge error types against each other (across harm tiers, both orders)")
    qualities: str = option(",".join(f"{q:g}" for q in DEFAULT_QUALITIES), help="qualities of the synthetic models")
    metric_args: list[str] = shared_option(MetricArgs, "metric_args", help=JUDGE_METRIC_ARG_HELP)

    def __post_init__(self) -> None:
        self.metric_args = parse_metric_args(self.metric_args)  # type: ignore[assignment]  # judge -> {key: value}
        super().__post_init__()

    def out_dir(self) -> Path:
        if self.out:
            return Path(self.out)
        source = self.task if self.preferences is None else Path(self.preferences).stem
        return Path("audits") / re.sub(r"[^A-Za-z0-9._-]+", "-", f"{self.judge}-{source}")

    def quality_values(self) -> list[float]:
        try:
            values = [float(q) for q in self.qualities.split(",") if q.strip()]
        except ValueError as exc:
            raise XrayBenchError(f"--qualities expects numbers separated by commas, got {self.qualities!r}") from exc
        if len(values) < 2:
            raise XrayBenchError("--qualities needs at least two synthetic models")
        return values


# -- building the audit battles ------------------------------------------------------------------------------


@dataclass
class Variants:
    """The audit field: `texts[variant][study]` (variants: `correct`, `filler`, `error:<kind>`) and the changes."""

    field: Field
    changes: list[dict[str, str]]
    skipped: dict[str, int]


def variant_name(kind: str) -> str:
    return FILLER if kind == FILLER else f"error:{kind}"


def build_variants(task: str, samples: Sequence[Sample], seed: int = 0) -> Variants:
    """Per study: the correct candidate (paraphrase) and one variant per error type the reference offers."""
    texts: dict[str, dict[str, str]] = {CORRECT: {}}
    changes: list[dict[str, str]] = []
    skipped: dict[str, int] = {}
    for sample in samples:
        reference = sample.reference or ""
        if not reference.strip():
            continue
        try:
            texts[CORRECT][sample.id] = mutate(reference, "paraphrase", seed).text
        except NothingToMutate:
            texts[CORRECT][sample.id] = reference  # the reference itself is the correct candidate then
        for kind in (*CLINICAL_TYPES, FILLER):
            try:
                mutation = mutate(reference, kind, seed)
            except NothingToMutate:
                skipped[kind] = skipped.get(kind, 0) + 1
                continue
            texts.setdefault(variant_name(kind), {})[sample.id] = mutation.text
            changes.append({"study_id": sample.id, "kind": kind, "change": mutation.change})
    if not texts[CORRECT]:
        raise XrayBenchError(f"task {task!r}: none of the chosen samples has a reference report to mutate")
    by_id = {s.id: s for s in samples if s.id in texts[CORRECT]}
    return Variants(Field(task, by_id, texts), changes, skipped)


def audit_comparisons(fld: Field) -> list[tuple[str, str, str]]:
    return [
        (CORRECT, variant, study)
        for variant in sorted(fld.texts) if variant != CORRECT
        for study in sorted(fld.texts[variant])
    ]  # fmt: skip


def kind_of(variant: str) -> str:
    """The mutator's error type of a variant name (`error:laterality` -> `laterality`, `filler` -> `filler`)."""
    return variant.removeprefix("error:")


def harm_pairs(variants: Sequence[str]) -> list[tuple[str, str]]:
    """(less harmful, more harmful) for every two of `variants` in different `HARM_TIERS`, least harmful first."""
    ranked = sorted((v for v in variants if v != CORRECT), key=lambda v: (HARM[kind_of(v)], v))
    return [
        (low, high)
        for i, low in enumerate(ranked)
        for high in ranked[i + 1 :]
        if HARM[kind_of(low)] < HARM[kind_of(high)]
    ]


def pair_comparisons(fld: Field) -> list[tuple[str, str, str]]:
    """Every cross-tier pair of variants (error types and filler) on every study that has both."""
    return [
        (low, high, study)
        for low, high in harm_pairs(sorted(fld.texts))
        for study in sorted(set(fld.texts[low]) & set(fld.texts[high]))
    ]  # fmt: skip


# -- judges -----------------------------------------------------------------------------------------------------


def open_judging(
    config: AuditConfig, store: CallStore, samples: Sequence[Sample], ranked: Sequence[str] = ()
) -> Judging:
    """`Judging` with the judge `arena.judges.build_judge` makes of `--judge` (governance checked before any call);
    `--metric-arg` is checked for it and the `metric:` judges `ranked` beside it (`--preferences --metrics`)."""
    from arena.judges import build_judge
    from arena.judges.metric import judge_options

    judge_options(config.metric_args, [config.judge, *ranked])  # type: ignore[arg-type]  # "did you mean", types
    for name in ranked:  # built once now, so bad thresholds (win > strong) are refused before any judging
        build_judge(name, config)
    judge = build_judge(config.judge, config, samples=samples, action="judge audit")
    return Judging(judge, store, **config.runner_options(), progress=sys.stderr.isatty())


# -- statistics -------------------------------------------------------------------------------------------------


def _bootstrap(
    per_study: np.ndarray, stats: Any, rounds: int, seed: int
) -> tuple[dict[str, float | None], dict[str, tuple[float | None, float | None]]]:
    """Point values of `stats(sums)` and 95% percentile CIs from resampling the rows (studies) of `per_study`."""
    point = stats(per_study.sum(axis=0))
    cis: dict[str, tuple[float | None, float | None]] = {k: (None, None) for k in point}
    n = per_study.shape[0]
    if rounds and n:
        rng = np.random.default_rng(seed)
        counts = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(rounds)])
        sums = counts @ per_study
        draws = [stats(row) for row in sums]
        for key in point:
            values = [d[key] for d in draws if d[key] is not None]
            if values:
                low, high = np.percentile(values, [2.5, 97.5])
                cis[key] = (float(low), float(high))
    return point, cis


def _share(num: float, den: float) -> float | None:
    return float(num / den) if den else None


def _preference_table(rows: list[dict[str, Any]], pairs: set[tuple[str, str]]) -> tuple[np.ndarray, int]:
    """Per study: judgments preferring the expected / the other variant / tie, judgments, pairs judged in both
    orders, flips among them. `pairs` holds (expected winner, other) names; a row of any other pair is ignored."""
    expected = dict((frozenset(p), p[0]) for p in pairs)
    by_pair: dict[tuple[str, frozenset[str]], list[str]] = {}
    for row in rows:
        pair = frozenset((row["model_a"], row["model_b"]))
        if pair not in expected:
            continue
        winner = "tie" if row["winner"] == "tie" else ("expected" if row[row["winner"]] == expected[pair] else "other")
        by_pair.setdefault((row["study_id"], pair), []).append(winner)
    per_study: dict[str, np.ndarray] = {}
    for (study, _), w in sorted(by_pair.items(), key=lambda item: (item[0][0], sorted(item[0][1]))):
        both = len(w) >= 2
        counts = [w.count("expected"), w.count("other"), w.count("tie"), len(w), both, both and len(set(w)) > 1]
        per_study[study] = per_study.get(study, np.zeros(6)) + np.array(counts, dtype=np.float64)
    return np.array(list(per_study.values()), dtype=np.float64).reshape(-1, 6), len(per_study)


def preference_stats(
    rows: list[dict[str, Any]], pairs: set[tuple[str, str]], names: tuple[str, str], rounds: int, seed: int
) -> dict[str, Any]:
    """Shares preferring the expected winner of `pairs` / the other / tie, and the order-flip rate, with 95% CIs.

    `names` are the keys of the first two shares (e.g. `prefer_correct`, `prefer_variant`). A flip is a (study,
    pair) judged in both orders with different winners; the bootstrap resamples studies.
    """
    table, n_studies = _preference_table(rows, pairs)

    def stats(s: np.ndarray) -> dict[str, float | None]:
        return {names[0]: _share(s[0], s[3]), names[1]: _share(s[1], s[3]), "tie_rate": _share(s[2], s[3]),
                "flip_rate": _share(s[5], s[4])}  # fmt: skip

    point, cis = _bootstrap(table, stats, rounds, seed)
    totals = table.sum(axis=0)
    out: dict[str, Any] = {"n_studies": n_studies, "n_judgments": int(totals[3]), "n_both_orders": int(totals[4])}
    for key, value in point.items():
        out[key] = value
        out[f"{key}_ci"] = list(cis[key])
    return out


def variant_stats(rows: list[dict[str, Any]], variants: set[str], label: str, rounds: int, seed: int) -> dict[str, Any]:
    """`preference_stats` of the correct report against each of `variants` (pooled), labelled `label`."""
    pairs = {(CORRECT, v) for v in variants}
    return {"variant": label, **preference_stats(rows, pairs, ("prefer_correct", "prefer_variant"), rounds, seed)}


# -- running ----------------------------------------------------------------------------------------------------


@dataclass
class AuditResult:
    """What `run_audit` produced; `data` is what `audit.json` holds (empty for a dry run)."""

    out: Path
    report: JudgeReport
    data: dict[str, Any]
    written: list[Path]


def _load_samples(config: AuditConfig) -> list[Sample]:
    from xraybench.taskdata import load_task, parse_data_roots, seeded_subset

    samples = [s for s in load_task(config.task, parse_data_roots(config.data_roots)).samples if s.reference]
    if not samples:
        raise XrayBenchError(f"task {config.task!r} has no samples with a reference report (is it a report task?)")
    if config.n is not None and config.n < 1:
        raise XrayBenchError(f"--n must be at least 1, got {config.n}")
    return seeded_subset(samples, config.n, config.seed)


def run_audit(config: AuditConfig) -> AuditResult:
    """Build, judge (resumably, in the output folder's store) and summarise the audit; see the module docstring.
    With `preferences`, the judge's agreement with human raters instead (`run_preference_audit`)."""
    if (config.task is None) == (config.preferences is None):
        raise XrayBenchError(
            "judge-audit needs exactly one of --task (injected errors) and --preferences (rated pairs)"
        )
    if config.preferences is not None:
        return run_preference_audit(config)
    if config.ratings:
        raise XrayBenchError("--ratings are the rater files of a --preferences file; this audit has --task")
    samples = _load_samples(config)
    variants = build_variants(config.task, samples, config.seed)
    out = config.out_dir()
    store_file = out / STORE_FILE
    plan = plan_path(store_file)
    models: list[SyntheticModel] = []
    synthetic_battles: list[Any] = []
    with CallStore(store_file) as store:
        judging = open_judging(config, store, samples)
        judge = judging.judge
        model = judge.name
        comparisons = audit_comparisons(variants.field) + (pair_comparisons(variants.field) if config.pairs else [])
        battles = plan_comparisons(variants.field, judge, comparisons)
        if config.synthetic:
            models = synthetic_models(samples, config.quality_values(), seed=config.seed)
            synthetic_field = Field(config.task, {s.id: s for s in samples}, {m.name: m.texts for m in models})
            names = sorted(synthetic_field.texts)
            pairs = [(x, y, s.id) for s in samples for i, x in enumerate(names) for y in names[i + 1 :]]
            synthetic_battles = plan_comparisons(synthetic_field, judge, pairs)
        if config.dry_run:
            report = judging.run(battles + synthetic_battles, dry_run=True)
            return AuditResult(out, report, {}, [])
        append_plan(plan, battles, model)
        if models:
            append_plan(out / SYNTHETIC_PLAN, synthetic_battles, model)
        report = judging.run(battles + synthetic_battles)
        rows = export_battles(store, plan, model).rows
        synthetic_rows = export_battles(store, out / SYNTHETIC_PLAN, model).rows if models else []
    data = summarise(config, variants, rows, report)
    if models:
        data["synthetic"] = _synthetic_summary(config, models, synthetic_rows, out)
    return AuditResult(out, report, data, write_audit(out, data))


def summarise(config: AuditConfig, variants: Variants, rows: list[dict[str, Any]], report: JudgeReport
              ) -> dict[str, Any]:  # fmt: skip
    variants_judged = [v for v in sorted(variants.field.texts) if v != CORRECT]
    kinds = [variant_name(k) for k in CLINICAL_TYPES if variant_name(k) in variants_judged]
    errors = [variant_stats(rows, {v}, v, config.bootstrap_rounds, config.seed) for v in kinds]
    data: dict[str, Any] = {
        "schema_version": 1,
        "judge": config.judge,
        "task": config.task,
        "n_references": len(variants.field.samples),
        "seed": config.seed,
        "bootstrap_rounds": config.bootstrap_rounds,
        "proxy_judge": config.judge.startswith("metric:"),
        "error_types": errors,
        "all_clinical_errors": variant_stats(rows, set(kinds), ALL_ERRORS, config.bootstrap_rounds, config.seed)
        if kinds
        else None,
        "length_bias": variant_stats(rows, {FILLER}, FILLER, config.bootstrap_rounds, config.seed)
        if FILLER in variants_judged
        else None,
        "harm_pairs": pair_summary(rows, variants_judged, config.bootstrap_rounds, config.seed)
        if config.pairs
        else None,
        "not_applicable": variants.skipped,
        "judging": judging_summary(report),
        "mutations": variants.changes,
    }
    return data


def pair_summary(rows: list[dict[str, Any]], variants: Sequence[str], rounds: int, seed: int) -> dict[str, Any]:
    """Per cross-tier pair of variants: how often the judge prefers the less harmful one; and all pairs pooled."""
    names = ("prefer_less_harmful", "prefer_more_harmful")
    pairs = harm_pairs(variants)
    per_pair = [
        {"less_harmful": kind_of(low), "more_harmful": kind_of(high),
         **preference_stats(rows, {(low, high)}, names, rounds, seed)}
        for low, high in pairs
    ]  # fmt: skip
    return {
        "tiers": [{"tier": name, "harm": HARM[kinds[0]], "kinds": list(kinds)} for name, kinds in HARM_TIERS],
        "pairs": [p for p in per_pair if p["n_judgments"]],
        "all_pairs": preference_stats(rows, set(pairs), names, rounds, seed) if pairs else None,
    }


def _synthetic_summary(config: AuditConfig, models: list[SyntheticModel], rows: list[dict[str, Any]], out: Path
                       ) -> dict[str, Any]:  # fmt: skip
    from arena.battles import battles_of

    for m in models:
        write_predictions(m, out / "synthetic" / f"{m.name}.jsonl")
    summary: dict[str, Any] = {
        "models": [
            {
                "name": m.name,
                "quality": m.quality,
                "error_rate": m.error_rate,
                "error_kinds": sorted({e["kind"] for e in m.errors.values()}),
            }
            for m in models
        ],  # fmt: skip
        "prediction_files": f"{out / 'synthetic'}/<model>.jsonl",
    }
    if not rows:
        summary["recovery"] = None
        return summary
    battles = battles_of(rows, out / SYNTHETIC_PLAN)
    summary["recovery"] = order_recovery(battles, {m.name: m.quality for m in models}, rounds=config.bootstrap_rounds,
                                         seed=config.seed)  # fmt: skip
    return summary


# -- agreement with human preferences ---------------------------------------------------------------------------

PREFERENCE_TASK = "preferences"  # the task name of a preference audit's battles (their keys hold the texts)
PREFERENCE_FILES = ("agreement.json", "agreement.md")


def preference_field(pairs: Sequence[Any], source: str, credentialed: bool) -> Field:
    """The pairs as an arena field: models `C1` and `C2`, one study per pair, the reference as the sample's."""
    from arena.preferences import FIRST, SECOND

    samples = {
        p.id: Sample(id=p.id, task=PREFERENCE_TASK, dataset=f"preferences:{source}", split="", prompt="",
                     reference=p.reference, credentialed=credentialed)
        for p in pairs
    }  # fmt: skip
    texts = {FIRST: {p.id: p.first for p in pairs}, SECOND: {p.id: p.second for p in pairs}}
    return Field(PREFERENCE_TASK, samples, texts)


def judge_votes(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Pair id -> the judge's vote averaged over the orders judged (+1 prefers C1, -1 C2, 0 tie)."""
    from arena.preferences import FIRST

    votes: dict[str, list[float]] = {}
    for row in rows:
        vote = 0.0 if row["winner"] == "tie" else (1.0 if row[row["winner"]] == FIRST else -1.0)
        votes.setdefault(row["study_id"], []).append(vote)
    return {pid: float(np.mean(v)) for pid, v in votes.items()}


def run_preference_audit(config: AuditConfig) -> AuditResult:
    """The judge's agreement with the raters of `config.preferences` (`arena.preferences`): every pair judged in
    both orders through the arena machinery (store, plan, retries, budget, governance; a rerun pays nothing twice),
    plus every metric ranked as a judge on the same pairs. Writes `agreement.json` and `agreement.md`."""
    from arena.preference_sets import resolve_builtin
    from arena.preferences import (
        judge_agreement,
        load_preferences,
        majority_summary,
        rank_metrics,
        ranked,
        rater_ceiling,
    )

    assert config.preferences is not None
    out = config.out_dir()
    builtin = resolve_builtin(config.preferences, config.data_roots, out / "preference-set")
    if builtin and config.ratings:
        raise XrayBenchError(
            f"--preferences {config.preferences} is a built-in set with its own ratings; drop --ratings"
        )
    source, rater_files = builtin or (config.preferences, [Path(r) for r in config.ratings])
    found = load_preferences(source, rater_files, higher_is_better=config.better_rating == "higher")
    fld = preference_field(found.pairs, found.source, config.credentialed)
    store_file = out / STORE_FILE
    with CallStore(store_file) as store:
        _, ranked_judges = ranked(config.metrics)  # their --metric-arg options are checked before any judging too
        judging = open_judging(config, store, list(fld.samples.values()), ranked_judges)
        model = judging.judge.name
        battles = plan_comparisons(fld, judging.judge, [("C1", "C2", p.id) for p in found.pairs])
        # one plan per set of pairs: an edited file rerun in the same folder shares the store (nothing is judged
        # twice) but never mixes the old texts' verdicts into a pair id's vote
        digest = hashlib.sha256("\n".join(sorted(b.key for b in battles)).encode()).hexdigest()[:12]
        plan = plan_path(out / f"preferences-{digest}.sqlite")
        if config.dry_run:
            return AuditResult(out, judging.run(battles, dry_run=True), {}, [])
        append_plan(plan, battles, model)
        report = judging.run(battles)
        rows = export_battles(store, plan, model).rows
    rounds, seed = config.bootstrap_rounds, config.seed
    counted = judge_votes(rows)
    data: dict[str, Any] = {
        "schema_version": 1,
        "judge": config.judge,
        "preferences": found.source,
        "ratings": [str(r) for r in rater_files],
        "raters": found.raters,
        "proxy_judge": config.judge.startswith("metric:"),
        "seed": seed,
        "bootstrap_rounds": rounds,
        "pairs": {**majority_summary(found.pairs), "n_unjudged": sum(p.id not in counted for p in found.pairs)},
        **judge_agreement(found.pairs, counted, rounds, seed),
        "ceiling": rater_ceiling(found.pairs, found.raters, rounds, seed),
        "metrics": rank_metrics(found.pairs, config.metrics, rounds, seed, config),
        "judging": judging_summary(report),
    }
    return AuditResult(out, report, data, write_preference_audit(out, data))


def write_preference_audit(out: Path, data: dict[str, Any]) -> list[Path]:
    from arena.preferences import render_markdown as render_agreement

    out.mkdir(parents=True, exist_ok=True)
    paths = [out / name for name in PREFERENCE_FILES]
    paths[0].write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths[1].write_text(render_agreement(data), encoding="utf-8")
    return paths


# -- output -----------------------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1%}"


def _ci(ci: Sequence[float | None]) -> str:
    return "" if ci[0] is None else f" [{_pct(ci[0])}, {_pct(ci[1])}]"


def render_markdown(data: dict[str, Any]) -> str:
    lines = [f"# Judge audit: {data['judge']} on {data['task']}", ""]
    if data["proxy_judge"]:
        lines += [f"Judge {data['judge']} is a reference-based proxy judge, not an LLM judgment.", ""]
    lines += [
        f"{data['n_references']} references; each error variant is judged against a paraphrase of the reference "
        f"(the correct report) in both orders. 95% CIs: bootstrap over studies ({data['bootstrap_rounds']} rounds).",
        "",
        "| change | studies | prefers correct | prefers erroneous | tie | order flips |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    rows = [*data["error_types"], *([data["all_clinical_errors"]] if data["all_clinical_errors"] else [])]
    for s in rows:
        name = s["variant"].removeprefix("error:")
        lines.append(
            f"| {name} | {s['n_studies']} | {_pct(s['prefer_correct'])}{_ci(s['prefer_correct_ci'])} | "
            f"{_pct(s['prefer_variant'])}{_ci(s['prefer_variant_ci'])} | {_pct(s['tie_rate'])}{_ci(s['tie_rate_ci'])} "
            f"| {_pct(s['flip_rate'])}{_ci(s['flip_rate_ci'])} |"
        )
    bias = data["length_bias"]
    if bias:
        lines += [
            "",
            f"Length bias (padded with neutral sentences vs paraphrase, {bias['n_studies']} studies): prefers the "
            f"longer report {_pct(bias['prefer_variant'])}{_ci(bias['prefer_variant_ci'])}, the paraphrase "
            f"{_pct(bias['prefer_correct'])}{_ci(bias['prefer_correct_ci'])}, tie {_pct(bias['tie_rate'])}; "
            f"order flips {_pct(bias['flip_rate'])}. An unbiased judge ties (neither report is clinically better).",
        ]
    if data.get("harm_pairs"):
        lines += _pairs_markdown(data["harm_pairs"])
    if data["not_applicable"]:
        shown = ", ".join(f"{k} {v}" for k, v in sorted(data["not_applicable"].items()))
        lines += ["", f"References that offered nothing for an error type (left out of its row): {shown}."]
    synthetic = data.get("synthetic")
    if synthetic and synthetic.get("recovery"):
        rec = synthetic["recovery"]
        ci = "" if rec["ci_low"] is None else f" (95% CI [{rec['ci_low']:.2f}, {rec['ci_high']:.2f}])"
        lines += [
            "",
            "## Synthetic models of known quality",
            "",
            f"Kendall tau between the true order and the arena's ratings: {rec['kendall_tau']:.2f}{ci}.",
            "",
            "| model | quality | studies with an error | rating |",
            "|---|---:|---:|---:|",
        ]
        for m in synthetic["models"]:
            lines.append(
                f"| {m['name']} | {m['quality']:g} | {m['error_rate']:.0%} | {rec['ratings'][m['name']]:.1f} |"
            )
    j = data["judging"]
    lines += ["", f"Judging: {j['n_ok']} new judgments, {j['n_done_before']} from the store, {j['n_failed']} failed, "
              f"{j['n_budget_stopped']} stopped by the budget; {j['n_requests']} requests, ${j['cost_usd']:.4f}."]  # fmt: skip
    return "\n".join(lines) + "\n"


def _pairs_markdown(pairs: dict[str, Any]) -> list[str]:
    tiers = "; ".join(f"{t['tier']}: {', '.join(t['kinds'])}" for t in pairs["tiers"])
    lines = [
        "",
        "## Error type against error type",
        "",
        f"Two variants of the same reference from different harm tiers, judged in both orders; the judge should prefer "
        f"the less harmful one. Tiers, most harmful first: {tiers} (see `arena.mutator.HARM_TIERS`).",
        "",
        "| less harmful | more harmful | studies | prefers less harmful | prefers more harmful | tie | order flips |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    rows = [*pairs["pairs"], *([{"less_harmful": ALL_PAIRS, "more_harmful": "", **pairs["all_pairs"]}]
                               if pairs["all_pairs"] and pairs["pairs"] else [])]  # fmt: skip
    for p in rows:
        lines.append(
            f"| {p['less_harmful']} | {p['more_harmful']} | {p['n_studies']} | "
            f"{_pct(p['prefer_less_harmful'])}{_ci(p['prefer_less_harmful_ci'])} | "
            f"{_pct(p['prefer_more_harmful'])}{_ci(p['prefer_more_harmful_ci'])} | "
            f"{_pct(p['tie_rate'])}{_ci(p['tie_rate_ci'])} | {_pct(p['flip_rate'])}{_ci(p['flip_rate_ci'])} |"
        )
    return lines


def write_chart(data: dict[str, Any], path: Path) -> None:
    """Stacked bars per change (prefers correct / tie / prefers the changed report, with the CI of the first) and,
    with `--pairs`, a matrix of how often the judge prefers the less harmful of two error types."""
    from xraybench.lazy import require

    require("matplotlib", "arena", "the judge audit chart")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n_bars = len(data["error_types"]) + bool(data["length_bias"])
    pairs = (data.get("harm_pairs") or {}).get("pairs") or []
    worse = sorted({p["more_harmful"] for p in pairs}, key=lambda k: (-HARM[k], k))
    better = sorted({p["less_harmful"] for p in pairs}, key=lambda k: (-HARM[k], k))
    bar_height = 0.5 * n_bars + 1.8
    matrix_height = 0.45 * len(worse) + 2.2 if pairs else 0.0
    fig = Figure(figsize=(8, bar_height + matrix_height))
    FigureCanvasAgg(fig)
    axes = fig.subplots(
        2 if pairs else 1, 1, squeeze=False, height_ratios=[bar_height, matrix_height] if pairs else None
    )
    _bars(axes[0][0], data)
    if pairs:
        _pair_matrix(fig, axes[1][0], pairs, worse, better)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})


def _bars(ax: Any, data: dict[str, Any]) -> None:
    rows = [*data["error_types"], *([data["length_bias"]] if data["length_bias"] else [])]
    names = [r["variant"].removeprefix("error:") + (" (length)" if r["variant"] == FILLER else "") for r in rows]
    good = np.array([r["prefer_correct"] or 0.0 for r in rows])
    tie = np.array([r["tie_rate"] or 0.0 for r in rows])
    bad = np.array([r["prefer_variant"] or 0.0 for r in rows])
    ci = np.array([[g if c is None else c for c in r["prefer_correct_ci"]] for r, g in zip(rows, good, strict=True)])
    y = np.arange(len(rows))[::-1]
    ax.barh(y, good, color="#2e7d32", label="prefers correct / paraphrase")
    ax.barh(y, tie, left=good, color="#bdbdbd", label="tie")
    ax.barh(y, bad, left=good + tie, color="#c62828", label="prefers erroneous / padded")
    if len(rows):
        ax.errorbar(good, y, xerr=[good - ci[:, 0], ci[:, 1] - good], fmt="none", ecolor="black", capsize=3)
    ax.set_yticks(y, names)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of judgments (whiskers: 95% CI of the correct share)")
    ax.set_title(f"Judge audit: {data['judge']} on {data['task']}", pad=28)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=8, frameon=False)


def _pair_matrix(fig: Any, ax: Any, pairs: list[dict[str, Any]], worse: list[str], better: list[str]) -> None:
    """Rows: the more harmful type, columns: the less harmful one; cell: share preferring the less harmful."""
    row, col = {k: i for i, k in enumerate(worse)}, {k: i for i, k in enumerate(better)}
    grid = np.full((len(worse), len(better)), np.nan)
    for p in pairs:
        if p["prefer_less_harmful"] is not None:
            grid[row[p["more_harmful"]], col[p["less_harmful"]]] = p["prefer_less_harmful"]
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto")
    for (i, j), value in np.ndenumerate(grid):
        if not np.isnan(value):
            ax.text(j, i, f"{value:.0%}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(better)), better, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(worse)), worse, fontsize=8)
    ax.set_xlabel("less harmful variant")
    ax.set_ylabel("more harmful variant")
    ax.set_title("share of judgments preferring the less harmful variant (blank: same harm tier)", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.04)


def write_audit(out: Path, data: dict[str, Any]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / name for name in FILES]
    paths[0].write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths[1].write_text(render_markdown(data), encoding="utf-8")
    write_chart(data, paths[2])
    return paths


def judging_summary(report: JudgeReport) -> dict[str, Any]:
    """What the judging of an audit cost and left undone (a `JudgeReport`), as the audit's JSON keeps it."""
    keys = ("n_ok", "n_failed", "n_budget_stopped", "n_done_before", "n_requests", "cost_usd")
    return {**{key: getattr(report, key) for key in keys}, "failures": report.failures[:20]}
