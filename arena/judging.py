"""Judge pairwise battles between models' reports into the arena's judgment store, and export them as battles.

A battle is one study, two models' reports and the reference. With the `full` schedule every pair of models
is judged on every chosen study, in both orders (x shown as A, then y shown as A), because LLM judges favour
a position; the export reports how often the two orders disagree.

The expensive part is protected by `xraybench.callstore.CallStore`: a judgment's key hashes everything that
decides the answer (judge, decoding parameters, prompt version, task, study, reference, both texts in shown
order, the order), finished keys are never asked again, each key is leased right before its call, and every
answer or failure is committed before the next. Which models a key belongs to is kept in a plan file beside
the store (`judgments.plan.jsonl`, append-only), so two models with the same text share one paid judgment
and the store stays model-agnostic. Reports that are identical are a tie without a call.

Money and data: the cost is estimated before any call (prompt tokens ~ characters / 4, plus
`EXPECTED_COMPLETION_TOKENS` per answer, at litellm's price or the user's); a run stops before a request whose
worst case (its prompt plus a full `max_tokens` answer) could take it past `budget_usd`; and samples marked credentialed are refused before any call unless the judge
is a local endpoint or its provider is explicitly allowed.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arena.judge import JudgeAnswer, LiteLLMJudge
from arena.prompt import PROMPT_VERSION, JudgePrompt, reask_messages, render
from arena.verdict import PARSER_VERSION, WINNER, canonical, parse_verdict
from xraybench.callstore import TRUNCATED_FINISH_REASONS, CallStore, default_owner
from xraybench.errors import DataFormatError, XrayBenchError
from xraybench.records import Sample
from xraybench.retry import RetryPolicy, call_with_retries
from xraybench.taskdata import load_task, parse_data_roots, seeded_subset

KIND = "judgment"
EXPECTED_COMPLETION_TOKENS = 400  # a verdict with short error lists; used only for the estimate
CHARS_PER_TOKEN = 4
STORE_FILE = "judgments.sqlite"
PLAN_SUFFIX = ".plan.jsonl"
CONTEXT_KEYS = ("section", "view", "indication", "comparison")


def store_path(name: str, store: str | None = None) -> Path:
    """`arenas/<name>/judgments.sqlite` unless a store file is given."""
    return Path(store) if store else Path("arenas") / name / STORE_FILE


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
    return config.model, texts, list(config.data_roots)


def _file_texts(spec: str, task: str) -> tuple[str, dict[str, str]]:
    from xraybench.models.predictions import read_prediction_file

    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
        raise XrayBenchError(f"--predictions expects NAME=FILE, got {spec!r}")
    report = read_prediction_file(path)
    if report.malformed:
        raise DataFormatError(path, f"{len(report.malformed)} malformed rows, first: {report.malformed[0]}")
    texts = {row.id: row.text for row in report.rows if row.task in (None, task)}
    if not texts:
        raise DataFormatError(path, f"no predictions for task {task!r} (expected rows with id and prediction)")
    return name, texts


def load_field(
    task: str, runs: Iterable[str] = (), predictions: Iterable[str] = (), data_roots: Iterable[str] = ()
) -> Field:
    """Reports of every model (run folders and NAME=FILE prediction files) and the task's samples."""
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
        return {
            "key": self.key, "judge": judge, "task": self.task, "study_id": self.study_id, "model_x": self.model_x,
            "model_y": self.model_y, "swapped": self.swapped, "identical": self.identical, "flags_x": flags_x,
            "flags_y": flags_y,
        }  # fmt: skip


def context_of(sample: Sample) -> dict[str, Any]:
    return {k: sample.metadata[k] for k in CONTEXT_KEYS if sample.metadata.get(k)}


def shared_studies(fld: Field, studies: int | None = None, seed: int = 0) -> list[Sample]:
    """The chosen studies: a seeded sample of the studies every model answered (all when `studies` is None)."""
    shared = [s for s in fld.samples.values() if all(s.id in t for t in fld.texts.values())]
    if not shared:
        raise XrayBenchError(f"the models share no study of task {fld.task!r}; nothing to judge")
    return seeded_subset(shared, studies, seed)


def plan_battles(
    fld: Field, judge: str, params: dict[str, Any], *, studies: int | None = None, seed: int = 0
) -> list[Battle]:
    """All model pairs x the chosen studies (seeded sample of the studies every model answered), both orders."""
    chosen = shared_studies(fld, studies, seed)
    pairs = list(itertools.combinations(sorted(fld.texts), 2))
    return plan_comparisons(fld, judge, params, [(x, y, s.id) for s in chosen for x, y in pairs])


def plan_comparisons(
    fld: Field, judge: str, params: dict[str, Any], comparisons: Iterable[tuple[str, str, str]]
) -> list[Battle]:
    """Both orders of each (model, model, study): the keys do not depend on how a schedule names the pair."""
    battles: list[Battle] = []
    for a, b, study in comparisons:
        x, y = sorted((a, b))
        sample = fld.samples[study]
        for swapped in (False, True):
            text_a, text_b = fld.texts[x][sample.id], fld.texts[y][sample.id]
            if swapped:
                text_a, text_b = text_b, text_a
            context = context_of(sample)
            identity = {
                "kind": KIND, "judge": judge, "params": params, "prompt_version": PROMPT_VERSION, "task": fld.task,
                "study": sample.id, "reference": sample.reference, "context": context, "text_a": text_a,
                "text_b": text_b, "order": "yx" if swapped else "xy",
            }  # fmt: skip
            battles.append(
                Battle(
                    CallStore.key_of(**identity),
                    identity,
                    fld.task,
                    sample.id,
                    x,
                    y,
                    swapped,
                    render(sample.reference, text_a, text_b, context),
                    text_a.strip() == text_b.strip(),
                )  # fmt: skip
            )
    return battles


def check_governance(samples: Iterable[Sample], judge: LiteLLMJudge, allow: Iterable[str] = ()) -> None:
    """Refuse to send credentialed reports to a judge that is neither local nor explicitly allowed."""
    credentialed = sorted({s.dataset for s in samples if s.credentialed})
    if not credentialed or judge.local:
        return
    allowed = set(allow)
    if judge.provider in allowed or judge.model in allowed:
        return
    where = judge.api_base or f"the {judge.provider} API"
    raise XrayBenchError(
        f"refusing to judge: the samples come from credentialed dataset(s) {', '.join(credentialed)}, whose data use "
        f"agreements forbid sending report text to third parties, and judge {judge.model} ({where}) is not a local "
        f"endpoint. Use a local judge (--api-base http://127.0.0.1:PORT/v1) or, if your agreement allows this "
        f"provider, pass --allow-provider {judge.provider}. No call was made."
    )


# -- cost ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """What the pending calls should cost; `cost_usd` is None when no price is known."""

    n_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None


def prompt_tokens(prompt: JudgePrompt) -> int:
    return sum(len(str(m["content"])) for m in prompt.messages) // CHARS_PER_TOKEN + 1


def call_estimate(battle: Battle, prices: tuple[float, float]) -> float:
    """Expected cost of one battle (the dry-run estimate); the budget cap uses the worst case instead."""
    return prompt_tokens(battle.prompt) * prices[0] + EXPECTED_COMPLETION_TOKENS * prices[1]


def estimate(battles: list[Battle], judge: LiteLLMJudge) -> Estimate:
    p_tok = sum(prompt_tokens(b.prompt) for b in battles)
    c_tok = EXPECTED_COMPLETION_TOKENS * len(battles)
    prices = judge.prices()
    cost = None if prices is None else sum(call_estimate(b, prices) for b in battles)
    return Estimate(len(battles), p_tok, c_tok, cost)


class RateLimiter:
    """At most `rpm` request starts per minute, evenly spaced; thread-safe; waits outside the lock."""

    def __init__(
        self, rpm: float, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], object] = time.sleep
    ):
        if rpm <= 0:
            raise ValueError(f"rpm must be positive, got {rpm}")
        self.interval = 60.0 / rpm
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)


class BudgetExhausted(XrayBenchError):
    """The next request could take the run past `--budget-usd`; it is not made (never retried)."""


class _Budget:
    """Spent plus in-flight upper bounds never exceed the cap: a request starts only if its worst case fits.

    Once one request does not fit, the run stops starting new battles (`stopped`), so a cap means "stop here",
    not "skip to cheaper battles".
    """

    def __init__(self, cap: float | None):
        self.cap, self.spent, self.reserved = cap, 0.0, 0.0
        self.stopped = threading.Event()
        self._lock = threading.Lock()

    def reserve(self, amount: float) -> bool:
        with self._lock:
            if self.cap is not None and self.spent + self.reserved + amount > self.cap:
                self.stopped.set()
                return False
            self.reserved += amount
            return True

    def settle(self, reserved: float, actual: float) -> None:
        with self._lock:
            self.reserved -= reserved
            self.spent += actual


# -- running ------------------------------------------------------------------------------------------------


@dataclass
class JudgeReport:
    """What a judging run did. `n_done_before` keys were already in the store and cost nothing."""

    n_battles: int = 0
    n_identical: int = 0
    n_unique: int = 0
    n_done_before: int = 0
    n_ok: int = 0
    n_failed: int = 0
    n_budget_stopped: int = 0
    n_claimed_elsewhere: int = 0
    n_requests: int = 0
    n_reasked: int = 0
    cost_usd: float = 0.0
    estimate: Estimate | None = None
    failures: list[dict[str, str]] = field(default_factory=list)
    flagged: list[dict[str, Any]] = field(default_factory=list)
    schedule: str = "full"
    n_rounds: int = 0
    stop_reason: str | None = None
    n_leases_recovered: int = 0


def append_plan(path: Path, battles: list[Battle], judge: str) -> None:
    """Add the battles not yet in the plan file (one JSON line each, appended, fsynced).

    Under an exclusive file lock, so two judge processes neither interleave lines nor cut each other's; a torn
    last line left by a killed process is cut off first, so the new lines do not continue it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            fh.seek(0)
            data = fh.read()
            complete = data[: data.rfind(b"\n") + 1]
            if len(complete) != len(data):
                fh.truncate(len(complete))
            seen = {(e["key"], e["model_x"], e["model_y"]) for e in _plan_entries(complete.decode("utf-8"), path)}
            lines = [
                json.dumps(b.plan_entry(judge), ensure_ascii=False) + "\n"
                for b in battles
                if (b.key, b.model_x, b.model_y) not in seen
            ]
            if lines:
                fh.write("".join(lines).encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def read_plan(path: Path) -> list[dict[str, Any]]:
    """Plan entries; a torn last line (killed mid-append) is ignored, any other bad line is an error."""
    return _plan_entries(path.read_text(encoding="utf-8"), path)


def _plan_entries(text: str, path: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    lines = text.split("\n")
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if lineno == len(lines):  # no newline after it: the append was cut off
                break
            raise DataFormatError(path, f"invalid JSON ({exc.msg}); expected one battle per line", line=lineno) from exc
    return entries


def _owner_is_dead(owner: str, host: str) -> bool:
    """Is a lease owner (`host:pid:suffix`, see `default_owner`) a process of this host that no longer runs?"""
    parts = owner.split(":")
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # some other user's live process has that pid
    return False


def release_dead_leases(store: CallStore) -> int:
    """Give back the leases of judge processes on this host that were killed (`kill -9` leaves them behind).

    Without this a rerun right after a kill would skip the killed run's in-flight keys as "claimed elsewhere"
    until their leases expire (minutes). Leases of live processes, and of other hosts, are left alone: those
    wait for their expiry.
    """
    host = socket.gethostname()
    dead = [(key, owner) for key, owner, _ in store.leases() if _owner_is_dead(owner, host)]
    for key, owner in dead:
        store.release(key, owner)
    return len(dead)


class Judging:
    """Runs the pending judgments of a plan against one store; one instance per run."""

    def __init__(
        self,
        judge: LiteLLMJudge,
        store: CallStore,
        *,
        max_concurrency: int = 8,
        rpm: float | None = None,
        budget_usd: float | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], object] = time.sleep,
    ):
        if max_concurrency < 1:
            raise XrayBenchError(f"--max-concurrency must be at least 1, got {max_concurrency}")
        self.judge, self.store = judge, store
        self.max_concurrency = max_concurrency
        self.limiter = RateLimiter(rpm) if rpm else None
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.owner = default_owner()
        self.ttl_s = judge.timeout_s * self.policy.max_attempts * 2 + self.policy.max_delay_s * self.policy.max_attempts
        self.prices = judge.prices()
        if budget_usd is not None and self.prices is None:
            raise XrayBenchError(
                f"--budget-usd needs a price, and litellm's cost map has none for {judge.model}: "
                "pass --price-per-1k-tokens"
            )
        self.budget = _Budget(budget_usd)
        self._lock = threading.Lock()
        self.report = JudgeReport()

    def pending(self, battles: list[Battle]) -> list[Battle]:
        """The battles to call: not identical, one per key, not yet done in the store."""
        unique = list({b.key: b for b in battles if not b.identical}.values())
        todo = set(self.store.pending(b.key for b in unique))
        self.report.n_battles += len(battles)
        self.report.n_identical += sum(b.identical for b in battles)
        self.report.n_unique += len(unique)
        self.report.n_done_before += len(unique) - len(todo)
        return [b for b in unique if b.key in todo]

    def run(self, battles: list[Battle], *, dry_run: bool = False) -> JudgeReport:
        """Judge the pending ones of `battles`; called again (adaptive rounds), the report adds up."""
        if not dry_run:
            self.report.n_leases_recovered += release_dead_leases(self.store)
        todo = self.pending(battles)
        self.report.estimate = estimate(todo, self.judge)
        self.report.flagged = _flagged(battles)
        if dry_run or not todo:
            return self.report
        with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="judge") as pool:
            for future in [pool.submit(self._one, battle) for battle in todo]:
                future.result()
        self.report.cost_usd = self.budget.spent
        return self.report

    def _ask(self, messages: list[dict[str, Any]], spend: list[JudgeAnswer], tally: list[int]) -> JudgeAnswer:
        """One answer through `call_with_retries`; `tally[0]` counts this battle's requests (retries included)."""

        def once() -> JudgeAnswer:
            if self.limiter is not None:
                self.limiter.wait()
            bound = self._request_bound(messages)
            if not self.budget.reserve(bound):
                raise BudgetExhausted(f"the next request (up to ${bound:.4f}) could exceed --budget-usd")
            tally[0] += 1
            with self._lock:
                self.report.n_requests += 1
            try:
                answer = self.judge.judge(messages)
            except BaseException:
                self.budget.settle(bound, 0.0)  # a refused request (429, 5xx, timeout) is not billed
                raise
            self.budget.settle(bound, answer.cost_usd)
            return answer

        answer = call_with_retries(once, self.policy, sleep=self.sleep)
        spend.append(answer)
        return answer

    def _request_bound(self, messages: list[dict[str, Any]]) -> float:
        """Worst-case cost of one request: the prompt (characters / 4) plus a full `max_tokens` answer."""
        if self.prices is None:
            return 0.0
        n_prompt = sum(len(str(m["content"])) for m in messages) // CHARS_PER_TOKEN + 1
        return n_prompt * self.prices[0] + self.judge.max_tokens * self.prices[1]

    def _one(self, battle: Battle) -> None:
        if self.budget.stopped.is_set():
            with self._lock:
                self.report.n_budget_stopped += 1
            return
        if not self.store.claim(battle.key, self.owner, self.ttl_s):
            with self._lock:
                self.report.n_claimed_elsewhere += 1
            return
        spend: list[JudgeAnswer] = []
        tally = [0]
        try:
            ok, error, answer, parsed = self._judge_once(battle, spend, tally)
        except BudgetExhausted as exc:
            if not spend:  # nothing paid for this battle: give the key back untouched
                self.store.release(battle.key, self.owner)
                with self._lock:
                    self.report.n_budget_stopped += 1
                return
            ok, error, answer, parsed = False, str(exc), spend[-1], None
        except XrayBenchError as exc:
            ok, error, answer, parsed = False, str(exc), None, None
        self._record(battle, ok, error, answer, parsed, spend, max(1, tally[0]))

    def _judge_once(
        self, battle: Battle, spend: list[JudgeAnswer], tally: list[int]
    ) -> tuple[bool, str | None, JudgeAnswer, dict[str, Any] | None]:
        answer = self._ask(battle.prompt.messages, spend, tally)
        if answer.finish_reason in TRUNCATED_FINISH_REASONS:
            return (
                False,
                f"truncated answer (finish_reason={answer.finish_reason!r}); never counted as a tie",
                answer,
                None,
            )
        parsed = parse_verdict(answer.text)
        if parsed is None:
            with self._lock:
                self.report.n_reasked += 1
            answer = self._ask(reask_messages(battle.prompt, answer.text), spend, tally)
            if answer.finish_reason in TRUNCATED_FINISH_REASONS:
                return False, f"truncated answer to the re-ask (finish_reason={answer.finish_reason!r})", answer, None
            parsed = parse_verdict(answer.text)
            if parsed is None:
                return False, "no parseable verdict, also after one re-ask", answer, None
        return True, None, answer, parsed

    def _record(
        self,
        battle: Battle,
        ok: bool,
        error: str | None,
        answer: JudgeAnswer | None,
        parsed: dict[str, Any] | None,
        spend: list[JudgeAnswer],
        attempts: int,
    ) -> None:
        usage = {
            "prompt_tokens": sum(a.prompt_tokens for a in spend),
            "completion_tokens": sum(a.completion_tokens for a in spend),
            "cost_usd": sum(a.cost_usd for a in spend),
            "latency_s": sum(a.latency_s for a in spend) or None,
            "attempts": attempts,
            "finish_reason": None if answer is None else answer.finish_reason,
        }
        if ok and answer is not None:
            self.store.record_ok(
                battle.key, battle.identity, raw_text=answer.text, parsed=parsed, parser_version=PARSER_VERSION, **usage
            )
        else:
            self.store.record_failure(
                battle.key, battle.identity, error=error or "unknown error",
                raw_text=None if answer is None else answer.text, **usage,
            )  # fmt: skip
        with self._lock:
            if ok:
                self.report.n_ok += 1
            else:
                self.report.n_failed += 1
                self.report.failures.append(
                    {"key": battle.key, "study_id": battle.study_id, "models": f"{battle.model_x} vs {battle.model_y}",
                     "order": battle.identity["order"], "error": error or ""}
                )  # fmt: skip


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


@dataclass
class BattleExport:
    """Battles in model orientation, the per-judge order-flip rate and how many planned judgments are missing."""

    rows: list[dict[str, Any]]
    consistent_rows: list[dict[str, Any]]
    flip_rate: dict[str, float | None]
    n_pairs_both_orders: dict[str, int]
    n_missing: int


def export_battles(store: CallStore, plan: Path, judge: str | None = None) -> BattleExport:
    """Every planned judgment with an answer, as a battle row for `arena.ratings` (ties from identical reports).

    `rows` has one battle per judged order; `consistent_rows` one per (study, pair) where a pair whose two
    orders disagree on the winner counts as a tie (a pair judged in one order only keeps that verdict).
    """
    if not plan.exists():
        raise XrayBenchError(f"no plan file {plan}: run `xraybench arena judge` for this arena first")
    verdicts = {r["key"]: r["parsed"] for r in store.export(kind=KIND, status="ok") if r["parsed"]}
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    n_missing = 0
    for entry in read_plan(plan):
        if judge is not None and entry["judge"] != judge:
            continue
        ident = (entry["key"], entry["model_x"], entry["model_y"])
        if ident in seen:
            continue
        seen.add(ident)
        if entry["identical"]:
            level = "tie"
        elif entry["key"] in verdicts:
            level = canonical(verdicts[entry["key"]]["verdict"], entry["swapped"])
        else:
            n_missing += 1
            continue
        rows.append(
            {"model_a": entry["model_x"], "model_b": entry["model_y"], "winner": WINNER[level], "verdict": level,
             "study_id": entry["study_id"], "task": entry["task"], "judge": entry["judge"],
             "order": "yx" if entry["swapped"] else "xy"}
        )  # fmt: skip
    consistent, flip_rate, n_both = _consistent_view(rows)
    return BattleExport(rows, consistent, flip_rate, n_both, n_missing)


def _consistent_view(
    rows: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], dict[str, float | None], dict[str, int]]:
    groups: dict[tuple[str, str, str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["judge"], row["task"], row["study_id"], row["model_a"], row["model_b"]), []).append(row)
    out: list[dict[str, Any]] = []
    flips: dict[str, int] = {}
    both: dict[str, int] = {}
    for (judge, *_), group in groups.items():
        winners = {r["winner"] for r in group}
        if len(group) >= 2:
            both[judge] = both.get(judge, 0) + 1
            flips[judge] = flips.get(judge, 0) + (len(winners) > 1)
        winner = winners.pop() if len(winners) == 1 else "tie"
        first = group[0]
        out.append({**first, "winner": winner, "verdict": first["verdict"] if winner == first["winner"] else "tie",
                    "order": "both" if len(group) >= 2 else first["order"]})  # fmt: skip
    judges = {r["judge"] for r in rows}
    rate = {j: (flips.get(j, 0) / both[j] if both.get(j) else None) for j in sorted(judges)}
    return out, rate, {j: both.get(j, 0) for j in sorted(judges)}


def write_battles(rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Battles as JSONL (readable by `xraybench arena ratings --battles`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
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
    dry_run: bool = False,
) -> JudgeReport:
    """Judge `fld` on the chosen studies with the `full` matrix or the `adaptive` schedule.

    `new_model` judges that model against the rest of the field only (the field's own battles are reused, and
    feed the adaptive fit). `full` plans every comparison at once; `adaptive` first finishes what an earlier
    run planned but did not judge, then loops: the battles judged so far (from the store) go to
    `AdaptiveScheduler`, its proposed comparisons are planned in both orders and judged, until it is done
    (ranking separated, or every comparison judged), the budget stops the run, or it proposes only comparisons
    that already failed in this run (they are retried on the next run). A dry run estimates the whole schedule:
    for `adaptive` an upper bound.
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
        battles = plan_comparisons(fld, judging.judge.model, judging.judge.params, everything)
        if not dry_run:
            append_plan(plan, battles, judging.judge.model)
        report = judging.run(battles, dry_run=dry_run)
        report.stop_reason = "dry run" if dry_run else "all planned"
        return report
    return _judge_adaptive(fld, judging, plan, models, ids, new_model, batch_size, seed)


def _judge_adaptive(
    fld: Field, judging: Judging, plan: Path, models: list[str], ids: list[str], new_model: str | None,
    batch_size: int, seed: int,
) -> JudgeReport:  # fmt: skip
    from arena.schedule import AdaptiveScheduler

    judge = judging.judge
    if new_model is not None:
        field_models = [m for m in models if m != new_model]
        scheduler = AdaptiveScheduler.for_new_model(new_model, field_models, ids, seed=seed, batch_size=batch_size)
    else:
        scheduler = AdaptiveScheduler(models, ids, seed=seed, batch_size=batch_size)
    report = judging.report
    planned: list[Battle] = []
    leftover = [
        c for c in _unfinished_comparisons(judging.store, plan, judge.model, fld.task, models, ids)
        if new_model is None or new_model in c[:2]
    ]  # fmt: skip
    if leftover:  # an earlier run planned these (killed, failed or stopped by the budget): finish them first
        planned += plan_comparisons(fld, judge.model, judge.params, leftover)
        judging.run(planned)
    attempted = set(leftover)
    while True:
        if judging.budget.stopped.is_set():
            report.stop_reason = "budget"
            break
        so_far = _judged_battles(judging.store, plan, judge.model, fld.task, set(models), set(ids))
        if scheduler.done(so_far):
            report.stop_reason = "scheduler done"
            break
        proposed = [c for c in scheduler.propose(so_far) if _pair_key(c) not in attempted]
        if not proposed:
            report.stop_reason = "only failed comparisons left (retried on the next run)"
            break
        attempted.update(_pair_key(c) for c in proposed)
        battles = plan_comparisons(fld, judge.model, judge.params, proposed)
        append_plan(plan, battles, judge.model)
        judging.run(battles)
        planned += battles
        report.n_rounds += 1
    report.estimate = estimate([b for b in planned if not b.identical], judge)
    report.flagged = _flagged(planned)
    return report


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


def _judged_battles(store: CallStore, plan: Path, judge: str, task: str, models: set[str], ids: set[str]) -> Any:
    """The judged battles of this field as `arena.battles.Battles`, one per (pair, study): an order flip is a tie."""
    from arena.battles import from_records

    if not plan.exists():
        return None
    rows = [
        r for r in export_battles(store, plan, judge).consistent_rows
        if r["task"] == task and r["model_a"] in models and r["model_b"] in models and r["study_id"] in ids
    ]  # fmt: skip
    if not rows:
        return None
    keep = ("model_a", "model_b", "winner", "study_id")
    return from_records(((i, {k: r[k] for k in keep}) for i, r in enumerate(rows, start=1)), plan)
