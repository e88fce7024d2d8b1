"""CIDEr-D against pycocoevalcap's `Cider` on the fixture sets."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures_lexical import SETS
from test_bleu import coco_inputs

from xraybench.metrics.api import score_texts


@pytest.mark.parametrize("name", sorted(SETS))
def test_cider_equals_pycocoevalcap(name: str) -> None:
    from pycocoevalcap.cider.cider import Cider

    hyps, refs = SETS[name]
    gts, res = coco_inputs(hyps, refs)
    expected, expected_per = Cider().compute_score(gts, res)
    ours = score_texts(hyps, refs, ["cider"])["cider"]
    assert abs(ours.value - expected) <= 1e-6
    np.testing.assert_allclose(ours.per_sample, expected_per, atol=1e-6)
    assert ours.details["tokenizer"] == "coco" and "idf" in ours.details
    assert abs(ours.on(np.arange(len(hyps))) - ours.value) <= 1e-12


def test_single_sample_scores_zero_like_coco() -> None:
    # log(1 image) = 0 makes every weight 0 in pycocoevalcap too
    assert score_texts(["no effusion"], [["no effusion"]], ["cider"])["cider"].value == 0.0
