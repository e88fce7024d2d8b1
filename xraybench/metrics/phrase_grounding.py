"""Phrase grounding (MS-CXR): do the boxes a model answers with land on the boxes of the phrase it was asked for?

The model is asked to ground one phrase; its answer (`prediction.answer`: the last `\\boxed{}`, else the text
after `</think>`, else the whole output, as `xraybench.parsing` reads every answer) is parsed into boxes with
the one box syntax (`xraybench.parsing.find_boxes`). Boxes in the reasoning are not the answer: the
`grounding` metric scores those. Both read boxes in the image space the model saw (`GroundingMetric.box_space`:
the size recorded with the prediction, else the run's image policy on the original size) and scale the
phrase's reference boxes (`metadata["bboxes"]` in the pixel space of `metadata["image_size"]`) into it.

Per phrase, against EVERY reference box of the phrase (a phrase may have several), each reference box matched
with its best answer box (`grounding.match_boxes`); the corpus value is the mean over phrases:
- `phrase_iou`: mean over the phrase's reference boxes of the best IoU;
- `phrase_hit_rate`: share of its reference boxes whose best IoU is >= 0.5;
- `phrase_pointing_game`: share of its reference boxes that contain the centre of an answer box;
- `phrase_answered`: 1 when the answer holds at least one box (an answer without a box scores 0 above).
A phrase whose box space is unknown gets NaN in all four (`details["unknown_box_space"]`), never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence

from xraybench.metrics.aggregate import check_aligned, nanmean_scores
from xraybench.metrics.base import MetricSpec, Scores
from xraybench.metrics.grounding import IOU_HIT, GroundingMetric, match_boxes, reference_boxes
from xraybench.parsing import find_boxes
from xraybench.records import Prediction, Sample

SCORES = ("phrase_iou", "phrase_hit_rate", "phrase_pointing_game", "phrase_answered")


class PhraseGroundingMetric:
    """IoU, hit rate at IoU >= 0.5 and pointing game of the answer's boxes against each phrase's boxes."""

    name = "phrase_grounding"
    spec = MetricSpec(
        kinds=("grounding",),
        headline=("phrase_iou", "phrase_hit_rate", "phrase_pointing_game"),
        scores=("phrase_*",),
        options={"image_size": "image_size", "max_pixels": "max_pixels"},
    )

    def __init__(self, image_size: int | None = None, max_pixels: int | None = None):
        self.space = GroundingMetric(image_size=image_size, max_pixels=max_pixels)  # the one box-space rule

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        check_aligned(samples, predictions, self.name)
        nan = float("nan")
        values: dict[str, list[float]] = {name: [] for name in SCORES}
        unknown = no_reference = 0
        for sample, prediction in zip(samples, predictions, strict=True):
            size = self.space.box_space(sample, prediction)
            refs = reference_boxes(sample, size) if size is not None else []
            if size is None or not refs:
                unknown += size is None
                no_reference += size is not None
                for name in SCORES:
                    values[name].append(nan)
                continue
            boxes = find_boxes(prediction.answer or "")
            best_iou, hit, point = match_boxes(refs, boxes)
            values["phrase_iou"].append(best_iou)
            values["phrase_hit_rate"].append(hit)
            values["phrase_pointing_game"].append(point)
            values["phrase_answered"].append(1.0 if boxes else 0.0)
        details = {
            "image_size": self.space.image_size,
            "max_pixels": self.space.max_pixels,
            "recorded_input_sizes": sum(p.input_size is not None for p in predictions),
            "unknown_box_space": unknown,
            "no_reference_boxes": no_reference,
            "boxes_from": "answer",
        }
        out = {name: nanmean_scores(name, values[name], **details) for name in SCORES}
        out["phrase_hit_rate"].details["iou_threshold"] = IOU_HIT
        return out
