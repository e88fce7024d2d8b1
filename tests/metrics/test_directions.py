"""Each score's direction, as its metric declares it (`MetricSpec.directions` over `higher_is_better`), found from
the score's name alone (`score_direction`) as compare, published comparisons and preference votes find it."""

from __future__ import annotations

import pytest

from xraybench.metrics import METRICS, MetricSpec, metric_spec, score_direction
from xraybench.metrics.base import check_metric
from xraybench.metrics.crimson import ERROR_COUNTS
from xraybench.metrics.radcliq import COLUMNS

LOWER = [
    "radcliq_v1",  # an error estimate
    *(f"green_errors_{c}" for c in "abcdef"), "green_failed",  # error counts and the failure share
    *(f"crimson_{name}" for name in ERROR_COUNTS), "crimson_failed",
    "ratescore_failed",
]  # fmt: skip
HIGHER = [
    "green", "green_matched_findings", "crimson", "ratescore", "semb_score", "bertscore_f1", "radgraph_f1_partial",
    *(f"radcliq_{c}" for c in COLUMNS),  # RadCliQ-v1's inputs are similarities, unlike RadCliQ-v1 itself
    "bleu_4", "rexrank_bleu", "rougeL", "rouge_l", "cider", "meteor", "chexpert_micro_f1_5", "chexbert_macro_f1_14",
    "vqa_accuracy", "answer_score", "cls_macro_f1", "cls_auroc_edema", "phrase_hit_rate", "grounding_iou[Nodule]",
]  # fmt: skip


@pytest.mark.parametrize("score", LOWER)
def test_error_counts_failures_and_radcliq_are_lower_is_better(score: str) -> None:
    assert score_direction(score) == "lower"


@pytest.mark.parametrize("score", HIGHER)
def test_similarities_and_accuracies_are_higher_is_better(score: str) -> None:
    assert score_direction(score) == "higher"


def test_counts_without_a_better_side_and_unknown_scores() -> None:
    assert score_direction("grounding_boxes_per_answer") == "none"
    assert score_direction("toy_words") is None  # no metric here emits it: unknown, never assumed "higher"
    assert score_direction("radcliq_v1", ["bleu", "green"]) is None  # only the metrics named are consulted


def test_every_declared_headline_and_leaderboard_score_has_one_direction() -> None:
    for name in METRICS.in_order():
        spec = metric_spec(name)
        for score in (*spec.headline_for(name), *spec.leaderboard):
            assert score_direction(score) in ("higher", "lower", "none"), (name, score)


def test_a_direction_outside_higher_lower_none_is_refused() -> None:
    class Odd:
        spec = MetricSpec(directions={"odd_*": "up"})  # type: ignore[dict-item]

        def score(self, samples: object, predictions: object) -> dict:
            return {}

    assert "a direction is one of higher, lower, none" in (check_metric("odd", Odd) or "")


def test_relative_gain_is_positive_for_the_better_value_in_each_direction() -> None:
    from xraybench.metrics.aggregate import better_side, relative_gain, relative_gains

    assert relative_gain(0.8, 1.0, "lower") == pytest.approx(0.2)  # 20% less error: a gain
    assert relative_gain(-0.4, -0.2, "lower") == pytest.approx(1.0)  # RadCliQ-v1 can be negative: |baseline|
    assert relative_gain(0.6, 0.5, "higher") == pytest.approx(0.2)
    assert relative_gain(2.0, 1.0, "none") != relative_gain(2.0, 1.0, "none")  # NaN: no gain without a direction
    assert [better_side(0.8, 1.0, d) for d in ("lower", "higher", "none")] == ["A", "B", None]
    gains = relative_gains({"mine": {"radcliq_v1": 0.8, "bleu_4": 0.2}, "base": {"radcliq_v1": 1.0, "bleu_4": 0.1}},
                           baseline="base")  # fmt: skip
    assert gains["mine"] == {"radcliq_v1": pytest.approx(0.2), "bleu_4": pytest.approx(1.0)}
