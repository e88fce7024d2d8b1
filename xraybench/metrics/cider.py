"""CIDEr-D exactly as pycocoevalcap's `Cider`.

Term frequencies of 1..4-grams weighted by IDF computed from the references of the scored set, the
log of the number of samples as the reference "document count", cosine similarity with clipping of
the hypothesis weights by the reference weights, a Gaussian length penalty (sigma 6) on the difference
of the two captions' bigram counts (pycocoevalcap's length), averaged over n and references, times 10.
The corpus value is the mean of the per-sample scores; because the IDF comes from the whole scored set,
a resample's value re-averages the per-sample scores with the IDF kept fixed (noted in `details`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from xraybench.metrics._lexical import TokenCache, lexical_inputs, words
from xraybench.metrics.aggregate import NanMean
from xraybench.metrics.base import Scores
from xraybench.metrics.tokenize import check_mode
from xraybench.records import Prediction, Sample

N = 4
SIGMA = 6.0

Gram = tuple[str, ...]


def _grams(tokens: Sequence[str]) -> Counter[Gram]:
    counts: Counter[Gram] = Counter()
    for k in range(1, N + 1):
        counts.update(zip(*[tokens[i:] for i in range(k)], strict=False))
    return counts


def _vector(
    counts: Counter[Gram], idf: dict[Gram, float], ref_len: float
) -> tuple[list[dict[Gram, float]], list[float], int]:
    """pycocoevalcap's `counts2vec`: tf-idf weights per n, their norms, and the bigram count as length."""
    vec: list[dict[Gram, float]] = [{}, {}, {}, {}]
    norm = [0.0] * N
    length = 0
    for gram, tf in counts.items():
        n = len(gram) - 1
        weight = float(tf) * idf.get(gram, ref_len)
        vec[n][gram] = weight
        norm[n] += weight**2
        if n == 1:
            length += tf
    return vec, [math.sqrt(x) for x in norm], length


def cider_scores(hyps: Sequence[Sequence[str]], refs: Sequence[Sequence[Sequence[str]]]) -> np.ndarray:
    """Per-sample CIDEr-D of word lists, with IDF from `refs` (pycocoevalcap's arithmetic, in its order)."""
    ref_counts = [[_grams(r) for r in rs] for rs in refs]
    df: Counter[Gram] = Counter()
    for group in ref_counts:
        df.update(set().union(*group) if group else set())
    ref_len = math.log(float(len(refs))) if refs else 0.0
    idf = {gram: ref_len - math.log(max(1.0, count)) for gram, count in df.items()}
    scores = np.zeros(len(hyps), dtype=np.float64)
    two_sigma2 = 2 * SIGMA**2
    for i, (hyp, group) in enumerate(zip(hyps, ref_counts, strict=False)):
        vec, norm, length = _vector(_grams(hyp), idf, ref_len)
        total = [0.0] * N
        for counts in group:
            vec_r, norm_r, length_r = _vector(counts, idf, ref_len)
            delta = float(length - length_r)
            penalty = np.e ** (-(delta**2) / two_sigma2)
            for n in range(N):
                ref_n = vec_r[n]
                val = 0.0
                for gram, weight in vec[n].items():
                    r = ref_n.get(gram, 0.0)
                    val += min(weight, r) * r
                if norm[n] != 0 and norm_r[n] != 0:
                    val /= norm[n] * norm_r[n]
                total[n] += val * penalty
        score = (((total[0] + total[1]) + total[2]) + total[3]) / N
        scores[i] = score / len(group) * 10.0
    return scores


class CiderMetric:
    """CIDEr-D (`cider`), as pycocoevalcap's `Cider`; per-sample scores kept."""

    name = "cider"

    def __init__(self, tokenizer: str = "coco", cache: TokenCache | None = None):
        self.tokenizer = check_mode(tokenizer)
        self.cache = cache

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        hyps, refs = lexical_inputs(samples, predictions, self.tokenizer, self.name, self.cache)
        per_sample = cider_scores([words(h) for h in hyps], [[words(r) for r in rs] for rs in refs])
        value = float(np.mean(per_sample)) if len(per_sample) else float("nan")
        details = {
            "tokenizer": self.tokenizer,
            "variant": "CIDEr-D (sigma 6, clipped, x10)",
            "idf": "from the references of the whole scored set; resamples average per-sample scores with it fixed",
        }
        return {"cider": Scores("cider", value, per_sample, NanMean(per_sample), details)}
