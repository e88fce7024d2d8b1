"""The paper's answer score: our BLEU / ROUGE-1 / Porter ports against nltk and rouge-score."""

from __future__ import annotations

import json
import random
import re
import warnings
from pathlib import Path

import pytest

from xraybench.errors import XrayBenchError
from xraybench.metrics.answer_score import (
    BLEU1_WEIGHTS,
    BLEU4_WEIGHTS,
    AnswerScoreMetric,
    answer_score,
    rouge1_f,
    sentence_bleu,
)
from xraybench.metrics.rouge import porter_stem
from xraybench.records import Prediction, Sample

nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")
porter = pytest.importorskip("nltk.stem.porter")
rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "vqa"
EDGE = [
    "", " ", "None", "a", "ab", "abc", "abcd", "yes", "No", "T1/T2", "T1 / T2", "left lower lobe",
    "É ü naïve — 中文 ", "1.5 cm nodule", "!!!", "   padded   ", "aaaaaaa", "the the the the",
    "There is a small right pleural effusion with adjacent atelectasis.",
    "Moderate cardiomegaly; no pneumothorax. Lines and tubes unchanged.",
    "effusions consolidations atelectatic opacities worsening improved", "ΑΒΓ αβγ", "x" * 300,
]  # fmt: skip
MEDICAL_WORDS = [
    "effusion",
    "effusions",
    "atelectasis",
    "atelectatic",
    "opacities",
    "opacity",
    "consolidation",
    "consolidative",
    "pneumothorax",
    "cardiomegaly",
    "enlarged",
    "enlargement",
    "worsening",
    "improved",
    "improving",
    "unchanged",
    "stable",
    "visualized",
    "lobes",
    "lobar",
    "bilateral",
    "bibasilar",
    "hyperinflation",
    "hyperinflated",
    "emphysematous",
    "calcified",
    "calcifications",
    "sternotomy",
    "wires",
    "tubes",
    "lines",
    "catheter",
    "positioned",
    "positioning",
    "radiograph",
    "radiographs",
    "probably",
    "possibly",
    "likely",
    "suggestive",
    "generalization",
    "conditional",
    "relational",
    "hopefulness",
    "feudalism",
    "controlling",
    "skies",
    "dying",
    "lying",
    "news",
    "innings",
    "proceed",
    "succeeded",
    "agreed",
    "plastered",
    "motoring",
    "happy",
    "enjoy",
    "sensibiliti",
    "triplicate",
    "electrical",
    "adjustment",
    "yyyy",
    "syzygy",
    "toy",
    "ies",
    "ied",
    "eed",
    "ying",
    "aing",
    "alli",
    "logi",
    "fulli",
]


def corpus() -> list[str]:
    texts = list(EDGE)
    for name in ("slake_test.json", "vqa_rad_public.json"):
        path = DATA / name
        if path.exists():
            items = json.loads(path.read_text())
            texts += [str(x["answer"]) for x in items[:400]] + [x["question"] for x in items[:200]]
    return texts


def test_porter_stem_equals_nltk() -> None:
    stemmer = porter.PorterStemmer()
    rng = random.Random(0)
    words = set(MEDICAL_WORDS)
    for text in corpus():
        words.update(re.findall(r"[a-z0-9]+", text.lower()))
    for _ in range(5000):
        words.add("".join(rng.choice("aeiouybcdlstnmrgzy") for _ in range(rng.randint(1, 12))))
    mismatches = [w for w in sorted(words) if porter_stem(w) != stemmer.stem(w)]
    assert mismatches == []


def test_char_and_word_bleu_equal_nltk_method2() -> None:
    smooth = nltk_bleu.SmoothingFunction().method2
    texts = corpus()
    rng = random.Random(1)
    pairs = [(a, b) for a in EDGE for b in EDGE] + [(rng.choice(texts), rng.choice(texts)) for _ in range(1500)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for hyp, ref in pairs:
            for weights in (BLEU1_WEIGHTS, BLEU4_WEIGHTS):
                expected = nltk_bleu.sentence_bleu([ref], hyp, weights=weights, smoothing_function=smooth)
                assert sentence_bleu(hyp, ref, weights) == pytest.approx(expected, abs=1e-12), (hyp, ref)
                expected = nltk_bleu.sentence_bleu(
                    [ref.split()], hyp.split(), weights=weights, smoothing_function=smooth
                )
                assert sentence_bleu(hyp.split(), ref.split(), weights) == pytest.approx(expected, abs=1e-12)


def test_rouge1_equals_rouge_score() -> None:
    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)
    plain = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=False)
    texts = corpus()
    rng = random.Random(2)
    pairs = [(a, b) for a in EDGE for b in EDGE] + [(rng.choice(texts), rng.choice(texts)) for _ in range(1500)]
    for target, prediction in pairs:
        assert rouge1_f(target, prediction) == pytest.approx(
            scorer.score(target, prediction)["rouge1"].fmeasure, abs=1e-12
        )
        assert rouge1_f(target, prediction, stem=False) == pytest.approx(
            plain.score(target, prediction)["rouge1"].fmeasure, abs=1e-12
        )


def paper_reference(answer: str, truth: str) -> float:
    """The paper variant spelled out from DESIGN.md with the reference packages (tests only)."""
    answer = answer or " "
    words = len(truth.split())
    if "|" in truth and words <= 20:
        truth_items = [t.strip().lower() for t in truth.strip().split("|")]
        answer_items = [t.strip().lower() for t in answer.strip().split("|")]
        hits = len(set(truth_items) & set(answer_items))
        p, r = hits / len(answer_items), hits / len(truth_items)
        return 2 * p * r / (p + r) if p + r else 0.0
    if words <= 2:
        return float(answer.lower() == truth.lower())
    smooth = nltk_bleu.SmoothingFunction().method2
    b1 = nltk_bleu.sentence_bleu([truth], answer, weights=(1, 0, 0, 0), smoothing_function=smooth)
    b4 = nltk_bleu.sentence_bleu([truth], answer, weights=(0.25,) * 4, smoothing_function=smooth)
    r1 = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True).score(answer, truth)["rouge1"].fmeasure
    return (b1 + b4 + r1) / 3


def test_paper_variant_matches_reference_packages() -> None:
    texts = corpus() + ["effusion|atelectasis", "Effusion | atelectasis|", "a|a|b", "left|right", "|"]
    rng = random.Random(3)
    pairs = [(rng.choice(texts), rng.choice(texts)) for _ in range(1500)] + [(t, t) for t in texts]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for answer, truth in pairs:
            assert answer_score(answer, truth, "paper") == pytest.approx(paper_reference(answer, truth), abs=1e-12)


@pytest.mark.parametrize(
    ("answer", "truth", "expected"),
    [
        ("a|a", "a|b", 0.5),  # hits on sets, divided by list lengths
        ("B | a", "a | b", 1.0),  # '|' branch even though "a | b" is 3 tokens
        ("effusion|", "effusion", 0.0),  # no '|' in truth: 1 word -> exact match
        ("Yes", "yes", 1.0),
        (" yes", "yes", 0.0),  # the answer arrives stripped; a leading space is a mismatch
        ("yes", " yes", 0.0),  # the truth is never stripped: " yes" != "yes"
        ("", " ", 1.0),  # an empty answer becomes a single space
        ("xyz", "left lower lobe", 0.0),  # no shared character: BLEU 0, ROUGE 0
    ],
)
def test_paper_variant_hand_cases(answer: str, truth: str, expected: float) -> None:
    assert answer_score(answer, truth, "paper") == pytest.approx(expected)


def test_missing_answer_none_still_shares_characters() -> None:
    # The reward's "None" (no \\boxed{}) shares the characters o, n, e with most truths: BLEU > 0.
    assert answer_score("None", "left lower lobe", "paper") == pytest.approx(paper_reference("None", "left lower lobe"))
    assert answer_score("None", "left lower lobe", "paper") > 0


def test_identical_long_answer_scores_one() -> None:
    truth = "small left pleural effusion"
    assert answer_score(truth, truth, "paper") == pytest.approx(1.0)
    assert answer_score(truth, truth, "word") == pytest.approx(1.0)


def test_word_variant_normalises() -> None:
    assert answer_score("Yes.", "yes", "word") == 1.0
    assert answer_score("Yes.", "yes", "paper") == 0.0
    assert answer_score("Atelectasis, effusion", "effusion|atelectasis", "word") == 1.0
    assert answer_score("effusion|effusion", "effusion|atelectasis", "word") == pytest.approx(2 / 3)
    word = answer_score("There is a small left effusion", "small left pleural effusion", "word")
    assert 0 < word < 1


def test_metric_records_variant_and_rejects_unknown() -> None:
    samples = [Sample("s1", "vqa", "d", "test", "q", "yes"), Sample("s2", "vqa", "d", "test", "q", "a|b")]
    preds = [Prediction("s1", "vqa", "m", "", "Yes"), Prediction("s2", "vqa", "m", "", "a")]
    scores = AnswerScoreMetric("paper").score(samples, preds)["answer_score"]
    assert scores.details["variant"] == "paper"
    assert scores.per_sample.tolist() == pytest.approx([1.0, 2 / 3])
    with pytest.raises(XrayBenchError):
        AnswerScoreMetric("chars")  # type: ignore[arg-type]
    with pytest.raises(XrayBenchError):
        answer_score("a", "b", "chars")  # type: ignore[arg-type]
