"""Reader-study statistics against references: sklearn's Cohen's kappa (plain and weighted), statsmodels' Fleiss'
kappa, the `krippendorff` package's alpha (when installed; hand-computed examples otherwise), and the case bootstrap
of preference shares."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xraybench.review.stats import (
    OUTCOMES,
    agreement,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    preference_shares,
    weighted_kappa,
)
from xraybench.review.store import Answer


def answer(reviewer: str, case: str, winner: str, dimension: str = "overall", left: str = "A") -> Answer:
    """An answer whose left/right choice stands for `winner` under the given left slot."""
    choice = "tie" if winner == "tie" else ("left" if winner == left else "right")
    return Answer(reviewer, case, dimension, choice, left, 0.0, 0.0)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_cohen_kappa_matches_sklearn(seed: int) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    x = list(rng.choice(OUTCOMES, 40))
    y = [v if rng.random() < 0.6 else str(rng.choice(OUTCOMES)) for v in x]
    assert cohen_kappa(x, y) == pytest.approx(metrics.cohen_kappa_score(x, y))


def test_cohen_kappa_edge_cases() -> None:
    assert cohen_kappa(["A", "B"], ["A", "B"]) == pytest.approx(1.0)
    assert math.isnan(cohen_kappa(["A", "A"], ["A", "A"]))  # chance agreement is total: undefined
    assert math.isnan(cohen_kappa([], []))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fleiss_kappa_matches_statsmodels(seed: int) -> None:
    inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")
    rng = np.random.default_rng(seed)
    table = np.stack([rng.multinomial(4, rng.dirichlet([1, 1, 1])) for _ in range(30)])
    assert fleiss_kappa(table) == pytest.approx(inter_rater.fleiss_kappa(table, method="fleiss"))


def test_fleiss_kappa_hand_computed() -> None:
    # 3 items, 3 raters: P_i = (1, 0, 1/3) -> mean 4/9; p = (4/9, 3/9, 2/9) -> P_e = 29/81; kappa = 7/52
    table = np.array([[3, 0, 0], [1, 1, 1], [0, 2, 1]])
    expected = 7 / 52
    assert fleiss_kappa(table) == pytest.approx(expected)
    assert math.isnan(fleiss_kappa(np.array([[1, 0, 0]])))  # a single rating per item says nothing


LEVELS = ("A>>B", "A>B", "tie", "B>A", "B>>A")  # the arena's 5-level verdicts, in order


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_kappa_matches_sklearn(seed: int) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    x = [int(v) for v in rng.integers(0, 5, 60)]
    y = [min(4, max(0, v + int(rng.integers(-1, 2)))) for v in x]  # a second rater off by at most one level
    xs, ys = [LEVELS[v] for v in x], [LEVELS[v] for v in y]
    for weights in ("linear", "quadratic"):
        reference = metrics.cohen_kappa_score(x, y, labels=list(range(5)), weights=weights)
        assert weighted_kappa(xs, ys, LEVELS, weights) == pytest.approx(reference)
    assert cohen_kappa(xs, ys, LEVELS) == pytest.approx(metrics.cohen_kappa_score(x, y, labels=list(range(5))))


def _count_table(data: np.ndarray, k: int) -> np.ndarray:
    """(raters x items) codes with NaN for missing -> (items x categories) counts."""
    return np.stack([np.bincount(col[~np.isnan(col)].astype(int), minlength=k) for col in data.T])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_krippendorff_alpha_matches_the_krippendorff_package(seed: int) -> None:
    krippendorff = pytest.importorskip("krippendorff")
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 5, 40)
    data = np.clip(truth[None, :] + rng.integers(-1, 2, (3, 40)), 0, 4).astype(float)
    data[rng.random(data.shape) < 0.2] = np.nan  # missing ratings (a judge that failed)
    for metric in ("nominal", "ordinal", "interval"):
        reference = krippendorff.alpha(reliability_data=data, level_of_measurement=metric, value_domain=range(5))
        assert krippendorff_alpha(_count_table(data, 5), metric) == pytest.approx(reference)


def test_kappa_and_alpha_hand_computed() -> None:
    # two raters, 3 ordered levels, items (0,0) (1,1) (2,2) (0,1)
    x, y = ["l0", "l1", "l2", "l0"], ["l0", "l1", "l2", "l1"]
    levels = ("l0", "l1", "l2")
    # p_o = 3/4, p_e = .5*.25 + .25*.5 + .25*.25 = 5/16: kappa = (3/4 - 5/16) / (11/16) = 7/11
    assert cohen_kappa(x, y, levels) == pytest.approx(7 / 11)
    # quadratic: observed disagreement 1/4, expected sum p_i q_j (i-j)^2 = 5/4: kappa_w = 1 - 1/5
    assert weighted_kappa(x, y, levels) == pytest.approx(0.8)
    # coincidences o = [[2,1,0],[1,2,0],[0,0,2]], n_c = (3,3,2), n = 8; ordinal d01 = 3^2, d02 = 5.5^2, d12 = 2.5^2
    # alpha = 1 - 7 * (2 * 9) / (2 * (9*9 + 6*30.25 + 6*6.25)) = 1 - 126/600
    table = np.array([[2, 0, 0], [0, 2, 0], [0, 0, 2], [1, 1, 0]])
    assert krippendorff_alpha(table, "ordinal") == pytest.approx(0.79)
    assert krippendorff_alpha(table, "nominal") == pytest.approx(1 - 7 * 2 / 42)
    assert math.isnan(krippendorff_alpha(np.array([[1, 0, 0], [0, 1, 0]])))  # no item with two values


def test_shares_map_left_right_to_models_and_bootstrap_over_cases() -> None:
    answers = []
    for i in range(30):
        # reviewer r1 sees A on the left, r2 on the right; A wins 20 cases, B 6, tie 4 - for both reviewers
        winner = "A" if i < 20 else ("B" if i < 26 else "tie")
        answers += [answer("r1", f"c{i}", winner, left="A"), answer("r2", f"c{i}", winner, left="B")]
    shares = preference_shares(answers, "overall", rounds=500, seed=1)
    assert (shares.n_answers, shares.n_cases) == (60, 30)
    assert shares.share == pytest.approx({"A": 20 / 30, "B": 6 / 30, "tie": 4 / 30})
    assert shares.decisive_a == pytest.approx(20 / 26)
    for o in OUTCOMES:
        low, high = shares.ci[o]
        assert low <= shares.share[o] <= high and high - low < 0.5
    assert shares.ci == preference_shares(answers, "overall", rounds=500, seed=1).ci  # seeded
    agree = agreement(answers, "overall")
    assert agree.pairs == {("r1", "r2"): (pytest.approx(1.0), 30)}
    assert agree.fleiss == pytest.approx(1.0) and agree.n_items == 30


def test_shares_of_an_unanswered_dimension() -> None:
    shares = preference_shares([answer("r1", "c1", "A")], "grounded")
    assert shares.n_answers == 0 and shares.decisive_a is None and math.isnan(shares.share["A"])
