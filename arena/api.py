"""The Report Arena's Python API: each arena command as a function taking its config dataclass.

The CLI (`arena/cli.py`, `arena/audit_cli.py`, `arena/demo.py`) only maps argv to these configs and prints what
they return; a script or notebook calls the same functions with the same configs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arena.prompt import MAX_CHARS
from xraybench.config import option
from xraybench.llm.options import DryRun, LLMOptions
from xraybench.taskdata import data_source_option

if TYPE_CHECKING:
    from arena.judging import JudgeReport


@dataclass
class JudgeConfig(LLMOptions, DryRun):
    """`xraybench arena judge`: one object drives the CLI and the Python API (`judge_arena`); the LLM judge's
    options are `LLMOptions` (a `metric:` judge is offline and free: they do not apply to it)."""

    name: str = option(help="arena name (store: arenas/NAME/judgments.sqlite)")
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
    seed: int = option(0, help="seed of the study sample and the adaptive schedule")
    structured_output: str = option(
        "auto", choices=("auto", "json_schema", "json_object", "off"),
        help="ask for the verdict JSON schema: json_schema (OpenAI, vLLM, SGLang, Ollama, llama.cpp), json_object "
        "(llama-cpp-python), off (text protocol); auto: by the --api-base server's /models listing, else litellm's map",
    )  # fmt: skip
    store: str | None = option(None, help="judgment store file (default: arenas/NAME/judgments.sqlite)")
    data_root: list[str] = data_source_option()  # --data-root NAME=PATH and --data-option NAME.KEY=VALUE
    raise_budget: bool = option(
        False, help="allow --budget-usd above the arena's stored budget (the budget is the arena's total spend)"
    )
    max_chars: int = option(MAX_CHARS, help="longest candidate report accepted, in characters (longer: refused)")


def judge_arena(config: JudgeConfig, *, progress: bool = True) -> tuple[JudgeReport, Path]:
    """Judge the field's pending battles into the arena's store; returns the report and the store's path.

    An LLM judge is checked for governance before any call and runs under the budget, rate limit and retries; a
    `metric:` judge is offline and free (`progress`: its progress bar)."""
    from arena.judging import Judging, judge_schedule, load_field, plan_path, shared_studies, store_path
    from arena.metric_judge import MetricJudge, MetricJudging, is_metric_judge
    from xraybench.callstore import CallStore
    from xraybench.errors import XrayBenchError

    if bool(config.runs) == bool(config.predictions):
        raise XrayBenchError("arena judge needs the field as exactly one of --runs or --predictions")
    fld = load_field(config.task, config.runs, config.predictions, config.data_root, config.max_chars)
    judge: Any
    if is_metric_judge(config.judge):
        judge = MetricJudge(config.judge)
    else:
        from arena.judge import use_structured_output

        judge = config.client(config.judge)
        config.check_governance(shared_studies(fld, config.studies, config.seed), judge)
        use_structured_output(  # recorded in every judgment key
            judge,
            config.structured_output,
            dry_run=config.dry_run,
            plan=plan_path(store_path(config.name, config.store)),
        )
    path = store_path(config.name, config.store)
    with CallStore(path) as store:
        if isinstance(judge, MetricJudge):
            judging: Any = MetricJudging(judge, store, progress=progress)
        else:
            from arena.budget import budgeted_runner_options

            options, _ = budgeted_runner_options(
                config.runner_options(), path, store, raise_budget=config.raise_budget, persist=not config.dry_run
            )
            judging = Judging(judge, store, **options)
        report = judge_schedule(
            fld, judging, plan_path(path), schedule=config.schedule, studies=config.studies, seed=config.seed,
            new_model=config.new_model, batch_size=config.batch_size, max_in_flight=config.max_in_flight,
            dry_run=config.dry_run,
        )  # fmt: skip
    return report, path
