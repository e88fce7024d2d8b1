from __future__ import annotations

import math

import numpy as np
import pytest

from arena.battles import Battles
from arena.ratings import (
    bootstrap_thetas,
    bradley_terry,
    compute_ratings,
    length_controlled,
    online_elo,
    pair_wins,
    rank_ranges,
)
from xraybench.errors import XrayBenchError

FACTOR = 400 / math.log(10)


def simulate(
    strengths: np.ndarray,
    n: int,
    seed: int,
    tie: float = 0.0,
    studies: int | None = None,
    study_effect: float = 0.0,
    gamma: float = 0.0,
) -> Battles:
    """Battles between random pairs with P(a beats b) = sigmoid(s_a - s_b + study bias + gamma * log ratio).

    A fraction `tie` of battles becomes ties at random (this shrinks fitted strengths: use it only where a
    test does not compare with `strengths`); `study_effect` gives each study a random bias per model (the
    battles of one study are then correlated); `gamma` makes the outcome depend on the log length ratio.
    """
    rng = np.random.default_rng(seed)
    m = len(strengths)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    eta = strengths[a] - strengths[b]
    study = study_ids = None
    if studies:
        study = rng.integers(0, studies, n)
        study_ids = tuple(f"s{i}" for i in range(studies))
        bias = rng.normal(0, study_effect, (studies, m))
        eta = eta + bias[study, a] - bias[study, b]
    length_a = length_b = None
    if gamma:
        length_a = rng.lognormal(5, 0.5, n) * np.exp(0.3 * strengths[a])  # stronger models also write more
        length_b = rng.lognormal(5, 0.5, n) * np.exp(0.3 * strengths[b])
        eta = eta + gamma * np.log(length_a / length_b)
    win = rng.random(n) < 1 / (1 + np.exp(-eta))
    score = np.where(rng.random(n) < tie, 0.5, win.astype(float))
    models = tuple(f"m{i}" for i in range(m))
    return Battles(models, a, b, score, study, study_ids, length_a, length_b)


def choix_reference(battles: Battles) -> np.ndarray:
    """choix's ILSR MLE on doubled data: a win is two (winner, loser) pairs, a tie one pair each way.

    The doubled likelihood is exactly twice ours (tie = half a win each side), so the MLEs are equal.
    """
    choix = pytest.importorskip("choix")
    pairs: list[tuple[int, int]] = []
    for a, b, s in zip(battles.a.tolist(), battles.b.tolist(), battles.score.tolist(), strict=True):
        if s == 1.0:
            pairs += [(a, b), (a, b)]
        elif s == 0.0:
            pairs += [(b, a), (b, a)]
        else:
            pairs += [(a, b), (b, a)]
    return choix.ilsr_pairwise(len(battles.models), pairs, alpha=0.0, max_iter=10_000, tol=1e-13)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_choix_with_ties_split(seed: int) -> None:
    strengths = np.random.default_rng(100 + seed).normal(0, 1, 7)
    battles = simulate(strengths, 4000, seed, tie=0.25)
    ours = bradley_terry(battles)
    ref = choix_reference(battles)
    ref_ratings = 1000 + FACTOR * (ref - ref[0])
    got = np.array([ours[m] for m in battles.models])
    np.testing.assert_allclose(got - 1000, ref_ratings - 1000, rtol=1e-4, atol=1e-6)


def test_anchor_scale_and_base() -> None:
    battles = simulate(np.array([0.0, 0.4, -0.3, 1.0]), 3000, seed=5)
    plain = bradley_terry(battles)
    moved = bradley_terry(battles, anchor="m2", anchor_rating=1500.0, scale=1.0, base=math.e)
    assert moved["m2"] == 1500.0
    for m in battles.models:  # natural units: differences are the elo differences / FACTOR
        assert moved[m] - 1500.0 == pytest.approx((plain[m] - plain["m2"]) / FACTOR, rel=1e-9, abs=1e-12)
    with pytest.raises(XrayBenchError, match="anchor model 'nope'"):
        bradley_terry(battles, anchor="nope")


def test_score_equations_hold() -> None:
    """At the MLE each model's expected score equals its observed score (wins + ties / 2)."""
    battles = simulate(np.array([0.0, 1.5, -1.0, 0.5, 2.5]), 5000, seed=3)
    ratings = np.array(list(bradley_terry(battles).values()))
    theta = (ratings - 1000) / FACTOR
    wins = pair_wins(battles)
    total = wins + wins.T
    p = 1 / (1 + np.exp(-(theta[:, None] - theta[None, :])))
    np.testing.assert_allclose((total * p).sum(axis=1), wins.sum(axis=1), rtol=1e-10)


def test_recovers_known_strengths_on_large_data() -> None:
    strengths = np.linspace(-1.5, 1.5, 10)
    battles = simulate(strengths, 300_000, seed=7)
    ratings = bradley_terry(battles)
    got = (np.array([ratings[m] for m in battles.models]) - 1000) / FACTOR
    np.testing.assert_allclose(got, strengths - strengths[0], atol=0.04)


def test_infinite_mle_is_explained_and_prior_fixes_it() -> None:
    a, b = np.array([0, 0, 1, 1]), np.array([1, 2, 2, 2])
    battles = Battles(("a", "b", "c"), a, b, np.array([1.0, 1.0, 1.0, 0.5]))
    with pytest.raises(XrayBenchError, match=r"never lost or tied: a"):
        bradley_terry(battles)
    ratings = bradley_terry(battles, prior=1.0)
    assert ratings["b"] < 1000 and ratings["c"] < ratings["b"]


def test_bootstrap_is_deterministic_with_seed() -> None:
    battles = simulate(np.array([0.0, 0.5, 1.0, -0.5]), 2000, seed=11, studies=300)
    one = compute_ratings(battles, rounds=100, seed=3)
    two = compute_ratings(battles, rounds=100, seed=3)
    other = compute_ratings(battles, rounds=100, seed=4)
    np.testing.assert_array_equal(one.ci_low, two.ci_low)
    np.testing.assert_array_equal(one.ci_high, two.ci_high)
    assert not np.array_equal(one.ci_high, other.ci_high)
    np.testing.assert_array_equal(one.rating, other.rating)


def test_ci_coverage_sanity() -> None:
    """Over 40 independent arenas, the 95% CIs of rating differences to the anchor cover the truth ~95%."""
    strengths = np.array([0.0, 0.3, -0.4, 0.8])
    covered = total = 0
    for seed in range(40):
        r = compute_ratings(simulate(strengths, 1200, seed=seed), rounds=200, seed=seed)
        truth = 1000 + FACTOR * strengths
        covered += int(((r.ci_low[1:] <= truth[1:]) & (truth[1:] <= r.ci_high[1:])).sum())
        total += 3
    assert 0.85 <= covered / total <= 1.0


def test_battle_bootstrap_matches_the_fisher_information() -> None:
    """Without study ids battles are resampled; the CI width then matches the MLE's asymptotic SE."""
    strengths = np.array([0.0, 0.5, -0.5, 1.0, 0.2])
    battles = simulate(strengths, 20_000, seed=2)
    r = compute_ratings(battles, rounds=1000, seed=0)
    assert r.settings["bootstrap_unit"] == "battle"
    theta = (r.rating - 1000) / FACTOR
    total = r.battle_counts
    p = 1 / (1 + np.exp(-(theta[:, None] - theta[None, :])))
    info = -total * p * (1 - p)
    np.fill_diagonal(info, -info.sum(axis=1))
    se = np.sqrt(np.diag(np.linalg.inv(info[1:, 1:]))) * FACTOR
    width = (r.ci_high - r.ci_low)[1:] / (2 * 1.96)
    np.testing.assert_allclose(width, se, rtol=0.15)


def test_study_bootstrap_is_wider_for_correlated_studies() -> None:
    strengths = np.array([0.0, 0.5, -0.5, 1.0])
    battles = simulate(strengths, 6000, seed=4, studies=200, study_effect=1.0)
    flat = Battles(battles.models, battles.a, battles.b, battles.score)
    by_study = compute_ratings(battles, rounds=300, seed=1)
    by_battle = compute_ratings(flat, rounds=300, seed=1)
    assert by_study.settings["bootstrap_unit"] == "study"
    assert by_battle.settings["bootstrap_unit"] == "battle"
    np.testing.assert_array_equal(by_study.rating, by_battle.rating)
    ratio = (by_study.ci_high - by_study.ci_low)[1:] / (by_battle.ci_high - by_battle.ci_low)[1:]
    assert (ratio > 1.3).all()


def test_bootstrap_rounds_refit_to_the_resampled_counts() -> None:
    """A study bootstrap where every study is one battle equals the battle bootstrap in distribution."""
    battles = simulate(np.array([0.0, 0.7, -0.2]), 3000, seed=9)
    per_battle = Battles(
        battles.models, battles.a, battles.b, battles.score, np.arange(3000), tuple(str(i) for i in range(3000))
    )
    point = (np.array(list(bradley_terry(battles).values())) - 1000) / FACTOR
    t1, d1, u1 = bootstrap_thetas(battles, 0, point, 2000, seed=0)
    t2, d2, u2 = bootstrap_thetas(per_battle, 0, point, 2000, seed=0)
    assert (u1, u2, d1, d2) == ("battle", "study", 0, 0)
    np.testing.assert_allclose(t1.std(axis=0)[1:], t2.std(axis=0)[1:], rtol=0.1)
    np.testing.assert_allclose(t1.mean(axis=0), point, atol=0.02)


def test_matrices_and_win_rates() -> None:
    battles = simulate(np.array([0.0, 0.5, 1.0]), 3000, seed=12)
    r = compute_ratings(battles, rounds=0)
    off = ~np.eye(3, dtype=bool)
    np.testing.assert_array_equal(r.battle_counts, r.battle_counts.T)
    assert r.battle_counts.sum() == 2 * len(battles)
    np.testing.assert_allclose((r.win_fraction + r.win_fraction.T)[off], 1.0)
    np.testing.assert_allclose((r.predicted + r.predicted.T)[off], 1.0)
    np.testing.assert_allclose(r.win_rate, np.nanmean(r.win_fraction, axis=1))
    assert np.isnan(r.ci_low).all() and r.settings["rounds_used"] == 0
    assert list(np.argsort(-r.rating)) == [2, 1, 0]
    assert r.rank.tolist() == [3, 2, 1]
    d = r.to_dict()
    assert [row["model"] for row in d["models"]] == ["m2", "m1", "m0"]
    assert d["win_fraction"][0][0] is None


def test_pairs_that_never_met_are_nan() -> None:
    a, b = np.array([0, 1, 0, 1, 1, 2]), np.array([1, 0, 1, 2, 2, 1])
    battles = Battles(("a", "b", "c"), a, b, np.array([1.0, 1.0, 0.5, 1.0, 0.0, 1.0]))
    r = compute_ratings(battles, rounds=0)
    assert np.isnan(r.win_fraction[0, 2]) and r.battle_counts[0, 2] == 0
    assert r.win_rate[0] == pytest.approx(r.win_fraction[0, 1])


def test_rank_ranges() -> None:
    rating = np.array([1100.0, 1090.0, 1000.0, 900.0])
    low = np.array([1080.0, 1070.0, 980.0, 880.0])
    high = np.array([1120.0, 1110.0, 1020.0, 920.0])
    rank, best, worst = rank_ranges(rating, low, high)
    assert rank.tolist() == [1, 2, 3, 4]
    assert best.tolist() == [1, 1, 3, 4]
    assert worst.tolist() == [2, 2, 3, 4]


def test_online_elo_by_hand() -> None:
    battles = Battles(("a", "b"), np.array([0, 0, 1]), np.array([1, 1, 0]), np.array([1.0, 0.5, 1.0]))
    ra, rb = 1000.0, 1000.0
    for winner_is_a, s in ((True, 1.0), (True, 0.5), (False, 1.0)):
        x, y = (ra, rb) if winner_is_a else (rb, ra)
        delta = 4 * (s - 1 / (1 + 10 ** ((y - x) / 400)))
        x, y = x + delta, y - delta
        ra, rb = (x, y) if winner_is_a else (y, x)
    np.testing.assert_allclose(online_elo(battles), [ra, rb])


def test_length_control_recovers_the_covariate() -> None:
    strengths = np.array([0.0, 0.6, -0.4, 1.0, 0.3])
    battles = simulate(strengths, 60_000, seed=21, gamma=0.8)
    theta, gamma = length_controlled(battles, anchor=0)
    assert gamma == pytest.approx(0.8, abs=0.06)
    np.testing.assert_allclose(theta, strengths - strengths[0], atol=0.06)
    raw = (np.array(list(bradley_terry(battles).values())) - 1000) / FACTOR
    assert raw[3] - raw[2] > theta[3] - theta[2] + 0.2  # the raw fit credits longer reports
    r = compute_ratings(battles, rounds=0, length_control=True)
    np.testing.assert_allclose(r.length_rating, 1000 + FACTOR * theta)
    assert r.length_coef == pytest.approx(gamma)


def test_length_control_needs_lengths() -> None:
    with pytest.raises(XrayBenchError, match="length_a and length_b"):
        compute_ratings(simulate(np.array([0.0, 1.0]), 100, seed=0), rounds=0, length_control=True)
