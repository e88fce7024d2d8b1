"""Judge pairwise battles between models' reports into the arena's judgment store, and export them as battles.

A battle is one study, two models' reports and the reference. With the `full` schedule every pair of models
is judged on every chosen study, in both orders (x shown as A, then y shown as A), because LLM judges favour
a position; the export reports how often the two orders disagree.

Each battle is one `xraybench.llm.calls.LLMCall` run by the core `CallRunner` against the append-only
`xraybench.callstore.CallStore`, whatever the judge (`arena.judges.Judge`: an LLM, or a local `metric:` judge
deciding in-process): the judge builds the request and parses the answer; a judgment's key hashes everything
that decides the answer (judge, its parameters, prompt version, task, study, reference, both texts in shown order, the order), finished keys are
never asked again, each key is leased right before its call, and every answer or failure is committed before
it counts. Which models a key belongs to is kept in a plan file beside the store (`judgments.plan.jsonl`,
append-only), so two models with the same text share one paid judgment and the store stays model-agnostic.
Reports that are identical are a tie without a call.

Money and data (enforced by the core engine): the cost is estimated before any call (prompt tokens ~
characters / 4, plus the judge's `expected_completion_tokens` per answer); a run stops before a request whose worst case
could take it past `budget_usd`; and `xraybench.llm.governance.check_governance` refuses credentialed samples
before any call unless the judge is a local endpoint or its provider is explicitly allowed.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any

from arena.battles import BattleRecord, battles_of, report_length
from arena.judges import Judge, as_judge
from arena.prompt import MAX_CHARS, JudgePrompt
from arena.style import style_counts
from arena.verdict import WINNER, canonical
from xraybench.callstore import CallStore
from xraybench.errors import DataFormatError, XrayBenchError
from xraybench.files import AppendLog, read_jsonl, write_atomic
from xraybench.llm.calls import Budget, CallReport, CallRunner, Estimate, LLMCall, estimate_calls
from xraybench.llm.client import LLMClient
from xraybench.records import Sample
from xraybench.taskdata import load_task, parse_data_roots, seeded_subset

KIND = "judgment"
STORE_FILE = "judgments.sqlite"
PLAN_SUFFIX = ".plan.jsonl"
PLAN_LINE = "one battle per line"
CONTEXT_KEYS = ("section", "view", "indication", "comparison")


def store_path(name: str, store: str | None = None) -> Path:
    """`arenas/<name>/judgments.sqlite` unless a store file is given; the arena name is checked either way
    (it also names `leaderboards/<name>/` and submission folders: `../../x` must not leave them)."""
    from xraybench.names import check_name, name_path

    if store:
        check_name(name, "arena name")
        return Path(store)
    return name_path("arenas", name, STORE_FILE, what="arena name")


def plan_path(store: Path) -> Path:
    return store.with_suffix(PLAN_SUFFIX)


# -- candidates ---------------------------------------------------------------------------------------------


@dataclass
class Field:
    """The models' reports for one task: `texts[model][study_id]`, and the task's samples by id."""

    task: str
    samples: dict[str, Sample]
    texts: dict[str, dict[str, str]]


def _run_texts(path: str, task: str) -> tuple[str, dict[str, str], list[str]]:
    from xraybench.compare import load_run

    config, folder = load_run(path)
    texts = {pid: p.answer for (t, pid), p in folder.load_predictions().items() if t == task and p.error is None}
    if not texts:
        raise XrayBenchError(f"run folder {path} has no finished predictions for task {task!r}")
    return config.name or config.model, texts, list(config.data_roots)  # `run --name`, else the model spec


def _file_texts(spec: str, task: str) -> tuple[str, dict[str, str]]:
    from xraybench.models.predictions import read_prediction_file

    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
        raise XrayBenchError(f"--predictions expects NAME=FILE, got {spec!r}")
    report = read_prediction_file(path)
    report.refuse_if_malformed("run `xraybench validate` on the file for the full list")  # as `run` says it
    texts = {row.id: row.text for row in report.rows if row.task in (None, task)}
    if not texts:
        raise DataFormatError(path, f"no predictions for task {task!r} (expected rows with id and prediction)")
    return name, texts


def load_field(
    task: str,
    runs: Iterable[str] = (),
    predictions: Iterable[str] = (),
    data_roots: Iterable[str] = (),
    max_chars: int = MAX_CHARS,
) -> Field:
    """Reports of every model (run folders and NAME=FILE prediction files) and the task's samples; a report
    longer than `max_chars` is refused with where it came from (`MAX_CHARS`)."""
    texts: dict[str, dict[str, str]] = {}
    roots = list(data_roots)
    sources: list[tuple[str, dict[str, str], str]] = []
    for path in runs:
        name, model_texts, run_roots = _run_texts(path, task)
        roots.extend(r for r in run_roots if r not in roots)
        sources.append((name, model_texts, path))
    sources.extend((*_file_texts(spec, task), spec) for spec in predictions)
    for name, model_texts, where in sources:
        if name in texts:
            raise XrayBenchError(f"two sources are both named {name!r} (the second is {where}); rename one")
        too_long = [(sid, len(t)) for sid, t in model_texts.items() if len(t) > max_chars]
        if too_long:
            shown = ", ".join(f"{sid!r} ({n:,} characters)" for sid, n in too_long[:5])
            raise XrayBenchError(
                f"{where}: {len(too_long)} report(s) of {name!r} are longer than {max_chars:,} characters, e.g. "
                f"{shown}; shorten them or raise --max-chars"
            )
        texts[name] = model_texts
    if len(texts) < 2:
        raise XrayBenchError(f"a battle needs at least two models; got {len(texts)}")
    samples = {s.id: s for s in load_task(task, parse_data_roots(roots)).samples}
    return Field(task, samples, texts)


# -- planning -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Battle:
    """One judgment to have: `model_x` < `model_y`; `swapped` when model_y's report is shown as A."""

    key: str
    identity: dict[str, Any]
    task: str
    study_id: str
    model_x: str
    model_y: str
    swapped: bool
    prompt: JudgePrompt
    identical: bool

    def plan_entry(self, judge: str) -> dict[str, Any]:
        flags_x, flags_y = (self.prompt.flags_b, self.prompt.flags_a) if self.swapped else (
            self.prompt.flags_a, self.prompt.flags_b)  # fmt: skip
        text_x, text_y = (self.identity["text_b"], self.identity["text_a"]) if self.swapped else (
            self.identity["text_a"], self.identity["text_b"])  # fmt: skip
        return {
            "key": self.key, "judge": judge, "task": self.task, "study_id": self.study_id, "model_x": self.model_x,
            "model_y": self.model_y, "swapped": self.swapped, "identical": self.identical, "flags_x": flags_x,
            "flags_y": flags_y, "params": self.identity["params"], "prompt_version": self.identity["prompt_version"],
            "length_x": report_length(text_x), "length_y": report_length(text_y),
            "style_x": style_counts(text_x), "style_y": style_counts(text_y),
        }  # fmt: skip


def context_of(sample: Sample) -> dict[str, Any]:
    return {k: sample.metadata[k] for k in CONTEXT_KEYS if sample.metadata.get(k)}


def shared_studies(fld: Field, studies: int | None = None, seed: int = 0) -> list[Sample]:
    """The chosen studies: a seeded sample of the studies every model answered (all when `studies` is None)."""
    shared = [s for s in fld.samples.values() if all(s.id in t for t in fld.texts.values())]
    if not shared:
        raise XrayBenchError(f"the models share no study of task {fld.task!r}; nothing to judge")
    return seeded_subset(shared, studies, seed)


def plan_battles(fld: Field, judge: Judge, *, studies: int | None = None, seed: int = 0) -> list[Battle]:
    """All model pairs x the chosen studies (seeded sample of the studies every model answered), both orders."""
    chosen = shared_studies(fld, studies, seed)
    pairs = list(itertools.combinations(sorted(fld.texts), 2))
    return plan_comparisons(fld, judge, [(x, y, s.id) for s in chosen for x, y in pairs])


def plan_comparisons(fld: Field, judge: Judge, comparisons: Iterable[tuple[str, str, str]]) -> list[Battle]:
    """Both orders of each (model, model, study): the keys do not depend on how a schedule names the pair."""
    return list(iter_battles(fld, judge, comparisons))


def iter_battles(fld: Field, judge: Judge, comparisons: Iterable[tuple[str, str, str]]) -> Iterator[Battle]:
    """`plan_comparisons`, one battle at a time (building a request and hashing its key is the costly part).

    The key holds the judge's name, params and prompt version; the request is the judge's own."""
    name, params, prompt_version = judge.name, judge.params, judge.prompt_version
    for a, b, study in comparisons:
        x, y = sorted((a, b))
        sample = fld.samples[study]
        context = context_of(sample)
        for swapped in (False, True):
            text_a, text_b = fld.texts[x][sample.id], fld.texts[y][sample.id]
            if swapped:
                text_a, text_b = text_b, text_a
            identity = {
                "kind": KIND, "judge": name, "params": params, "prompt_version": prompt_version, "task": fld.task,
                "study": sample.id, "reference": sample.reference, "context": context, "text_a": text_a,
                "text_b": text_b, "order": "yx" if swapped else "xy",
            }  # fmt: skip
            yield Battle(
                CallStore.key_of(**identity),
                identity,
                fld.task,
                sample.id,
                x,
                y,
                swapped,
                judge.build_request(sample.reference, text_a, text_b, context),
                text_a.strip() == text_b.strip(),
            )  # fmt: skip


class PlannedBattles:
    """The battles of `comparisons`, planned lazily `chunk` comparisons at a time while they are iterated;
    with a `plan` file, each chunk is appended to it before its battles are handed on.

    Why: planning (rendering ~1,000 prompts and hashing their keys) took 0.1-0.2 s before the first judgment
    could start; `Judging.run` reads this as its calls run, so planning overlaps the first requests. The plan
    file still gets every battle before it is judged (a judgment is never stored without its plan entry).
    """

    def __init__(
        self,
        fld: Field,
        judge: Judge,
        comparisons: Sequence[tuple[str, str, str]],
        plan: Path | None = None,
        chunk: int = 32,
    ):
        self.fld, self.judge, self.comparisons = fld, judge, comparisons
        self.plan, self.chunk = plan, chunk

    def __len__(self) -> int:
        return 2 * len(self.comparisons)

    @property
    def n_identical(self) -> int:
        """Battles between identical reports (ties without a call), counted without planning them."""
        texts = self.fld.texts
        return 2 * sum(texts[a][s].strip() == texts[b][s].strip() for a, b, s in self.comparisons)

    def __iter__(self) -> Iterator[Battle]:
        writer = PlanWriter(self.plan, self.judge.name) if self.plan is not None else None
        for start in range(0, len(self.comparisons), self.chunk):
            battles = plan_comparisons(self.fld, self.judge, self.comparisons[start : start + self.chunk])
            if writer is not None:
                writer.append(battles)
            yield from battles


# -- running ------------------------------------------------------------------------------------------------


@dataclass
class JudgeReport(CallReport):
    """What a judging run did: the call runner's counts plus the battles around them.

    `n_done_before` keys were already in the store and cost nothing; identical reports are ties without a call.
    """

    n_battles: int = 0
    n_identical: int = 0
    flagged: list[dict[str, Any]] = field(default_factory=list)
    schedule: str = "full"
    n_rounds: int = 0
    stop_reason: str | None = None
    judges: dict[str, JudgeReport] = field(default_factory=dict)  # each judge's own report (a judge ensemble)


def combine_reports(reports: dict[str, JudgeReport]) -> JudgeReport:
    """One judge's report as is; several judges' (an ensemble on the same battles) added up, each kept in `judges`
    (failures name their judge; the estimate adds up the judges' estimates)."""
    if len(reports) == 1:
        return next(iter(reports.values()))
    total = JudgeReport(judges=dict(reports))
    for name, report in reports.items():
        for f in fields(JudgeReport):
            value = getattr(report, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool):  # the counts and the cost
                setattr(total, f.name, getattr(total, f.name) + value)
        total.failures += [{**item, "judge": name} for item in report.failures]
        total.flagged += [item for item in report.flagged if item not in total.flagged]
        if report.estimate is not None:
            old = total.estimate or Estimate(0, 0, 0, 0.0)
            cost = None if old.cost_usd is None or report.estimate.cost_usd is None else (
                old.cost_usd + report.estimate.cost_usd)  # fmt: skip
            total.estimate = Estimate(old.n_calls + report.estimate.n_calls,
                                      old.prompt_tokens + report.estimate.prompt_tokens,
                                      old.completion_tokens + report.estimate.completion_tokens, cost)  # fmt: skip
    first = next(iter(reports.values()))
    total.schedule = first.schedule
    total.stop_reason = "; ".join(f"{name}: {r.stop_reason}" for name, r in reports.items())
    return total


def append_plan(path: Path, battles: list[Battle], judge: str) -> None:
    """Add the battles not yet in the plan file (one JSON line each, appended, fsynced)."""
    PlanWriter(path, judge).append(battles)


class PlanWriter:
    """Appends battles to a plan file, skipping those already in it: an `xraybench.files.AppendLog` keyed by
    (key, model_x, model_y), so two judge processes neither interleave lines nor cut each other's, a torn last
    line left by a killed process is cut off first, each append reads only what others added since the last one
    (appending a long plan in chunks stays linear), and a full disk names the plan file and plans nothing."""

    def __init__(self, path: Path, judge: str):
        self.path, self.judge = path, judge
        self._log: AppendLog | None = None  # opened on the first append (planning nothing writes nothing)

    def append(self, battles: list[Battle]) -> None:
        if self._log is None:
            self._log = AppendLog(
                self.path,
                # the battles of a failed batch were not planned, so none of them was judged: nothing is lost
                safe="every judgment and every plan entry before it is intact",
                key=lambda e: (e["key"], e["model_x"], e["model_y"]),
                what=PLAN_LINE,
            )
        self._log.append(b.plan_entry(self.judge) for b in battles)


def read_plan(path: Path) -> list[dict[str, Any]]:
    """Plan entries; a torn last line (killed mid-append) is ignored, any other bad line is an error."""
    return [entry for _, entry in read_jsonl(path, what=PLAN_LINE)]


def judgment_call(battle: Battle, judge: Judge) -> LLMCall:
    """The core engine's view of a battle: its key, identity, the judge's request, verdict parser and re-ask."""
    return LLMCall(
        key=battle.key,
        identity=battle.identity,
        messages=battle.prompt.messages,
        parse=judge.parse_verdict,
        reask=partial(judge.reask, battle.prompt),
        parser_version=judge.parser_version,
        label={
            "study_id": battle.study_id, "models": f"{battle.model_x} vs {battle.model_y}",
            "order": battle.identity["order"],
        },
    )  # fmt: skip


def estimate(battles: list[Battle], judge: Judge) -> Estimate:
    """Expected tokens and cost of judging `battles` with `judge`; identical reports are ties without a call and
    cost nothing."""
    calls = [judgment_call(b, judge) for b in battles if not b.identical]
    return estimate_calls(calls, judge.prices(), judge.expected_completion_tokens)


class Judging:
    """Runs the pending judgments of a plan against one store with one judge; one instance per run.

    The claim / de-duplicate / rate limit / budget / retry / re-ask / progress / record loop is
    `xraybench.llm.calls.CallRunner`'s, for LLM and local judges alike; this layer turns battles into the
    judge's calls (identical reports are ties without a call) and keeps the arena's report. `judge` is an
    `arena.judges.Judge` (see `arena.judges.build_judge`); a bare `LLMClient` is the LLM judge with the arena's
    prompt and parser.
    """

    def __init__(
        self,
        judge: Judge | LLMClient,
        store: CallStore,
        *,
        progress: bool = True,  # a bar on a terminal, timed lines in a log (xraybench.progress)
        **runner_options: Any,  # CallRunner's pacing and money keywords (max_concurrency, rpm, budget_usd, ...)
    ):
        self.judge, self.store = as_judge(judge), store
        self.runner = CallRunner(
            self.judge.client, store,  # type: ignore[arg-type]
            expected_completion_tokens=self.judge.expected_completion_tokens, progress=progress, **runner_options,
        )  # fmt: skip
        self.report = JudgeReport()

    @property
    def budget(self) -> Budget:
        return self.runner.budget

    def run(self, battles: Iterable[Battle], *, dry_run: bool = False) -> JudgeReport:
        """Judge the pending ones of `battles`; called again (adaptive rounds), the report adds up.

        `battles` may be lazy (`PlannedBattles`): it is read while the judgments run.
        """
        seen: list[Battle] = []

        def calls() -> Iterator[LLMCall]:
            for battle in battles:
                seen.append(battle)
                self.report.n_battles += 1
                if battle.identical:
                    self.report.n_identical += 1
                else:
                    yield judgment_call(battle, self.judge)

        if isinstance(battles, PlannedBattles):
            total: int | None = len(battles) - battles.n_identical
        elif isinstance(battles, list):
            total = sum(not b.identical for b in battles)
        else:
            total = None
        calls_report = self.runner.run(calls(), dry_run=dry_run, total=total)
        for shared in fields(CallReport):
            value = getattr(calls_report, shared.name)
            setattr(self.report, shared.name, list(value) if isinstance(value, list) else value)
        self.report.flagged = _flagged(seen)
        return self.report


def _flagged(battles: list[Battle]) -> list[dict[str, Any]]:
    """Each (model, study) whose report contains instruction-like text, once."""
    seen: dict[tuple[str, str], list[str]] = {}
    for b in battles:
        entry = b.plan_entry("")
        for model, flags in ((b.model_x, entry["flags_x"]), (b.model_y, entry["flags_y"])):
            if flags:
                seen[(model, b.study_id)] = flags
    return [{"model": m, "study_id": s, "flags": f} for (m, s), f in sorted(seen.items())]


# -- export -------------------------------------------------------------------------------------------------


def config_label(judge: str, params: dict[str, Any] | None, prompt_version: str | None) -> str:
    """A short, stable name of one judge configuration: judge, scalar decoding parameters, structured output,
    a hash of any other parameters, and the prompt version ("openai/m (max_tokens=512, temperature=0.7,
    output=json_schema; prompt v2)"). Two runs that differ in any of them are two configurations."""
    if params is None:
        return f"{judge} (configuration not recorded)"
    parts, rest = [], {}
    for name, value in sorted(params.items()):
        if name == "response_format":
            parts.append(f"output={value.get('type', '?') if isinstance(value, dict) else value}")
        elif isinstance(value, (str, int, float, bool)) or value is None:
            parts.append(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}")
        else:
            rest[name] = value
    if rest:
        parts.append(f"params#{CallStore.key_of(kind='params', **rest)[:8]}")
    return f"{judge} ({', '.join(parts)}; prompt v{prompt_version})"


@dataclass
class BattleExport:
    """Battles in model orientation of one judge configuration (or of the ones named in `configs_used`), the
    per-judge order-flip rate over pairs with judge verdicts in both orders, and what the plan holds besides.

    `n_verdicts` rows are the judge's own verdicts; `n_identical` rows are ties between identical reports that no
    judge was asked about (they never count as verdicts, in flip rates or in "judgments"); `n_failed` planned
    judgments have only failures stored, `n_missing` were never answered. `configs` counts every configuration
    the plan holds; `flagged` lists each (model, study) whose report has instruction-like text, with its flags.
    """

    rows: list[dict[str, Any]]
    consistent_rows: list[dict[str, Any]]
    flip_rate: dict[str, float | None]
    n_pairs_both_orders: dict[str, int]
    n_missing: int
    n_verdicts: int = 0
    n_identical: int = 0
    n_failed: int = 0
    configs_used: list[str] = field(default_factory=list)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    flagged: list[dict[str, Any]] = field(default_factory=list)

    @property
    def mixed(self) -> bool:
        return len(self.configs_used) > 1

    def counts(self) -> dict[str, Any]:
        """What a leaderboard states about where its battles came from."""
        return {
            "n_verdicts": self.n_verdicts, "n_identical": self.n_identical, "n_failed": self.n_failed,
            "n_missing": self.n_missing, "judge_configs": list(self.configs_used),
            "other_judge_configs": [c for c in self.configs if c not in self.configs_used], "flagged": self.flagged,
            "order_flip_rates": {j: {"rate": r, "n_pairs": self.n_pairs_both_orders[j]} for j, r in
                                 self.flip_rate.items()},
        }  # fmt: skip


def _entry_config(entry: dict[str, Any], identities: dict[str, dict[str, Any]]) -> str | None:
    """The configuration of a plan entry: recorded in the entry, else in its stored call; None for a tie between
    identical reports planned before configurations were recorded (no call, so nothing says which)."""
    if "params" in entry:
        return config_label(entry["judge"], entry["params"], entry.get("prompt_version"))
    identity = identities.get(entry["key"])
    if identity is None:
        return None
    return config_label(entry["judge"], identity.get("params"), identity.get("prompt_version"))


def export_battles(
    store: CallStore,
    plan: Path,
    judge: str | None = None,
    config: str | None = None,
    *,
    mix: bool = False,
    strict: bool = True,
) -> BattleExport:
    """Every planned judgment with an answer, as a battle row for `arena.ratings` (ties from identical reports).

    One judge configuration only (`config_label`): `config` if given, else the one judged most recently (an
    arena rerun at another temperature or prompt version does not mix into the first run's battles); `mix`
    takes every configuration and names them in `configs_used`. A `config` the plan does not hold is an error
    unless `strict` is False (then nothing is exported: a run that has not judged anything yet). Ties between identical reports are kept once
    per (study, pair, order) and are marked `"source": "identical"`, judge verdicts `"source": "judge"`.
    `rows` has one battle per judged order; `consistent_rows` one per (study, pair) where a pair whose two
    orders disagree on the winner counts as a tie (a pair judged in one order only keeps that verdict).
    """
    if not plan.exists():
        raise XrayBenchError(f"no plan file {plan}: run `xraybench arena judge` for this arena first")
    records = store.export(kind=KIND)
    verdicts = {r["key"]: r["parsed"] for r in records if r["status"] == "ok" and r["parsed"]}
    failed = {r["key"] for r in records if r["status"] == "failed"}
    identities = {r["key"]: r["identity"] for r in records}
    latest = {r["key"]: r["updated_at"] for r in records if r["status"] == "ok"}
    entries: list[tuple[dict[str, Any], str | None]] = []
    configs: dict[str, dict[str, Any]] = {}
    seen: set[tuple[str, str, str]] = set()
    for entry in read_plan(plan):
        if judge is not None and entry["judge"] != judge:
            continue
        ident = (entry["key"], entry["model_x"], entry["model_y"])
        if ident in seen:
            continue
        seen.add(ident)
        label = _entry_config(entry, identities)
        entries.append((entry, label))
        if label is not None:
            info = configs.setdefault(label, {"n_verdicts": 0, "n_identical": 0, "n_failed": 0, "n_missing": 0,
                                              "last_judged": 0.0})  # fmt: skip
            if entry["identical"]:
                info["n_identical"] += 1
            elif entry["key"] in verdicts:
                info["n_verdicts"] += 1
                info["last_judged"] = max(info["last_judged"], latest.get(entry["key"], 0.0))
            else:
                info["n_failed" if entry["key"] in failed else "n_missing"] += 1
    if config is not None and config not in configs and strict:
        known = "; ".join(configs) or "none"
        raise XrayBenchError(f"{plan}: no judgments of judge configuration {config!r} (the plan holds: {known})")
    if mix:
        used = sorted(configs)
    elif config is not None:
        used = [config]
    else:
        used = [max(configs, key=lambda c: (configs[c]["last_judged"], c))] if configs else []
    rows: list[dict[str, Any]] = []
    ties_seen: set[tuple[str, str, str, str, str, bool]] = set()
    n_missing = n_failed = n_identical = 0
    for entry, label in entries:
        if label is not None and label not in used:
            continue
        if entry["identical"]:
            tie = (
                entry["judge"],
                entry["task"],
                entry["study_id"],
                entry["model_x"],
                entry["model_y"],
                entry["swapped"],
            )
            if tie in ties_seen:  # the same pair of identical reports, planned again under another configuration
                continue
            ties_seen.add(tie)
            level, source = "tie", "identical"
            n_identical += 1
        elif entry["key"] in verdicts:
            level, source = canonical(verdicts[entry["key"]]["verdict"], entry["swapped"]), "judge"
        else:
            if entry["key"] in failed:
                n_failed += 1
            else:
                n_missing += 1
            continue
        length_x, length_y = _entry_lengths(entry, identities)
        style_x, style_y = _entry_styles(entry, identities)
        rows.append(BattleRecord(
            entry["model_x"], entry["model_y"], WINNER[level], entry["study_id"], length_x, length_y, verdict=level,
            task=entry["task"], judge=entry["judge"], order="yx" if entry["swapped"] else "xy", source=source,
            judge_config=label or "unrecorded", style_a=style_x, style_b=style_y,
        ).to_json())  # fmt: skip
    consistent, flip_rate, n_both = _consistent_view(rows)
    return BattleExport(
        rows, consistent, flip_rate, n_both, n_missing, n_verdicts=sum(r["source"] == "judge" for r in rows),
        n_identical=n_identical, n_failed=n_failed, configs_used=used, configs=configs,
        flagged=_plan_flags([e for e, label in entries if label is None or label in used]),
    )  # fmt: skip


def _entry_lengths(entry: dict[str, Any], identities: dict[str, dict[str, Any]]) -> tuple[int | None, int | None]:
    """The two reports' lengths in model orientation: planned with the entry, else from its stored call (a plan
    written before lengths were planned); None for such a plan's ties between identical reports (no call)."""
    if "length_x" in entry:
        return entry["length_x"], entry["length_y"]
    identity = identities.get(entry["key"]) or {}
    text_x, text_y = (identity.get("text_b"), identity.get("text_a")) if entry["swapped"] else (
        identity.get("text_a"), identity.get("text_b"))  # fmt: skip
    if not isinstance(text_x, str) or not isinstance(text_y, str):
        return None, None
    return report_length(text_x), report_length(text_y)


def _entry_styles(entry: dict[str, Any], identities: dict[str, dict[str, Any]]) -> tuple[dict | None, dict | None]:
    """The two reports' style counts (`arena.style`) in model orientation, as `_entry_lengths` finds the lengths."""
    if "style_x" in entry:
        return entry["style_x"], entry["style_y"]
    identity = identities.get(entry["key"]) or {}
    text_x, text_y = (identity.get("text_b"), identity.get("text_a")) if entry["swapped"] else (
        identity.get("text_a"), identity.get("text_b"))  # fmt: skip
    if not isinstance(text_x, str) or not isinstance(text_y, str):
        return None, None
    return style_counts(text_x), style_counts(text_y)


def recorded_response_format(plan: Path, judge: str) -> dict[str, Any] | None:
    """The structured output (`response_format`) of the arena's latest planned judgment by `judge`, so a later
    run (a submission) asks the same way and its judgments share the field's configuration."""
    if not plan.exists():
        return None
    for entry in reversed(read_plan(plan)):
        if entry["judge"] == judge and "params" in entry:
            value = entry["params"].get("response_format")
            return value if isinstance(value, dict) else None
    return None


def _plan_flags(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each (model, study) whose report has instruction-like text, once, with its flags and battle count."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for e in entries:
        for model, flags in ((e["model_x"], e.get("flags_x")), (e["model_y"], e.get("flags_y"))):
            if flags:
                item = seen.setdefault((model, e["study_id"]), {"model": model, "study_id": e["study_id"],
                                                                "flags": list(flags), "n_battles": 0})  # fmt: skip
                item["n_battles"] += 1
    return [seen[k] for k in sorted(seen)]


def _consistent_view(
    rows: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], dict[str, float | None], dict[str, int]]:
    """One row per (judge, study, pair); the flip rate counts only pairs with judge verdicts in both orders (a
    tie between identical reports has no order to flip)."""
    groups: dict[tuple[str, str, str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["judge"], row["task"], row["study_id"], row["model_a"], row["model_b"]), []).append(row)
    out: list[dict[str, Any]] = []
    flips: dict[str, int] = {}
    both: dict[str, int] = {}
    for (judge, *_), group in groups.items():
        winners = {r["winner"] for r in group}
        judged = [r for r in group if r["source"] == "judge"]
        if len({r["order"] for r in judged}) >= 2:
            both[judge] = both.get(judge, 0) + 1
            flips[judge] = flips.get(judge, 0) + (len({r["winner"] for r in judged}) > 1)
        winner = winners.pop() if len(winners) == 1 else "tie"
        first = group[0]
        out.append({**first, "winner": winner, "verdict": first["verdict"] if winner == first["winner"] else "tie",
                    "order": "both" if len(group) >= 2 else first["order"]})  # fmt: skip
    judges = {r["judge"] for r in rows}
    rate = {j: (flips.get(j, 0) / both[j] if both.get(j) else None) for j in sorted(judges)}
    return out, rate, {j: both.get(j, 0) for j in sorted(judges)}


def write_battles(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Battles as JSONL (readable by `xraybench arena ratings --battles`), one `BattleRecord` with its
    `schema_version` per line, replaced all at once (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (json.dumps(BattleRecord.from_json(r, path, i).to_json(), ensure_ascii=False) + "\n"
             for i, r in enumerate(rows, start=1))  # fmt: skip
    write_atomic(path, "".join(lines), safe="the arena's judgments are all kept in its store")
    return path


# -- schedules ----------------------------------------------------------------------------------------------

SCHEDULES = ("full", "adaptive")


def judge_schedule(
    fld: Field,
    judging: Judging,
    plan: Path,
    *,
    schedule: str = "full",
    studies: int | None = None,
    seed: int = 0,
    new_model: str | None = None,
    batch_size: int = 16,
    max_in_flight: int = 0,
    dry_run: bool = False,
) -> JudgeReport:
    """Judge `fld` on the chosen studies with the `full` matrix or the `adaptive` schedule.

    `new_model` judges that model against the rest of the field only (the field's own battles are reused, and
    feed the adaptive fit). `full` plans every comparison at once; `adaptive` first finishes what an earlier
    run planned but did not judge, then loops: the battles judged so far (from the store) go to
    `AdaptiveScheduler`, its proposed comparisons are planned in both orders and judged, until it is done
    (ranking separated, or every comparison judged), the budget stops the run, or it proposes only comparisons
    that already failed in this run (they are retried on the next run). `max_in_flight`: how many comparisons
    may still be in flight when `adaptive` proposes its next batch (0: it waits for each batch). A dry run
    estimates the whole schedule: for `adaptive` an upper bound.
    """
    from arena.schedule import full_schedule, new_model_schedule

    if schedule not in SCHEDULES:
        raise XrayBenchError(f"--schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    models = sorted(fld.texts)
    ids = [s.id for s in shared_studies(fld, studies, seed)]
    if new_model is not None:
        if new_model not in fld.texts:
            raise XrayBenchError(f"--new-model {new_model!r} is not among the models ({', '.join(models)})")
        everything = new_model_schedule(new_model, [m for m in models if m != new_model], ids)
    else:
        everything = full_schedule(models, ids)
    judging.report.schedule = schedule
    if schedule == "full" or dry_run:
        battles = PlannedBattles(fld, judging.judge, everything, None if dry_run else plan)
        report = judging.run(battles, dry_run=dry_run)
        report.stop_reason = "dry run" if dry_run else "all planned"
        return report
    if max_in_flight < 0:
        raise XrayBenchError(f"--max-in-flight must be 0 or more, got {max_in_flight}")
    return _judge_adaptive(fld, judging, plan, models, ids, new_model, batch_size, max_in_flight, seed)


def _judge_adaptive(
    fld: Field, judging: Judging, plan: Path, models: list[str], ids: list[str], new_model: str | None,
    batch_size: int, max_in_flight: int, seed: int,
) -> JudgeReport:  # fmt: skip
    """Finish what an earlier run planned, then judge what `AdaptiveScheduler` proposes until it is done.

    The proposals are a lazy stream that the call runner reads when it has room for more calls. The next
    batch is proposed only while at most `max_in_flight` comparisons of this stream are unanswered;
    otherwise the stream ends, the runner finishes what is in flight, and a new stream starts from all the
    answers (with 0, that is one batch per round). Comparisons still in flight, or failed in this run, go to
    the scheduler as `pending`: it never proposes them again and plans around them. A larger
    `max_in_flight` keeps `--max-concurrency` calls busy instead of waiting for each batch's slowest call, at
    the price of proposing on older answers (benchmarks/README.md, "arena schedule", measures the extra
    judgments).
    """
    from arena.adaptive import AdaptiveScheduler

    judge = judging.judge
    if new_model is not None:
        field_models = [m for m in models if m != new_model]
        scheduler = AdaptiveScheduler.for_new_model(new_model, field_models, ids, seed=seed, batch_size=batch_size)
    else:
        scheduler = AdaptiveScheduler(models, ids, seed=seed, batch_size=batch_size)
    report = judging.report
    planned: list[Battle] = []
    leftover = [
        c for c in _unfinished_comparisons(judging.store, plan, judge.name, fld.task, models, ids)
        if new_model is None or new_model in c[:2]
    ]  # fmt: skip
    if leftover:  # an earlier run planned these (killed, failed or stopped by the budget): finish them first
        planned += plan_comparisons(fld, judge, leftover)
        judging.run(planned)
    attempted: dict[tuple[str, str, str], tuple[str, str, str]] = {_pair_key(c): c for c in leftover}

    current = config_label(judge.name, judge.params, judge.prompt_version)

    def judged() -> Any:
        return _judged_battles(judging.store, plan, judge.name, fld.task, set(models), set(ids), current)

    def proposals(ended: list[str], so_far: Any) -> Iterator[Battle]:
        """Batches until done, out of proposals, or more than `max_in_flight` of them unanswered; `so_far`: the
        judged battles now (the store is exported again only before a proposal that follows answers)."""
        writer = PlanWriter(plan, judge.name)
        keys: list[list[str]] = []  # the call keys of each comparison this stream proposed
        while not judging.budget.stopped.is_set():
            if keys:  # not the first batch (the caller has checked `so_far`): answers may have come back
                unanswered = set(judging.store.pending(k for ks in keys for k in ks))  # one indexed query
                if sum(any(k in unanswered for k in ks) for ks in keys) > max_in_flight:
                    ended.append("wait")
                    return
                so_far = judged()
                if scheduler.done(so_far):
                    ended.append("done")
                    return
            finished = _pair_keys(so_far)
            pending = [c for key, c in attempted.items() if key not in finished]  # in flight, or failed
            proposed = [c for c in scheduler.propose(so_far, pending=pending) if _pair_key(c) not in attempted]
            if not proposed:
                return  # all that is left is in flight or failed in this run
            attempted.update((_pair_key(c), c) for c in proposed)
            battles = plan_comparisons(fld, judge, proposed)
            keys += [[b.key for b in battles[i : i + 2] if not b.identical] for i in range(0, len(battles), 2)]
            writer.append(battles)
            planned.extend(battles)
            report.n_rounds += 1
            yield from battles

    so_far, ended = judged(), ["start"]
    while True:
        if judging.budget.stopped.is_set():
            report.stop_reason = "budget"
        elif scheduler.done(so_far):
            report.stop_reason = "scheduler done"
        elif not ended:  # the last stream ran out of proposals, and what was in flight did not finish it
            report.stop_reason = "only failed comparisons left (retried on the next run)"
        else:  # starting, or the last stream waited for answers or was done before they changed it: go on
            ended = []
            judging.run(proposals(ended, so_far))
            so_far = judged()
            continue
        break
    report.estimate = estimate(planned, judge)
    report.flagged = _flagged(planned)
    return report


def _pair_keys(battles: Any) -> set[tuple[str, str, str]]:
    """The (pair, study) of every battle in `arena.battles.Battles` (None: none)."""
    if battles is None:
        return set()
    names, studies = battles.models, battles.study_ids
    return {
        _pair_key((names[a], names[b], studies[s]))
        for a, b, s in zip(battles.a.tolist(), battles.b.tolist(), battles.study.tolist(), strict=True)
    }


def _pair_key(comparison: tuple[str, str, str]) -> tuple[str, str, str]:
    a, b, study = comparison
    x, y = sorted((a, b))
    return x, y, study


def _unfinished_comparisons(
    store: CallStore, plan: Path, judge: str, task: str, models: list[str], ids: list[str]
) -> list[tuple[str, str, str]]:
    """Comparisons of the plan (this judge, task, models and studies) with an order not yet judged."""
    if not plan.exists():
        return []
    known_models, known_ids = set(models), set(ids)
    entries = [
        e for e in read_plan(plan)
        if e["judge"] == judge and e["task"] == task and e["model_x"] in known_models
        and e["model_y"] in known_models and e["study_id"] in known_ids and not e["identical"]
    ]  # fmt: skip
    todo = set(store.pending(e["key"] for e in entries))
    return list(dict.fromkeys((e["model_x"], e["model_y"], e["study_id"]) for e in entries if e["key"] in todo))


def _judged_battles(
    store: CallStore, plan: Path, judge: str, task: str, models: set[str], ids: set[str], config: str
) -> Any:
    """The judged battles of this field by this judge configuration as `arena.battles.Battles`, one per (pair,
    study): an order flip is a tie."""
    if not plan.exists():
        return None
    rows = [
        r for r in export_battles(store, plan, judge, config, strict=False).consistent_rows
        if r["task"] == task and r["model_a"] in models and r["model_b"] in models and r["study_id"] in ids
    ]  # fmt: skip
    if not rows:
        return None
    return battles_of(rows, plan)
