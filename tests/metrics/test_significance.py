"""Paired bootstrap and approximate randomisation between two runs on the same samples."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from xraybench.errors import XrayBenchError
from xraybench.metrics.aggregate import nanmean_scores
from xraybench.metrics.base import Scores
from xraybench.metrics.classification import CountStat
from xraybench.metrics.significance import approximate_randomization, compare_scores, paired_bootstrap


def test_identical_runs_are_not_different() -> None:
    values = np.random.default_rng(0).random(200)
    a, b = Scores.mean("m", values), Scores.mean("m", values.copy())
    result = paired_bootstrap(a, b)
    assert result.diff == 0 and result.ci_low == 0 and result.ci_high == 0
    assert result.p_value == 1.0
    assert approximate_randomization(a, b) == 1.0


def test_clear_difference_is_significant() -> None:
    rng = np.random.default_rng(1)
    a = Scores.mean("acc", (rng.random(400) < 0.8).astype(float))
    b = Scores.mean("acc", (rng.random(400) < 0.5).astype(float))
    result = paired_bootstrap(a, b, seed=2)
    assert result.ci_low > 0 and result.p_value < 0.01
    assert approximate_randomization(a, b, seed=2) < 0.01


def test_randomization_matches_exact_permutation_test() -> None:
    a_vals = np.array([1.0, 0.9, 0.7, 0.8, 0.6, 0.75, 0.5, 0.65])
    b_vals = np.array([0.8, 0.85, 0.4, 0.7, 0.65, 0.5, 0.45, 0.6])
    observed = abs(a_vals.mean() - b_vals.mean())
    hits = 0
    for swap in itertools.product([False, True], repeat=len(a_vals)):
        mask = np.array(swap)
        diff = np.where(mask, b_vals, a_vals).mean() - np.where(mask, a_vals, b_vals).mean()
        hits += abs(diff) >= observed - 1e-12
    exact = hits / 2 ** len(a_vals)
    p = approximate_randomization(Scores.mean("m", a_vals), Scores.mean("m", b_vals), n_rounds=20000, seed=0)
    assert p == pytest.approx(exact, abs=0.015)


def test_corpus_metric_randomization_swaps_sufficient_statistics() -> None:
    rng = np.random.default_rng(3)
    truth = rng.random((150, 4)) < 0.3
    good = truth ^ (rng.random((150, 4)) < 0.05)
    bad = truth ^ (rng.random((150, 4)) < 0.4)

    def f1(pred: np.ndarray) -> Scores:
        stat = CountStat(
            *((x & y).astype(float) for x, y in ((truth, pred), (~truth, pred), (truth, ~pred))), "micro", "f1"
        )
        return Scores("f1", stat(np.arange(150)), np.zeros(150), stat)

    assert approximate_randomization(f1(good), f1(bad), n_rounds=500) < 0.01
    assert approximate_randomization(f1(good), f1(good), n_rounds=500) == 1.0
    opaque = Scores("f1", 0.5, np.zeros(150), lambda idx: 0.5)
    assert math.isnan(approximate_randomization(opaque, opaque))  # no sufficient statistics: no guess


def test_compare_scores_rows_and_alignment() -> None:
    a = {
        "acc": Scores.mean("acc", [1, 1, 0, 1]),
        "f1": nanmean_scores("f1", [1, np.nan, 0, 1]),
        "only_a": Scores.mean("x", [1]),
    }
    b = {"acc": Scores.mean("acc", [0, 1, 0, 0]), "f1": nanmean_scores("f1", [0, np.nan, 0, 1])}
    rows = compare_scores(a, b, n_rounds=200)
    assert [r.metric for r in rows] == ["acc", "f1"]
    assert rows[0].diff == pytest.approx(0.5) and rows[0].a == 0.75 and rows[0].b == 0.25
    assert set(rows[1].to_json()) == {"metric", "a", "b", "diff", "ci_low", "ci_high", "p_bootstrap", "p_randomization"}
    with pytest.raises(XrayBenchError, match="same samples"):
        paired_bootstrap(Scores.mean("m", [1, 0]), Scores.mean("m", [1]))
