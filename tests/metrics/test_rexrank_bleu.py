"""`rexrank_bleu` equals CXR-Report-Metric's BLEU column: fast-bleu's BLEU-2 (the package ReXrank's scorer calls)
and NLTK's sentence_bleu with smoothing method 1, on CXR-Report-Metric's tokens of real IU X-ray reports."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pytest

from xraybench.metrics.api import score_texts
from xraybench.metrics.rexrank_bleu import rexrank_tokens, sentence_bleu2


def _reports(shared: Path, n: int = 300) -> list[str]:
    with open(shared / "iu_xray" / "indiana_reports.csv", newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["findings"].strip() and r["impression"].strip()]
    return [f"Findings: {r['findings']} Impression: {r['impression']}" for r in rows[:n]]


def _pairs(shared: Path) -> list[tuple[str, str]]:
    """Each real report against another real one, an impression alone, and the edge cases (empty, one word)."""
    reports = _reports(shared)
    rng = random.Random(0)
    hyps = [rng.choice(reports) for _ in reports]
    hyps[:6] = ["", "a", "No.", "effusion", reports[0], reports[1].split(" Impression: ")[1]]
    return list(zip(reports, hyps, strict=True))


def test_tokens_as_cxr_report_metric() -> None:
    assert rexrank_tokens("Heart size normal.  No effusion,\nor edema.") == [
        "heart", "size", "normal", ".", "no", "effusion,\nor", "edema", ".",
    ]  # fmt: skip


def test_equals_fast_bleu(shared_data: Path) -> None:
    fast_bleu = pytest.importorskip("fast_bleu", reason="fast-bleu (ReXrank's BLEU package) is in the dev extra")
    for ref, hyp in _pairs(shared_data):
        expected = fast_bleu.BLEU([rexrank_tokens(ref)], {"b": (0.5, 0.5)}).get_score([rexrank_tokens(hyp)])["b"][0]
        assert sentence_bleu2(rexrank_tokens(ref), rexrank_tokens(hyp)) == pytest.approx(expected, abs=1e-12)


def test_equals_nltk_and_corpus_is_the_mean(shared_data: Path) -> None:
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    pairs = _pairs(shared_data)[1:]  # NLTK itself fails on an empty hypothesis (fast-bleu and we give 0)
    smooth = SmoothingFunction().method1
    expected = [
        sentence_bleu([rexrank_tokens(r)], rexrank_tokens(h), (0.5, 0.5), smoothing_function=smooth) for r, h in pairs
    ]
    scores = score_texts([h for _, h in pairs], [[r] for r, _ in pairs], ["rexrank_bleu"])["rexrank_bleu"]
    assert np.allclose(scores.per_sample, expected, atol=1e-12, rtol=0)
    assert scores.value == pytest.approx(float(np.mean(expected)), abs=1e-12)
    assert sentence_bleu2(rexrank_tokens(pairs[0][0]), []) == 0.0
