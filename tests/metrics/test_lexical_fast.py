"""The fast paths of the lexical metrics against their plain versions (no Java needed).

The `coco` tokenizer cuts plain words, numbers and punctuation with one regex and hands every other
position to the full longest-match rules; BLEU and CIDEr-D count n-grams as integer keys, compacting
them when a large vocabulary would overflow int64. Each shortcut must give what the slow way gives.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from fixtures_lexical import SETS
from test_tokenize import TRICKY, _fuzz_lines

from xraybench.metrics import _lexical, tokenize
from xraybench.metrics.api import build_records, score_texts

BOUNDARY_ATOMS = [
    "a", "ab", "etc", "Fig", "fig", "No", "no", "cannot", "Gonna", "wanna", "x1", "T11-T12", "3-4", "1.5", "12",
    "1", "555", "1234", "1/2", ".", ",", ";", ":", "(", ")", "-", "'", "s", "U.S", "e.g", "Mr", "A", "Ark", "ark",
    "the", "cm", "1.5cm", "1.5cannot", "3x4", "@", "com", "www", "Dr.", "pA.M.", "'twas", "'s", "patient's",
    "d's", "y's", "ECHO'S", "..", "effusion..", "etc..", "CT", "CT.", "Mme", "Pty", "report.pdf", "(^_^)", "x_x",
    "6th", "5mm", "1e5", "and/or", "a/b/c/d", "12/25/2020", "1/2", "5 1/2", "1-1/2", ". .", ". . .", ". .. .",
]  # fmt: skip
SEPARATORS = [" ", " ", "", "  ", "\t", "\n", ". ", ", ", " . ", "\u00a0", ": ", "; ", ".. ", "'s ", "'s. "]


def _boundary_lines(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        "".join(rng.choice(BOUNDARY_ATOMS) + rng.choice(SEPARATORS) for _ in range(rng.randint(1, 12)))
        for _ in range(n)
    ]


def _full_rules(text: str) -> list[str]:
    """The lexer with no fast path: the full longest-match step at every position."""
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        pos = tokenize._lex_one(text, pos, tokens)
    return tokens


def _coco_full_rules(texts: list[str]) -> list[list[str]]:
    lines: list[list[str]] = [[]]
    for token in _full_rules("\n".join(t.replace("\n", " ") for t in texts)):
        if token == "\n":
            lines.append([])
        elif token.lower() not in tokenize.COCO_PUNCTUATIONS:
            lines[-1].append(token.lower())
    return lines[: len(texts)]


def test_fast_path_equals_full_rules() -> None:
    texts = TRICKY + _fuzz_lines(1500, seed=17) + _boundary_lines(4000, seed=23)
    for hyps, refs in SETS.values():
        texts += hyps + [r for rs in refs for r in rs]
    mismatches = [t for t in texts if tokenize._lex(t) != _full_rules(t)]
    assert not mismatches, mismatches[:3]
    rng = random.Random(5)
    for _ in range(300):  # batches: the look-ahead crosses caption boundaries
        batch = [rng.choice(texts).replace("\n", " ") for _ in range(rng.randint(1, 8))]
        assert tokenize.coco_tokenize_batch(batch) == _coco_full_rules(batch), batch


@pytest.mark.parametrize("name", ["multiple_references", "numbers_punctuation", "generated", "very_long"])
def test_ngram_keys_compacted_give_the_same_scores(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    hyps, refs = SETS[name]
    expected = score_texts(hyps, refs, ["bleu", "cider"])
    monkeypatch.setattr(_lexical, "_KEY_LIMIT", 2**16)  # forces the compaction of n-gram keys
    compacted = score_texts(hyps, refs, ["bleu", "cider"])
    for key, scores in expected.items():
        np.testing.assert_array_equal(compacted[key].per_sample, scores.per_sample)


def test_ngrams_shared_between_bleu_and_cider() -> None:
    cache = _lexical.TokenCache()
    hyps, refs = SETS["multiple_references"]
    samples, predictions = build_records(hyps, refs)
    first = _lexical.lexical_ngrams(samples, predictions, "coco", "bleu", cache)
    assert _lexical.lexical_ngrams(samples, predictions, "coco", "cider", cache) is first
    hyp, ref = first.split(1)
    assert len(first.ref_sample) == 6 and not first.one_reference_each
    assert hyp.count.sum() == first.hyp_len.sum() and ref.count.sum() == first.ref_len.sum()
