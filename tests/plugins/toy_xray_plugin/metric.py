"""A toy metric: words per answer (a length, so lower is not worse and higher is not better either)."""

from __future__ import annotations

from collections.abc import Sequence

from xraybench.metrics.base import MetricSpec, Scores
from xraybench.records import Prediction, Sample


class WordCount:
    name = "toy_words"
    spec = MetricSpec(kinds=("report",), headline=("toy_words",), higher_is_better=False,
                      options={"tokenizer": "tokenizer"})  # fmt: skip

    def __init__(self, tokenizer: str = "coco"):
        self.tokenizer = tokenizer

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        counts = [len((p.answer or "").split()) for p in predictions]
        return {"toy_words": Scores.mean("toy_words", counts, tokenizer=self.tokenizer)}


class CharCount:
    """Registered by the plugin's registration function (a bare entry point), not by a `metric.NAME` one."""

    name = "toy_chars"
    spec = MetricSpec(kinds=("report",), higher_is_better=False)

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        return {"toy_chars": Scores.mean("toy_chars", [len(p.answer or "") for p in predictions])}
