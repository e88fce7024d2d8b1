"""Is run A better than run B on the same samples? Paired bootstrap and approximate randomisation.

Both tests pair the two runs sample by sample (the lists must be aligned).

- Paired bootstrap: the same resample indices for both runs; the interval of the difference is the
  percentile interval, and the two-sided p-value is the share of resampled differences at least as
  far from the observed difference as the observed difference is from zero (the bootstrap
  distribution shifted to the null), with add-one smoothing: (k + 1) / (rounds + 1).
- Approximate randomisation: each round swaps the two runs' outputs on a random half of the samples
  and recomputes both statistics; p = (k + 1) / (rounds + 1) with k the rounds whose absolute
  difference reaches the observed one. For mean metrics the per-sample values are swapped. For
  corpus metrics the swap needs the per-sample sufficient statistics of both runs: an aggregate that
  offers `concat(other)` (the statistic over run A's samples followed by run B's) is evaluated on
  index `i` or `i + n`; a corpus metric whose aggregate cannot be combined gets NaN, never a guess.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from xraybench.errors import XrayBenchError
from xraybench.metrics.aggregate import NanMean, nanmean_rows
from xraybench.metrics.base import Scores
from xraybench.metrics.bootstrap import BATCH_CELLS, percentile_interval, resample_batches, statistic_rows

TIE_TOLERANCE = 1e-12


@dataclass
class PairedResult:
    diff: float
    ci_low: float
    ci_high: float
    p_value: float


@dataclass
class Row:
    """One line of `xraybench compare`: metric values of both runs, the difference, its CI and p-values."""

    metric: str
    a: float
    b: float
    diff: float
    ci_low: float
    ci_high: float
    p_bootstrap: float
    p_randomization: float

    def to_json(self) -> dict[str, float | str]:
        return asdict(self)


def _paired_size(a: Scores, b: Scores) -> int:
    if len(a.per_sample) != len(b.per_sample):
        raise XrayBenchError(
            f"{a.name}: runs have {len(a.per_sample)} and {len(b.per_sample)} samples; paired tests need the same samples"
        )
    return len(a.per_sample)


def _p_value(extreme: np.ndarray) -> float:
    return float((extreme.sum() + 1) / (len(extreme) + 1)) if len(extreme) else float("nan")


def paired_bootstrap(
    scores_a: Scores, scores_b: Scores, n_rounds: int = 1000, seed: int = 0, alpha: float = 0.05
) -> PairedResult:
    """Difference A - B with its percentile bootstrap interval and a two-sided p-value."""
    n = _paired_size(scores_a, scores_b)
    diff = scores_a.value - scores_b.value
    if n == 0 or np.isnan(diff) or n_rounds <= 0:  # no resample, no interval (`compare --rounds 0`)
        return PairedResult(diff, float("nan"), float("nan"), float("nan"))
    deltas = np.concatenate(
        [
            statistic_rows(scores_a, batch) - statistic_rows(scores_b, batch)
            for batch in resample_batches(np.arange(n), n_rounds, seed)
        ]
    )
    deltas = deltas[np.isfinite(deltas)]
    low, high = percentile_interval(deltas, alpha)
    return PairedResult(diff, low, high, _p_value(np.abs(deltas - diff) >= abs(diff) - TIE_TOLERANCE))


def _is_mean(scores: Scores) -> bool:
    return scores.aggregate is None or isinstance(scores.aggregate, NanMean)


def approximate_randomization(scores_a: Scores, scores_b: Scores, n_rounds: int = 1000, seed: int = 0) -> float:
    """Two-sided p-value of the approximate randomisation (permutation) test; NaN where unsupported."""
    n = _paired_size(scores_a, scores_b)
    observed = abs(scores_a.value - scores_b.value)
    if n == 0 or np.isnan(observed) or n_rounds <= 0:  # no round, no test (`compare --rounds 0`)
        return float("nan")
    joint = None
    if not (_is_mean(scores_a) and _is_mean(scores_b)):
        concat = getattr(scores_a.aggregate, "concat", None)
        if concat is None or scores_b.aggregate is None:
            return float("nan")
        joint = concat(scores_b.aggregate)
    rng = np.random.default_rng(seed)
    rows = max(1, BATCH_CELLS // n)
    extreme: list[np.ndarray] = []
    done = 0
    while done < n_rounds:
        take = min(rows, n_rounds - done)
        swap = rng.random((take, n)) < 0.5
        if joint is None:
            a = nanmean_rows(np.where(swap, scores_b.per_sample, scores_a.per_sample))
            b = nanmean_rows(np.where(swap, scores_a.per_sample, scores_b.per_sample))
        else:
            idx = np.arange(n)[None, :] + n * swap
            a = _joint_rows(joint, idx)
            b = _joint_rows(joint, (idx + n) % (2 * n))
        stat = np.abs(a - b)
        extreme.append(stat[np.isfinite(stat)] >= observed - TIE_TOLERANCE)
        done += take
    return _p_value(np.concatenate(extreme))


def _joint_rows(aggregate, index_matrix: np.ndarray) -> np.ndarray:
    many = getattr(aggregate, "many", None)
    if many is not None:
        return np.asarray(many(index_matrix), dtype=np.float64)
    return np.array([aggregate(row) for row in index_matrix], dtype=np.float64)


def compare_scores(
    a: dict[str, Scores], b: dict[str, Scores], n_rounds: int = 1000, seed: int = 0, alpha: float = 0.05
) -> list[Row]:
    """Paired bootstrap and approximate randomisation for every metric both runs report, in A's order."""
    rows = []
    for name, scores_a in a.items():
        if name not in b:
            continue
        scores_b = b[name]
        paired = paired_bootstrap(scores_a, scores_b, n_rounds, seed, alpha)
        p_ar = approximate_randomization(scores_a, scores_b, n_rounds, seed)
        rows.append(
            Row(name, scores_a.value, scores_b.value, paired.diff, paired.ci_low, paired.ci_high, paired.p_value, p_ar)
        )
    return rows
