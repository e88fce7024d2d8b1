"""Training records for the three DeepMedix-R1 stages, built from the datasets' TRAIN splits, and their reader.

`build_data(config)` reads each configured task's train split through the benchmark's own loaders (so the
training data is exactly what the evaluation's parsers see, with the task's options) and writes one JSONL:
- stage `sft`: chat records, the plain prompt and the reference answer as the assistant turn;
- stage `grpo`: prompt records with the reasoning-template prompt and the ground truth the reward scores;
- stage `coldstart`: the prompts the teacher is asked (`coldstart_prompts.jsonl`, prompt records like grpo's,
  with the sample's box metadata); `xraybench train synthesize` turns them into `coldstart.jsonl` chat records.
The format is `.helpers/s2/DATA_FORMAT.md` (documented in docs/training-recipe.md).

Before anything is written, every record's images and study are checked against the evaluation splits of the
same dataset (and of datasets sharing its studies, e.g. MIMIC-CXR and the MIMIC VQA sets): a match refuses
the build (or, with `on_leak: drop`, drops that record and counts it). Writing is append-only and resumable:
ids already in the output are skipped, and a line torn by a kill is cut off first (`xraybench.files.AppendLog`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xraybench.config import Seeded, build_config, option, read_yaml, renamed_keys, shared_option
from xraybench.datasets import dataset_facts
from xraybench.errors import DataFormatError, XrayBenchError
from xraybench.files import AppendLog, write_atomic
from xraybench.progress import progress_bar
from xraybench.prompts import render_prompt
from xraybench.records import Sample
from xraybench.taskdata import data_source_option, load_task, parse_data_roots
from xraybench.tasks import TASKS, get_task

STAGES = ("sft", "coldstart", "grpo")
# what build-data writes per stage (the record's "stage" and the default file name)
RECORD_STAGES = {"sft": "sft", "coldstart": "coldstart_prompts", "grpo": "grpo"}
CHAT_STAGES = ("sft", "coldstart")
PROMPT_STAGES = ("grpo", "coldstart_prompts")
SUMMARY_SCHEMA_VERSION = 1  # `<records>.summary.json`'s `schema_version` (`xraybench.schema`)
WRITE_BATCH = 64  # records per fsynced append: durable as the build goes, without one fsync per record
ANSWER_FORMS = ("list", "short", "report")
LEAK_ACTIONS = ("error", "drop")
PASSED_METADATA = ("bboxes", "image_size", "study_id", "answer_type", "category")  # kept on prompt records


@dataclass
class BuildDataConfig:
    """One stage's data build; `load_build_config` reads it from a YAML with a section per stage."""

    stage: str = option("sft", help="sft, coldstart (the teacher's prompts) or grpo")
    tasks: list[str] = option([], help="tasks whose train split is used (names from `xraybench list`)",
                              split_commas=True)  # fmt: skip
    data_roots: list[str] = data_source_option()  # --data-root NAME=PATH, --data-option NAME.KEY=VALUE
    out_dir: str = option("medix_data", help="output folder")
    out: str | None = option(None, help="output file (default: OUT_DIR/<stage>.jsonl; coldstart_prompts.jsonl)")
    split: str = option("train", help="split the records are built from")
    limit: int | None = option(None, help="at most N samples per task (a seeded subset)")
    limits: dict[str, int] = field(default_factory=dict)  # per-task caps overriding `limit` (YAML only)
    seed: int = shared_option(Seeded, "seed", help="seed of the per-task subset")
    on_leak: str = option("error", help="a record sharing an image or study with an evaluation split: error or drop")
    progress: bool = option(True, help="show a progress bar")

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise XrayBenchError(f"stage: expected one of {', '.join(STAGES)}, got {self.stage!r}")
        if self.on_leak not in LEAK_ACTIONS:
            raise XrayBenchError(f"on_leak: expected one of {', '.join(LEAK_ACTIONS)}, got {self.on_leak!r}")
        for name, cap in [("limit", self.limit), *((f"limits.{t}", n) for t, n in self.limits.items())]:
            if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap <= 0):
                raise XrayBenchError(f"{name} must be a positive number of samples, got {cap!r}")
        for name in [*self.tasks, *self.limits]:
            get_task(name)  # unknown names fail early, with "did you mean"
        unused = sorted(set(self.limits) - set(self.tasks))
        if unused:
            raise XrayBenchError(f"limits name task(s) not in tasks: {', '.join(unused)}")

    @property
    def record_stage(self) -> str:
        return RECORD_STAGES[self.stage]

    @property
    def out_path(self) -> Path:
        return Path(self.out) if self.out else Path(self.out_dir) / f"{self.record_stage}.jsonl"


def load_build_config(path: str | Path | None, stage: str, **overrides: Any) -> BuildDataConfig:
    """The `stage` config from a YAML: top-level keys are shared, a `sft:`/`coldstart:`/`grpo:` section adds
    or overrides keys for that stage; `overrides` (CLI values, None = not given) win. Types are coerced as for
    every command's YAML (`xraybench.config.build_config`)."""
    values: dict[str, Any] = {}
    where = "command line"
    if path is not None:
        where = str(path)
        loaded = read_yaml(path)
        section = loaded.get(stage) or {}
        if not isinstance(section, dict):
            raise XrayBenchError(f"{path}: section {stage!r} must be a mapping of settings")
        values = renamed_keys(BuildDataConfig, {k: v for k, v in loaded.items() if k not in STAGES}, where=where)
        values.update(renamed_keys(BuildDataConfig, section, where=where))
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["stage"] = stage
    return build_config(BuildDataConfig, values, where=where)


# --- records ---------------------------------------------------------------------------------------------


def answer_form(truth: str) -> str:
    """The reward's branch for a ground truth: '|' and <= 20 words -> list; <= 2 words -> short; else report."""
    words = len(truth.split())
    if "|" in truth and words <= 20:
        return "list"
    return "short" if words <= 2 else "report"


def record_id(sample: Sample) -> str:
    return f"{sample.task}/{sample.id}/{sample.split}"


def _user_content(n_images: int, text: str) -> list[dict[str, Any]]:
    return [*({"type": "image"} for _ in range(n_images)), {"type": "text", "text": text}]


def _source(sample: Sample) -> dict[str, Any]:
    return {"dataset": sample.dataset, "task": sample.task, "split": sample.split, "sample_id": sample.id,
            "credentialed": sample.credentialed}  # fmt: skip


def make_record(sample: Sample, record_stage: str) -> dict[str, Any]:
    """One record of `record_stage` (sft, grpo or coldstart_prompts) for a sample."""
    images = [os.path.abspath(p) for p in sample.image_paths]
    base = {"id": record_id(sample), "stage": record_stage, "source": _source(sample), "images": images}
    if record_stage == "sft":
        return {**base, "messages": [
            {"role": "user", "content": _user_content(len(images), render_prompt(sample.prompt, "plain"))},
            {"role": "assistant", "content": [{"type": "text", "text": sample.reference}]},
        ]}  # fmt: skip
    prompt = [{"role": "user", "content": _user_content(len(images), render_prompt(sample.prompt, "reasoning"))}]
    record = {**base, "prompt": prompt, "ground_truth": sample.reference, "answer_form": answer_form(sample.reference)}
    metadata = {k: sample.metadata[k] for k in PASSED_METADATA if k in sample.metadata}
    if metadata:
        record["metadata"] = metadata
    return record


# --- leakage ---------------------------------------------------------------------------------------------


def _space(dataset: str) -> str:
    """The dataset's study space as its file declares it (`Dataset.study_space`): MIMIC-CXR and the VQA sets
    built on its studies share one; a name no loader knows is its own."""
    facts = dataset_facts(dataset)
    return facts.space if facts is not None else dataset


def study_key(sample: Sample) -> tuple[str, str] | None:
    """The study a sample shows: `metadata["study_id"]`, or the id of a report sample (one per study)."""
    study = sample.metadata.get("study_id")
    if not study and get_task(sample.task).kind == "report":
        study = sample.id
    return (_space(sample.dataset), str(study)) if study else None


@dataclass
class HeldOut:
    """Images and studies of the evaluation splits a build must not touch."""

    images: set[str] = field(default_factory=set)
    studies: set[tuple[str, str]] = field(default_factory=set)
    tasks: list[str] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)

    def leak(self, sample: Sample) -> str | None:
        """Why the sample leaks into an evaluation split, or None."""
        for path in sample.image_paths:
            if os.path.realpath(path) in self.images:
                return f"image {path} is in an evaluation split"
        key = study_key(sample)
        if key is not None and key in self.studies:
            return f"study {key[1]} ({key[0]}) is in an evaluation split"
        return None


def held_out(datasets: Iterable[str], roots: dict[str, str]) -> HeldOut:
    """Load the evaluation split of every task on the given datasets' study spaces.

    A dataset the build reads must load; a related one without a data root (e.g. ext_vqa next to mimic_cxr)
    is listed as unavailable.
    """
    used = set(datasets)
    spaces = {_space(d) for d in used}
    out = HeldOut()
    for task in TASKS.values():
        if _space(task.dataset) not in spaces:
            continue
        try:
            data = load_task(task.name, roots)
        except XrayBenchError as exc:
            if task.dataset in used:
                raise XrayBenchError(
                    f"cannot load the evaluation split of {task.name} for the leakage check: {exc}"
                ) from exc
            out.unavailable.append(task.name)
            continue
        out.tasks.append(f"{task.name}:{task.split}")
        for sample in data.samples:
            out.images.update(os.path.realpath(p) for p in sample.image_paths)
            key = study_key(sample)
            if key is not None:
                out.studies.add(key)
    return out


# --- build -----------------------------------------------------------------------------------------------


def build_data(config: BuildDataConfig) -> Path:
    """Write the stage's records (resumable) and a `<out>.summary.json`; returns the records file."""
    if not config.tasks:
        raise XrayBenchError(f"build-data --stage {config.stage}: no tasks configured (key 'tasks')")
    roots = parse_data_roots(config.data_roots)
    samples: list[Sample] = []
    per_task: dict[str, dict[str, Any]] = {}
    for name in config.tasks:
        data = load_task(name, roots, split=config.split, limit=config.limits.get(name, config.limit), seed=config.seed)
        samples.extend(data.samples)
        per_task[name] = {"samples": len(data.samples), "population": data.population, "dropped": data.dropped}
    held = held_out({s.dataset for s in samples}, roots)
    leaks = [(s, why) for s in samples if (why := held.leak(s)) is not None]
    if leaks and config.on_leak == "error":
        sample, why = leaks[0]
        raise XrayBenchError(
            f"build-data refused: {len(leaks)} of {len(samples)} {config.split} samples overlap an evaluation split "
            f"({', '.join(held.tasks)}); first: {record_id(sample)}: {why}. Fix the split, or set on_leak: drop."
        )
    leaked = {id(s) for s, _ in leaks}
    kept = [s for s in samples if id(s) not in leaked]
    for sample in kept:
        missing = [p for p in sample.image_paths if not os.path.exists(p)]
        if not sample.image_paths or missing:
            raise XrayBenchError(f"{record_id(sample)}: image file(s) missing: {missing or 'no image path'}")
    path = config.out_path
    records = AppendLog(
        path, safe="every record written before is intact; a rerun skips their ids", key=lambda r: str(r["id"]),
        what='a JSON record with an "id"',
    )  # fmt: skip
    todo = [s for s in kept if record_id(s) not in records]
    with progress_bar(len(todo), f"build-data {config.stage}", enabled=config.progress) as advance:
        for start in range(0, len(todo), WRITE_BATCH):
            batch = todo[start : start + WRITE_BATCH]
            records.append(make_record(sample, config.record_stage) for sample in batch)
            advance(len(batch))
    summary = {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "stage": config.stage, "record_stage": config.record_stage, "split": config.split, "records": str(path),
        "written": len(todo), "already_present": len(kept) - len(todo), "leaks_dropped": len(leaks),
        "leak_examples": [f"{record_id(s)}: {why}" for s, why in leaks[:5]], "tasks": per_task,
        "checked_against": held.tasks, "not_checked": held.unavailable, "config": dataclasses.asdict(config),
    }  # fmt: skip
    write_atomic(Path(f"{path}.summary.json"), json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                 safe=f"every record is intact in {path}; rerun the same command to write the summary")  # fmt: skip
    return path


# --- reading ---------------------------------------------------------------------------------------------


def read_records(path: str | Path, stage: str, *, check_images: bool = True) -> list[dict[str, Any]]:
    """Every record of a JSONL of `stage` (sft, coldstart, grpo or coldstart_prompts), validated.

    Relative image paths are resolved against the file's folder. Any problem raises `DataFormatError`
    naming the file, the line and what was expected.
    """
    chat = stage in CHAT_STAGES
    if not chat and stage not in PROMPT_STAGES:
        raise XrayBenchError(
            f"unknown record stage {stage!r}; expected one of {', '.join(CHAT_STAGES + PROMPT_STAGES)}"
        )
    path = Path(path)
    if not path.is_file():
        raise XrayBenchError(f"record file not found: {path}")
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataFormatError(path, f"not valid JSON ({exc.msg})", line=line_no) from exc
            _check_record(record, stage, chat, path, line_no, check_images)
            if record["id"] in seen:
                raise DataFormatError(path, f"duplicate id {record['id']!r}", line=line_no)
            seen.add(record["id"])
            records.append(record)
    if not records:
        raise DataFormatError(path, f"no {stage} records in the file")
    return records


def _check_record(record: Any, stage: str, chat: bool, path: Path, line: int, check_images: bool) -> None:
    def expect(ok: bool, what: str) -> None:
        if not ok:
            raise DataFormatError(path, f"expected {what}", line=line)

    expect(isinstance(record, dict), "a JSON object")
    expect(isinstance(record.get("id"), str) and bool(record["id"]), 'a non-empty string "id"')
    expect(record.get("stage") == stage, f'"stage": "{stage}", got {record.get("stage")!r}')
    source = record.get("source")
    expect(isinstance(source, dict) and all(isinstance(source.get(k), str) for k in ("dataset", "task", "split",
           "sample_id")), '"source" with string dataset, task, split and sample_id')  # fmt: skip
    images = record.get("images")
    expect(isinstance(images, list) and all(isinstance(i, str) and i for i in images), '"images": a list of paths')
    record["images"] = [i if os.path.isabs(i) else str((path.parent / i).resolve()) for i in images]
    if check_images:
        missing = [i for i in record["images"] if not os.path.isfile(i)]
        expect(not missing, f"existing image files, missing {missing}")
    if chat:
        messages = record.get("messages")
        expect(isinstance(messages, list) and len(messages) == 2, '"messages": [user turn, assistant turn]')
        _check_user(messages[0], len(images), expect)
        assistant = messages[1]
        expect(isinstance(assistant, dict) and assistant.get("role") == "assistant", "an assistant turn second")
        content = assistant.get("content")
        expect(isinstance(content, list) and len(content) == 1 and isinstance(content[0], dict)
               and content[0].get("type") == "text" and isinstance(content[0].get("text"), str)
               and content[0]["text"].strip() != "", 'assistant content [{"type": "text", "text": "<target>"}]')  # fmt: skip
        return
    prompt = record.get("prompt")
    expect(isinstance(prompt, list) and len(prompt) == 1, '"prompt": [one user turn]')
    _check_user(prompt[0], len(images), expect)
    truth = record.get("ground_truth")
    expect(isinstance(truth, str) and truth.strip() != "", 'a non-empty string "ground_truth"')
    form = record.get("answer_form")
    expect(form == answer_form(truth), f'"answer_form": "{answer_form(truth)}" (from the ground truth), got {form!r}')


def _check_user(message: Any, n_images: int, expect: Any) -> None:
    expect(isinstance(message, dict) and message.get("role") == "user", "a user turn first")
    content = message.get("content")
    wanted = f'user content: {n_images} {{"type": "image"}} item(s) (one per image) then one text item'
    expect(isinstance(content, list) and len(content) == n_images + 1, wanted)
    expect(all(isinstance(c, dict) and c.get("type") == "image" for c in content[:n_images]), wanted)
    last = content[-1]
    expect(isinstance(last, dict) and last.get("type") == "text" and isinstance(last.get("text"), str)
           and last["text"].strip() != "", wanted)  # fmt: skip
