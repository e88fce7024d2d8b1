"""Grounding: are the boxes a model cites in its reasoning valid, and do they land on the finding?

Boxes come from `prediction.boxes` (parsed from the reasoning by `xraybench.parsing`) in the image space
the model saw: the size recorded with the prediction (`input_size`, which every adapter writes), else the
run's image policy applied to the sample's original size (`image_size` forces a square, `max_pixels` shrinks
keeping the aspect ratio: the reasoning template's 262,144 pixels; see `xraybench.prompts`). An output whose
space cannot be known (nothing recorded, no original size, no forced square) gets NaN in every grounding
value (counted in `details["unknown_box_space"]`), never a guess. Per output:

- `grounding_format_valid`: 1 when every box is valid (four finite numbers, 0 <= x1 < x2 <= width,
  0 <= y1 < y2 <= height), so an output without boxes counts as valid; `grounding_has_boxes` says how
  many outputs cite any box at all;
- `grounding_boxes_per_answer`: number of boxes; `grounding_valid_box_rate`: valid boxes / boxes over
  the corpus (a ratio of sums, so a resample recomputes both sums).

Where a sample has reference boxes (`metadata["bboxes"]`, `[[x1, y1, x2, y2, label], ...]` in the
original pixel space of `metadata["image_size"]` = [w, h]) the reference boxes are scaled to the
model's space and each is matched with its best predicted box:

- `grounding_iou`: mean over reference boxes of the best IoU;
- `grounding_hit_rate`: share of reference boxes whose best IoU is >= 0.5 (the detection criterion);
- `grounding_pointing_game`: share of reference boxes that contain the centre of a predicted box
  (the pointing-game hit, more lenient for loose boxes).
Samples without reference boxes get NaN in these three (not applicable; NaN-aware means). Where the reference
boxes carry a label (the finding: ChestX-ray14's box label, MS-CXR's `category_name`), the same three values
are also given per finding as `grounding_iou[<finding>]` etc., over the samples with a box of that finding
and against that finding's boxes only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from xraybench.errors import DataFormatError
from xraybench.metrics.aggregate import check_aligned, nanmean_scores, resample_counts
from xraybench.metrics.base import MetricSpec, Scores
from xraybench.records import Prediction, Sample

IOU_HIT = 0.5


def box_valid(box: Sequence[float], size: float | tuple[float, float]) -> bool:
    """Four finite numbers inside the image: `size` is a square's side or (width, height)."""
    if len(box) != 4 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in box):
        return False
    width, height = (size, size) if isinstance(size, (int, float)) else size
    x1, y1, x2, y2 = box
    return 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two [x1, y1, x2, y2] boxes (0 for degenerate boxes)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1]) + max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def reference_boxes(sample: Sample, size: float | tuple[float, float]) -> list[list[float]]:
    """The sample's reference boxes scaled from its original image size to the model's space (side or (w, h))."""
    raw = sample.metadata.get("bboxes") or []
    if not raw:
        return []
    image_size = sample.metadata.get("image_size")
    if not (isinstance(image_size, (list, tuple)) and len(image_size) == 2 and min(image_size) > 0):
        raise DataFormatError(
            sample.dataset, f"bboxes need metadata image_size [w, h], got {image_size!r}", record=sample.id
        )
    width, height = (size, size) if isinstance(size, (int, float)) else size
    sx, sy = width / float(image_size[0]), height / float(image_size[1])
    out = []
    for box in raw:
        if len(box) < 4:
            raise DataFormatError(
                sample.dataset, f"a bbox needs [x1, y1, x2, y2, label], got {box!r}", record=sample.id
            )
        x1, y1, x2, y2 = (float(v) for v in box[:4])
        out.append([x1 * sx, y1 * sy, x2 * sx, y2 * sy])
    return out


def match_boxes(refs: Sequence[Sequence[float]], boxes: Sequence[Sequence[float]]) -> tuple[float, float, float]:
    """(mean best IoU, hit rate at IoU >= 0.5, pointing game) of predicted `boxes` against EVERY one of `refs`:
    each reference box is matched with its best predicted box (any box may serve several references), and each
    value is the mean over the reference boxes. Boxes that are not four finite numbers are left out; no usable
    box scores 0 everywhere. `refs` must not be empty."""
    usable = [b for b in boxes if len(b) == 4 and all(math.isfinite(v) for v in b)]
    best = [max((iou(r, b) for b in usable), default=0.0) for r in refs]
    centres = [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in usable]
    pointed = [any(r[0] <= x <= r[2] and r[1] <= y <= r[3] for x, y in centres) for r in refs]
    return float(np.mean(best)), float(np.mean([v >= IOU_HIT for v in best])), float(np.mean(pointed))


class RatioOfSums:
    """Corpus value = sum(numerators) / sum(denominators) over the (resampled) samples."""

    def __init__(self, numerators: np.ndarray, denominators: np.ndarray):
        self.numerators, self.denominators = numerators, denominators

    def many(self, index_matrix: np.ndarray) -> np.ndarray:
        counts = resample_counts(index_matrix, len(self.numerators))
        den = counts @ self.denominators
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, (counts @ self.numerators) / den, np.nan)

    def __call__(self, indices: np.ndarray) -> float:
        return float(self.many(np.asarray(indices, dtype=np.int64)[None, :])[0])

    def concat(self, other: RatioOfSums) -> RatioOfSums:
        return RatioOfSums(
            np.concatenate([self.numerators, other.numerators]), np.concatenate([self.denominators, other.denominators])
        )


class GroundingMetric:
    """Box validity, count, and IoU / hit rate / pointing game against reference boxes."""

    name = "grounding"
    spec = MetricSpec(
        headline=("grounding_format_valid", "grounding_has_boxes", "grounding_boxes_per_answer"),
        options={"image_size": "image_size", "max_pixels": "max_pixels"},
        directions={"grounding_boxes_per_answer": "none"},  # a count: more boxes are neither better nor worse
    )  # any task kind: boxes in the reasoning of any answer

    def __init__(self, image_size: int | None = None, max_pixels: int | None = None):
        from xraybench.prompts import ImagePolicy

        self.image_size, self.max_pixels = image_size, max_pixels
        self.policy = ImagePolicy(image_size=image_size, max_pixels=max_pixels)

    def box_space(self, sample: Sample, prediction: Prediction) -> tuple[float, float] | None:
        """(width, height) the prediction's boxes are in: recorded, else the policy on the original size."""
        if prediction.input_size:
            return float(prediction.input_size[0]), float(prediction.input_size[1])
        original = sample.metadata.get("image_size")
        if isinstance(original, (list, tuple)) and len(original) == 2 and min(original) > 0:
            w, h = self.policy.size_for(int(original[0]), int(original[1]))
            return float(w), float(h)
        if self.image_size is not None:
            return float(self.image_size), float(self.image_size)
        return None

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        check_aligned(samples, predictions, self.name)
        nan = float("nan")
        n_boxes, n_valid, ious, hits, points, unknown = [], [], [], [], [], []
        by_label: dict[str, dict[int, tuple[float, float, float]]] = {}  # finding -> sample index -> values
        for sample, prediction in zip(samples, predictions, strict=True):
            boxes = [list(b) for b in prediction.boxes]
            size = self.box_space(sample, prediction)
            unknown.append(size is None)
            if size is None:  # validity and overlap cannot be judged in an unknown space
                n_boxes.append(len(boxes))
                n_valid.append(nan)
                ious.append(nan)
                hits.append(nan)
                points.append(nan)
                continue
            n_boxes.append(len(boxes))
            n_valid.append(sum(box_valid(b, size) for b in boxes))
            refs = reference_boxes(sample, size)
            if not refs:
                ious.append(float("nan"))
                hits.append(float("nan"))
                points.append(float("nan"))
                continue
            best_iou, hit, point = match_boxes(refs, boxes)
            for label, label_refs in _per_label(sample, refs).items():
                by_label.setdefault(label, {})[len(ious)] = match_boxes(label_refs, boxes)
            ious.append(best_iou)
            hits.append(hit)
            points.append(point)
        count = np.asarray(n_boxes, dtype=np.float64)
        valid = np.asarray(n_valid, dtype=np.float64)
        known = ~np.asarray(unknown, dtype=bool)
        rate = RatioOfSums(np.where(known, valid, 0.0), np.where(known, count, 0.0))
        per_sample_rate = np.where((count > 0) & known, valid / np.maximum(count, 1), np.nan)
        details = {
            "image_size": self.image_size,
            "max_pixels": self.max_pixels,
            "recorded_input_sizes": sum(p.input_size is not None for p in predictions),
            "unknown_box_space": int((~known).sum()),
        }
        format_valid = np.where(known, (valid == count).astype(np.float64), np.nan)
        per_finding: dict[str, Scores] = {}
        for label in sorted(by_label):  # the same three values per finding (box label), NaN where it has no box
            for k, score in enumerate(("grounding_iou", "grounding_hit_rate", "grounding_pointing_game")):
                values = [by_label[label][i][k] if i in by_label[label] else nan for i in range(len(samples))]
                name = f"{score}[{label}]"
                per_finding[name] = nanmean_scores(name, values, finding=label, **details)
        return {
            "grounding_format_valid": nanmean_scores("grounding_format_valid", format_valid, **details),
            "grounding_has_boxes": Scores.mean("grounding_has_boxes", (count > 0).astype(np.float64), **details),
            "grounding_boxes_per_answer": Scores.mean("grounding_boxes_per_answer", count, **details),
            "grounding_valid_box_rate": Scores(
                "grounding_valid_box_rate", rate(np.arange(len(count))), per_sample_rate, rate, dict(details)
            ),
            "grounding_iou": nanmean_scores("grounding_iou", ious, **details),
            "grounding_hit_rate": nanmean_scores("grounding_hit_rate", hits, iou_threshold=IOU_HIT, **details),
            "grounding_pointing_game": nanmean_scores("grounding_pointing_game", points, **details),
            **per_finding,
        }


def _per_label(sample: Sample, refs: list[list[float]]) -> dict[str, list[list[float]]]:
    """The scaled reference boxes grouped by their label (the finding: a box's fifth element), in order."""
    out: dict[str, list[list[float]]] = {}
    for raw, ref in zip(sample.metadata.get("bboxes") or [], refs, strict=True):
        if len(raw) > 4 and str(raw[4]).strip():
            out.setdefault(str(raw[4]).strip(), []).append(ref)
    return out
