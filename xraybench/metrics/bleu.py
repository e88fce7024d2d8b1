"""BLEU-1..4 with the COCO caption evaluation semantics (`pycocoevalcap.bleu`).

Corpus BLEU: clipped n-gram counts and lengths summed over the corpus, the closest reference length per
sample (ties to the shorter), pycocoevalcap's smoothing constants (1e-15 added to matches, 1e-9 to
guesses and to the reference length) and one corpus-level brevity penalty. Per-sample values are the
ones pycocoevalcap reports per image. Each sample keeps its sufficient statistics, so any resample's
corpus BLEU is a sum and a few array operations (`aggregate`, or `many` for a whole bootstrap at once).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from xraybench.errors import XrayBenchError
from xraybench.metrics._lexical import NgramStats, TokenCache, lexical_ngrams, lookup
from xraybench.metrics.aggregate import resample_counts
from xraybench.metrics.base import LEXICAL_OPTIONS, MetricSpec, Scores
from xraybench.metrics.tokenize import check_mode
from xraybench.records import Prediction, Sample

N = 4
TINY = 1e-15
SMALL = 1e-9


def sufficient_stats(ngrams: NgramStats) -> np.ndarray:
    """[testlen, reflen (closest), guess_1..4, correct_1..4] per sample, as pycocoevalcap cooks them.

    correct_n sums, over the hypothesis's n-grams, min(count in the hypothesis, largest count in one
    reference); the closest reference length breaks ties towards the shorter one.
    """
    samples = ngrams.n_samples
    stats = np.zeros((samples, 2 + 2 * N), dtype=np.int64)
    if samples == 0:
        return stats
    testlen = ngrams.hyp_len
    stats[:, 0] = testlen
    # closest reference length: smallest (|reflen - testlen|, reflen), references grouped by sample
    span = int(ngrams.ref_len.max(initial=0)) + 1
    distance = np.abs(ngrams.ref_len - testlen[ngrams.ref_sample]) * span + ngrams.ref_len
    starts = np.flatnonzero(np.diff(ngrams.ref_sample, prepend=-1))
    stats[:, 1] = np.minimum.reduceat(distance, starts) % span
    for k in range(N):
        stats[:, 2 + k] = np.maximum(testlen - k, 0)
        hyp, ref = ngrams.split(k + 1)
        ref_keys, ref_max = ref.key, ref.count
        if not ngrams.one_reference_each:  # the largest count of each (sample, n-gram) over its references
            by_sample = ngrams.ref_sample[ref.text] * ref.modulus + ref.gram
            order = np.argsort(by_sample, kind="stable")
            by_sample = by_sample[order]
            first = np.flatnonzero(np.diff(by_sample, prepend=-1))
            ref_keys, ref_max = by_sample[first], np.maximum.reduceat(ref.count[order], first)
        clipped = np.minimum(hyp.count, lookup(ref_keys, ref_max, hyp.key))
        stats[:, 2 + N + k] = np.bincount(hyp.text, weights=clipped, minlength=samples).astype(np.int64)
    return stats


def bleu_from_stats(stats: np.ndarray) -> np.ndarray:
    """BLEU-1..4 from summed statistics; `stats` is (..., 10) and the result (..., 4)."""
    stats = np.asarray(stats, dtype=np.float64)
    testlen, reflen = stats[..., 0], stats[..., 1]
    guess, correct = stats[..., 2 : 2 + N], stats[..., 2 + N : 2 + 2 * N]
    out = np.empty(stats.shape[:-1] + (N,), dtype=np.float64)
    running = np.ones(stats.shape[:-1], dtype=np.float64)
    for k in range(N):
        running = running * ((correct[..., k] + TINY) / (guess[..., k] + SMALL))
        out[..., k] = running ** (1.0 / (k + 1))
    ratio = (testlen + TINY) / (reflen + SMALL)
    with np.errstate(divide="ignore"):
        penalty = np.where(ratio < 1, np.exp(1 - 1 / np.where(ratio < 1, ratio, 1.0)), 1.0)
    return out * penalty[..., None]


class BleuAggregate:
    """Corpus BLEU-k of any resample, from the per-sample sufficient statistics."""

    def __init__(self, stats: np.ndarray, order: int):
        self.stats = stats
        self.order = order

    def __call__(self, indices: np.ndarray) -> float:
        summed = self.stats[np.asarray(indices, dtype=np.int64)].sum(axis=0)
        return float(bleu_from_stats(summed)[self.order - 1])

    def many(self, index_matrix: np.ndarray) -> np.ndarray:
        counts = resample_counts(np.asarray(index_matrix), len(self.stats))
        return bleu_from_stats(counts @ self.stats.astype(np.float64))[:, self.order - 1]

    def concat(self, other: Any) -> BleuAggregate:
        if not isinstance(other, BleuAggregate) or other.order != self.order:
            raise XrayBenchError("BLEU aggregates combine only with the same BLEU order")
        return BleuAggregate(np.concatenate([self.stats, other.stats]), self.order)


class BleuMetric:
    """BLEU-1..4 (`bleu_1`..`bleu_4`), corpus level, exactly as pycocoevalcap's `Bleu(4)`."""

    name = "bleu"
    spec = MetricSpec(
        kinds=("report",), headline=("bleu_1", "bleu_4"), leaderboard=("bleu_4",), options=LEXICAL_OPTIONS
    )

    def __init__(self, tokenizer: str = "coco", cache: TokenCache | None = None):
        self.tokenizer = check_mode(tokenizer)
        self.cache = cache

    def stats(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> np.ndarray:
        return sufficient_stats(lexical_ngrams(samples, predictions, self.tokenizer, self.name, self.cache))

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        stats = self.stats(samples, predictions)
        per_sample = bleu_from_stats(stats) if len(stats) else np.zeros((0, N))
        corpus = bleu_from_stats(stats.sum(axis=0)) if len(stats) else np.full(N, np.nan)
        details = {"tokenizer": self.tokenizer, "reference_length": "closest", "level": "corpus"}
        return {
            f"bleu_{k}": Scores(
                f"bleu_{k}", float(corpus[k - 1]), per_sample[:, k - 1].copy(), BleuAggregate(stats, k), dict(details)
            )
            for k in range(1, N + 1)
        }
