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


# `--metric-arg` on the arena's judging commands: the options of its `metric:` judges (`arena.judges.metric`)
JUDGE_METRIC_ARG_HELP = (
    "an option of a metric: judge (METRIC: the judge's name without metric:; repeatable), typed and checked against the options the "
    "judge declares, e.g. --metric-arg lexical.win=0.1 --metric-arg clinical.tie_break=0.1; part of the judge's "
    "configuration, so verdicts made with other options are not reused"
)


@dataclass
class JudgeConfig(LLMOptions, DryRun, DataSources, Seeded, JsonOutput):
    """`xraybench arena judge`: one object drives the CLI and the Python API (`judge_arena`); the LLM judge's
    options are `LLMOptions` (a `metric:` judge is offline and free: they do not apply to it)."""

    arena: str = arena_option()
    task: str = option(help="the report task the battles are about, e.g. demo_findings")
    judge: list[str] = option(
        repeat=True,
        help="litellm PROVIDER/MODEL, e.g. openai/gpt-4o-mini, or an offline reference-based proxy judge: "
        "metric:clinical, metric:lexical, metric:paper-score; repeat it for a judge ensemble (every battle judged "
        "by each judge, one after the other, into the same store)",
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
    metric_args: list[str] = shared_option(MetricArgs, "metric_args", help=JUDGE_METRIC_ARG_HELP)

    def __post_init__(self) -> None:
        self.judge = judge_names(self.judge, required=True)
        self.metric_args = parse_metric_args(self.metric_args)  # type: ignore[assignment]  # judge -> {key: value}
        super().__post_init__()


def judge_names(value: str | list[str] | tuple[str, ...] | None, *, required: bool = False) -> list[str]:
    """`--judge` given once or repeated (a judge ensemble); a plain string (the Python API's one judge) is one judge.
    A judge named twice or an empty name is refused."""
    names = [value] if isinstance(value, str) else list(value or [])
    names = [n.strip() if isinstance(n, str) else n for n in names]
    if any(not isinstance(n, str) or not n for n in names):
        raise XrayBenchError(f"--judge needs a judge name, got {value!r}")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise XrayBenchError(f"--judge names {', '.join(twice)} more than once")
    if required and not names:
        raise XrayBenchError("the option --judge is required")
    return names


def judge_arena(config: JudgeConfig, *, progress: bool = True) -> tuple[JudgeReport, Path]:
    """Judge the field's pending battles into the arena's store; returns the report and the store's path
    (the seed draws the study sample and the adaptive schedule).

    An LLM judge is checked for governance before any call and runs under the budget, rate limit and retries; a
    `metric:` judge is offline and free (`progress`: its progress bar). Several judges (an ensemble) judge the
    same battles one after the other, each under what is left of the arena's budget; every judge is built (and
    checked for governance) before the first call. The report then adds up the judges' counts and keeps each
    judge's own report in `judges`."""
    from arena.budget import budgeted_runner_options
    from arena.judges import build_judge
    from arena.judges.metric import judge_options
    from arena.judging import (
        Judging,
        combine_reports,
        judge_schedule,
        load_field,
        plan_path,
        shared_studies,
        store_path,
    )
    from xraybench.callstore import CallStore
    from xraybench.errors import XrayBenchError

    if bool(config.runs) == bool(config.predictions):
        raise XrayBenchError("arena judge needs the field as exactly one of --runs or --predictions")
    judge_options(config.metric_args, config.judge)  # type: ignore[arg-type]  # before any work: "did you mean"
    fld = load_field(config.task, config.runs, config.predictions, config.data_roots, config.max_chars)
    path = store_path(config.arena, config.store)
    judges = [
        build_judge(  # governance is checked before any store or call; the output protocol is in every key
            name,
            config,
            samples=shared_studies(fld, config.studies, config.seed),
            structured_output=config.structured_output,
            dry_run=config.dry_run,
            plan=plan_path(path),
        )  # fmt: skip
        for name in config.judge
    ]
    reports = {}
    with CallStore(path) as store:
        for name, judge in zip(config.judge, judges, strict=True):
            options, _ = budgeted_runner_options(
                config.runner_options(), path, store, raise_budget=config.raise_budget, persist=not config.dry_run
            )
            judging = Judging(judge, store, **options, progress=progress)
            reports[name] = judge_schedule(
                fld, judging, plan_path(path), schedule=config.schedule, studies=config.studies, seed=config.seed,
                new_model=config.new_model, batch_size=config.batch_size, max_in_flight=config.max_in_flight,
                dry_run=config.dry_run,
            )  # fmt: skip
    return combine_reports(reports), path


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
        from arena.style import style_design

        why_not = None  # why `auto` leaves style control out, said on the page
        if not battles.has_style:
            why_not = (
                "not shown: some battles carry no style counts (a battle file without style_a/style_b, or an arena "
                "planned before they were recorded, whose ties between identical reports have no stored text)"
            )
        elif not style_design(battles.style_names, battles.style_a, battles.style_b)[1]:  # type: ignore[arg-type]
            why_not = "not shown: no style feature differs between the two reports of any battle"
        style = why_not is None if self.style_control == "auto" else self.style_control == "on"
        result = compute_ratings(
            battles, anchor=self.anchor, anchor_rating=self.anchor_rating, rounds=self.bootstrap_rounds,
            seed=self.seed, prior=self.prior, length_control=self.length_control, style_control=style,
        )  # fmt: skip
        if self.style_control == "auto" and why_not:
            result.settings["style_control"] = why_not
        return result


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
    judge: list[str] = option(
        [], repeat=True,
        help="only this judge's battles of the store, and the judge named on the leaderboard (a metric: judge is "
        "marked as a proxy); repeat it for a judge ensemble: each judge's ratings, a pooled rating and the judges' "
        "agreement (docs/ratings.md)",
    )  # fmt: skip
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

    def __post_init__(self) -> None:
        self.judge = judge_names(self.judge)


@dataclass
class Leaderboard:
    """What `build_leaderboard` wrote and from what: the ratings, the files, and where the battles came from."""

    out: Path
    written: list[Path]
    ratings: Ratings
    counts: dict[str, Any] | None = None  # verdicts, automatic ties, failures and judge configurations
    banner: str | None = None  # the too-few-verdicts warning on every page (with `allow_few_verdicts`)
    source: str = ""
    ensemble: dict[str, Any] | None = None  # several judges: each one's counts and ratings, pooling, agreement


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


def ensemble_battles(
    arena: str, config: LeaderboardConfig
) -> tuple[Battles, dict[str, Any], float, dict[str, Any], str | None, str]:
    """The pooled battles of several judges of an arena's store (`arena.ensemble`), their combined counts, spend, the
    ensemble's section of the leaderboard (each judge's counts, order-flip rate and ratings, the judges' agreement),
    the banner and the store.

    Each judge is held to the verdict minimum on its own: a judge with too few verdicts is refused, or with
    `allow_few_verdicts` left out of the pooled rating and named in the banner (when no judge has enough, all are
    pooled and the banner says the ratings do not rank the models)."""
    from dataclasses import replace

    from arena.battles import battles_of
    from arena.ensemble import POOLING, judge_agreement, pooled_rows
    from arena.judging import export_battles, plan_path, read_plan, store_path
    from arena.leaderboard import verdict_shortfall
    from xraybench.callstore import CallStore

    if config.battles:
        raise XrayBenchError("several --judge rate an arena's store: leave out --battles (a battle file is one table)")
    if config.judge_config is not None:
        raise XrayBenchError(
            "--judge-config names one judge's configuration: with several --judge, each judge's most recent one is "
            "used (or every one with --all-configs)"
        )
    path = store_path(arena, config.store)
    if not path.exists():
        raise XrayBenchError(f"no judgment store {path}: run `xraybench arena judge` with these judges first")
    planned = {e["judge"] for e in read_plan(plan_path(path))} if plan_path(path).exists() else set()
    unknown = [j for j in config.judge if j not in planned]
    if unknown:
        raise XrayBenchError(
            f"{path}: no battles of judge {', '.join(map(repr, unknown))} (its judges: {', '.join(sorted(planned)) or 'none yet'})"
        )
    with CallStore(path) as calls:
        exports = {j: export_battles(calls, plan_path(path), j, mix=config.all_configs) for j in config.judge}
        cost = calls.totals().cost_usd
    short = {
        j: reason for j, e in exports.items()
        if (reason := verdict_shortfall(e.counts(), config.min_verdicts, config.min_verdict_share)) is not None
    }  # fmt: skip
    if short and not config.allow_few_verdicts:
        raise XrayBenchError(
            f"{path}: not publishing a leaderboard: "
            + "; ".join(f"judge {j}: {reason}" for j, reason in short.items())
            + ". Fix the judge and rerun `arena judge`, leave it out of --judge, or pass --allow-few-verdicts (it is "
            "then left out of the pooled rating, with a warning banner)"
        )
    pooled = [j for j in config.judge if j not in short] or [j for j in config.judge if exports[j].rows]
    if not pooled:
        raise XrayBenchError(f"{path}: none of the judges {', '.join(config.judge)} has a judged battle yet")
    banner = None
    if short:
        left_out = [j for j in short if j not in pooled]
        banner = "Too few judge verdicts: " + "; ".join(f"judge {j}: {r}" for j, r in short.items()) + (
            f". Left out of the pooled rating: {', '.join(left_out)}." if left_out
            else ". These ratings do not rank the models."
        )  # fmt: skip
    rows = {j: exports[j].rows for j in config.judge if exports[j].rows}
    battles = battles_of(pooled_rows({j: rows[j] for j in pooled}), path)
    per_judge = replace(config, style_control="off", length_control=False)  # the pooled board shows the controls
    ratings = {j: per_judge.rate(battles_of(r, path)) for j, r in rows.items()}
    counts: dict[str, Any] = {key: sum(exports[j].counts()[key] for j in pooled)
                              for key in ("n_verdicts", "n_identical", "n_failed", "n_missing")}  # fmt: skip
    counts["judge_configs"] = [c for j in pooled for c in exports[j].configs_used]
    counts["other_judge_configs"] = [c for j in pooled for c in exports[j].counts()["other_judge_configs"]]
    counts["flagged"] = exports[pooled[0]].flagged
    counts["order_flip_rates"] = {j: exports[j].counts()["order_flip_rates"].get(j) for j in pooled}
    ensemble = {
        "pooling": POOLING,
        "pooled_judges": pooled,
        "judges": [
            {**{k: e.counts()[k] for k in ("n_verdicts", "n_identical", "n_failed", "n_missing")},
             "judge": j, "judge_configs": e.configs_used, "order_flip_rate": e.flip_rate.get(j),
             "n_pairs_both_orders": e.n_pairs_both_orders.get(j, 0), "pooled": j in pooled, "shortfall": short.get(j)}
            for j, e in exports.items()
        ],
        "ratings": {
            j: {m: {"rating": float(r.rating[i]), "ci_low": float(r.ci_low[i]), "ci_high": float(r.ci_high[i]),
                    "rank": int(r.rank[i])} for i, m in enumerate(r.models)}
            for j, r in ratings.items()
        },
        "agreement": judge_agreement(rows, rounds=config.bootstrap_rounds, seed=config.seed),
        "tasks": sorted({r["task"] for j in pooled for r in rows[j]}),
    }  # fmt: skip
    return battles, counts, cost, ensemble, banner, str(path)


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
    judge, prompt_version = ", ".join(config.judge) or None, config.prompt_version
    tasks: list[str] = []
    ensemble: dict[str, Any] | None = None
    banner: str | None = None
    if len(config.judge) > 1:  # a judge ensemble: the pooled battles, each judge checked and rated on its own
        battles, counts, cost_usd, ensemble, banner, source = ensemble_battles(name, config)
        n_missing, check = counts["n_missing"], None
        prompt_version = prompt_version or prompt_version_for(config.judge)
        tasks = ensemble.pop("tasks")
    elif config.battles:
        battles = read_battles(config.battles)
        source = config.battles
        counts = file_counts(config.battles)
        # no source column: every row counts as a verdict for the check; the page says they are not told apart
        check = {"n_verdicts": len(battles), "n_failed": 0} if counts is None else counts
    else:
        battles, export, cost_usd, judges, source = store_battles(
            name, config.store, config.judge_config, config.all_configs, judge
        )
        counts = check = export.counts()
        n_missing = export.n_missing
        judge = judge or (judges[0] if len(judges) == 1 else ", ".join(judges))
        if prompt_version is None:
            prompt_version = prompt_version_for(judges)
        # the arena's task columns for every model (a suite run would give other columns than a submitted task run)
        tasks = sorted({r["task"] for r in export.rows})
    if check is not None:
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
        banner=banner, run_notes=run_notes, compare=compare, ensemble=ensemble,
    )  # fmt: skip
    return Leaderboard(out, written, result, counts, banner, source, ensemble)


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
