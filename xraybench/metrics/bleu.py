"""BLEU-1..4 with the COCO caption evaluation semantics (`pycocoevalcap.bleu`).

Corpus BLEU: clipped n-gram counts and lengths summed over the corpus, the closest reference length per
sample (ties to the shorter), pycocoevalcap's smoothing constants (1e-15 added to matches, 1e-9 to
guesses and to the reference length) and one corpus-level brevity penalty. Per-sample values are the
ones pycocoevalcap reports per image. Each sample keeps its sufficient statistics, so any resample's
corpus BLEU is a sum and a few array operations (`aggregate`, or `many` for a whole bootstrap at once).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from xraybench.errors import XrayBenchError
from xraybench.metrics._lexical import TokenCache, lexical_inputs, words
from xraybench.metrics.aggregate import resample_counts
from xraybench.metrics.base import Scores
from xraybench.metrics.tokenize import check_mode
from xraybench.records import Prediction, Sample

N = 4
TINY = 1e-15
SMALL = 1e-9


def ngram_counts(tokens: Sequence[str], n: int = N) -> Counter[tuple[str, ...]]:
    counts: Counter[tuple[str, ...]] = Counter()
    for k in range(1, n + 1):
        counts.update(zip(*[tokens[i:] for i in range(k)], strict=False))
    return counts


def sufficient_stats(hyp: Sequence[str], refs: Sequence[Sequence[str]]) -> np.ndarray:
    """[testlen, reflen (closest), guess_1..4, correct_1..4] of one sample, as pycocoevalcap cooks them."""
    if not refs:
        raise XrayBenchError("BLEU needs at least one reference per sample")
    maxcounts: dict[tuple[str, ...], int] = {}
    for ref in refs:
        for gram, count in ngram_counts(ref).items():
            if count > maxcounts.get(gram, 0):
                maxcounts[gram] = count
    testlen = len(hyp)
    reflen = min((abs(len(r) - testlen), len(r)) for r in refs)[1]
    correct = [0] * N
    for gram, count in ngram_counts(hyp).items():
        correct[len(gram) - 1] += min(maxcounts.get(gram, 0), count)
    guess = [max(0, testlen - k) for k in range(N)]
    return np.array([testlen, reflen, *guess, *correct], dtype=np.int64)


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

    def __init__(self, tokenizer: str = "coco", cache: TokenCache | None = None):
        self.tokenizer = check_mode(tokenizer)
        self.cache = cache

    def stats(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> np.ndarray:
        hyps, refs = lexical_inputs(samples, predictions, self.tokenizer, self.name, self.cache)
        rows = [sufficient_stats(words(h), [words(r) for r in rs]) for h, rs in zip(hyps, refs, strict=False)]
        return np.array(rows, dtype=np.int64).reshape(len(rows), 2 + 2 * N)

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
