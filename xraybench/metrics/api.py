"""`score_texts`: score plain hypothesis / reference strings with registered metrics.

The Python face of `xraybench score`: it builds `Sample` / `Prediction` records, constructs each named
metric from the registry with the run options its `MetricSpec` asks for (lexical metrics take `tokenizer`),
and shares one token cache between them so each text is tokenized once per call.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from xraybench.errors import XrayBenchError
from xraybench.metrics import METRICS
from xraybench.metrics._lexical import TokenCache
from xraybench.metrics.base import RUN_OPTIONS, Scores, spec_of
from xraybench.metrics.tokenize import check_mode
from xraybench.records import Prediction, Sample


def build_records(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]]
) -> tuple[list[Sample], list[Prediction]]:
    """Aligned records for text pairs; every hypothesis needs at least one reference."""
    if len(hypotheses) != len(references):
        raise XrayBenchError(
            f"score_texts: {len(hypotheses)} hypotheses but {len(references)} reference lists; expected one list per hypothesis"
        )
    samples: list[Sample] = []
    predictions: list[Prediction] = []
    for index, (hyp, refs) in enumerate(zip(hypotheses, references, strict=False)):
        if isinstance(refs, str):
            raise XrayBenchError(f"score_texts: references[{index}] is a string; expected a list of reference strings")
        refs = list(refs)
        if not refs or not all(isinstance(r, str) for r in refs) or not isinstance(hyp, str):
            raise XrayBenchError(
                f"score_texts: item {index} needs a hypothesis string and at least one reference string"
            )
        sid = str(index)
        samples.append(
            Sample(id=sid, task="report", dataset="texts", split="", prompt="", reference=refs[0], references=refs[1:])
        )
        predictions.append(Prediction(id=sid, task="report", model="texts", raw=hyp, answer=hyp))
    return samples, predictions


def construct_metric(name: str, run_options: Mapping[str, Any], options: Mapping[str, Any] | None = None) -> Any:
    """The metric registered as `name`, built with the run options its `MetricSpec.options` asks for
    (`RUN_OPTIONS`: tokenizer, token cache, ...) and then `options` (the task's own, e.g. its label set)."""
    factory = METRICS.get(name)
    spec = spec_of(factory)
    kwargs = {param: run_options[option] for param, option in spec.options.items() if option in run_options}
    return factory(**{**kwargs, **(options or {})})


# ---- metric options (`--metric-arg METRIC.KEY=VALUE`) ------------------------------------------------------

# Constructor options that decide where and in what batches a metric runs, not the value it computes: a resumed run
# may change them (a GPU instead of the CPU); every other metric option is part of a run's identity (`identity`).
PLACEMENT_OPTIONS = ("device", "batch_size", "chunk_size")


def declared_options(factory: Any) -> tuple[dict[str, Any], bool]:
    """The options a metric declares: its constructor's keyword parameters (name -> annotation; `Any` where none),
    less those the run fills (`MetricSpec.options`: tokenizer, progress, ...); and whether it takes any keyword."""
    spec = spec_of(factory)
    params = inspect.signature(factory).parameters
    try:
        hints = typing.get_type_hints(factory.__init__)
    except Exception:  # a plugin's annotation that does not resolve here: its values are read as YAML scalars
        hints = {}
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    declared = {n: hints.get(n, Any) for n, p in params.items() if p.kind in kinds and n not in spec.options}
    return declared, any(p.kind is p.VAR_KEYWORD for p in params.values())


def metric_options(
    args: Mapping[str, Mapping[str, Any]],
    *,
    scored: Collection[str] | None = None,
    fixed: Mapping[str, Mapping[str, str]] | None = None,
    add_with: str = "--extra-metrics {metric}",
    flag: str = "--metric-arg",
) -> dict[str, dict[str, Any]]:
    """`args` (metric -> {option: value}, as `xraybench.config.parse_metric_args` reads them) checked and typed
    against what each metric declares (`declared_options`), before any work: an unknown metric or option gets "did
    you mean", a value its declared type (command-line text read as a YAML scalar) or an error naming the option,
    the value and the type. Refused too: a metric not in `scored` (the command's metrics; `add_with` says how to add
    one), an option the run sets (`--tokenizer`) or one `fixed` by a task (`classification.labels`)."""
    from xraybench.config import typed_option, unknown_option
    from xraybench.errors import MissingExtraError
    from xraybench.registry import UnknownNameError

    out: dict[str, dict[str, Any]] = {}
    for metric, values in args.items():
        first = f"{flag} {metric}.{next(iter(values), 'KEY')}=..."
        try:
            METRICS.entry(metric)
        except UnknownNameError as exc:
            raise XrayBenchError(f"{first}: {exc}") from None
        if scored is not None and metric not in scored:
            raise XrayBenchError(
                f"{first}: {metric} is not scored here (the metrics scored: {', '.join(scored) or 'none'}); "
                f"add it with {add_with.format(metric=metric)}"
            )
        try:
            factory = METRICS.get(metric)
        except MissingExtraError:  # not installed: scoring lists it as skipped with the install hint
            out[metric] = dict(values)
            continue
        declared, takes_any = declared_options(factory)
        run_set = spec_of(factory).options
        typed: dict[str, Any] = {}
        for key, value in values.items():
            given = f"{flag} {metric}.{key}={value}"
            if key in run_set:
                raise XrayBenchError(f"{given}: {metric}'s {key} is the command's setting: {RUN_OPTIONS[run_set[key]]}")
            setter = (fixed or {}).get(metric, {}).get(key)
            if setter:
                raise XrayBenchError(f"{given}: {metric}'s {key} is set by {setter}, and cannot be changed")
            if key not in declared and not takes_any:
                raise unknown_option(key, list(declared), given=given, owner=f"the {metric} metric")
            typed[key] = typed_option(
                value, declared.get(key, Any), given=given, label=f"the {metric} metric's option {key!r}"
            )
        out[metric] = typed
    return out


def identity_options(options: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The metric options that change a value (all but `PLACEMENT_OPTIONS`), for a run's identity."""
    out = {m: {k: v for k, v in opts.items() if k not in PLACEMENT_OPTIONS} for m, opts in options.items()}
    return {m: opts for m, opts in out.items() if opts}


def run_metrics(
    tasks: Sequence[str], extra: Sequence[str], skip: Sequence[str]
) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The metrics a run scores (each task's own and the `--extra-metrics` of its kind, less `--skip-metrics`), and
    the metric options its tasks fix (metric -> option -> "the task NAME")."""
    from xraybench.tasks import expand, get_task

    scored: list[str] = []
    fixed: dict[str, dict[str, str]] = {}
    for name in expand(list(tasks))[0]:
        task = get_task(name)
        applied, _ = extra_metrics_for(task.name, task.kind, task.metrics, extra)
        scored += [m for m in (*task.metrics, *applied) if m not in skip and m not in scored]
        for metric, options in task.metric_options.items():
            for key in options:
                fixed.setdefault(metric, {}).setdefault(key, f"the task {task.name}")
    return scored, fixed


def score_texts(
    hypotheses: list[str],
    references: list[list[str]],
    metrics: list[str],
    tokenizer: str = "coco",
    options: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Scores]:
    """Scores of every named metric (`bleu` gives `bleu_1`..`bleu_4`), keyed by score name.

    `options` maps a metric name to its options (e.g. `{"rouge_l": {"beta": 1.0}}`), typed and checked against
    what the metric declares (`metric_options`: "did you mean", the expected type).
    Empty hypotheses are legal and score as pycocoevalcap scores them.
    """
    check_mode(tokenizer)
    typed = metric_options(options or {}, scored=metrics, add_with="metrics=[..., {metric!r}]", flag="options")
    samples, predictions = build_records(hypotheses, references)
    cache = TokenCache()
    out: dict[str, Scores] = {}
    for name in metrics:
        run_options = {"tokenizer": tokenizer, "token_cache": cache}
        metric = construct_metric(name, run_options, typed.get(name, {}))
        out.update(metric.score(samples, predictions))
    return out


def check_run_metrics(tasks: Sequence[str], extra: Sequence[str], skip: Sequence[str]) -> None:
    """Before any work: every `--extra-metrics` / `--skip-metrics` name is a metric ("did you mean"), and each
    extra one scores at least one task kind of the run (bertscore on a VQA-only run is refused, not dropped)."""
    from xraybench.errors import MissingExtraError
    from xraybench.tasks import expand, get_task

    for name in (*skip, *extra):
        METRICS.entry(name)
    names = expand(list(tasks))[0]
    kinds = {get_task(t).kind for t in names}
    for name in extra:
        try:
            wanted = spec_of(METRICS.get(name)).kinds
        except MissingExtraError:
            continue  # the run lists it as skipped with the install hint, as before
        if not kinds & set(wanted):
            raise XrayBenchError(
                f"--extra-metrics {name}: {name} scores {' and '.join(wanted)} tasks, and this run has only "
                f"{' and '.join(sorted(kinds))} tasks ({', '.join(names)})"
            )


def extra_metrics_for(
    task_name: str, task_kind: str, task_metrics: Sequence[str], extra: Sequence[str]
) -> tuple[list[str], dict[str, str]]:
    """The `--extra-metrics` a task gets (those declaring its kind), and why each other one is not applied."""
    from xraybench.errors import MissingExtraError

    applied: list[str] = []
    not_applied: dict[str, str] = {}
    for name in extra:
        if name in task_metrics or name in applied:
            continue
        try:
            kinds = spec_of(METRICS.get(name)).kinds
        except MissingExtraError:
            applied.append(name)  # constructing it raises the install hint, which the run lists as skipped
            continue
        if task_kind in kinds:
            applied.append(name)
        else:
            not_applied[name] = f"scores {' and '.join(kinds)} tasks; {task_name} is a {task_kind} task"
    return applied, not_applied
