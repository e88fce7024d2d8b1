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
import re
from collections import Counter
from collections.abc import Sequence
from typing import Literal

from xraybench.errors import XrayBenchError
from xraybench.metrics.aggregate import check_aligned
from xraybench.metrics.base import Scores
from xraybench.metrics.normalize import normalize_answer, normalize_text, set_f1, split_list
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

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_SPACES = re.compile(r"\s+")
_VALID_TOKEN = re.compile(r"^[a-z0-9]+$")


def rouge_tokens(text: str, stem: bool = True) -> list[str]:
    """rouge-score's default tokenizer: lower case, non-alphanumerics to spaces, stem words > 3 chars."""
    tokens = _SPACES.split(_NON_ALNUM.sub(" ", text.lower()))
    if stem:
        tokens = [porter_stem(t) if len(t) > 3 else t for t in tokens]
    return [t for t in tokens if _VALID_TOKEN.match(t)]


def rouge1_f(target: str, prediction: str, stem: bool = True) -> float:
    """rouge-score's ROUGE-1 F-measure (`RougeScorer(['rouge1'], use_stemmer=stem).score(target, prediction)`)."""
    target_counts = Counter(rouge_tokens(target, stem))
    prediction_counts = Counter(rouge_tokens(prediction, stem))
    overlap = sum(min(count, prediction_counts[t]) for t, count in target_counts.items())
    precision = overlap / max(sum(prediction_counts.values()), 1)
    recall = overlap / max(sum(target_counts.values()), 1)
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


# --- Porter stemmer, NLTK_EXTENSIONS mode (the mode rouge-score gets from `PorterStemmer()`) --------

_VOWELS = frozenset("aeiou")
_IRREGULAR = {
    "skies": "sky", "sky": "sky", "dying": "die", "lying": "lie", "tying": "tie", "news": "news",
    "innings": "inning", "inning": "inning", "outings": "outing", "outing": "outing",
    "cannings": "canning", "canning": "canning", "howe": "howe", "proceed": "proceed",
    "exceed": "exceed", "succeed": "succeed",
}  # fmt: skip


def _consonant_flags(word: str) -> list[bool]:
    """Porter's consonant test per position: 'y' is a consonant unless it follows a consonant."""
    flags: list[bool] = []
    for i, ch in enumerate(word):
        flags.append(False if ch in _VOWELS else (i == 0 or not flags[i - 1]) if ch == "y" else True)
    return flags


def _measure(stem: str) -> int:
    """m in [C](VC){m}[V]: the number of vowel-to-consonant transitions."""
    flags = _consonant_flags(stem)
    return sum(1 for a, b in zip(flags, flags[1:], strict=False) if not a and b)


def _has_vowel(stem: str) -> bool:
    return not all(_consonant_flags(stem))


def _ends_double_consonant(word: str) -> bool:
    return len(word) >= 2 and word[-1] == word[-2] and _consonant_flags(word)[-1]


def _ends_cvc(word: str) -> bool:
    flags = _consonant_flags(word)
    if len(word) >= 3 and flags[-3] and not flags[-2] and flags[-1] and word[-1] not in "wxy":
        return True
    return len(word) == 2 and not flags[0] and flags[1]


def _positive_measure(stem: str) -> bool:
    return _measure(stem) > 0


def _measure_above_1(stem: str) -> bool:
    return _measure(stem) > 1


def _apply_first(word: str, rules: Sequence[tuple]) -> str:
    """Apply the first rule whose suffix matches; its condition decides, later rules are not tried.

    The pseudo-suffix "*d" matches a word ending in a double consonant and removes both letters
    before the replacement is appended.
    """
    for suffix, replacement, condition in rules:
        if suffix == "*d":
            if not _ends_double_consonant(word):
                continue
            stem = word[:-2]
        elif word.endswith(suffix):
            stem = word[: len(word) - len(suffix)]
        else:
            continue
        return stem + replacement if condition is None or condition(stem) else word
    return word


def _step1a(word: str) -> str:
    if word.endswith("ies") and len(word) == 4:
        return word[:-3] + "ie"
    return _apply_first(word, [("sses", "ss", None), ("ies", "i", None), ("ss", "ss", None), ("s", "", None)])


def _step1b(word: str) -> str:
    if word.endswith("ied"):
        return word[:-3] + ("ie" if len(word) == 4 else "i")
    if word.endswith("eed"):
        stem = word[:-3]
        return stem + "ee" if _measure(stem) > 0 else word
    for suffix in ("ed", "ing"):
        if word.endswith(suffix) and _has_vowel(word[: -len(suffix)]):
            stem = word[: -len(suffix)]
            break
    else:
        return word
    last = stem[-1]
    return _apply_first(
        stem,
        [
            ("at", "ate", None),
            ("bl", "ble", None),
            ("iz", "ize", None),
            ("*d", last, lambda _: last not in "lsz"),
            ("", "e", lambda s: _measure(s) == 1 and _ends_cvc(s)),
        ],
    )


def _step1c(word: str) -> str:
    return _apply_first(word, [("y", "i", lambda s: len(s) > 1 and _consonant_flags(s)[-1])])


_STEP2_RULES = [
    ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"),
    ("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"),
    ("ization", "ize"), ("ation", "ate"), ("ator", "ate"), ("alism", "al"), ("iveness", "ive"),
    ("fulness", "ful"), ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"),
    ("fulli", "ful"),
]  # fmt: skip


def _step2(word: str) -> str:
    if word.endswith("alli") and _positive_measure(word[:-4]):
        return _step2(word[:-4] + "al")
    rules = [(s, r, _positive_measure) for s, r in _STEP2_RULES]
    rules.append(("logi", "log", lambda _: _positive_measure(word[:-3])))
    return _apply_first(word, rules)


_STEP3_RULES = [
    ("icate", "ic"),
    ("ative", ""),
    ("alize", "al"),
    ("iciti", "ic"),
    ("ical", "ic"),
    ("ful", ""),
    ("ness", ""),
]
_STEP4_SUFFIXES = ["al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion",
                   "ou", "ism", "ate", "iti", "ous", "ive", "ize"]  # fmt: skip


def _step3(word: str) -> str:
    return _apply_first(word, [(s, r, _positive_measure) for s, r in _STEP3_RULES])


def _step4(word: str) -> str:
    def condition(suffix: str):
        if suffix == "ion":
            return lambda s: _measure(s) > 1 and s[-1] in "st"
        return _measure_above_1

    return _apply_first(word, [(s, "", condition(s)) for s in _STEP4_SUFFIXES])


def _step5a(word: str) -> str:
    if word.endswith("e"):
        stem = word[:-1]
        m = _measure(stem)
        if m > 1 or (m == 1 and not _ends_cvc(stem)):
            return stem
    return word


def _step5b(word: str) -> str:
    return _apply_first(word, [("ll", "l", lambda _: _measure(word[:-1]) > 1)])


def porter_stem(word: str) -> str:
    """NLTK's `PorterStemmer()` (NLTK_EXTENSIONS mode) on one word."""
    word = word.lower()
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 2:
        return word
    for step in (_step1a, _step1b, _step1c, _step2, _step3, _step4, _step5a, _step5b):
        word = step(word)
    return word


# --- the answer score -------------------------------------------------------------------------------


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
