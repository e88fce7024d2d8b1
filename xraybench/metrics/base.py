"""The metric interface: a metric scores aligned samples and predictions.

Every metric returns `Scores` objects that keep per-sample values and know how to re-aggregate any
resample of sample indices, so bootstrap CIs, per-category breakdowns and paired tests work the same
way for mean-of-samples metrics (accuracy) and corpus-level metrics (BLEU, CIDEr, METEOR).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from xraybench.records import Prediction, Sample

Aggregate = Callable[[np.ndarray], float]


@dataclass
class Scores:
    """One metric's result over a list of samples.

    `aggregate(indices)` returns the corpus value over the samples at `indices` (repeats allowed,
    as in a bootstrap resample). When it is None the corpus value is the mean of `per_sample`.
    `details` records how the value was computed (tokenizer mode, variant, thresholds...).
    """

    name: str
    value: float
    per_sample: np.ndarray
    aggregate: Aggregate | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def on(self, indices: Sequence[int] | np.ndarray) -> float:
        idx = np.asarray(indices, dtype=np.int64)
        if len(idx) == 0:
            return float("nan")
        if self.aggregate is not None:
            return float(self.aggregate(idx))
        return float(np.mean(self.per_sample[idx]))

    @classmethod
    def mean(cls, name: str, per_sample: Sequence[float] | np.ndarray, **details: Any) -> Scores:
        values = np.asarray(per_sample, dtype=np.float64)
        value = float(values.mean()) if len(values) else float("nan")
        return cls(name, value, values, None, dict(details))


class Metric(Protocol):
    """Scores aligned lists of samples and predictions; returns one or more named `Scores`."""

    name: str

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]: ...
