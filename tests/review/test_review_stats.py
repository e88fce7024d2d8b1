"""Reader-study statistics against references: sklearn's Cohen's kappa, statsmodels' Fleiss' kappa (when
installed; a hand-computed example otherwise), and the case bootstrap of preference shares."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xraybench.review.stats import OUTCOMES, agreement, cohen_kappa, fleiss_kappa, preference_shares
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
