"""`xraybench submit`: enter a new model's predictions into an existing arena, in one checked, resumable step.

Steps: validate the predictions file (size, schema, one prediction per study of the arena's task, no unknown
ids or duplicates, text limits, no image path outside the data root, a model name that is new to the arena);
score the metrics through the runner with the `predictions:` adapter (a resumable run folder); judge the new
model against the existing field only (the arena's new-model schedule, with the arena's judge, through the
same store: nothing judged before is asked again); regenerate the arena leaderboard; and write a manifest
(name, time, file sha256 and sizes, run folder, arena, judge, prompt version, judgments, cost, xraybench
version) to `arenas/ARENA/submissions/NAME.json` (with `--leaderboards DIR`: `DIR/ARENA/` and
`DIR/submissions/ARENA/NAME.json`, the layout of the tracked `leaderboards/`).

The arena's field is read back from its store: the plan file says which model each judged text belongs to,
and each stored judgment's identity holds the texts, so no list of the field's sources has to be kept. A
submission killed part-way is resumed by running it again: a model whose stored texts equal the file's and
that has no manifest yet is the same submission, not a name clash.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from arena.prompt import MAX_CHARS
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
from xraybench.errors import DataFormatError, XrayBenchError
from xraybench.llm.options import LLMOptions
from xraybench.records import Sample
from xraybench.schema import check_schema

MAX_BYTES = 64 * 1024 * 1024
PATH_KEYS = ("image", "images", "image_path", "image_paths", "path")
ROW_KEYS = {"id", "prediction", "task", "model", *PATH_KEYS}
MANIFEST_DIR = "submissions"
MANIFEST_SCHEMA_VERSION = 1  # a submission manifest's `schema_version` (`xraybench.schema`)
SHOWN_PROBLEMS = 10
JUDGE_METRIC_ARG_FLAG = "--judge-metric-arg"  # the arena's `metric:` judge's options; `--metric-arg` is the run's


@dataclass
class SubmitConfig(MetricArgs, LLMOptions, DataSources, Seeded, Bootstrap, JsonOutput):
    """`xraybench submit`: one object drives the CLI and the Python API (an LLM judge's options: `LLMOptions`)."""

    name: str = option(
        help="model name: 1-64 of A-Z a-z 0-9 . _ + - (starting with a letter or digit), new to the arena"
    )
    predictions: str = option(help="predictions file: JSONL with id and prediction (optional task), or ReXrank JSON")
    arena: str = option(help="arena name (its store: arenas/ARENA/judgments.sqlite)")
    judge: str | None = option(None, help="judge (default: the arena's judge, when it has exactly one)")
    task: str | None = option(None, help="the arena task (default: the arena's task, when it has exactly one)")
    store: str | None = option(None, help="judgment store file (default: arenas/ARENA/judgments.sqlite)")
    run_dir: str | None = option(None, help="run folder for the metrics (default: arenas/ARENA/submissions/NAME)")
    leaderboards: str | None = option(
        None,
        help="folder of leaderboards (DIR/ARENA/) and manifests (DIR/submissions/ARENA/NAME.json), e.g. the tracked "
        "leaderboards/; default: beside the arena's store (arenas/ARENA/leaderboard/, arenas/ARENA/submissions/)",
    )
    skip_metrics: list[str] = option([], split_commas=True, help="comma-separated metric families not to compute")
    extra_metrics: list[str] = option([], split_commas=True, help="comma-separated metric families to add")
    schedule: str = option(
        "full", choices=("full", "adaptive"),
        help="full: the new model against every field model on every study; adaptive",
    )  # fmt: skip
    seed: int = shared_option(Seeded, "seed", help="seed of the adaptive schedule and the bootstrap")
    bootstrap_rounds: int = shared_option(
        Bootstrap, "bootstrap_rounds", help="bootstrap rounds of the regenerated leaderboard"
    )
    prior: float | None = option(
        None,
        help="virtual ties per model pair in the ratings (default: the prior of the arena's current leaderboard, "
        "else arena.ratings.DEFAULT_PRIOR; > 0 keeps ratings finite)",
    )
    max_bytes: int = option(MAX_BYTES, help="largest predictions file accepted, in bytes")
    max_chars: int = option(MAX_CHARS, help="longest prediction accepted, in characters")
    progress: bool = option(True, help="show progress bars")
    raise_budget: bool = option(False, help="allow --budget-usd above the arena's stored budget (its total spend)")
    judge_metric_args: list[str] = option(
        [], flag=JUDGE_METRIC_ARG_FLAG, repeat=True, pairs=True, metavar="NAME.KEY=VALUE",
        help="an option of the arena's metric: judge, NAME without metric: (repeatable; default: the options the "
        "arena was judged with, read from its store); only needed to choose among several judged configurations, "
        "and refused when the arena holds no verdicts made with these options",
    )  # fmt: skip

    def __post_init__(self) -> None:
        super().__post_init__()  # `--metric-arg`: the submitted run's metric options (`MetricArgs`)
        self.judge_metric_args = parse_metric_args(self.judge_metric_args, flag=JUDGE_METRIC_ARG_FLAG)  # type: ignore[assignment]


# -- the arena's field --------------------------------------------------------------------------------------


@dataclass
class ArenaField:
    """What an arena holds for one task and judge: each model's judged texts by study."""

    store: Path
    plan: Path
    task: str
    judge: str
    texts: dict[str, dict[str, str]]
    params: list[dict[str, Any]] = field(default_factory=list)  # the judge's distinct recorded params, oldest first


def _only(values: set[str], given: str | None, what: str, flag: str, where: Path) -> str:
    if given is not None:
        if given not in values:
            raise XrayBenchError(f"arena {where} has no {what} {given!r} (it has: {', '.join(sorted(values))})")
        return given
    if len(values) != 1:
        raise XrayBenchError(f"arena {where} has {len(values)} {what}s ({', '.join(sorted(values))}): pass {flag}")
    return next(iter(values))


def read_arena(store_path: Path, task: str | None = None, judge: str | None = None) -> ArenaField:
    """The field of an arena's store: models' texts from the stored judgments' identities, via the plan."""
    from arena.judging import KIND, plan_path, read_plan
    from xraybench.callstore import CallStore

    plan = plan_path(store_path)
    if not store_path.exists() or not plan.exists():
        raise XrayBenchError(f"no arena at {store_path}: judge a field first with `xraybench arena judge`")
    entries = read_plan(plan)
    if not entries:
        raise XrayBenchError(f"arena {store_path} has no planned battles yet")
    task = _only({e["task"] for e in entries}, task, "task", "--task", store_path)
    judge = _only({e["judge"] for e in entries if e["task"] == task}, judge, "judge", "--judge", store_path)
    with CallStore(store_path) as store:
        identities = {r["key"]: r["identity"] for r in store.export(kind=KIND)}
    texts: dict[str, dict[str, str]] = {}
    identical: list[dict[str, Any]] = []
    params: dict[str, dict[str, Any]] = {}  # canonical JSON -> params: each configuration the field was judged with
    for e in entries:
        if e["task"] != task or e["judge"] != judge:
            continue
        ident = identities.get(e["key"])
        recorded = e.get("params", (ident or {}).get("params"))  # in the plan entry, else in its stored call
        if isinstance(recorded, dict):
            params.setdefault(json.dumps(recorded, sort_keys=True), recorded)
        if ident is None:
            if e["identical"]:
                identical.append(e)
            continue
        x_text, y_text = (ident["text_b"], ident["text_a"]) if e["swapped"] else (ident["text_a"], ident["text_b"])
        texts.setdefault(e["model_x"], {})[e["study_id"]] = x_text
        texts.setdefault(e["model_y"], {})[e["study_id"]] = y_text
    for e in identical:  # both models wrote the same text: known when either side is known from another battle
        x, y, study = e["model_x"], e["model_y"], e["study_id"]
        known = texts.get(x, {}).get(study, texts.get(y, {}).get(study))
        if known is not None:
            texts.setdefault(x, {})[study] = known
            texts.setdefault(y, {})[study] = known
    if len(texts) < 2:
        raise XrayBenchError(f"arena {store_path} has no judged field for task {task!r} and judge {judge!r} yet")
    return ArenaField(store_path, plan, task, judge, texts, list(params.values()))


def arena_judge_options(fld: ArenaField, given: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The options of the arena's `metric:` judge for a submission: those its field was judged with (recovered
    from the stored params, `arena.judges.metric.recorded_options`), so the new model's verdicts come from the
    same judge configuration as the rest of the leaderboard. `given` (`--judge-metric-arg`) only chooses among
    the arena's configurations. Refused, naming what was found: options that no judged configuration used, an
    arena judged with several configurations and no choice, or params this judge version cannot reproduce.
    An LLM judge has no such options ({})."""
    from arena.judges import JUDGES, is_metric_judge
    from arena.judges.metric import judge_options, recorded_options

    chosen = judge_options(given, [fld.judge], flag=JUDGE_METRIC_ARG_FLAG).get(fld.judge)  # "did you mean", types
    if not is_metric_judge(fld.judge):
        return {}
    short = fld.judge.removeprefix("metric:")
    recovered = [recorded_options(fld.judge, p) for p in fld.params]

    def shown(options: dict[str, Any] | None, params: dict[str, Any]) -> str:
        if options is None:
            return f"params {json.dumps(params, sort_keys=True)} (not reproducible by this version)"
        return " ".join(f"{JUDGE_METRIC_ARG_FLAG} {short}.{k}={v}" for k, v in options.items()) or "the defaults"

    known = "; ".join(shown(o, p) for o, p in zip(recovered, fld.params, strict=True)) or "none recorded"
    if chosen is not None:
        mine = JUDGES.get(fld.judge)(fld.judge, **chosen).params  # raises on invalid thresholds (win > strong)
        if json.dumps(mine, sort_keys=True) not in {json.dumps(p, sort_keys=True) for p in fld.params}:
            raise XrayBenchError(
                f"{shown(chosen, mine)}: arena {fld.store} has no verdicts of {fld.judge} with these options (it "
                f"was judged with: {known}), so the new model's verdicts would not be comparable with the field's. "
                f"Drop {JUDGE_METRIC_ARG_FLAG} to use the arena's options, or judge the field with these first "
                f"(`xraybench arena judge ... --metric-arg`)"
            )
        return chosen
    if not fld.params:
        raise XrayBenchError(f"arena {fld.store} records no configuration of {fld.judge}: its options cannot be known")
    if len(fld.params) != 1:
        raise XrayBenchError(
            f"arena {fld.store} was judged by {fld.judge} with {len(fld.params)} configurations ({known}): pass "
            f"the options to judge the new model with ({JUDGE_METRIC_ARG_FLAG}), one of those"
        )
    if recovered[0] is None:
        raise XrayBenchError(
            f"arena {fld.store} was judged by {fld.judge} with {known}: the new model's verdicts could not be made "
            f"the same way; judge the field again with `xraybench arena judge` first"
        )
    return recovered[0]


def _with_judge_options(config: SubmitConfig, judge: str, options: dict[str, Any]) -> SubmitConfig:
    """The config `arena.judges.build_judge` reads a `metric:` judge's options from (`metric_args`): the arena
    judge's options, never the run's metric options that `SubmitConfig.metric_args` holds."""
    return replace(config, metric_args={judge: options})


# -- validation ---------------------------------------------------------------------------------------------


def check_name(name: str) -> str:
    """A submitted model's name (it names its manifest and run folder): the one rule of `xraybench.names`."""
    from xraybench.names import check_name as check

    return check(name, "model name")


def _path_problems(value: Any, root: Path | None) -> list[str]:
    """Why each path in a row's image field is not a relative path inside the data root (none: all fine)."""
    paths = value if isinstance(value, list) else [value]
    out = []
    for path in paths:
        if not isinstance(path, str) or not path:
            out.append(f"expected a non-empty relative path string, got {path!r}")
        elif "\x00" in path:  # the OS refuses such a name; Path.resolve would raise ValueError
            out.append(f"path {path[:60]!r} contains a NUL byte")
        elif root is None:
            out.append(f"path {path!r} given, but the task's dataset has no data root to resolve it in")
        elif Path(path).is_absolute() or ".." in Path(path).parts:
            out.append(f"path {path!r} must be relative to the data root {root} without '..'")
        elif not (root / path).resolve().is_relative_to(root.resolve()):
            out.append(f"path {path!r} leads outside the data root {root}")
    return out


def validate_predictions(
    path: str | Path, task: str, samples: list[Sample], root: Path | None, *, max_bytes: int = MAX_BYTES,
    max_chars: int = MAX_CHARS,
) -> dict[str, str]:  # fmt: skip
    """Every study's prediction by id; raises `DataFormatError` naming the line of the first problem and listing
    the others (malformed rows, conflicts, unknown and missing ids, paths, limits), so a file is either accepted
    whole or refused with every reason at once. The file is read by the one predictions reader."""
    from xraybench.models.predictions import read_prediction_file

    path = Path(path)
    if "\x00" in str(path) or not path.is_file():
        raise XrayBenchError(f"predictions file not found: {str(path)!r}")
    size = path.stat().st_size
    if size > max_bytes:
        raise DataFormatError(path, f"{size} bytes is over the limit of {max_bytes} bytes (--max-bytes)")
    report = read_prediction_file(path)
    ids = {s.id for s in samples}
    problems: list[tuple[int | None, str | None, str]] = list(report.problems)
    found: dict[str, str] = {}
    for row in report.rows:
        where, obj, sid, pred = (row.line, row.record), row.fields, row.id, row.text
        extra = sorted(set(obj) - ROW_KEYS - {"model_prediction"})
        if extra:
            problems.append((*where, f"unknown field(s) {', '.join(extra)}; allowed: {', '.join(sorted(ROW_KEYS))}"))
        if row.task not in (None, task):
            problems.append((*where, f"task {row.task!r} is not the arena's task {task!r}"))
            continue
        for key in PATH_KEYS:
            if key in obj:
                problems.extend((*where, f"{key}: {p}") for p in _path_problems(obj[key], root))
        if sid not in ids:
            problems.append((*where, f"unknown id {sid!r}: not a study of task {task}"))
        elif sid in found:  # one row without a task and one with the arena's task: which one is meant?
            problems.append((*where, f"a second prediction for id {sid!r} (one with and one without a task)"))
        elif not pred.strip():
            problems.append((*where, f"empty prediction for id {sid!r}"))
        elif len(pred) > max_chars:
            problems.append((*where, f"prediction for {sid!r} has {len(pred)} characters (limit {max_chars})"))
        else:
            found[sid] = pred
    missing = [s.id for s in samples if s.id not in found]
    if missing:  # listed with the other problems: the fix for all of them is one corrected file
        shown = ", ".join(missing[:SHOWN_PROBLEMS]) + (" ..." if len(missing) > SHOWN_PROBLEMS else "")
        problems.append(
            (None, None, f"no prediction for {len(missing)} of the {len(samples)} studies of task {task}: {shown}")
        )
    if problems:
        line, record, message = problems[0]
        more = "; ".join(
            f"{'line ' + str(ln) if ln else 'record ' + str(rc) if rc else 'file'}: {m}" for ln, rc, m in problems[1:]
        )
        tail = f" ({len(problems) - 1} more problems: {more[:2000]})" if len(problems) > 1 else ""
        raise DataFormatError(path, message + tail, line=line, record=record)
    return found


def data_root(samples: list[Sample], dataset: str, roots: dict[str, str]) -> Path | None:
    """The dataset's root; for a rootless dataset (the demo), the folder that holds its images."""
    from xraybench.taskdata import resolve_root

    root = resolve_root(dataset, roots)
    if root is not None:
        return root
    images = [Path(p) for s in samples for p in s.image_paths]
    return Path(os.path.commonpath(images)) if images else None


# -- the submission -----------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _judging(
    config: SubmitConfig, judge_name: str, store: Any, samples: list[Sample], plan: Path | None = None,
    options: dict[str, Any] | None = None,
) -> Any:  # fmt: skip
    """The arena's judge (`arena.judges.build_judge`) under the usual governance and caps; an LLM judge is asked
    for the structured output the arena's judgments recorded in `plan` (so its keys match the field's), a
    `metric:` judge gets `options` (`arena_judge_options`)."""
    from arena.budget import budgeted_runner_options
    from arena.judges import build_judge
    from arena.judging import Judging

    judge = build_judge(judge_name, _with_judge_options(config, judge_name, options or {}), samples=samples, plan=plan)
    # the arena's budget (stored beside its store) also caps a submission's judgments
    options, _ = budgeted_runner_options(
        config.runner_options(), Path(store.path), store, raise_budget=config.raise_budget, persist=True
    )
    return Judging(judge, store, **options, progress=config.progress)


def _prior(config: SubmitConfig, board: Path) -> float:
    """The prior the user chose: `--prior`, else the one the arena's leaderboard was built with (so a submission
    does not silently re-rate the arena with another), else `DEFAULT_PRIOR`."""
    from arena.leaderboard import SCHEMA_VERSION
    from arena.ratings import DEFAULT_PRIOR

    if config.prior is not None:
        return config.prior
    path = board / "leaderboard.json"
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        check_schema(data, SCHEMA_VERSION, path, "a leaderboard")
        prior = (data.get("settings") or {}).get("prior")
        if isinstance(prior, int | float) and not isinstance(prior, bool):
            return float(prior)
    return DEFAULT_PRIOR


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def submit(config: SubmitConfig) -> dict[str, Any]:
    """Validate, score, judge against the field, regenerate the leaderboard, write the manifest; returns it."""
    from arena.judging import Field, export_battles, judge_schedule, store_path
    from arena.leaderboard import LEADERBOARD_DIR
    from xraybench import __version__
    from xraybench.callstore import CallStore
    from xraybench.taskdata import load_task, parse_data_roots

    name = check_name(config.name)
    if config.schedule not in ("full", "adaptive"):
        raise XrayBenchError(f"--schedule must be full or adaptive, got {config.schedule!r}")
    store_file = store_path(config.arena, config.store)
    manifest_path = (
        Path(config.leaderboards) / MANIFEST_DIR / config.arena / f"{name}.json"
        if config.leaderboards
        else store_file.parent / MANIFEST_DIR / f"{name}.json"
    )
    if manifest_path.exists():
        raise XrayBenchError(f"{name!r} was already submitted to arena {config.arena} ({manifest_path})")
    field = read_arena(store_file, config.task, config.judge)
    judge_opts = arena_judge_options(field, config.judge_metric_args)  # type: ignore[arg-type]  # before any work
    roots = parse_data_roots(config.data_roots)
    task = load_task(field.task, roots)
    pred_path = Path(config.predictions)
    texts = validate_predictions(
        pred_path, field.task, task.samples, data_root(task.samples, task.task.dataset, roots),
        max_bytes=config.max_bytes, max_chars=config.max_chars,
    )  # fmt: skip
    if name in field.texts:
        clash = [s for s, t in field.texts[name].items() if texts.get(s) != t]
        if clash:
            raise XrayBenchError(
                f"arena {config.arena} already has a model named {name!r} with other reports (e.g. study "
                f"{clash[0]}): choose another --name"
            )
        del field.texts[name]  # the same submission, killed part-way: resume it
    run_dir = Path(config.run_dir) if config.run_dir else store_file.parent / "submissions" / name
    results = _score(config, pred_path, field.task, run_dir)
    fld = Field(field.task, {s.id: s for s in task.samples}, {**field.texts, name: texts})
    with CallStore(store_file) as store:
        judging = _judging(config, field.judge, store, task.samples, field.plan, judge_opts)
        report = judge_schedule(fld, judging, field.plan, schedule=config.schedule, seed=config.seed, new_model=name)
        export = export_battles(store, field.plan, field.judge, mix=True)  # every configuration, each named
        new_rows = [r for r in export.rows if name in (r["model_a"], r["model_b"])]
    board = Path(config.leaderboards) / config.arena if config.leaderboards else store_file.parent / LEADERBOARD_DIR
    prior = _prior(config, board)  # before the rewrite: the prior the arena's leaderboard was built with
    written = _leaderboard(config, board, field.judge, name, run_dir, store_file, prior)
    manifest = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "name": name, "submitted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "arena": config.arena,
        "task": field.task, "judge": field.judge, "prompt_version": _prompt_version(field.judge),
        "judge_options": judge_opts,
        "predictions": {"file": str(pred_path), "sha256": _sha256(pred_path), "bytes": pred_path.stat().st_size,
                        "n_predictions": len(texts)},
        "run_dir": str(run_dir), "metrics": results, "n_field_models": len(field.texts),
        "n_judgments": sum(r["source"] == "judge" for r in new_rows), "n_missing": export.n_missing, "n_failed": report.n_failed,
        "cost_usd": report.cost_usd, "leaderboard": str(board), "files": [str(p) for p in written],
        "rating_prior": prior,
        "xraybench_version": __version__, "config": {k: v for k, v in asdict(config).items() if k != "api_key_env"},
    }  # fmt: skip
    if report.n_failed or report.n_budget_stopped:
        raise XrayBenchError(
            f"{report.n_failed} judgments failed and {report.n_budget_stopped} were stopped by the budget; the "
            f"leaderboard shows them as missing. Rerun the same command to finish (no manifest written yet)."
        )
    _write_json(manifest_path, manifest)
    manifest["manifest"] = str(manifest_path)
    return manifest


def _prompt_version(judge: str) -> str:
    from arena.leaderboard import prompt_version_for

    return prompt_version_for([judge])


def _score(config: SubmitConfig, predictions: Path, task: str, run_dir: Path) -> dict[str, float | None]:
    """Score the file through the runner (`predictions:` adapter); a rerun resumes the same run folder."""
    from xraybench.published import run_values
    from xraybench.runner import RunConfig, run

    rc = RunConfig(
        model=f"predictions:{predictions.resolve()}", tasks=[task], out=str(run_dir),
        data_roots=list(config.data_roots), seed=config.seed, progress=config.progress,
        skip_metrics=list(config.skip_metrics), extra_metrics=list(config.extra_metrics),
        metric_args=config.metric_args,
    )  # fmt: skip
    results = run(rc)
    return run_values(results).get(task, {})


def _leaderboard(
    config: SubmitConfig, board: Path, judge: str, name: str, run_dir: Path, store_file: Path, prior: float
) -> list[Path]:
    """Rewrite the arena's leaderboard (`arena.api.build_leaderboard`) from every configuration of its judge, with
    the new model's metric columns and the current leaderboard's columns for the field; refused, like any
    leaderboard, when the judge gave too few verdicts."""
    from arena.api import LeaderboardConfig, build_leaderboard

    return build_leaderboard(LeaderboardConfig(
        arena=config.arena, store=str(store_file), out=str(board), judge=judge, all_configs=True,
        runs=[f"{name}={run_dir}"], keep_metrics=True, bootstrap_rounds=config.bootstrap_rounds, seed=config.seed,
        prior=prior,
    )).written  # fmt: skip


def summary(manifest: dict[str, Any]) -> list[str]:
    """Lines for the CLI."""
    from arena.ratings import prior_statement

    pred = manifest["predictions"]
    return [
        f"validated {pred['n_predictions']} predictions in {pred['file']} (sha256 {pred['sha256'][:12]}...)",
        f"metrics: run folder {manifest['run_dir']}",
        f"judged {manifest['name']} against {manifest['n_field_models']} field models with {manifest['judge']}"
        f"{_options_note(manifest.get('judge_options') or {})}: "
        f"{manifest['n_judgments']} battles, ${manifest['cost_usd']:.4f}",
        f"leaderboard: {manifest['leaderboard']}; manifest: {manifest['manifest']}",
        f"ratings {prior_statement(manifest['rating_prior'])}",
    ]


def _options_note(options: dict[str, Any]) -> str:
    """The arena judge's options a submission was judged with, for the CLI (none: the defaults)."""
    return f" ({', '.join(f'{k}={v}' for k, v in options.items())}, the arena's options)" if options else ""
