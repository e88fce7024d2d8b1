"""Bootstrap confidence intervals by sample, seeded and vectorised.

A resample draws sample indices with replacement; the statistic is recomputed through the
`Scores` object so corpus-level metrics (BLEU, CIDEr, F1 from summed counts) are re-aggregated
rather than averaged. Resample indices are drawn as one matrix per batch of rounds and evaluated
at once when the statistic allows it: a plain or NaN-aware mean indexes the per-sample matrix,
and aggregates that offer `many(index_matrix)` compute a whole batch; other aggregates are called
once per round. Batches are sized from the sample count only, so results depend on the seed and
the inputs, never on the machine.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from xraybench.errors import XrayBenchError
from xraybench.metrics.aggregate import nanmean_rows
from xraybench.metrics.base import Scores

BATCH_CELLS = 2_000_000  # indices per batch: bounds memory at about 16 MB per index matrix


def resample_batches(base: np.ndarray, n_rounds: int, seed: int) -> Iterator[np.ndarray]:
    """Rows of `len(base)` indices drawn with replacement from `base`, `n_rounds` rows in all."""
    rng = np.random.default_rng(seed)
    size = len(base)
    rows = max(1, BATCH_CELLS // max(1, size))
    done = 0
    while done < n_rounds:
        take = min(rows, n_rounds - done)
        yield base[rng.integers(0, size, size=(take, size))]
        done += take


def statistic_rows(scores: Scores, index_matrix: np.ndarray) -> np.ndarray:
    """The corpus statistic for each row of sample indices."""
    aggregate = scores.aggregate
    if aggregate is None:
        return nanmean_rows(scores.per_sample[index_matrix])
    many = getattr(aggregate, "many", None)
    if many is not None:
        return np.asarray(many(index_matrix), dtype=np.float64)
    return np.array([aggregate(row) for row in index_matrix], dtype=np.float64)


def bootstrap_distribution(
    scores: Scores, n_rounds: int = 1000, seed: int = 0, indices: Sequence[int] | np.ndarray | None = None
) -> np.ndarray:
    """The statistic over `n_rounds` resamples of `indices` (default: all samples)."""
    base = np.arange(len(scores.per_sample)) if indices is None else np.asarray(indices, dtype=np.int64)
    if len(base) == 0 or n_rounds <= 0:
        return np.empty(0)
    return np.concatenate([statistic_rows(scores, batch) for batch in resample_batches(base, n_rounds, seed)])


def percentile_interval(values: np.ndarray, alpha: float) -> tuple[float, float]:
    """Percentile interval of the finite values; (nan, nan) when there are none."""
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return float("nan"), float("nan")
    low, high = np.percentile(finite, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


def bootstrap_ci(
    scores: Scores,
    n_rounds: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    indices: Sequence[int] | np.ndarray | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap (1 - alpha) interval of the metric, resampling samples with replacement.

    Rounds whose statistic is undefined (NaN, e.g. no applicable sample drawn) are left out.
    """
    return percentile_interval(bootstrap_distribution(scores, n_rounds, seed, indices), alpha)


def bootstrap_cis(
    scores: Mapping[str, Scores],
    n_rounds: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    indices: Sequence[int] | np.ndarray | None = None,
) -> dict[str, tuple[float, float]]:
    """`bootstrap_ci` for several metrics of the same samples, sharing every resample.

    Each batch of resample indices is drawn once and evaluated by every metric (count-based metrics
    then also share the per-sample multiplicities), so the intervals are mutually consistent and a
    task's fifty classification scores cost little more than one. Equal to calling `bootstrap_ci`
    per metric with the same seed.
    """
    sizes = {len(s.per_sample) for s in scores.values()}
    if len(sizes) > 1:
        raise XrayBenchError(f"bootstrap_cis: metrics cover different sample counts {sorted(sizes)}")
    n = sizes.pop() if sizes else 0
    base = np.arange(n) if indices is None else np.asarray(indices, dtype=np.int64)
    if len(base) == 0 or n_rounds <= 0:
        return {name: (float("nan"), float("nan")) for name in scores}
    stats: dict[str, list[np.ndarray]] = {name: [] for name in scores}
    for batch in resample_batches(base, n_rounds, seed):
        for name, s in scores.items():
            stats[name].append(statistic_rows(s, batch))
    return {name: percentile_interval(np.concatenate(rows), alpha) for name, rows in stats.items()}
