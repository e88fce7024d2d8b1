"""`xraybench train synthesize`: cold-start reasoning samples from a teacher LLM, filtered, resumable, cost-capped.

For each stage-2 prompt record (grpo-like: images, reasoning-template prompt, ground truth), the teacher is
told the question, the reference answer and the known boxes (scaled to 512x512) and writes `<think>` reasoning
citing boxes, ending in `\\boxed{}` (see `medix_train.teacher_prompt`). Every answer goes through
`medix_train.synthesis_filter`, then optionally a second model asked whether the reasoning supports the answer.
Kept answers become `coldstart.jsonl` chat records; dropped ones go to `rejected.jsonl` with their reason.

Calls run through `xraybench.llm.CallRunner` on a `CallStore` (kind "synthesis", and "synthesis-check" for the
checker): the key hashes the teacher, its decoding parameters, the prompt version, the record id and
everything the teacher is told, so a kill and rerun pays for nothing twice, and `--budget-usd` caps the spend.
The filter runs on stored answers, so changing a threshold and rerunning (after removing the output files)
costs nothing. Output files are append-only and skip ids already written: a record decided once stays decided.
Governance: credentialed samples only go to a local teacher or to a provider the user allows.

`teacher: builtin:template` is an offline deterministic teacher for the tiny CPU pipeline and demos (no HTTP,
no store): it writes a fixed pattern around the reference, not real reasoning.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medix_train.data import read_records
from medix_train.synthesis_filter import REASONS, Verdict, judge_answer
from medix_train.teacher_prompt import (
    CHECK_VERSION,
    IMAGE_SIZE,
    PROMPT_VERSION,
    TEMPLATE_TEACHER,
    LabelledBox,
    checker_messages,
    checker_reask,
    image_data_url,
    parse_yes_no,
    question_of,
    teacher_messages,
    template_teacher,
)
from xraybench.config import load_config, option
from xraybench.datasets import dataset_facts, is_credentialed
from xraybench.errors import DataFormatError, XrayBenchError
from xraybench.files import AppendLog, read_jsonl
from xraybench.llm.calls import Estimate
from xraybench.llm.options import DryRun, LLMOptions, llm_option
from xraybench.metrics.answer_score import VARIANTS
from xraybench.metrics.grounding import reference_boxes
from xraybench.progress import progress_bar
from xraybench.prompts import render_prompt
from xraybench.records import Sample
from xraybench.retry import RetryPolicy

KIND = "synthesis"
CHECK_KIND = "synthesis-check"
PROMPT_STAGE = "coldstart_prompts"  # the `stage` of build-data's stage-2 prompt records
CHECKER_MAX_TOKENS = 64  # "yes" or "no", with room for a short preamble that would otherwise be cut off
EXPECTED_TEACHER_TOKENS = 600  # a few reasoning steps and the answer; used only for the dry-run estimate


@dataclass
class SynthesizeConfig(LLMOptions, DryRun):
    """Everything `synthesize` needs; loadable from YAML (`load_synthesize_config`) and from CLI flags.

    The teacher's call options are `LLMOptions`; the checker has its own server, key and price (`checker_*`) and
    shares the teacher's timeout, pacing and budget."""

    teacher: str | None = option(None, help="teacher: a litellm PROVIDER/MODEL string, or builtin:template (offline)")
    prompts: str | None = option(None, help="stage-2 prompt records (JSONL, as written by build-data)")
    out: str | None = option(None, help="output coldstart.jsonl (appended; ids already there are skipped)")
    rejected: str | None = option(None, help="rejected answers with reasons (default: rejected.jsonl beside --out)")
    store: str | None = option(None, help="call store (default: synthesis.sqlite beside --out)")
    max_tokens: int = llm_option("max_tokens", 2048)
    send_images: bool = option(False, help="send the image (512x512 PNG data URL) to a vision teacher")
    min_answer_score: float = option(0.5, help="keep answers whose answer score vs the reference is at least this")
    answer_variant: str = option("paper", help="answer-score variant: paper (character BLEU) or word")
    min_boxes: int = option(1, help="boxes the first think block must cite")
    checker: str | None = option(None, help="optional second model asked whether the reasoning supports the answer")
    checker_api_base: str | None = llm_option("api_base", who="checker")
    checker_api_key_env: str | None = llm_option("api_key_env", who="checker")
    checker_price_per_1k_tokens: float | None = llm_option("price_per_1k_tokens", who="checker")
    limit: int | None = option(None, help="use only the first N prompt records")

    def validate(self) -> None:
        """Clear errors for what the dataclass types cannot say."""
        if not self.teacher:
            raise XrayBenchError("synthesize needs a teacher: --teacher PROVIDER/MODEL (or builtin:template)")
        for name in ("prompts", "out"):
            if not getattr(self, name):
                raise XrayBenchError(f"synthesize needs `{name}` (--{name} FILE or `{name}:` in the config)")
        if self.answer_variant not in VARIANTS:
            raise XrayBenchError(f"answer_variant must be one of {', '.join(VARIANTS)}, got {self.answer_variant!r}")
        if not 0.0 <= self.min_answer_score <= 1.0:
            raise XrayBenchError(f"min_answer_score must be in [0, 1], got {self.min_answer_score}")
        if self.min_boxes < 0:
            raise XrayBenchError(f"min_boxes must be >= 0, got {self.min_boxes}")
        if self.limit is not None and self.limit < 1:
            raise XrayBenchError(f"limit must be at least 1, got {self.limit}")

    @property
    def out_path(self) -> Path:
        return Path(str(self.out))

    @property
    def rejected_path(self) -> Path:
        return Path(self.rejected) if self.rejected else self.out_path.parent / "rejected.jsonl"

    @property
    def store_path(self) -> Path:
        return Path(self.store) if self.store else self.out_path.parent / "synthesis.sqlite"


def load_synthesize_config(path: str | Path | None = None, **overrides: Any) -> SynthesizeConfig:
    """The YAML config (if any) with `overrides` (CLI values; None means "not given") on top, type-checked by the
    one loader of every command (`xraybench.config.load_config`)."""
    return load_config(SynthesizeConfig, path, **overrides)


# -- prompt records ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One prompt record to synthesize for: its sample view (for governance and boxes) and what the teacher is told."""

    record: dict[str, Any]
    sample: Sample
    question: str
    answer_form: str
    boxes: list[LabelledBox]

    @property
    def id(self) -> str:
        return str(self.record["id"])


def read_jobs(path: Path, limit: int | None = None) -> list[Job]:
    """The stage-2 prompt records of `path` (validated by `medix_train.data.read_records`) as jobs."""
    records = read_records(path, PROMPT_STAGE)
    return [_job_of(r, path) for r in records[:limit]]


def _job_of(record: dict[str, Any], path: Path) -> Job:
    source = record["source"]
    metadata = record.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise DataFormatError(path, '"metadata" must be an object', record=record["id"])
    dataset = source["dataset"]
    # a record that does not say, of a dataset no loader here knows (a plugin not installed, a typo), cannot be told
    # apart from MIMIC-CXR: refused, never sent; a known dataset's own rule applies below
    flag = source.get("credentialed", dataset_facts(dataset) is None)
    if not isinstance(flag, bool):
        raise DataFormatError(path, '"source.credentialed" must be true or false', record=record["id"])
    prompt_text = record["prompt"][0]["content"][-1]["text"]
    sample = Sample(
        id=source["sample_id"], task=source["task"], dataset=dataset, split=source["split"], prompt=prompt_text,
        reference=record["ground_truth"], image_paths=record["images"], metadata=dict(metadata),
        credentialed=flag,
    )  # fmt: skip
    # the record's flag can only add to the dataset's per-sample rule (the run's and the judges' too): a record
    # without it, or one saying false, of a ReXrank MIMIC-CXR study is still credentialed
    sample.credentialed = is_credentialed(sample)
    return Job(record, sample, question_of(prompt_text), record["answer_form"], _boxes_512(sample, path, record["id"]))


def _boxes_512(sample: Sample, path: Path, record_id: str) -> list[LabelledBox]:
    """The sample's known boxes, labelled, scaled from its image size (metadata, else the file) to 512x512."""
    raw = sample.metadata.get("bboxes") or []
    if not raw:
        return []
    if not sample.metadata.get("image_size"):
        if not sample.image_paths:
            raise DataFormatError(path, '"metadata.bboxes" need "metadata.image_size" or an image', record=record_id)
        sample.metadata["image_size"] = list(_image_size(sample.image_paths[0], path, record_id))
    try:
        scaled = reference_boxes(sample, IMAGE_SIZE)
    except XrayBenchError as exc:
        raise DataFormatError(path, str(exc), record=record_id) from exc
    labels = [str(box[4]) if len(box) > 4 else "finding" for box in raw]
    return [(label, [round(v, 1) for v in box]) for label, box in zip(labels, scaled, strict=True)]


def _image_size(image: str, path: Path, record_id: str) -> tuple[int, int]:
    from xraybench.lazy import require

    image_mod = require("PIL.Image", "hf", "reading image sizes for box scaling")
    try:
        with image_mod.open(image) as img:
            return img.size
    except OSError as exc:
        raise DataFormatError(path, f"cannot open image {image} to scale its boxes: {exc}", record=record_id) from exc


# -- output files ---------------------------------------------------------------------------------------------


# Why the safe sentence holds: a teacher's answer is in the call store before it is filtered and written, so a
# rerun after a failed write decides the same records again without paying for them twice.
_SAFE = "every record written before is intact, and the teacher answers are kept in the call store"


def _output_log(path: Path) -> AppendLog:
    """An output of synthesis: append-only records with unique ids (`xraybench.files.AppendLog`)."""
    return AppendLog(path, safe=_SAFE, key=lambda r: str(r["id"]), what='a JSON object with an "id"')


def chat_record(job: Job, text: str, teacher: str, score: float | None) -> dict[str, Any]:
    """A coldstart chat record (DATA_FORMAT.md): reasoning-template prompt, the teacher's answer as the target."""
    content: list[dict[str, Any]] = [{"type": "image"} for _ in job.record["images"]]
    content.append({"type": "text", "text": render_prompt(job.question, "reasoning")})
    source = {**(job.record.get("source") or {}), "teacher": teacher, "answer_score": score}
    return {
        "id": job.id,
        "stage": "coldstart",
        "source": source,
        "images": job.record["images"],
        "messages": [
            {"role": "user", "content": content},
            {"role": "assistant", "content": [{"type": "text", "text": text.strip()}]},
        ],
    }


def rejected_record(job: Job, text: str, teacher: str, verdict: Verdict) -> dict[str, Any]:
    return {
        "id": job.id, "source": job.record.get("source") or {}, "teacher": teacher, "reason": verdict.reason,
        "detail": verdict.detail, "answer": verdict.answer, "answer_score": verdict.score,
        "ground_truth": job.sample.reference, "text": text,
    }  # fmt: skip


# -- the run ----------------------------------------------------------------------------------------------------


@dataclass
class SynthesisReport:
    """What a synthesis run did. `n_pending` records are undecided (a failed call, the budget, another process):
    a rerun picks them up. Costs add up teacher and checker spend of this run."""

    teacher: str
    n_records: int = 0
    n_done_before: int = 0
    n_kept: int = 0
    n_rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    n_pending: int = 0
    n_requests: int = 0
    cost_usd: float = 0.0
    estimate: Estimate | None = None
    budget_stopped: bool = False
    failures: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False
    out: str = ""
    rejected: str = ""

    def summary_lines(self) -> list[str]:
        """The final summary a person reads: kept, dropped by reason, pending, cost."""
        lines = [f"synthesis with {self.teacher}: {self.n_records} prompt records, {self.n_done_before} done before"]
        if self.dry_run:
            est = self.estimate
            cost = "unknown price" if est is None or est.cost_usd is None else f"~${est.cost_usd:.4f}"
            n = 0 if est is None else est.n_calls
            lines.append(f"dry run: {n} teacher calls to make, {cost} (checker calls are estimated after the filter)")
            return lines
        lines.append(f"kept {self.n_kept} -> {self.out}")
        lines.append(f"dropped {self.n_rejected} -> {self.rejected}")
        lines.extend(f"  {reason}: {n}" for reason, n in sorted(self.rejected_by_reason.items()))
        if self.n_pending:
            why = " (budget cap reached)" if self.budget_stopped else ""
            lines.append(f"pending {self.n_pending}{why}: rerun to continue")
        if self.failures:
            lines.append(f"failed calls {len(self.failures)}, first: {self.failures[0].get('error', '')}")
        lines.append(f"requests {self.n_requests}, cost ${self.cost_usd:.4f}")
        return lines


def synthesize(
    config: SynthesizeConfig, *, progress: bool = True, policy: RetryPolicy | None = None
) -> SynthesisReport:
    """Synthesize, filter and write cold-start samples for every prompt record not already decided.

    `policy` is how transient failures (429, 5xx, timeouts) are retried; the default is `config.policy()`
    (`RetryPolicy` with `config.max_attempts`).
    """
    config.validate()
    jobs = read_jobs(Path(str(config.prompts)), config.limit)
    report = SynthesisReport(str(config.teacher), n_records=len(jobs), dry_run=config.dry_run)
    report.out, report.rejected = str(config.out_path), str(config.rejected_path)
    teacher: _Teacher = _TemplateTeacher() if config.teacher == TEMPLATE_TEACHER else _LLMTeacher(config, policy)
    try:
        if config.dry_run:
            todo = _undecided(jobs, _ids_in(config.out_path) | _ids_in(config.rejected_path), report)
            teacher.check_governance(todo, config)
            report.estimate = teacher.estimate(todo)
            return report
        kept, dropped = _output_log(config.out_path), _output_log(config.rejected_path)
        todo = _undecided(jobs, {str(k) for k in kept.keys | dropped.keys}, report)
        teacher.check_governance(todo, config)
        _run(config, teacher, todo, kept, dropped, report, progress)
    finally:
        teacher.close()
    teacher.fill(report)
    return report


def _undecided(jobs: list[Job], decided: set[str], report: SynthesisReport) -> list[Job]:
    todo = [j for j in jobs if j.id not in decided]
    report.n_done_before = len(jobs) - len(todo)
    return todo


def _run(
    config: SynthesizeConfig, teacher: _Teacher, todo: list[Job], kept: AppendLog, dropped: AppendLog,
    report: SynthesisReport, progress: bool,
) -> None:  # fmt: skip
    """Answer, filter and write `todo` chunk by chunk (outputs grow as the run goes; a budget stop ends it)."""
    reasons: Counter[str] = Counter()
    chunks = list(_chunks(todo, max(32, 4 * config.max_concurrency)))
    with progress_bar(len(todo), "synthesis", enabled=progress) as advance:
        for index, chunk in enumerate(chunks):
            answered: list[tuple[Job, str, Verdict]] = []
            for job, text in teacher.answers(chunk):
                if text is None:
                    report.n_pending += 1
                    continue
                verdict = judge_answer(
                    text, job.sample.reference, min_score=config.min_answer_score,
                    variant=config.answer_variant, min_boxes=config.min_boxes,  # type: ignore[arg-type]
                )  # fmt: skip
                answered.append((job, text, verdict))
            for (job, text, _), verdict in zip(answered, teacher.second_opinions(answered), strict=True):
                if verdict is None:
                    report.n_pending += 1
                elif verdict.kept:
                    kept.append([chat_record(job, text, str(config.teacher), verdict.score)])
                    report.n_kept += 1
                else:
                    dropped.append([rejected_record(job, text, str(config.teacher), verdict)])
                    reasons[str(verdict.reason)] += 1
            advance(len(chunk))
            if teacher.budget_stopped():
                report.n_pending += sum(len(c) for c in chunks[index + 1 :])
                break
    report.n_rejected = sum(reasons.values())
    report.rejected_by_reason = {r: reasons[r] for r in REASONS if reasons[r]}


def _ids_in(path: Path) -> set[str]:
    """Ids of a JSONL output without touching the file (a dry run writes nothing; a torn last line is left out)."""
    if not path.exists():
        return set()
    return {str(r.get("id")) for _, r in read_jsonl(path, what='a JSON object with an "id"')}


def _chunks(jobs: list[Job], size: int) -> Iterator[list[Job]]:
    for start in range(0, len(jobs), size):
        yield jobs[start : start + size]


# -- teachers -----------------------------------------------------------------------------------------------


class _Teacher(ABC):
    """What `synthesize` needs of a teacher: answers per job (None = undecided), a second opinion, accounting."""

    def check_governance(self, jobs: list[Job], config: SynthesizeConfig) -> None:
        """Nothing leaves the machine by default."""
        return None

    def estimate(self, jobs: list[Job]) -> Estimate:
        return Estimate(0, 0, 0, 0.0)

    @abstractmethod
    def answers(self, jobs: list[Job]) -> Iterator[tuple[Job, str | None]]:
        """Each job with its teacher's text, or None when there is no answer yet (failed call, budget)."""

    def second_opinions(self, answered: list[tuple[Job, str, Verdict]]) -> list[Verdict | None]:
        """The final verdicts (None = undecided); without a checker, the filter's."""
        return [verdict for _, _, verdict in answered]

    def budget_stopped(self) -> bool:
        return False

    def fill(self, report: SynthesisReport) -> None:
        """Add requests, cost and failures to the report."""
        return None

    def close(self) -> None:
        """Release resources (the call store)."""
        return None


class _TemplateTeacher(_Teacher):
    """`builtin:template`: deterministic, offline, free (see `teacher_prompt.template_teacher`)."""

    def answers(self, jobs: list[Job]) -> Iterator[tuple[Job, str | None]]:
        for job in jobs:
            yield job, template_teacher(job.question, job.sample.reference, job.boxes)


class _LLMTeacher(_Teacher):
    """A litellm teacher (and optional checker) through `CallRunner` on the synthesis call store."""

    def __init__(self, config: SynthesizeConfig, policy: RetryPolicy | None):
        from xraybench.callstore import CallStore

        self.config = config
        self.client = config.client(str(config.teacher))
        self.checker = None
        if config.checker:
            self.checker = config.client(
                config.checker, prefix="checker_", temperature=0.0, max_tokens=CHECKER_MAX_TOKENS
            )
        self.store = CallStore(config.store_path)
        policy = policy or config.policy()
        self.runner = config.runner(
            self.client, self.store, policy=policy, expected_completion_tokens=EXPECTED_TEACHER_TOKENS
        )
        self.check_runner = None
        if self.checker is not None:
            self.check_runner = config.runner(self.checker, self.store, policy=policy, expected_completion_tokens=2)
            self.check_runner.budget = self.runner.budget  # one cap over teacher and checker spend together

    def check_governance(self, jobs: list[Job], config: SynthesizeConfig) -> None:
        samples = [j.sample for j in jobs]
        config.check_governance(samples, self.client, action="synthesize")
        if self.checker is not None:
            config.check_governance(samples, self.checker, action="synthesize")

    def _identity(self, job: Job) -> dict[str, Any]:
        return {
            "kind": KIND, "teacher": self.client.model, "params": self.client.params, "prompt_version": PROMPT_VERSION,
            "record": job.id, "question": job.question, "reference": job.sample.reference,
            "answer_form": job.answer_form, "boxes": [[label, box] for label, box in job.boxes],
            "image": job.sample.image_paths[0] if self.config.send_images and job.sample.image_paths else None,
        }  # fmt: skip

    def _call(self, job: Job, with_image: bool = True) -> Any:
        from xraybench.callstore import CallStore
        from xraybench.llm.calls import LLMCall

        identity = self._identity(job)
        image = identity["image"]
        url = image_data_url(image) if image is not None and with_image else None
        messages = teacher_messages(job.question, job.sample.reference, job.answer_form, job.boxes, url)
        # The answer is filtered after it is stored, so any text is a result: no re-ask, and a rerun never pays
        # again for an answer the filter drops.
        return LLMCall(
            CallStore.key_of(**identity), identity, messages, parse=lambda text: {"chars": len(text)},
            parser_version=PROMPT_VERSION, label={"record": job.id},
        )  # fmt: skip

    def estimate(self, jobs: list[Job]) -> Estimate:
        calls = [self._call(j) for j in jobs]
        return self.runner.estimate(self.runner.pending(calls))

    def answers(self, jobs: list[Job]) -> Iterator[tuple[Job, str | None]]:
        calls = [self._call(j) for j in jobs]
        self.runner.run(calls)
        for job, call in zip(jobs, calls, strict=True):
            row = self.store.get(call.key)
            yield job, (row.raw_text if row is not None and row.ok else None)

    def second_opinions(self, answered: list[tuple[Job, str, Verdict]]) -> list[Verdict | None]:
        """Ask the checker (stored like the teacher's calls) whether each kept answer's reasoning supports it."""
        if self.checker is None or self.check_runner is None:
            return super().second_opinions(answered)
        from xraybench.callstore import CallStore
        from xraybench.llm.calls import LLMCall

        calls: dict[int, LLMCall] = {}
        for i, (job, text, verdict) in enumerate(answered):
            if not verdict.kept:
                continue
            identity = {
                "kind": CHECK_KIND, "checker": self.checker.model, "params": self.checker.params,
                "prompt_version": CHECK_VERSION, "record": job.id, "question": job.question, "text": text,
            }  # fmt: skip
            messages = checker_messages(job.question, text, verdict.answer)
            calls[i] = LLMCall(
                CallStore.key_of(**identity), identity, messages, parse=parse_yes_no, reask=_reask_of(messages),
                parser_version=CHECK_VERSION, label={"record": job.id, "check": True},
            )  # fmt: skip
        if calls:
            self.check_runner.run(list(calls.values()))
        out: list[Verdict | None] = []
        for i, (_, _, verdict) in enumerate(answered):
            row = self.store.get(calls[i].key) if i in calls else None
            if i not in calls:
                out.append(verdict)
            elif row is None or not row.ok:
                out.append(None)
            elif row.parsed == "yes":
                out.append(verdict)
            else:
                out.append(Verdict("checker_rejected", verdict.answer, verdict.score, f"{self.checker.model}: no"))
        return out

    def budget_stopped(self) -> bool:
        return self.runner.budget.stopped.is_set()

    def fill(self, report: SynthesisReport) -> None:
        runners = [r for r in (self.runner, self.check_runner) if r is not None]
        report.n_requests = sum(r.report.n_requests for r in runners)
        report.cost_usd = self.runner.budget.spent  # the checker shares the teacher's budget object
        report.budget_stopped = self.budget_stopped()
        report.failures = [f for r in runners for f in r.report.failures]

    def close(self) -> None:
        self.store.close()


def _reask_of(messages: list[dict[str, Any]]) -> Callable[[str], list[dict[str, Any]]]:
    return lambda bad: checker_reask(messages, bad)
