"""`score_texts`: score plain hypothesis / reference strings with registered metrics.

The Python face of `xraybench score`: it builds `Sample` / `Prediction` records, constructs each named
metric from the registry with the run options its `MetricSpec` asks for (lexical metrics take `tokenizer`),
and shares one token cache between them so each text is tokenized once per call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from xraybench.errors import XrayBenchError
from xraybench.metrics import METRICS
from xraybench.metrics._lexical import TokenCache
from xraybench.metrics.base import Scores, spec_of
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


def score_texts(
    hypotheses: list[str],
    references: list[list[str]],
    metrics: list[str],
    tokenizer: str = "coco",
    options: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Scores]:
    """Scores of every named metric (`bleu` gives `bleu_1`..`bleu_4`), keyed by score name.

    `options` maps a metric name to extra constructor arguments (e.g. `{"rouge_l": {"beta": 1.0}}`).
    Empty hypotheses are legal and score as pycocoevalcap scores them.
    """
    check_mode(tokenizer)
    samples, predictions = build_records(hypotheses, references)
    cache = TokenCache()
    out: dict[str, Scores] = {}
    for name in metrics:
        run_options = {"tokenizer": tokenizer, "token_cache": cache}
        metric = construct_metric(name, run_options, (options or {}).get(name, {}))
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
