"""`score_texts`: score plain hypothesis / reference strings with registered metrics.

The Python face of `xraybench score`: it builds `Sample` / `Prediction` records, constructs each named
metric from the registry (lexical metrics get `tokenizer=`), and shares one token cache between them so
each text is tokenized once per call.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from xraybench.errors import XrayBenchError
from xraybench.metrics import METRICS
from xraybench.metrics._lexical import TokenCache
from xraybench.metrics.base import Scores
from xraybench.metrics.tokenize import check_mode
from xraybench.records import Prediction, Sample

LEXICAL = frozenset(["bleu", "meteor", "rouge_l", "cider"])


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


def construct_metric(name: str, tokenizer: str, cache: TokenCache, options: dict[str, Any]) -> Any:
    factory = METRICS.get(name)
    params = inspect.signature(factory).parameters
    kwargs = dict(options)
    if name in LEXICAL:
        kwargs["tokenizer"] = tokenizer
        if "cache" in params:
            kwargs["cache"] = cache
    return factory(**kwargs)


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
        metric = construct_metric(name, tokenizer, cache, (options or {}).get(name, {}))
        out.update(metric.score(samples, predictions))
    return out
