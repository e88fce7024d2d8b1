"""The resumable evaluation runner.

A run folder holds `run.json` (the configuration that defines the run), `predictions.jsonl`
(append-only, one fsynced `AppendLog` batch per model call), `failures.jsonl` (items that failed after retries) and, once
scored, `results.json`. Re-running the same configuration on the folder resumes it: finished items
are never asked again, a torn last line from a `kill -9` is cut off, failures are retried.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from xraybench.config import (
    Bootstrap,
    MetricArgs,
    Seeded,
    config_keys,
    option,
    parse_metric_args,
    shared_option,
)
from xraybench.errors import DataFormatError, TransientError, XrayBenchError
from xraybench.files import AppendLog, DiskFullError, FolderLock, is_disk_full, read_jsonl, write_atomic
from xraybench.generate import GenerateConfig, current_names, generate_config
from xraybench.llm.meter import BudgetExhausted, attach_meter, run_usage
from xraybench.llm.options import LLMOptions
from xraybench.models import MODELS, ModelArgs, ModelContext, build_options, options_class, split_spec
from xraybench.models.base import identity_options, parse_model_args
from xraybench.parsing import parse_output
from xraybench.prompts import ImagePolicy, get_template, image_policy
from xraybench.records import Generation, Prediction, Sample
from xraybench.retry import ABORT_AFTER_FAILURES, FatalError, RetryPolicy, call_with_retries
from xraybench.schema import SCHEMA_KEY, check_schema
from xraybench.taskdata import TaskData, data_source_option, load_task, parse_data_roots
from xraybench.tasks import expand

RUN_FILE = "run.json"
PREDICTIONS_FILE = "predictions.jsonl"
FAILURES_FILE = "failures.jsonl"
RESULTS_FILE = "results.json"
LOCK_FILE = "run.lock"  # held (flock) by the one process writing the folder; see `xraybench.files.FolderLock`
# A model that fails this many whole batches in a row (bad key, wrong model name, server down past all
# retries) stops the run instead of marking every remaining item failed; a rerun resumes.


# RunConfig fields that fill the adapter option of the same name when the adapter declares it (`--api-base` is the
# `api_base` of `openai:`); the runner uses `batch_size` and `max_concurrency` itself for every adapter
RUN_MODEL_OPTIONS = ("name", "api_base", "api_key_env", "batch_size", "max_concurrency")


@dataclass
class RunConfig(GenerateConfig):
    """`xraybench run`: the decoding fields are `GenerateConfig`'s (one definition with judges and teachers)."""

    model: str = option(help="model spec, e.g. baseline:normal, hf:PATH, openai:MODEL, predictions:FILE")
    tasks: list[str] = option(help="comma-separated tasks and/or suites (see `xraybench list`)", split_commas=True)
    out: str = option(help="run folder: created if absent, resumed if it holds the same unfinished run")
    data_roots: list[str] = data_source_option()  # --data-root NAME=PATH and --data-option NAME.KEY=VALUE
    limit: int | None = option(None, help="score a seeded sample of at most N items per task")
    seed: int = shared_option(Seeded, "seed", help="seed for sampling items, decoding and bootstrap")
    template: str = option("plain", help="prompt template: plain | reasoning")
    name: str | None = option(
        None, help="the model's display name in predictions, results and the arena (default: the adapter's, e.g. "
        "the checkpoint folder's name); two checkpoints in folders of one name get two names this way",
    )  # fmt: skip
    model_args: list[str] = option(
        [], flag="--model-arg", repeat=True, pairs=True, metavar="KEY=VALUE",
        help="an option of the model adapter, typed and checked against the options it declares (repeatable; "
        "`xraybench list models` lists them), e.g. --model-arg device=cuda:1 --model-arg dtype=bfloat16",
    )  # fmt: skip
    # where an API model is served and its key: the judges' options (`xraybench.llm.options`), defined once
    api_base: str | None = shared_option(
        LLMOptions, "api_base", help="OpenAI-compatible server URL (vLLM, SGLang, Ollama) for openai:/litellm: models"
    )
    api_key_env: str | None = shared_option(LLMOptions, "api_key_env")
    batch_size: int | None = option(None, help="items per model call (default: the adapter's)")
    # the judges' and teachers' name (`LLMOptions.max_concurrency`); their default is 8, a run's the adapter's
    max_concurrency: int | None = option(
        None, deprecated=("concurrency",), help="model calls in flight at once (default: the adapter's)"
    )
    # the paid-call options of API models: one definition with judges and teachers (`xraybench.llm.options`)
    max_attempts: int = shared_option(LLMOptions, "max_attempts")
    price_per_1k_tokens: float | None = shared_option(LLMOptions, "price_per_1k_tokens")
    budget_usd: float | None = shared_option(LLMOptions, "budget_usd")
    rpm: float | None = shared_option(LLMOptions, "rpm")
    allow_provider: list[str] = shared_option(LLMOptions, "allow_provider")
    tokenizer: str = option("coco", help="tokenization for lexical metrics: coco | r2gen | raw")
    uncertain_as: str = option("positive", help="clinical efficacy: count uncertain labels as positive | negative")
    answer_variant: str = option("word", help="the paper's answer score: word (tokenised) | paper (character BLEU)")
    image_size: int | None = option(
        None,
        help="resize every image to SIZE x SIZE before the model sees it (its boxes are then in that space); "
        "default: the template's policy (reasoning: at most 262,144 pixels, aspect kept; plain: as is)",
    )
    extra_metrics: list[str] = option(
        [],
        help="comma-separated metric families to add to every task of a kind they score (refused when no task "
        "is), e.g. bertscore,chexbert,radgraph (report tasks; local weights)",
        split_commas=True,
    )
    skip_metrics: list[str] = option(
        [], help="comma-separated metric families not to compute (e.g. meteor)", split_commas=True
    )
    metric_args: list[str] = shared_option(MetricArgs, "metric_args")  # --metric-arg METRIC.KEY=VALUE
    bootstrap_rounds: int = shared_option(Bootstrap, "bootstrap_rounds")
    max_scored_chars: int = option(
        50_000,
        help="score at most this many characters of each answer; longer ones are cut and listed (docs/limits.md)",
    )
    progress: bool = option(True, help="show a progress bar")

    def __post_init__(self) -> None:
        super().__post_init__()
        # the command line's ["KEY=VALUE", ...], a dict or the adapter's Options dataclass: one dict from here on
        self.model_args = parse_model_args(self.model_args)  # type: ignore[assignment]
        self.metric_args = parse_metric_args(self.metric_args)  # type: ignore[assignment]  # metric -> {key: value}

    @classmethod
    def from_record(cls, record: dict[str, Any], where: str) -> RunConfig:
        """The config a run folder's run.json holds; old option names (`max_new_tokens`) read as today's."""
        values = current_names(cls, record)
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(values) - known)
        if unknown:
            raise XrayBenchError(
                f"{where}: settings this xraybench does not know: {', '.join(unknown)} (written by another version?)"
            )
        return cls(**values)

    def identity(self) -> dict[str, Any]:
        """The fields that decide what the predictions are; a resumed run must match them. A setting newer than
        run folders already written is in it only when set, so those folders still resume."""
        identity = {
            "model": self.model,
            "tasks": list(self.tasks),
            "limit": self.limit,
            "seed": self.seed,
            "template": self.template,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "api_base": self.api_base,
            "image_size": self.image_size,
        }
        if self.stop_seqs:
            identity["stop_seqs"] = list(self.stop_seqs)
        if self.name is not None:  # every prediction carries it
            identity["name"] = self.name
        # the adapter options that change predictions, but not those the run records itself (api_base, name)
        model_args = {k: v for k, v in identity_options(self.model_options()).items() if k not in RUN_MODEL_OPTIONS}
        if model_args:
            identity["model_args"] = model_args
        # the metric options that change a value (not device or batch size): a resume with others would mix numbers
        from xraybench.metrics.api import identity_options as metric_identity

        metric_args = metric_identity(self.metric_options())
        if metric_args:
            identity["metric_args"] = metric_args
        return identity

    def metric_options(self) -> dict[str, dict[str, Any]]:
        """`--metric-arg` values typed and checked against what each metric declares, for the metrics this run
        scores ("did you mean"; an option for a metric the run does not score is refused)."""
        from xraybench.metrics.api import metric_options, run_metrics

        if not self.metric_args:  # nothing to check (and tasks built in code, outside the registry, stay usable)
            return {}
        scored, fixed = run_metrics(self.tasks, self.extra_metrics, self.skip_metrics)
        return metric_options(self.metric_args, scored=scored, fixed=fixed)  # type: ignore[arg-type]

    def image_policy(self) -> ImagePolicy:
        """How images are sized for the model: `--image-size`, else the template's policy."""
        return image_policy(self.template, self.image_size)

    def generate_config(self) -> GenerateConfig:
        """The decoding the model is asked with (the run's `--seed` seeds sampled decoding)."""
        return generate_config(self)

    def model_options(self) -> ModelArgs:
        """The adapter's options: `--model-arg` values and the run's own flags of the same name (`--name`,
        `--api-base`, ...), typed and checked against what the adapter declares."""
        kind, _ = split_spec(self.model)
        cls = options_class(MODELS.get(kind))
        fields = set(cls.__dataclass_fields__)
        values = dict(self.model_args)  # type: ignore[call-overload]
        # an old name (the run's `--concurrency`, the adapter's `concurrency`) is the same option
        renamed = {**config_keys(type(self)), **config_keys(cls)}
        for key in RUN_MODEL_OPTIONS:
            flag = "--" + key.replace("_", "-")
            used = [k for k in values if k == key or renamed.get(k) == key]
            if used:
                raise XrayBenchError(f"--model-arg {used[0]}=...: set it with {flag} (one way per option)")
            value = getattr(self, key)
            if value is None:
                continue
            if key in fields:
                values[key] = value
            elif key not in ("batch_size", "max_concurrency"):  # those two the runner applies to any adapter
                raise XrayBenchError(f"{flag} does not apply to {kind}: models (its options: {', '.join(fields)})")
        return build_options(
            cls, values, spec=self.model, flags={k: "--" + k.replace("_", "-") for k in RUN_MODEL_OPTIONS}
        )


def rescoring_configs(
    a: RunConfig, b: RunConfig, metric_args: dict[str, dict[str, Any]] | None, names: tuple[str, str] = ("A", "B")
) -> tuple[RunConfig, RunConfig]:
    """Two runs' configs as `compare` rescores them: with `metric_args` (its `--metric-arg`) both, each for the
    metrics it scores; else each with the options its run.json records, refused when those differ for a metric
    both score (a paired test of two differently built metrics would be a wrong number)."""
    from dataclasses import replace

    from xraybench.metrics.api import identity_options, metric_options, run_metrics

    scored = [run_metrics(c.tasks, c.extra_metrics, c.skip_metrics)[0] for c in (a, b)]
    if metric_args:
        either = sorted(set(scored[0]) | set(scored[1]))
        # a metric neither run scored: "not scored" (or "did you mean"), pointing at the runs, not at a run flag
        metric_options(metric_args, scored=either, add_with="a run that scores {metric}: compare rescores only the "
                       "metrics the runs scored")  # fmt: skip
        a, b = (
            replace(c, metric_args={m: v for m, v in metric_args.items() if m in s})
            for c, s in zip((a, b), scored, strict=True)
        )
    options = [identity_options(c.metric_options()) for c in (a, b)]
    for metric in (m for m in scored[0] if m in scored[1]):
        mine, theirs = options[0].get(metric, {}), options[1].get(metric, {})
        diffs = [k for k in sorted(set(mine) | set(theirs)) if mine.get(k) != theirs.get(k)]
        if diffs:
            shown = "; ".join(
                f"{k}: {names[0]} {mine.get(k, 'default')!r}, {names[1]} {theirs.get(k, 'default')!r}" for k in diffs
            )
            raise XrayBenchError(
                f"the two runs score {metric} with different options ({shown}): a paired test needs the same metric "
                f"on both; rescore both the same way with --metric-arg {metric}.{diffs[0]}=VALUE"
            )
    return a, b


RUN_SCHEMA_VERSION = 1  # run.json's `schema_version` (`xraybench.schema`)


@dataclass
class RunRecord:
    """What `run.json` holds: the run's id and creation time, the identity a resume must match (`RunConfig.identity`
    plus dataset and model fingerprints) and the whole configuration. Versioned: a run.json written before
    versions were recorded is read as version 1; a newer one is refused with a message (`xraybench.schema`)."""

    run_id: str
    created_at: str
    identity: dict[str, Any]
    config: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {SCHEMA_KEY: RUN_SCHEMA_VERSION, **asdict(self)}

    @classmethod
    def read(cls, path: Path) -> RunRecord:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataFormatError(path, f"not valid JSON ({exc.msg}); expected a run record", line=exc.lineno) from None
        check_schema(data, RUN_SCHEMA_VERSION, path, "a run folder")
        if not isinstance(data, dict) or any(not isinstance(data.get(k), dict) for k in ("identity", "config")):
            raise DataFormatError(path, "expected a run record with run_id, created_at, identity and config")
        return cls(str(data.get("run_id", "")), str(data.get("created_at", "")), data["identity"], data["config"])


class RunFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def file(self, name: str) -> Path:
        return self.path / name

    def check_not_foreign(self) -> None:
        """Refuse a non-empty folder that holds no run (a user's own folder) before writing anything in it."""
        if self.file(RUN_FILE).exists() or not self.path.exists():
            return
        if not self.path.is_dir():
            raise XrayBenchError(f"{self.path} exists and is not a folder: refusing to write there")
        if any(p.name != LOCK_FILE for p in self.path.iterdir()):
            raise XrayBenchError(f"{self.path} exists, is not empty and holds no {RUN_FILE}: refusing to write there")

    def lock(self) -> FolderLock:
        """The folder's exclusive lock (use as `with folder.lock():`): a second `xraybench run` on the same
        folder is refused with the holder's pid instead of asking every item a second time."""
        self.check_not_foreign()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFullError(self.path, "nothing was written yet") from None
            raise XrayBenchError(f"cannot create the run folder {self.path}: {exc.strerror or exc}") from None
        return FolderLock(self.file(LOCK_FILE), what=f"run folder {self.path}")

    def prepare(self, config: RunConfig, fingerprints: dict[str, str], model_fingerprint: str | None = None) -> bool:
        """Create or check the folder; return True when resuming. `model_fingerprint` (a predictions file's
        sha256) is part of the identity: a changed file under the same name is never resumed as the old one."""
        identity = {**config.identity(), "fingerprints": fingerprints}
        if model_fingerprint:
            identity["model_fingerprint"] = model_fingerprint
        run_file = self.file(RUN_FILE)
        if run_file.exists():
            previous = RunRecord.read(run_file)
            old = current_names(RunConfig, previous.identity)  # max_new_tokens is max_tokens
            # a folder written before model fingerprints were recorded is compared on the rest
            keys = (set(old) | set(identity)) - ({"model_fingerprint"} - set(old))
            diffs = sorted(k for k in keys if old.get(k) != identity.get(k))
            if diffs:
                lines = "; ".join(f"{k}: {old.get(k)!r} -> {identity.get(k)!r}" for k in diffs)
                raise XrayBenchError(
                    f"{self.path} holds a run with a different configuration ({lines}). "
                    "Use another --out folder, or delete this one to start over."
                )
            return True
        self.check_not_foreign()
        self.path.mkdir(parents=True, exist_ok=True)
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(3).hex()}"
        record = RunRecord(run_id, time.strftime("%Y-%m-%dT%H:%M:%S%z"), identity, asdict(config))
        write_atomic(run_file, json.dumps(record.to_json(), indent=2), safe="no item was asked yet")
        return False

    def record(self) -> RunRecord:
        """The folder's `run.json`, checked (`RunRecord.read`)."""
        return RunRecord.read(self.file(RUN_FILE))

    def run_id(self) -> str:
        return self.record().run_id

    def load_predictions(self) -> dict[tuple[str, str], Prediction]:
        """Finished predictions by (task, id), without writing: a torn last line (killed mid-write) is left out
        here and cut off by the run's `AppendLog` before it appends."""
        path = self.file(PREDICTIONS_FILE)
        if not path.exists():
            return {}
        done: dict[tuple[str, str], Prediction] = {}
        for lineno, record in read_jsonl(path, what="one prediction record per line"):
            try:
                pred = Prediction.from_json(record)
            except (TypeError, KeyError) as exc:
                raise XrayBenchError(f"{path}:{lineno}: corrupt prediction record ({exc})") from None
            done.setdefault((pred.task, pred.id), pred)
        return done

    def load_asked_and_failed(self) -> set[tuple[str, str]]:
        """(task, id) of every item a model call failed for (`failures.jsonl`, a torn last line left out): with the
        predictions, what tells an item asked and failed from one never asked (a run stopped on --budget-usd)."""
        path = self.file(FAILURES_FILE)
        if not path.exists():
            return set()
        return {(str(r.get("task")), str(r.get("id"))) for _, r in read_jsonl(path, what="one failure record per line")}


def to_prediction(sample: Sample, model_name: str, generation: Generation) -> Prediction:
    parsed = parse_output(generation.text)
    return Prediction(
        id=sample.id,
        task=sample.task,
        model=model_name,
        raw=generation.text,
        answer=parsed.answer,
        reasoning=parsed.reasoning,
        boxes=parsed.boxes,
        latency_s=generation.latency_s,
        prompt_tokens=generation.prompt_tokens,
        completion_tokens=generation.completion_tokens,
        finish_reason=generation.finish_reason,
        scores=generation.scores,
        error=generation.error,
        input_size=generation.input_size,
        cost_usd=generation.cost_usd,
    )


def build_model(config: RunConfig, task_names: list[str]) -> Any:
    kind, arg = split_spec(config.model)
    factory = MODELS.get(kind)
    context = ModelContext(parse_data_roots(config.data_roots), task_names, **config.image_policy().options())
    model = factory(arg, config.model_options(), context, config.generate_config())
    if config.name:  # also for an adapter that declares no `Options` (a plugin's): --name is never ignored
        model.name = config.name
    return model


def load_tasks(config: RunConfig) -> tuple[list[TaskData], list[str]]:
    task_names, sizes, suites = expand(config.tasks)
    roots = parse_data_roots(config.data_roots)
    data, errors = [], []
    for name in task_names:  # every task that cannot be loaded is named (each missing data root), not the first
        caps = [n for n in (config.limit, sizes.get(name)) if n is not None]
        try:
            data.append(load_task(name, roots, limit=min(caps) if caps else None, seed=config.seed))
        except XrayBenchError as exc:
            errors.append((name, exc))
    if len(errors) == 1:
        raise errors[0][1]
    if errors:
        raise XrayBenchError(
            f"{len(errors)} tasks cannot be loaded:\n" + "\n".join(f"  {name}: {exc}" for name, exc in errors)
        )
    return data, suites


def generate_all(config: RunConfig, model: Any, folder: RunFolder, tasks: list[TaskData]) -> dict[str, float]:
    """Ask the model for every unfinished item; return wall time per task."""
    done = folder.load_predictions()
    policy = RetryPolicy(max_attempts=config.max_attempts)
    template = get_template(config.template)
    batch_size = config.batch_size or getattr(model, "batch_size", 1)
    concurrency = config.max_concurrency or getattr(model, "concurrency", 1)
    todo: list[list[Sample]] = []
    for td in tasks:
        pending = [s for s in td.samples if (s.task, s.id) not in done]
        todo.extend(pending[i : i + batch_size] for i in range(0, len(pending), batch_size))
    total = sum(len(b) for b in todo)
    timings: dict[str, float] = {}
    if not total:
        return timings
    preds = AppendLog(
        folder.file(PREDICTIONS_FILE),
        safe="every prediction written before is intact in it (the items of the batch that could not be "
        "written will be asked again)",
        key=lambda r: (r["task"], r["id"]),  # a prediction already in the file is never written twice
        what="one prediction record per line",
    )
    failures = AppendLog(
        folder.file(FAILURES_FILE), safe=f"every finished prediction is intact in {folder.file(PREDICTIONS_FILE)}"
    )

    def call(batch: list[Sample]) -> list[Generation]:
        prompts = [template.render(s.prompt) for s in batch]
        start = time.perf_counter()
        gens = call_with_retries(lambda: model.generate(batch, prompts), policy)
        if len(gens) != len(batch):
            raise XrayBenchError(f"{model.name} returned {len(gens)} outputs for a batch of {len(batch)}")
        elapsed = (time.perf_counter() - start) / len(batch)
        for g in gens:
            g.latency_s = g.latency_s or elapsed
        return gens

    failed_in_a_row = [0]

    def record(batch: list[Sample], gens: list[Generation] | None, error: str | None) -> int:
        """Write the batch's outcomes; returns how many of its items failed (for the progress line)."""
        failed_in_a_row[0] = failed_in_a_row[0] + 1 if gens is None else 0
        ok, bad = [], []
        for i, sample in enumerate(batch):
            gen = gens[i] if gens is not None else Generation("", error=error)
            if gen.error:
                bad.append({"id": sample.id, "task": sample.task, "error": gen.error, "time": time.time()})
            else:
                ok.append(to_prediction(sample, model.name, gen).to_json())
        preds.append(ok)
        failures.append(bad)
        if failed_in_a_row[0] >= ABORT_AFTER_FAILURES:
            raise XrayBenchError(
                f"stopping: the last {failed_in_a_row[0]} batches all failed, most recently with: {error}. "
                f"Finished items are kept in {folder.file(PREDICTIONS_FILE)}; fix the cause and rerun to resume."
            )
        return len(bad)

    from xraybench.progress import progress_bar

    with progress_bar(total, f"{model.name}", enabled=config.progress) as advance:
        started = time.perf_counter()
        try:
            if concurrency <= 1:
                for batch in todo:
                    n_failed = record(batch, *_outcome(lambda: call(batch)))  # noqa: B023 - called at once
                    advance(len(batch), failed=n_failed)
            else:
                _run_concurrently(todo, call, record, advance, concurrency)
        except BudgetExhausted:
            pass  # stopped on --budget-usd: every answer so far is written, the rest is asked on a rerun
        timings["generation_s"] = time.perf_counter() - started
    return timings


def _outcome(get: Callable[[], list[Generation]]) -> tuple[list[Generation] | None, str | None]:
    """(generations, None) or (None, error) for a batch. An unforeseen exception from an adapter fails its batch
    too (listed in failures.jsonl with its type): raising it here would drop the answers still in flight, and
    `ABORT_AFTER_FAILURES` in a row still stop the run with the reason. A `FatalError` (wrong key, unknown model)
    is raised: no item is marked failed by it, and no other request can succeed; so is `BudgetExhausted` (the
    request was not sent: the item is asked on a rerun)."""
    try:
        return get(), None
    except (FatalError, BudgetExhausted):
        raise
    except (TransientError, XrayBenchError) as exc:
        return None, str(exc)
    except Exception as exc:
        logging.getLogger(__name__).debug("a model call raised %s", type(exc).__name__, exc_info=True)
        return None, f"{type(exc).__name__}: {exc}"


def _run_concurrently(todo, call, record, advance, concurrency: int) -> None:  # type: ignore[no-untyped-def]
    """Keep `concurrency` batches in flight; results are written from this thread only. The first batch goes
    alone, so a wrong key or model name costs one request, not `concurrency`; after a `FatalError` or
    `BudgetExhausted` no batch is started, the answers in flight are written, then it is raised."""
    pending = iter(todo)
    first = next(pending, None)
    if first is None:
        return
    advance(len(first), failed=record(first, *_outcome(lambda: call(first))))
    fatal: FatalError | BudgetExhausted | None = None
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        in_flight: dict[Future, list[Sample]] = {}
        for batch in pending:
            in_flight[pool.submit(call, batch)] = batch
            if len(in_flight) >= concurrency:
                break
        while in_flight:
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for fut in finished:
                batch = in_flight.pop(fut)
                try:
                    outcome = _outcome(fut.result)
                except (FatalError, BudgetExhausted) as exc:
                    fatal = fatal if isinstance(fatal, FatalError) else exc  # a fatal error wins over the budget
                    continue
                advance(len(batch), failed=record(batch, *outcome))
                nxt = None if fatal else next(pending, None)
                if nxt is not None:
                    in_flight[pool.submit(call, nxt)] = nxt
    if fatal is not None:
        raise fatal


def run(config: RunConfig) -> dict[str, Any]:
    """Evaluate `config.model` on `config.tasks` in `config.out`; returns the results dict."""
    from xraybench.metrics.api import check_run_metrics
    from xraybench.results import score_run, write_results

    started = time.perf_counter()
    # a typo gets "did you mean", an extra metric that scores none of the run's task kinds an error, before any work
    check_run_metrics(config.tasks, config.extra_metrics, config.skip_metrics)
    config.image_policy()  # an unknown template or a bad --image-size fails before any work too
    get_template(config.template)
    config.model_options()  # so does an unknown or mistyped --model-arg ("did you mean")
    config.metric_options()  # and --metric-arg: an unknown metric or option, a bad value, a metric not scored here
    tasks, suites = load_tasks(config)
    folder = RunFolder(config.out)
    with folder.lock():  # one process per run folder, before any model is loaded or item asked
        # The model before run.json: one that refuses to start (a malformed predictions file, a bad key) leaves
        # no run.json that would block the corrected rerun (a folder holding only the lock file is not foreign).
        model = build_model(config, [td.task.name for td in tasks])
        # an API model asks through the judges' engine: governance (nothing sent, no run.json written when it
        # refuses), budget cap, rate limit and cost ledger
        meter = attach_meter(
            model, (s for td in tasks for s in td.samples), allow_provider=config.allow_provider, rpm=config.rpm,
            budget_usd=config.budget_usd, price_per_1k_tokens=config.price_per_1k_tokens,
        )  # fmt: skip
        resumed = folder.prepare(
            config, {td.task.name: td.fingerprint for td in tasks}, getattr(model, "fingerprint", None)
        )
        if meter is not None and resumed:  # the cap is the run's: what its answers cost before counts against it
            meter.count_spent(sum(p.cost_usd or 0.0 for p in folder.load_predictions().values()))
        timings = generate_all(config, model, folder, tasks)
        results = score_run(config, folder, tasks, suites, model_name=model.name, resumed=resumed)
        if meter is not None:
            results.update(run_usage(folder.load_predictions().values(), meter))
        timings["total_s"] = time.perf_counter() - started
        results["timings"] = {**results.get("timings", {}), **timings}
        write_results(folder.file(RESULTS_FILE), results)
    return results
