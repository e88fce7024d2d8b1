"""ReXrank's BLEU column: CXR-Report-Metric's per-report BLEU-2, averaged over reports.

ReXrank scores with CXR-Report-Metric (github.com/rajpurkarlab/CXR-Report-Metric, `CXRMetric/run_eval.py`),
whose "bleu_score" is, per report:
- tokens: the text lower-cased, every "." replaced by " .", split on single spaces, empty strings dropped
  (so commas, colons and newlines stay inside tokens: "effusion," and "effusion" differ);
- sentence-level BLEU-2 (weights 1/2, 1/2) against the one reference, through the `fast-bleu` package
  (`BLEU([ref], {"bigram": (1/2, 1/2)})`, default `smoothing_func=1`), a port of NLTK's `sentence_bleu` with
  NLTK's smoothing method 1 (a zero n-gram count becomes 0.1 / the number of hypothesis n-grams), the
  closest reference length for the brevity penalty, and 0 when no unigram matches.
The leaderboard number is the mean of the per-report values. This is not COCO's corpus BLEU (`bleu`), which
sums counts over the corpus, tokenizes with the PTB tokenizer and uses BLEU-4 as its headline.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from xraybench.metrics.aggregate import check_aligned
from xraybench.metrics.base import MetricSpec, Scores
from xraybench.records import Prediction, Sample

WEIGHTS = (0.5, 0.5)
EPSILON = 0.1  # NLTK smoothing method 1


def rexrank_tokens(text: str) -> list[str]:
    """CXR-Report-Metric's `prep_reports` tokenization of one report."""
    return [t for t in str(text).lower().replace(".", " .").split(" ") if t != ""]


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def sentence_bleu2(reference: Sequence[str], hypothesis: Sequence[str]) -> float:
    """NLTK `sentence_bleu([reference], hypothesis, (1/2, 1/2), SmoothingFunction().method1)`."""
    numerators, denominators = [], []
    for n in range(1, len(WEIGHTS) + 1):
        hyp = _ngrams(hypothesis, n)
        ref = _ngrams(reference, n)
        numerators.append(sum(min(count, ref[gram]) for gram, count in hyp.items()))
        denominators.append(max(1, sum(hyp.values())))
    if numerators[0] == 0:  # no unigram in common: NLTK returns 0 before any smoothing
        return 0.0
    hyp_len, ref_len = len(hypothesis), len(reference)
    penalty = 1.0 if hyp_len > ref_len else 0.0 if hyp_len == 0 else math.exp(1 - ref_len / hyp_len)
    total = 0.0
    for weight, num, den in zip(WEIGHTS, numerators, denominators, strict=True):
        total += weight * math.log((num if num else EPSILON) / den)
    return penalty * math.exp(total)


class RexrankBleuMetric:
    """`rexrank_bleu`: the mean over reports of CXR-Report-Metric's BLEU-2, ReXrank's "BLEU" column."""

    name = "rexrank_bleu"
    spec = MetricSpec(kinds=("report",), headline=("rexrank_bleu",))

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        check_aligned(samples, predictions, self.name)
        pairs = zip(samples, predictions, strict=True)
        values = np.array([sentence_bleu2(rexrank_tokens(s.reference), rexrank_tokens(p.answer)) for s, p in pairs])
        details = {"variant": "CXR-Report-Metric BLEU-2 (fast-bleu / NLTK smoothing 1), mean over reports",
                   "tokenizer": "lower, '.' -> ' .', split on ' '"}  # fmt: skip
        return {self.name: Scores.mean(self.name, values, **details)}
