"""ROUGE-L: COCO's variant (beta 1.2) and `rouge-score`'s rougeL F (beta 1.0, optional Porter stemmer).

- beta 1.2 equals pycocoevalcap's `Rouge`: tokens are the chosen tokenizer's, the caption is split on
  single spaces (so an empty caption is one empty token, as there), precision and recall are each the
  maximum over the references, F = (1 + b^2) P R / (R + b^2 P), and the corpus value is the mean.
- beta 1.0 equals `rouge_score.rouge_scorer.RougeScorer(["rougeL"], use_stemmer=...)` with `score_multi`:
  rouge-score's own tokenization (lowercase, every run of characters other than `a-z0-9` is a separator,
  Porter stemming of tokens longer than 3 characters when asked), F = 2PR/(P+R) per reference and the
  reference with the best F. The `tokenizer` argument does not apply there; `details` says so.

The LCS length is computed bit-parallel (Hyyro's formulation of Allison-Dix): one Python big-int
addition per hypothesis token instead of a row of the O(n*m) table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from xraybench.errors import XrayBenchError
from xraybench.metrics._lexical import TokenCache, lexical_inputs
from xraybench.metrics.aggregate import NanMean, check_aligned
from xraybench.metrics.base import LEXICAL_OPTIONS, MetricSpec, Scores
from xraybench.metrics.tokenize import check_mode
from xraybench.records import Prediction, Sample


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists (bit-parallel)."""
    if len(a) < len(b):
        a, b = b, a
    m = len(a)
    if m == 0 or not b:
        return 0
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << m) - 1
    v = full
    for token in b:
        match = masks.get(token)
        if match:
            u = v & match
            v = ((v + u) | (v - u)) & full
    return m - v.bit_count() if hasattr(v, "bit_count") else m - bin(v).count("1")


# --- rouge-score tokenization and NLTK's Porter stemmer (NLTK_EXTENSIONS mode), written from its rules ---

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_VOWELS = frozenset("aeiou")
_IRREGULAR = {
    "skies": "sky", "sky": "sky", "dying": "die", "lying": "lie", "tying": "tie", "news": "news",
    "innings": "inning", "inning": "inning", "outings": "outing", "outing": "outing",
    "cannings": "canning", "canning": "canning", "howe": "howe", "proceed": "proceed",
    "exceed": "exceed", "succeed": "succeed",
}  # fmt: skip


def _consonants(word: str) -> list[bool]:
    flags: list[bool] = []
    for i, ch in enumerate(word):
        flags.append(False if ch in _VOWELS else (i == 0 or not flags[i - 1]) if ch == "y" else True)
    return flags


def _measure(stem: str) -> int:
    return "".join("c" if c else "v" for c in _consonants(stem)).count("vc")


def _has_vowel(stem: str) -> bool:
    return not all(_consonants(stem))


def _double_consonant(word: str) -> bool:
    return len(word) >= 2 and word[-1] == word[-2] and _consonants(word)[-1]


def _cvc(word: str) -> bool:
    if len(word) >= 3:
        c = _consonants(word)
        return c[-3] and not c[-2] and c[-1] and word[-1] not in "wxy"
    return len(word) == 2 and not _consonants(word)[0] and _consonants(word)[1]


Rule = tuple[str, str, Callable[[str], bool] | None]


def _rules(word: str, rules: Sequence[Rule]) -> str:
    """The first rule whose suffix matches decides: its replacement if its condition holds, else no change."""
    for suffix, replacement, condition in rules:
        if suffix == "*d":
            if _double_consonant(word):
                stem = word[:-2]
                return stem + replacement if condition is None or condition(stem) else word
            continue
        if word.endswith(suffix):
            stem = word[: len(word) - len(suffix)] if suffix else word
            return stem + replacement if condition is None or condition(stem) else word
    return word


def _m_gt0(stem: str) -> bool:
    return _measure(stem) > 0


def _m_gt1(stem: str) -> bool:
    return _measure(stem) > 1


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
    return _rules(
        stem,
        [
            ("at", "ate", None),
            ("bl", "ble", None),
            ("iz", "ize", None),
            ("*d", stem[-1], lambda _s: stem[-1] not in "lsz"),
            ("", "e", lambda s: _measure(s) == 1 and _cvc(s)),
        ],
    )


_STEP2: list[Rule] = [
    (s, r, _m_gt0)
    for s, r in [
        ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"),
        ("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"),
        ("ization", "ize"), ("ation", "ate"), ("ator", "ate"), ("alism", "al"), ("iveness", "ive"),
        ("fulness", "ful"), ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"),
        ("fulli", "ful"),
    ]
]  # fmt: skip
_STEP3: list[Rule] = [
    (s, r, _m_gt0)
    for s, r in [
        ("icate", "ic"),
        ("ative", ""),
        ("alize", "al"),
        ("iciti", "ic"),
        ("ical", "ic"),
        ("ful", ""),
        ("ness", ""),
    ]
]
_STEP4: list[Rule] = (
    [(s, "", _m_gt1) for s in ("al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent")]
    + [("ion", "", lambda s: _measure(s) > 1 and s[-1:] in ("s", "t"))]
    + [(s, "", _m_gt1) for s in ("ou", "ism", "ate", "iti", "ous", "ive", "ize")]
)


def _step2(word: str) -> str:
    if word.endswith("alli") and _m_gt0(word[:-4]):
        return _step2(word[:-4] + "al")
    return _rules(word, [*_STEP2, ("logi", "log", lambda _s: _m_gt0(word[:-3]))])


def porter_stem(word: str) -> str:
    """NLTK's `PorterStemmer().stem` (default NLTK_EXTENSIONS mode), as rouge-score uses it."""
    stem = word.lower()
    if stem in _IRREGULAR:
        return _IRREGULAR[stem]
    if len(word) <= 2:
        return stem
    if stem.endswith("ies") and len(stem) == 4:
        stem = stem[:-3] + "ie"
    else:
        stem = _rules(stem, [("sses", "ss", None), ("ies", "i", None), ("ss", "ss", None), ("s", "", None)])
    stem = _step1b(stem)
    stem = _rules(stem, [("y", "i", lambda s: len(s) > 1 and _consonants(s)[-1])])
    stem = _step2(stem)
    stem = _rules(stem, _STEP3)
    stem = _rules(stem, _STEP4)
    if stem.endswith("e"):
        base = stem[:-1]
        m = _measure(base)
        if m > 1 or (m == 1 and not _cvc(base)):
            stem = base
    return _rules(stem, [("ll", "l", lambda _s: _measure(stem[:-1]) > 1)])


def rouge_score_tokens(text: str, stemmer: bool) -> list[str]:
    """rouge-score's default tokenizer: lowercase, split on non-`a-z0-9`, stem tokens longer than 3."""
    tokens = _NON_ALNUM.sub(" ", text.lower()).split()
    if stemmer:
        tokens = [porter_stem(t) if len(t) > 3 else t for t in tokens]
    return [t for t in tokens if t]


def coco_rouge(hyp: Sequence[str], refs: Sequence[Sequence[str]], beta: float) -> float:
    """pycocoevalcap `Rouge.calc_score` on token lists (an empty caption is one empty token there)."""
    if not refs:
        raise XrayBenchError("ROUGE-L needs at least one reference per sample")
    cand = list(hyp) or [""]
    prec = []
    rec = []
    for ref in refs:
        ref_tokens = list(ref) or [""]
        lcs = lcs_length(ref_tokens, cand)
        prec.append(lcs / float(len(cand)))
        rec.append(lcs / float(len(ref_tokens)))
    p, r = max(prec), max(rec)
    if p != 0 and r != 0:
        return ((1 + beta**2) * p * r) / float(r + beta**2 * p)
    return 0.0


def rouge_score_f(hyp: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    """rouge-score's rougeL F with `score_multi` (the reference with the highest F)."""
    best = 0.0
    for index, ref in enumerate(refs):
        if not ref or not hyp:
            f = 0.0
        else:
            lcs = lcs_length(ref, hyp)
            p, r = lcs / len(hyp), lcs / len(ref)
            f = 2 * p * r / (p + r) if p + r > 0 else 0.0
        if index == 0 or f > best:
            best = f
    return best


class RougeLMetric:
    """ROUGE-L F (`rouge_l`): beta 1.2 as COCO, or beta 1.0 (optionally stemmed) as rouge-score."""

    name = "rouge_l"
    spec = MetricSpec(kinds=("report",), leaderboard=("rouge_l",), options=LEXICAL_OPTIONS)

    def __init__(
        self, tokenizer: str = "coco", beta: float = 1.2, stemmer: bool = False, cache: TokenCache | None = None
    ):
        self.tokenizer = check_mode(tokenizer)
        self.beta = float(beta)
        self.stemmer = bool(stemmer)
        self.cache = cache
        if self.stemmer and self.beta != 1.0:
            raise XrayBenchError("rouge_l: stemmer=True is rouge-score's variant and needs beta=1.0")

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        if self.beta == 1.0:
            check_aligned(samples, predictions, self.name)
            values = [
                rouge_score_f(
                    rouge_score_tokens(p.answer or "", self.stemmer),
                    [rouge_score_tokens(r, self.stemmer) for r in s.all_references()],
                )
                for s, p in zip(samples, predictions, strict=False)
            ]
            details = {
                "tokenizer": "rouge_score",
                "beta": 1.0,
                "stemmer": self.stemmer,
                "variant": "rouge-score rougeL F",
            }
        else:
            hyps, refs = lexical_inputs(samples, predictions, self.tokenizer, self.name, self.cache)
            values = [coco_rouge(h, rs, self.beta) for h, rs in zip(hyps, refs, strict=False)]
            details = {
                "tokenizer": self.tokenizer,
                "beta": self.beta,
                "stemmer": False,
                "variant": "pycocoevalcap Rouge",
            }
        per_sample = np.asarray(values, dtype=np.float64)
        value = float(np.mean(per_sample)) if len(per_sample) else float("nan")
        return {"rouge_l": Scores("rouge_l", value, per_sample, NanMean(per_sample), details)}


def rouge_n_f(hyp: Sequence[str], refs: Sequence[Sequence[str]], n: int) -> float:
    """rouge-score's rougeN F with `score_multi`: clipped n-gram overlap, P and R over each side's n-gram
    count (at least 1), F = 2PR/(P+R), the reference with the highest F."""
    from collections import Counter

    def grams(tokens: Sequence[str]) -> Counter:
        return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))

    hyp_grams = grams(hyp)
    best = 0.0
    for index, ref in enumerate(refs):
        ref_grams = grams(ref)
        overlap = sum((hyp_grams & ref_grams).values())
        p = overlap / max(sum(hyp_grams.values()), 1)
        r = overlap / max(sum(ref_grams.values()), 1)
        f = 2 * p * r / (p + r) if p + r > 0 else 0.0
        if index == 0 or f > best:
            best = f
    return best


ROUGE_SCORE_NAMES = ("rouge1", "rouge2", "rougeL")


class RougeScoreMetric:
    """`rouge_score`: ROUGE-1, ROUGE-2 and ROUGE-L F exactly as Google's rouge-score computes them
    (`RougeScorer([...], use_stemmer=stemmer).score_multi`), under rouge-score's own names `rouge1`, `rouge2`,
    `rougeL`, beside COCO's `rouge_l`. Its tokenizer is rouge-score's, whatever `--tokenizer` says."""

    name = "rouge_score"
    spec = MetricSpec(kinds=("report",), headline=ROUGE_SCORE_NAMES)

    def __init__(self, stemmer: bool = True, names: Sequence[str] = ROUGE_SCORE_NAMES):
        self.stemmer = bool(stemmer)
        unknown = [n for n in names if n not in ROUGE_SCORE_NAMES]
        if unknown:
            raise XrayBenchError(f"rouge_score: unknown score(s) {unknown}; choose from {list(ROUGE_SCORE_NAMES)}")
        self.names = tuple(names)

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        check_aligned(samples, predictions, self.name)
        hyps = [rouge_score_tokens(p.answer or "", self.stemmer) for p in predictions]
        refs = [[rouge_score_tokens(r, self.stemmer) for r in s.all_references()] for s in samples]
        compute: dict[str, Callable[[Sequence[str], Sequence[Sequence[str]]], float]] = {
            "rouge1": lambda h, rs: rouge_n_f(h, rs, 1),
            "rouge2": lambda h, rs: rouge_n_f(h, rs, 2),
            "rougeL": rouge_score_f,
        }
        details = {"tokenizer": "rouge_score", "stemmer": self.stemmer, "variant": "rouge-score F (score_multi)"}
        out: dict[str, Scores] = {}
        for name in self.names:
            per_sample = np.asarray([compute[name](h, rs) for h, rs in zip(hyps, refs, strict=True)], dtype=np.float64)
            value = float(np.mean(per_sample)) if len(per_sample) else float("nan")
            out[name] = Scores(name, value, per_sample, NanMean(per_sample), dict(details))
        return out
