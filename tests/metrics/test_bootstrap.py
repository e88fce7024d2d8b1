"""Bootstrap CIs: seeded, vectorised paths equal the per-round path, NaN-aware, index restriction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xraybench.errors import XrayBenchError
from xraybench.metrics.aggregate import nanmean_scores
from xraybench.metrics.base import Scores
from xraybench.metrics.bootstrap import bootstrap_ci, bootstrap_cis, bootstrap_distribution
from xraybench.metrics.classification import CountStat


def test_deterministic_and_contains_the_mean() -> None:
    values = np.random.default_rng(0).random(500)
    scores = Scores.mean("m", values)
    low, high = bootstrap_ci(scores, seed=3)
    assert (low, high) == bootstrap_ci(scores, seed=3)
    assert (low, high) != bootstrap_ci(scores, seed=4)
    assert low < scores.value < high
    # Normal approximation: the 95% interval of a mean spans about 2 * 1.96 standard errors.
    se = values.std() / math.sqrt(len(values))
    assert high - low == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_vectorised_mean_equals_per_round_aggregate() -> None:
    values = np.random.default_rng(1).random(300)
    plain = Scores.mean("m", values)
    looped = Scores("m", plain.value, values, lambda idx: float(values[idx].mean()))
    assert np.allclose(bootstrap_distribution(plain, 200, seed=9), bootstrap_distribution(looped, 200, seed=9))


def test_batched_aggregate_equals_per_round_call() -> None:
    rng = np.random.default_rng(2)
    tp, fp, fn = (rng.integers(0, 2, (80, 5)).astype(float) for _ in range(3))
    stat = CountStat(tp, fp, fn, "micro", "f1")
    batched = Scores("f1", stat(np.arange(80)), np.zeros(80), stat)
    looped = Scores("f1", batched.value, np.zeros(80), lambda idx: stat(idx))
    assert np.allclose(bootstrap_distribution(batched, 150, seed=1), bootstrap_distribution(looped, 150, seed=1))


def test_nan_aware_and_indices() -> None:
    values = np.array([1.0, np.nan, 0.0, np.nan, 1.0, 1.0])
    scores = nanmean_scores("m", values)
    assert scores.value == pytest.approx(0.75)
    low, high = bootstrap_ci(scores, n_rounds=300)
    assert 0.0 <= low <= high <= 1.0
    assert bootstrap_ci(scores, indices=[0, 4, 5]) == (1.0, 1.0)
    assert all(math.isnan(v) for v in bootstrap_ci(scores, indices=[1, 3]))
    assert all(math.isnan(v) for v in bootstrap_ci(Scores.mean("e", [])))


def test_large_corpus_is_batched() -> None:
    values = np.random.default_rng(3).random(30_000)
    dist = bootstrap_distribution(Scores.mean("m", values), n_rounds=100, seed=0)
    assert dist.shape == (100,) and np.isfinite(dist).all()


def test_bootstrap_cis_equals_one_by_one() -> None:
    rng = np.random.default_rng(4)
    tp, fp, fn = (rng.integers(0, 2, (60, 3)).astype(float) for _ in range(3))
    stat = CountStat(tp, fp, fn, "macro", "f1")
    many = {
        "acc": Scores.mean("acc", rng.random(60)),
        "f1": Scores("f1", stat(np.arange(60)), np.zeros(60), stat),
        "nan": nanmean_scores("nan", np.where(rng.random(60) < 0.5, np.nan, 1.0)),
    }
    together = bootstrap_cis(many, n_rounds=300, seed=5)
    assert together == {name: bootstrap_ci(s, n_rounds=300, seed=5) for name, s in many.items()}
    with pytest.raises(XrayBenchError, match="different sample counts"):
        bootstrap_cis({"a": Scores.mean("a", [1.0]), "b": Scores.mean("b", [1.0, 0.0])})
