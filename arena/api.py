"""The Report Arena's Python API: each arena command as a function taking its config dataclass.

| command                      | config            | function            |
|------------------------------|-------------------|---------------------|
| `xraybench arena judge`      | `JudgeConfig`     | `judge_arena`       |
| `xraybench arena ratings`    | `RatingsConfig`   | `ratings`           |
| `xraybench arena leaderboard`| `LeaderboardConfig` | `build_leaderboard` |
| `xraybench arena battles`    | `BattlesConfig`   | `battles`           |
| `xraybench arena reparse`    | `ReparseConfig`   | `reparse`           |
| `xraybench arena demo`       | `DemoConfig`      | `build_demo_arena`  |
| `xraybench submit`           | `SubmitConfig`    | `submit`            |
| `xraybench judge-audit`      | `AuditConfig`     | `run_audit`         |

The CLI (`arena/cli.py`, `arena/audit_cli.py`, `xraybench/cli/submit.py`) only maps argv to these configs (through
`xraybench.config.add_arguments` / `from_namespace`) and prints what the functions return; a script or notebook
calls the same functions with the same configs. Every arena is named by `arena` (`--arena`; `--name` is its
deprecated alias, since `--name` names a model in `run` and `submit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arena.leaderboard import MIN_VERDICT_SHARE, MIN_VERDICTS
from arena.prompt import MAX_CHARS
from arena.ratings import DEFAULT_PRIOR
from xraybench.config import Bootstrap, DataSources, JsonOutput, Seeded, option
from xraybench.errors import XrayBenchError
from xraybench.llm.options import DryRun, LLMOptions

if TYPE_CHECKING:
    from arena.audit import AuditConfig, run_audit
    from arena.battles import Battles
    from arena.demo import DemoConfig, build_demo_arena
    from arena.judging import BattleExport, JudgeReport
    from arena.ratings import Ratings
    from arena.submission import SubmitConfig, submit
    from xraybench.callstore import ReparseResult

__all__ = [
    "AuditConfig", "BattlesConfig", "DemoConfig", "JudgeConfig", "LeaderboardConfig", "RatingsConfig",
    "ReparseConfig", "SubmitConfig", "battles", "build_demo_arena", "build_leaderboard", "judge_arena", "ratings",
    "reparse", "run_audit", "submit",
]  # fmt: skip


# the commands whose config and function live beside their own machinery, reached from here when first used
_ELSEWHERE = {
    "AuditConfig": "arena.audit", "run_audit": "arena.audit", "DemoConfig": "arena.demo",
    "build_demo_arena": "arena.demo", "SubmitConfig": "arena.submission", "submit": "arena.submission",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _ELSEWHERE:
        import importlib

        return getattr(importlib.import_module(_ELSEWHERE[name]), name)
    raise AttributeError(f"module 'arena.api' has no attribute {name!r}")


def arena_option(help: str = "arena name (its store: arenas/ARENA/judgments.sqlite)") -> Any:
    """The arena a command works on: `--arena` everywhere (`--name` is the old flag; it names a model in `run`)."""
    return option(help=help, deprecated=("name",))


def store_option() -> Any:
    return option(None, help="judgment store file (default: arenas/ARENA/judgments.sqlite)")


@dataclass
class JudgeConfig(LLMOptions, DryRun, DataSources, Seeded, JsonOutput):
    """`xraybench arena judge`: one object drives the CLI and the Python API (`judge_arena`); the LLM judge's
    options are `LLMOptions` (a `metric:` judge is offline and free: they do not apply to it)."""

    arena: str = arena_option()
    task: str = option(help="the report task the battles are about, e.g. demo_findings")
    judge: str = option(
        help="litellm PROVIDER/MODEL, e.g. openai/gpt-4o-mini, or an offline reference-based proxy judge: "
        "metric:clinical, metric:lexical, metric:paper-score"
    )
    runs: list[str] = option(
        [], several=True, one_of="sources", metavar="RUN_DIR", help="run folders (model name from run.json)"
    )
    predictions: list[str] = option(
        [], several=True, one_of="sources", metavar="NAME=FILE", help="prediction files (JSONL or ReXrank)"
    )
    studies: int | None = option(None, help="judge a seeded sample of N shared studies (default: all)")
    schedule: str = option(
        "full", choices=("full", "adaptive"),
        help="full: every pair on every study; adaptive: batches where rank uncertainty is largest, until separated",
    )  # fmt: skip
    new_model: str | None = option(None, metavar="NAME", help="judge only this model against the rest of the field")
    batch_size: int = option(16, help="comparisons per adaptive round (both orders each)")
    max_in_flight: int = option(
        0, help="adaptive: comparisons that may still be in flight when the next round is proposed (0: wait for "
        "each round; about --max-concurrency keeps every slot busy, at ~10%% more judgments)",
    )  # fmt: skip
    structured_output: str = option(
        "auto", choices=("auto", "json_schema", "json_object", "off"),
        help="ask for the verdict JSON schema: json_schema (OpenAI, vLLM, SGLang, Ollama, llama.cpp), json_object "
        "(llama-cpp-python), off (text protocol); auto: by the --api-base server's /models listing, else litellm's map",
    )  # fmt: skip
    store: str | None = store_option()
    raise_budget: bool = option(
        False, help="allow --budget-usd above the arena's stored budget (the budget is the arena's total spend)"
    )
    max_chars: int = option(MAX_CHARS, help="longest candidate report accepted, in characters (longer: refused)")


def judge_arena(config: JudgeConfig, *, progress: bool = True) -> tuple[JudgeReport, Path]:
    """Judge the field's pending battles into the arena's store; returns the report and the store's path
    (the seed draws the study sample and the adaptive schedule).

    An LLM judge is checked for governance before any call and runs under the budget, rate limit and retries; a
    `metric:` judge is offline and free (`progress`: its progress bar)."""
    from arena.budget import budgeted_runner_options
    from arena.judges import build_judge
    from arena.judging import Judging, judge_schedule, load_field, plan_path, shared_studies, store_path
    from xraybench.callstore import CallStore
    from xraybench.errors import XrayBenchError

    if bool(config.runs) == bool(config.predictions):
        raise XrayBenchError("arena judge needs the field as exactly one of --runs or --predictions")
    fld = load_field(config.task, config.runs, config.predictions, config.data_roots, config.max_chars)
    path = store_path(config.arena, config.store)
    judge = build_judge(  # governance is checked before any store or call; the output protocol is in every key
        config.judge, config, samples=shared_studies(fld, config.studies, config.seed),
        structured_output=config.structured_output, dry_run=config.dry_run, plan=plan_path(path),
    )  # fmt: skip
    with CallStore(path) as store:
        options, _ = budgeted_runner_options(
            config.runner_options(), path, store, raise_budget=config.raise_budget, persist=not config.dry_run
        )
        judging = Judging(judge, store, **options, progress=progress)
        report = judge_schedule(
            fld, judging, plan_path(path), schedule=config.schedule, studies=config.studies, seed=config.seed,
            new_model=config.new_model, batch_size=config.batch_size, max_in_flight=config.max_in_flight,
            dry_run=config.dry_run,
        )  # fmt: skip
    return report, path


# -- ratings, leaderboard, battle export, reparse ------------------------------------------------------------


@dataclass(kw_only=True)
class RatingOptions(Bootstrap, Seeded):
    """How battles become ratings (`arena ratings` and `arena leaderboard`): Bradley-Terry on the Elo scale, ties
    half a win, 95% CIs from a bootstrap over studies (`bootstrap_rounds`, drawn from `seed`)."""

    option_group = "ratings (Bradley-Terry)"

    anchor: str | None = option(None, help="model held at --anchor-rating (default: first alphabetically)")
    anchor_rating: float = option(1000.0, help="rating of the anchor model (default 1000)")
    prior: float = option(
        DEFAULT_PRIOR,
        help=f"virtual ties per model pair (default {DEFAULT_PRIOR:g}: always finite; 0: plain MLE, infinite when a "
        "model never wins)",
    )
    length_control: bool = option(
        False, help="also fit BT with a log length-ratio covariate (needs length_a, length_b)"
    )
    style_control: str = option(
        "auto", choices=("auto", "on", "off"),
        help="also fit BT with style covariates (tokens, section headers, list items, bold; docs/ratings.md): auto = "
        "when the battles carry style counts (an arena store's do), on = require them, off",
    )  # fmt: skip

    def rate(self, battles: Battles) -> Ratings:
        from arena.ratings import compute_ratings

        style = battles.has_style if self.style_control == "auto" else self.style_control == "on"
        return compute_ratings(
            battles, anchor=self.anchor, anchor_rating=self.anchor_rating, rounds=self.bootstrap_rounds,
            seed=self.seed, prior=self.prior, length_control=self.length_control, style_control=style,
        )  # fmt: skip


@dataclass(kw_only=True)
class ExportChoice:
    """Which judge configuration (judge, decoding parameters, output protocol, prompt version) of a store to use."""

    judge_config: str | None = option(
        None, metavar="LABEL",
        help="only this judge configuration (default: the one judged most recently; the others are listed)",
    )  # fmt: skip
    all_configs: bool = option(False, help="mix every judge configuration (each is named)")

    def check_choice(self) -> None:
        if self.judge_config is not None and self.all_configs:
            raise XrayBenchError("--judge-config and --all-configs exclude each other: pass one")


@dataclass(kw_only=True)
class RatingsConfig(RatingOptions, JsonOutput):
    """`xraybench arena ratings`: ratings of a battle file."""

    battles: str = option(help="CSV or JSONL with model_a, model_b, winner[, study_id]")


@dataclass(kw_only=True)
class LeaderboardConfig(RatingOptions, ExportChoice):
    """`xraybench arena leaderboard`: rate an arena's battles and write its leaderboard files."""

    arena: str = arena_option("arena name: its store arenas/ARENA/judgments.sqlite and the leaderboard's title")
    battles: str | None = option(
        None,
        help="CSV or JSONL with model_a, model_b, winner[, study_id, source] (default: the battles judged in the "
        "arena's store, with its missing count and cost)",
    )
    store: str | None = store_option()
    out: str | None = option(
        None, help="output folder (default: arenas/ARENA/leaderboard; the tracked leaderboards/ only when given)"
    )
    judge: str | None = option(
        None,
        help="only this judge's battles of the store, and the judge named on the leaderboard (a metric: judge is "
        "marked as a proxy)",
    )
    prompt_version: str | None = option(None, help="judge prompt version shown on the leaderboard")
    runs: list[str] = option([], several=True, metavar="MODEL=RUN_DIR", help="benchmark run of each model")
    keep_metrics: bool = option(
        False,
        help="keep the metric columns (and run notes) of the leaderboard already in the output folder for the "
        "models that --runs does not name (how a submission regenerates an arena's leaderboard)",
    )
    min_verdicts: int = option(
        MIN_VERDICTS, metavar="N",
        help=f"refuse a leaderboard with fewer judge verdicts (default {MIN_VERDICTS}; ties between identical reports "
        "are not verdicts; in a battle file without a source column every row counts as a verdict)",
    )  # fmt: skip
    min_verdict_share: float = option(
        MIN_VERDICT_SHARE, metavar="F",
        help=f"refuse it when the judge gave a verdict on less than this share of the judgments it answered or failed "
        f"(default {MIN_VERDICT_SHARE:g})",
    )  # fmt: skip
    allow_few_verdicts: bool = option(False, help="write it anyway, with a warning banner on every page")
    compare: list[str] = option(
        [], several=True, metavar="LEADERBOARD",
        help="another arena's leaderboard.json (or its folder): the page shows how far the two rankings agree "
        "(Kendall tau, Spearman rho over the models both rated)",
    )  # fmt: skip


@dataclass
class Leaderboard:
    """What `build_leaderboard` wrote and from what: the ratings, the files, and where the battles came from."""

    out: Path
    written: list[Path]
    ratings: Ratings
    counts: dict[str, Any] | None = None  # verdicts, automatic ties, failures and judge configurations
    banner: str | None = None  # the too-few-verdicts warning on every page (with `allow_few_verdicts`)
    source: str = ""


@dataclass(kw_only=True)
class BattlesConfig(ExportChoice):
    """`xraybench arena battles`: export an arena's judged battles as a battle file."""

    arena: str = arena_option()
    out: str = option(help="battle file to write (JSONL)")
    store: str | None = store_option()
    judge: str | None = option(None, help="only this judge's battles")
    view: str = option("both", choices=("both", "consistent"), help="both orders, or one per pair")


@dataclass(kw_only=True)
class ReparseConfig:
    """`xraybench arena reparse`: re-parse stored judge answers with this version's verdict parser."""

    arena: str = arena_option()
    store: str | None = store_option()


def parse_runs(specs: list[str]) -> dict[str, str]:
    """`MODEL=RUN_DIR` items -> {model: run folder}; a malformed item or a model named twice is an error."""
    runs: dict[str, str] = {}
    for spec in specs:
        model, sep, path = spec.partition("=")
        if not sep or not model.strip() or not path.strip():
            raise XrayBenchError(f"--runs expects MODEL=RUN_DIR, got {spec!r}")
        if model.strip() in runs:
            raise XrayBenchError(f"--runs names model {model.strip()!r} twice")
        runs[model.strip()] = path.strip()
    return runs


def ratings(config: RatingsConfig) -> Ratings:
    """Bradley-Terry ratings with bootstrap CIs of the battle file `config.battles`."""
    from arena.battles import read_battles

    return config.rate(read_battles(config.battles))


def store_battles(
    arena: str, store: str | None, config: str | None = None, mix: bool = False, judge: str | None = None
) -> tuple[Battles, BattleExport, float, list[str], str]:
    """Battles judged in an arena's store (of `judge` only when given; one judge configuration unless `mix`), their
    export, spend and judges."""
    from arena.battles import battles_of
    from arena.judging import export_battles, plan_path, store_path
    from xraybench.callstore import CallStore

    path = store_path(arena, store)
    if not path.exists():
        raise XrayBenchError(f"no judgment store {path}: pass --battles FILE, or run `xraybench arena judge` first")
    with CallStore(path) as calls:
        export = export_battles(calls, plan_path(path), judge, config=config, mix=mix)
        cost = calls.totals().cost_usd
    if not export.rows:
        raise XrayBenchError(_no_battles(path, judge, export.n_missing))
    judges = sorted({r["judge"] for r in export.rows})
    return battles_of(export.rows, path), export, cost, judges, str(path)


def _no_battles(store: Path, judge: str | None, n_missing: int) -> str:
    """Why a store gave no battles: a judge it never planned (naming the ones it did), or nothing judged yet."""
    from arena.judging import plan_path, read_plan

    planned = sorted({e["judge"] for e in read_plan(plan_path(store))})
    if judge is not None and judge not in planned:
        return f"{store}: no battles of judge {judge!r} (its judges: {', '.join(planned) or 'none yet'})"
    return f"{store}: no judged battles yet ({n_missing} planned judgments are missing)"


def file_counts(path: str | Path) -> dict[str, Any] | None:
    """Judge verdicts and automatic ties of a battle file, told apart by the `source` column that `arena battles`
    writes (`judge` / `identical`); a row without a source (a hand-made or FastChat file) counts as a verdict.
    None when no row has a source: nothing tells them apart, and the leaderboard says so."""
    from arena.battles import battle_records

    records = [rec for _, rec in battle_records(path)]
    sources = [rec.get("source") for rec in records]
    if all(s in (None, "") for s in sources):
        return None
    return {
        "n_verdicts": sum(s != "identical" for s in sources), "n_identical": sum(s == "identical" for s in sources),
        "n_failed": None, "n_missing": None,
        "judge_configs": sorted({str(r["judge_config"]) for r in records if r.get("judge_config")}),
    }  # fmt: skip


def build_leaderboard(config: LeaderboardConfig) -> Leaderboard:
    """Rate an arena's battles (its store, or `config.battles`) and write the leaderboard files.

    A leaderboard whose judge gave fewer verdicts than `min_verdicts` (or on less than `min_verdict_share` of the
    judgments it was asked) is refused, from the store and from a battle file alike; `allow_few_verdicts` writes it
    with a warning banner instead. Metric columns come from `config.runs` (each model's benchmark run), and with
    `keep_metrics` from the leaderboard already in the output folder for the other models."""
    from arena.battles import read_battles
    from arena.leaderboard import (
        check_verdicts,
        default_board,
        existing_columns,
        other_ratings,
        prompt_version_for,
        proxy_note_for,
        run_metrics,
        run_note,
        write_leaderboard,
    )
    from xraybench.names import check_name

    config.check_choice()
    name = check_name(config.arena.strip(), "--arena")
    runs = parse_runs(config.runs)
    n_missing: int | None = None
    cost_usd: float | None = None
    judge, prompt_version = config.judge, config.prompt_version
    tasks: list[str] = []
    if config.battles:
        battles = read_battles(config.battles)
        source = config.battles
        counts = file_counts(config.battles)
        # no source column: every row counts as a verdict for the check; the page says they are not told apart
        check = {"n_verdicts": len(battles), "n_failed": 0} if counts is None else counts
    else:
        battles, export, cost_usd, judges, source = store_battles(
            name, config.store, config.judge_config, config.all_configs, config.judge
        )
        counts = check = export.counts()
        n_missing = export.n_missing
        judge = judge or (judges[0] if len(judges) == 1 else ", ".join(judges))
        if prompt_version is None:
            prompt_version = prompt_version_for(judges)
        # the arena's task columns for every model (a suite run would give other columns than a submitted task run)
        tasks = sorted({r["task"] for r in export.rows})
    banner = check_verdicts(
        check, min_verdicts=config.min_verdicts, min_share=config.min_verdict_share,
        allow_few=config.allow_few_verdicts, source=source,
    )  # fmt: skip
    unknown = sorted(set(runs) - set(battles.models))
    if unknown:
        raise XrayBenchError(
            f"--runs names models with no battles in {source}: {', '.join(unknown)} "
            f"(models: {', '.join(battles.models)})"
        )
    task = tasks[0] if len(tasks) == 1 else None
    out = Path(config.out) if config.out else default_board(name)
    metrics: dict[str, dict[str, float | None]] = {}
    run_notes: dict[str, str | None] = {}
    if config.keep_metrics:  # the columns the current leaderboard shows, for the models still in the battles
        kept_metrics, kept_notes = existing_columns(out)
        metrics.update((m, v) for m, v in kept_metrics.items() if m in battles.models)
        run_notes.update((m, n) for m, n in kept_notes.items() if m in battles.models)
    metrics.update({model: run_metrics(path, task) for model, path in sorted(runs.items())})
    run_notes.update({model: run_note(path, task) for model, path in sorted(runs.items())})
    compare = dict(other_ratings(path) for path in config.compare)
    result = config.rate(battles)
    written = write_leaderboard(
        out, result, name=name, judge=judge, prompt_version=prompt_version, n_judgments=len(battles),
        n_missing=n_missing, cost_usd=cost_usd, metrics=metrics, proxy_note=proxy_note_for(judge), counts=counts,
        banner=banner, run_notes=run_notes, compare=compare,
    )  # fmt: skip
    return Leaderboard(out, written, result, counts, banner, source)


@dataclass
class BattleFile:
    """What `battles` wrote: the file, its rows, and the export they came from (counts and order-flip rates)."""

    path: Path
    n_rows: int
    export: BattleExport = field(repr=False)


def battles(config: BattlesConfig) -> BattleFile:
    """Write an arena's judged battles (canonical model orientation) as JSONL; `view="consistent"` keeps one row
    per pair and order, a pair whose two orders disagree counted as a tie."""
    from arena.judging import export_battles, plan_path, store_path, write_battles
    from xraybench.callstore import CallStore

    config.check_choice()
    path = store_path(config.arena, config.store)
    if not path.exists():
        raise XrayBenchError(f"no judgment store {path}: run `xraybench arena judge --arena {config.arena} ...` first")
    with CallStore(path) as store:
        export = export_battles(store, plan_path(path), config.judge, config.judge_config, mix=config.all_configs)
    rows = export.consistent_rows if config.view == "consistent" else export.rows
    if not rows:
        raise XrayBenchError(_no_battles(path, config.judge, export.n_missing))
    return BattleFile(write_battles(rows, config.out), len(rows), export)


def reparse(config: ReparseConfig) -> ReparseResult:
    """Re-parse every stored judgment whose parser version differs from the current one (no call, no cost)."""
    from arena.judging import KIND, store_path
    from arena.verdict import PARSER_VERSION, parse_verdict
    from xraybench.callstore import CallStore

    path = store_path(config.arena, config.store)
    if not path.exists():
        raise XrayBenchError(f"no judgment store {path}")
    with CallStore(path) as store:
        return store.reparse(parse_verdict, PARSER_VERSION, kind=KIND)
