"""Aggregation: NaN-aware sample means, batched resampling, subset weighting and relative gains.

Three things live here because several metrics and the statistics modules share them:

- `NanMean`, the aggregate of metrics whose per-sample value is NaN where a sample does not apply
  (an open-question metric on a closed question). NaN means "not applicable", never "zero".
- The batched-aggregate protocol: an aggregate may offer `many(index_matrix)` (one corpus value per
  row of resample indices, computed at once) and `concat(other)` (the same statistic over the samples
  of two systems laid end to end, which the approximate randomisation test needs for corpus metrics).
  `resample_counts` turns rows of indices into per-sample multiplicities, so count-based statistics
  become one matrix product per batch of bootstrap rounds.
- Paper-style aggregation across subsets: a sample-count-weighted average (of one score over subsets, never
  of different scores) and relative gains against a named baseline, signed by the score's declared direction
  (positive = better, also for a lower-is-better score).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from xraybench.errors import XrayBenchError
from xraybench.metrics.base import Scores
from xraybench.records import Prediction, Sample


def nanmean_rows(values: np.ndarray) -> np.ndarray:
    """Row-wise mean ignoring NaN; NaN (without a warning) for rows with no finite value."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=-1)


class NanMean:
    """Corpus value = mean of the per-sample values that are not NaN (NaN = not applicable)."""

    def __init__(self, per_sample: np.ndarray):
        self.per_sample = np.asarray(per_sample, dtype=np.float64)

    def __call__(self, indices: np.ndarray) -> float:
        return float(nanmean_rows(self.per_sample[np.asarray(indices, dtype=np.int64)]))

    def many(self, index_matrix: np.ndarray) -> np.ndarray:
        return nanmean_rows(self.per_sample[index_matrix])

    def concat(self, other: Any) -> NanMean:
        if not isinstance(other, NanMean):
            raise XrayBenchError("NanMean can only be combined with another NanMean")
        return NanMean(np.concatenate([self.per_sample, other.per_sample]))


def nanmean_scores(name: str, per_sample: Sequence[float] | np.ndarray, **details: Any) -> Scores:
    """A `Scores` whose value and resamples ignore NaN samples; `details["n"]` counts the applicable ones."""
    values = np.asarray(per_sample, dtype=np.float64)
    agg = NanMean(values)
    value = agg(np.arange(len(values))) if len(values) else float("nan")
    return Scores(
        name, value, values, agg, {"n": int(np.isfinite(values).sum()), "nan_means": "not applicable", **details}
    )


_last_counts: list = []  # [(index_matrix, n, counts)] for the most recent call


def resample_counts(index_matrix: np.ndarray, n: int) -> np.ndarray:
    """Multiplicity of each of `n` samples in each row of `index_matrix` (rounds x draws -> rounds x n).

    The result for the most recent index matrix is kept, so many statistics evaluated on the same
    bootstrap batch (`bootstrap_cis`) count it once. Callers must not modify the returned array.
    """
    if _last_counts and _last_counts[0][0] is index_matrix and _last_counts[0][1] == n:
        return _last_counts[0][2]
    rows = index_matrix.shape[0]
    offsets = (np.arange(rows, dtype=np.int64) * n)[:, None]
    flat = (index_matrix.astype(np.int64) + offsets).ravel()
    counts = np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float64)
    _last_counts[:] = [(index_matrix, n, counts)]
    return counts


def check_aligned(samples: Sequence[Sample], predictions: Sequence[Prediction], metric: str) -> None:
    """Metrics score aligned lists; a mismatch would silently score the wrong pairs, so it is an error."""
    if len(samples) != len(predictions):
        raise XrayBenchError(
            f"{metric}: {len(samples)} samples but {len(predictions)} predictions; expected aligned lists"
        )
    for sample, prediction in zip(samples, predictions, strict=True):
        if sample.id != prediction.id:
            raise XrayBenchError(
                f"{metric}: sample {sample.id!r} is paired with prediction {prediction.id!r}; expected the same id"
            )


def weighted_average(values: Mapping[str, float], counts: Mapping[str, int]) -> float:
    """Sample-count-weighted average across subsets, as the paper's overall scores.

    Subsets whose value is NaN (metric not applicable there) are left out together with their counts.
    """
    missing = [k for k in values if k not in counts]
    if missing:
        raise XrayBenchError(f"weighted_average: no sample count for subset(s) {', '.join(missing)}")
    total = 0.0
    weight = 0
    for key, value in values.items():
        count = int(counts[key])
        if count < 0:
            raise XrayBenchError(f"weighted_average: negative sample count {count} for subset {key!r}")
        if value is None or math.isnan(value) or count == 0:
            continue
        total += float(value) * count
        weight += count
    return total / weight if weight else float("nan")


def relative_gain(value: float, baseline: float, direction: str | None = "higher") -> float:
    """The paper's "x% over model B": the improvement of `value` over `baseline` relative to |baseline|, positive
    when `value` is the better one by the score's `direction` (`MetricSpec.direction`): (value - baseline) for a
    higher-is-better score, (baseline - value) for a lower-is-better one (RadCliQ-v1, error counts). NaN when the
    baseline is 0 or NaN, or the score has no direction ("none", or None: unknown), where a gain means nothing."""
    if direction not in ("higher", "lower") or baseline == 0 or math.isnan(baseline) or math.isnan(value):
        return float("nan")
    change = value - baseline if direction == "higher" else baseline - value
    return change / abs(baseline)


def better_side(a: float | None, b: float | None, direction: str | None) -> str | None:
    """The side ("A" or "B") whose value is better by `direction`; "tie" for equal values; None where the score has
    no direction (or an unknown one) or a value is missing."""
    if direction not in ("higher", "lower") or a is None or b is None or math.isnan(a) or math.isnan(b):
        return None
    if a == b:
        return "tie"
    return "A" if (a > b) == (direction == "higher") else "B"


def relative_gains(results: Mapping[str, Mapping[str, float]], baseline: str) -> dict[str, dict[str, float]]:
    """Relative gain of every model over the named baseline model, per metric both report, each in its score's
    declared direction (`xraybench.metrics.score_direction`; NaN where it has none or none is known)."""
    from xraybench.metrics import score_direction

    if baseline not in results:
        raise XrayBenchError(f"baseline {baseline!r} not among the models: {', '.join(results)}")
    base = results[baseline]
    return {
        model: {
            metric: relative_gain(value, base[metric], score_direction(metric))
            for metric, value in metrics.items()
            if metric in base
        }
        for model, metrics in results.items()
    }
