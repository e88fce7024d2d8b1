"""Grounding: box validity, counts, IoU / hit rate / pointing game with scaled reference boxes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xraybench.errors import DataFormatError
from xraybench.metrics.grounding import GroundingMetric, box_valid, iou, reference_boxes
from xraybench.records import Prediction, Sample


def sample(i: int, bboxes=None, image_size=(1024, 1024)) -> Sample:
    meta = {} if bboxes is None else {"bboxes": bboxes, "image_size": list(image_size) if image_size else None}
    return Sample(f"s{i}", "cxr14", "cxr14", "test", "q", "Effusion", metadata=meta)


def pred(i: int, boxes: list[list[float]]) -> Prediction:
    return Prediction(f"s{i}", "cxr14", "m", "", "Effusion", boxes=boxes)


def test_box_validity_and_iou() -> None:
    assert box_valid([0, 0, 512, 512], 512)
    assert not box_valid([10, 10, 10, 20], 512)  # x1 == x2
    assert not box_valid([10, 30, 20, 20], 512)  # y1 > y2
    assert not box_valid([-1, 0, 5, 5], 512)
    assert not box_valid([0, 0, 513, 5], 512)
    assert not box_valid([0, 0, 5], 512)
    assert not box_valid([0, 0, 5, float("nan")], 512)
    assert iou([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(50 / 150)
    assert iou([0, 0, 10, 10], [20, 20, 30, 30]) == 0.0
    assert iou([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0


def test_reference_boxes_are_scaled_to_model_space() -> None:
    s = sample(0, [[100, 200, 300, 400, "Effusion"]], image_size=(1024, 2048))
    assert reference_boxes(s, 512) == [[50.0, 50.0, 150.0, 100.0]]
    with pytest.raises(DataFormatError, match="image_size"):
        reference_boxes(sample(1, [[1, 2, 3, 4, "Mass"]], image_size=None), 512)


def test_grounding_metric_hand_computed() -> None:
    samples = [
        sample(
            0, [[0, 0, 200, 200, "Effusion"], [600, 600, 1000, 1000, "Mass"]]
        ),  # refs -> [0,0,100,100], [300,300,500,500]
        sample(1, []),  # no reference boxes: NaN for IoU-type scores
        sample(2),
    ]
    preds = [
        pred(0, [[0, 0, 100, 50], [310, 310, 500, 500], [600, 0, 700, 10]]),  # last box invalid (> 512)
        pred(1, [[1, 2, 3, 4]]),
        pred(2, []),
    ]
    s = GroundingMetric(image_size=512).score(samples, preds)
    assert s["grounding_format_valid"].per_sample.tolist() == [0.0, 1.0, 1.0]
    assert s["grounding_has_boxes"].value == pytest.approx(2 / 3)
    assert s["grounding_boxes_per_answer"].value == pytest.approx(4 / 3)
    assert s["grounding_valid_box_rate"].value == pytest.approx(3 / 4)  # ratio of sums, not a mean of ratios
    assert s["grounding_valid_box_rate"].on([0, 0, 2]) == pytest.approx(4 / 6)
    best = [0.5, (190 * 190) / (200 * 200)]
    assert s["grounding_iou"].value == pytest.approx(np.mean(best))
    assert s["grounding_hit_rate"].value == pytest.approx(1.0)  # both best IoUs reach 0.5
    assert s["grounding_pointing_game"].value == pytest.approx(1.0)
    assert math.isnan(s["grounding_iou"].per_sample[1]) and math.isnan(s["grounding_iou"].per_sample[2])
    assert s["grounding_iou"].details["n"] == 1


def test_missed_reference_scores_zero() -> None:
    s = GroundingMetric().score([sample(0, [[0, 0, 200, 200, "Effusion"]])], [pred(0, [])])
    assert s["grounding_iou"].value == 0.0
    assert s["grounding_hit_rate"].value == 0.0
    assert s["grounding_pointing_game"].value == 0.0
    assert math.isnan(s["grounding_valid_box_rate"].value)  # no boxes at all: rate undefined


def test_a_recorded_input_size_is_the_box_space() -> None:
    """A model shown a 448x896 image cites boxes in that space: validity and reference scaling follow it."""
    s = sample(0, [[100, 200, 300, 400, "Effusion"]], image_size=(1024, 2048))
    inside_recorded = [[44, 88, 130, 175]]  # the reference box in 448x896 is [43.75, 87.5, 131.25, 175]
    recorded = Prediction("s0", "cxr14", "m", "", "Effusion", boxes=inside_recorded, input_size=(448, 896))
    square = pred(0, inside_recorded)
    out = GroundingMetric(512).score([s, s], [recorded, square])
    assert out["grounding_iou"].per_sample[0] > 0.9  # matched in its own space
    assert out["grounding_iou"].per_sample[1] < 0.5  # read as 512x512, the same numbers miss
    assert box_valid([0, 600, 400, 890], (448, 896)) and not box_valid([0, 600, 400, 890], 512)
    assert out["grounding_format_valid"].details["recorded_input_sizes"] == 1
