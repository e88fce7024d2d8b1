"""ROUGE-L against pycocoevalcap's `Rouge` (beta 1.2) and rouge-score's rougeL (beta 1.0, stemmer)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from fixtures_lexical import SETS
from test_bleu import coco_inputs

from xraybench.errors import XrayBenchError
from xraybench.metrics.api import score_texts
from xraybench.metrics.rouge import lcs_length, porter_stem, rouge_score_tokens


@pytest.mark.parametrize("name", sorted(SETS))
def test_coco_rouge_equals_pycocoevalcap(name: str) -> None:
    from pycocoevalcap.rouge.rouge import Rouge

    hyps, refs = SETS[name]
    gts, res = coco_inputs(hyps, refs)
    expected, expected_per = Rouge().compute_score(gts, res)
    ours = score_texts(hyps, refs, ["rouge_l"])["rouge_l"]
    assert abs(ours.value - expected) <= 1e-6
    np.testing.assert_allclose(ours.per_sample, expected_per, atol=1e-6)
    assert ours.details["beta"] == 1.2 and ours.details["tokenizer"] == "coco"
    assert abs(ours.on(np.arange(len(hyps))) - ours.value) <= 1e-12


@pytest.mark.parametrize("stemmer", [False, True])
@pytest.mark.parametrize("name", sorted(SETS))
def test_beta1_equals_rouge_score(name: str, stemmer: bool) -> None:
    from rouge_score.rouge_scorer import RougeScorer

    hyps, refs = SETS[name]
    scorer = RougeScorer(["rougeL"], use_stemmer=stemmer)
    expected = [scorer.score_multi(rs, h)["rougeL"].fmeasure for h, rs in zip(hyps, refs, strict=False)]
    ours = score_texts(hyps, refs, ["rouge_l"], options={"rouge_l": {"beta": 1.0, "stemmer": stemmer}})["rouge_l"]
    np.testing.assert_allclose(ours.per_sample, expected, atol=1e-6)
    assert ours.details == {
        "tokenizer": "rouge_score",
        "beta": 1.0,
        "stemmer": stemmer,
        "variant": "rouge-score rougeL F",
    }


def test_porter_and_tokens_equal_nltk_and_rouge_score() -> None:
    from nltk.stem.porter import PorterStemmer
    from rouge_score.tokenize import tokenize as rs_tokenize

    nltk_stemmer = PorterStemmer()
    rng = random.Random(0)
    words = {"".join(rng.choice("aeiouybcdlmnrstgz") for _ in range(rng.randint(1, 12))) for _ in range(3000)}
    words |= {
        "opacities",
        "effusions",
        "visualized",
        "generalization",
        "skies",
        "dying",
        "controlling",
        "happy",
        "agreed",
    }
    assert [porter_stem(w) for w in sorted(words)] == [nltk_stemmer.stem(w) for w in sorted(words)]
    text = "Opacities, 1.5cm; café naïve RE-demonstrated!"
    assert rouge_score_tokens(text, True) == rs_tokenize(text, nltk_stemmer)


def test_lcs_matches_dynamic_programming() -> None:
    def table(a: list[str], b: list[str]) -> int:
        t = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i in range(1, len(a) + 1):
            for j in range(1, len(b) + 1):
                t[i][j] = t[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1] else max(t[i - 1][j], t[i][j - 1])
        return t[-1][-1]

    rng = random.Random(1)
    for _ in range(500):
        a = [rng.choice("abcde") for _ in range(rng.randint(0, 70))]
        b = [rng.choice("abcdef") for _ in range(rng.randint(0, 70))]
        assert lcs_length(a, b) == table(a, b)


def test_stemmer_needs_beta_one() -> None:
    with pytest.raises(XrayBenchError, match="beta=1.0"):
        score_texts(["a"], [["a"]], ["rouge_l"], options={"rouge_l": {"stemmer": True}})


@pytest.mark.parametrize("stemmer", [False, True])
@pytest.mark.parametrize("name", sorted(SETS))
def test_rouge_score_family_equals_rouge_score(name: str, stemmer: bool) -> None:
    """`rouge_score` gives rouge-score's rouge1 / rouge2 / rougeL F (score_multi) under rouge-score's names."""
    from rouge_score.rouge_scorer import RougeScorer

    hyps, refs = SETS[name]
    scorer = RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=stemmer)
    ours = score_texts(hyps, refs, ["rouge_score"], options={"rouge_score": {"stemmer": stemmer}})
    assert sorted(ours) == ["rouge1", "rouge2", "rougeL"]
    for key in ("rouge1", "rouge2", "rougeL"):
        expected = [scorer.score_multi(rs, h)[key].fmeasure for h, rs in zip(hyps, refs, strict=False)]
        np.testing.assert_allclose(ours[key].per_sample, expected, atol=1e-9)
        assert ours[key].details["stemmer"] is stemmer
