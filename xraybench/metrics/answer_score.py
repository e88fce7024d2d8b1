"""The paper's per-item answer score, which also backs the trainer's answer reward.

Branches, chosen from the ground truth alone (`len(truth.split())` words):
1. truth contains '|' and has <= 20 words: F1 of the '|' item lists;
2. truth has <= 2 words: case-insensitive exact match;
3. otherwise: mean of BLEU-1, BLEU-4 (sentence BLEU, smoothing method 2 of Chen & Cherry 2014)
   and ROUGE-1 F (lower-cased, Porter-stemmed).
The value is in 0..1; the released reward multiplies it by 1.5.

Variant "paper" reproduces the authors' released reward exactly: BLEU over the raw strings, i.e.
character n-grams (spaces included, case-sensitive), as NLTK's `sentence_bleu` does when given
strings; list items lower-cased and stripped, hits counted on sets but divided by the list lengths;
exact match of the answer against the unstripped truth; an empty answer becomes a single space.
`answer` is the extracted answer as the reward sees it (the stripped content of the last `\\boxed{}`).
Variant "word" (our default) uses the same branches on words: BLEU over normalised word tokens,
set-F1 of normalised, non-empty list items, and exact match after `normalize_answer`.

BLEU and ROUGE are our own ports, so no reference package is needed at run time; tests compare them
with `nltk.translate.bleu_score` and `rouge_score.rouge_scorer`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Literal

from xraybench.errors import XrayBenchError
from xraybench.metrics.aggregate import check_aligned
from xraybench.metrics.base import MetricSpec, Scores
from xraybench.metrics.normalize import normalize_answer, normalize_text, set_f1, split_list
from xraybench.metrics.rouge import rouge_score_tokens
from xraybench.records import Prediction, Sample

Variant = Literal["word", "paper"]
VARIANTS = ("word", "paper")
BLEU1_WEIGHTS = (1.0, 0.0, 0.0, 0.0)
BLEU4_WEIGHTS = (0.25, 0.25, 0.25, 0.25)
LIST_MAX_WORDS = 20
EXACT_MAX_WORDS = 2


# --- sentence BLEU with smoothing method 2 (NLTK semantics, one reference) ---------------------------


def _ngrams(seq: Sequence, n: int) -> Counter:
    if len(seq) < n:
        return Counter()
    return Counter(seq[i : i + n] for i in range(len(seq) - n + 1))


def sentence_bleu(hypothesis: Sequence, reference: Sequence, weights: Sequence[float]) -> float:
    """NLTK's sentence BLEU with `SmoothingFunction().method2` for one reference.

    A string is scored over characters, a token list over tokens. Method 2 adds one to the numerator
    and denominator of every precision except the unigram one; a zero unigram match gives 0.
    """
    hyp = hypothesis if isinstance(hypothesis, str) else tuple(hypothesis)
    ref = reference if isinstance(reference, str) else tuple(reference)
    precisions: list[float] = []
    for n in range(1, len(weights) + 1):
        hyp_counts = _ngrams(hyp, n)
        ref_counts = _ngrams(ref, n)
        matches = sum(min(count, ref_counts[gram]) for gram, count in hyp_counts.items())
        total = max(1, sum(hyp_counts.values()))
        if n == 1:
            if matches == 0:
                return 0.0
            precisions.append(matches / total)
        else:
            precisions.append((matches + 1) / (total + 1))
    hyp_len, ref_len = len(hyp), len(ref)
    penalty = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return penalty * math.exp(math.fsum(w * math.log(p) for w, p in zip(weights, precisions, strict=True)))


# --- ROUGE-1 F with rouge-score's tokenizer and NLTK's Porter stemmer ------------------------------


def rouge_tokens(text: str, stem: bool = True) -> list[str]:
    """rouge-score's default tokenizer (shared with ROUGE-L): lower case, non-alphanumerics split, stem > 3 chars."""
    return rouge_score_tokens(text, stem)


def rouge1_f(target: str, prediction: str, stem: bool = True) -> float:
    """rouge-score's ROUGE-1 F-measure (`RougeScorer(['rouge1'], use_stemmer=stem).score(target, prediction)`)."""
    target_counts = Counter(rouge_tokens(target, stem))
    prediction_counts = Counter(rouge_tokens(prediction, stem))
    overlap = sum(min(count, prediction_counts[t]) for t, count in target_counts.items())
    precision = overlap / max(sum(prediction_counts.values()), 1)
    recall = overlap / max(sum(target_counts.values()), 1)
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def _paper_score(answer: str, truth: str) -> float:
    if len(answer) == 0:
        answer = " "
    words = len(truth.split())
    if "|" in truth and words <= LIST_MAX_WORDS:
        truth_items = [item.strip().lower() for item in truth.strip().split("|")]
        answer_items = [item.strip().lower() for item in answer.strip().split("|")]
        hits = len(set(truth_items) & set(answer_items))
        precision = hits / len(answer_items)
        recall = hits / len(truth_items)
        return 2 * (precision * recall) / (precision + recall) if precision + recall > 0 else 0.0
    if words <= EXACT_MAX_WORDS:
        return 1.0 if answer.lower() == truth.lower() else 0.0
    bleu1 = sentence_bleu(answer, truth, BLEU1_WEIGHTS)
    bleu4 = sentence_bleu(answer, truth, BLEU4_WEIGHTS)
    return (bleu1 + bleu4 + rouge1_f(answer, truth)) / 3


def _word_score(answer: str, truth: str) -> float:
    words = len(truth.split())
    if "|" in truth and words <= LIST_MAX_WORDS:
        return set_f1(split_list(answer), split_list(truth))
    if words <= EXACT_MAX_WORDS:
        return 1.0 if normalize_answer(answer) == normalize_answer(truth) else 0.0
    hyp, ref = normalize_text(answer).split(), normalize_text(truth).split()
    bleu1 = sentence_bleu(hyp, ref, BLEU1_WEIGHTS)
    bleu4 = sentence_bleu(hyp, ref, BLEU4_WEIGHTS)
    return (bleu1 + bleu4 + rouge1_f(answer, truth)) / 3


def answer_score(answer: str, truth: str, variant: Variant = "word") -> float:
    """The paper's per-item answer score in 0..1 (the trainer's reward is 1.5 times this)."""
    if variant == "paper":
        return _paper_score(answer, truth)
    if variant == "word":
        return _word_score(answer, truth)
    raise XrayBenchError(f"unknown answer-score variant {variant!r}; expected one of {', '.join(VARIANTS)}")


class AnswerScoreMetric:
    """Mean per-item answer score over a task; `details["variant"]` records which variant was used."""

    name = "answer_score"
    spec = MetricSpec(kinds=("vqa",), leaderboard=("answer_score",), options={"variant": "answer_variant"})

    def __init__(self, variant: Variant = "word"):
        if variant not in VARIANTS:
            raise XrayBenchError(f"unknown answer-score variant {variant!r}; expected one of {', '.join(VARIANTS)}")
        self.variant = variant

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        check_aligned(samples, predictions, self.name)
        values = [
            answer_score(p.answer or "", s.reference, self.variant) for s, p in zip(samples, predictions, strict=True)
        ]
        return {"answer_score": Scores.mean("answer_score", values, variant=self.variant)}
