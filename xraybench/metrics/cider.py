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
from collections.abc import Sequence

import numpy as np

from xraybench.metrics._lexical import NgramStats, TokenCache, lexical_ngrams, lookup
from xraybench.metrics.aggregate import NanMean
from xraybench.metrics.base import LEXICAL_OPTIONS, MetricSpec, Scores
from xraybench.metrics.tokenize import check_mode
from xraybench.records import Prediction, Sample

N = 4
SIGMA = 6.0


def cider_from_ngrams(ngrams: NgramStats) -> np.ndarray:
    """Per-sample CIDEr-D, with IDF from the references of the whole set (pycocoevalcap's arithmetic).

    Vectorised over (text, n-gram) tables: document frequency = number of samples whose references
    hold the n-gram; weight = tf * (log(S) - log(max(1, df))); for each (hypothesis, reference) pair
    and n, the sum of min(hyp weight, ref weight) * ref weight over shared n-grams, divided by both
    norms when neither is zero, times the length penalty on the difference of the bigram counts.
    """
    samples = ngrams.n_samples
    refs = len(ngrams.ref_sample)
    ref_len = math.log(float(samples)) if samples else 0.0
    # pycocoevalcap's "length" of a caption is its number of bigrams
    delta = (np.maximum(ngrams.hyp_len - 1, 0)[ngrams.ref_sample] - np.maximum(ngrams.ref_len - 1, 0)).astype(float)
    penalty = np.e ** (-(delta**2) / (2 * SIGMA**2))
    total = np.zeros(refs, dtype=np.float64)
    for n in range(1, N + 1):
        hyp, ref = ngrams.split(n)
        ref_gram = ref.gram
        # document frequency: distinct (sample, n-gram) pairs among the references
        wanted = ref.key  # each reference n-gram is looked up in its sample's hypothesis
        pairs = ref.key
        if not ngrams.one_reference_each:
            wanted = ngrams.ref_sample[ref.text] * ref.modulus + ref_gram
            pairs = np.sort(wanted, kind="stable")
            pairs = pairs[np.diff(pairs, prepend=-1) != 0]
        grams, df = np.unique(pairs % ref.modulus, return_counts=True)
        idf = ref_len - np.log(np.maximum(1.0, df))  # an n-gram in no reference gets ref_len
        hyp_weight = hyp.count * lookup(grams, idf, hyp.gram, ref_len)
        ref_weight = ref.count * lookup(grams, idf, ref_gram, ref_len)
        hyp_norm = np.sqrt(np.bincount(hyp.text, weights=hyp_weight**2, minlength=samples).astype(np.float64))
        hyp_norm = hyp_norm[ngrams.ref_sample]
        ref_norm = np.sqrt(np.bincount(ref.text, weights=ref_weight**2, minlength=refs).astype(np.float64))
        val = np.bincount(
            ref.text, weights=np.minimum(lookup(hyp.key, hyp_weight, wanted), ref_weight) * ref_weight, minlength=refs
        )
        val = val.astype(np.float64)
        nonzero = (hyp_norm != 0) & (ref_norm != 0)
        val[nonzero] /= hyp_norm[nonzero] * ref_norm[nonzero]
        total += val * penalty
    per_sample = np.bincount(ngrams.ref_sample, weights=total, minlength=samples)
    return per_sample / N / np.bincount(ngrams.ref_sample, minlength=samples) * 10.0


class CiderMetric:
    """CIDEr-D (`cider`), as pycocoevalcap's `Cider`; per-sample scores kept."""

    name = "cider"
    spec = MetricSpec(kinds=("report",), leaderboard=("cider",), options=LEXICAL_OPTIONS)

    def __init__(self, tokenizer: str = "coco", cache: TokenCache | None = None):
        self.tokenizer = check_mode(tokenizer)
        self.cache = cache

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        per_sample = cider_from_ngrams(lexical_ngrams(samples, predictions, self.tokenizer, self.name, self.cache))
        value = float(np.mean(per_sample)) if len(per_sample) else float("nan")
        details = {
            "tokenizer": self.tokenizer,
            "variant": "CIDEr-D (sigma 6, clipped, x10)",
            "idf": "from the references of the whole scored set; resamples average per-sample scores with it fixed",
        }
        return {"cider": Scores("cider", value, per_sample, NanMean(per_sample), details)}
