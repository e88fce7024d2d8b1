"""BLEU against pycocoevalcap's `Bleu(4)` on the fixture sets, and resample aggregation."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures_lexical import SETS

from xraybench.metrics.api import score_texts
from xraybench.metrics.tokenize import coco_tokenize_batch


def coco_inputs(hyps: list[str], refs: list[list[str]]) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """pycocoevalcap's inputs after PTB tokenization (our coco tokens, proven equal to the jar's elsewhere)."""
    res_tok = coco_tokenize_batch(hyps)
    flat = coco_tokenize_batch([r for rs in refs for r in rs])
    gts: dict[int, list[str]] = {}
    start = 0
    for i, rs in enumerate(refs):
        gts[i] = [" ".join(t) for t in flat[start : start + len(rs)]]
        start += len(rs)
    res = {i: [" ".join(t)] for i, t in enumerate(res_tok)}
    return gts, res


@pytest.mark.parametrize("name", sorted(SETS))
def test_bleu_equals_pycocoevalcap(name: str) -> None:
    from pycocoevalcap.bleu.bleu import Bleu

    hyps, refs = SETS[name]
    gts, res = coco_inputs(hyps, refs)
    expected, expected_per = Bleu(4).compute_score(gts, res, verbose=0)
    ours = score_texts(hyps, refs, ["bleu"])
    for k in range(4):
        scores = ours[f"bleu_{k + 1}"]
        assert abs(scores.value - expected[k]) <= 1e-6
        np.testing.assert_allclose(scores.per_sample, expected_per[k], atol=1e-6)
        assert scores.details["tokenizer"] == "coco"


def test_aggregate_matches_corpus_and_resamples() -> None:
    from pycocoevalcap.bleu.bleu import Bleu

    hyps, refs = SETS["generated"]
    ours = score_texts(hyps, refs, ["bleu"])
    n = len(hyps)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, n, size=(5, n))
    for k in range(1, 5):
        scores = ours[f"bleu_{k}"]
        assert abs(scores.on(np.arange(n)) - scores.value) <= 1e-12
        batched = scores.aggregate.many(idx)  # type: ignore[union-attr]
        for row, value in zip(idx, batched, strict=False):
            assert abs(scores.on(row) - value) <= 1e-9
    row = idx[0]
    gts, res = coco_inputs([hyps[i] for i in row], [refs[i] for i in row])
    expected, _ = Bleu(4).compute_score(gts, res, verbose=0)
    assert abs(ours["bleu_4"].on(row) - expected[3]) <= 1e-6


def test_tokenizer_recorded_and_modes() -> None:
    out = score_texts(["a b c d"], [["a b c d e"]], ["bleu"], tokenizer="raw")
    assert out["bleu_1"].details["tokenizer"] == "raw"
    assert 0 < out["bleu_4"].value < 1
