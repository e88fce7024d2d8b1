"""Reasoning-box grounding per finding, on the real ChestX-ray14 boxes (`../shared/data/nih_cxr14/BBox_List_2017.csv`,
read in place): each finding's values come from its own boxes only."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from xraybench.datasets.cxr14 import read_bboxes
from xraybench.metrics.grounding import GroundingMetric
from xraybench.records import Prediction, Sample


def test_per_finding_values_on_the_real_box_list(shared_data: Path) -> None:
    path = shared_data / "nih_cxr14" / "BBox_List_2017.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    boxes = read_bboxes(path)
    single = {name: b for name, b in boxes.items() if len({box[4] for box in b}) == 1}  # one finding per image
    # counted independently from the raw file: images whose rows all name one label (the file spells Infiltrate)
    with path.open(newline="", encoding="utf-8") as handle:
        labels_of: dict[str, set[str]] = {}
        for row in csv.reader(handle):
            if row and row[0].endswith(".png"):
                labels_of.setdefault(row[0], set()).add("Infiltration" if row[1] == "Infiltrate" else row[1])
    expected_n = Counter(next(iter(v)) for v in labels_of.values() if len(v) == 1)
    assert len(single) == sum(expected_n.values()) > 500

    samples, predictions = [], []
    for name, refs in single.items():
        samples.append(
            Sample(name, "t", "cxr14", "test", "", "", metadata={"bboxes": refs, "image_size": [1024, 1024]})
        )
        # sent at 512x512: the reference boxes halved land exactly; Nodule images get a box far off instead
        finding = refs[0][4]
        cited = [[0.0, 0.0, 4.0, 4.0]] if finding == "Nodule" else [[v / 2 for v in r[:4]] for r in refs]
        text = " ".join(str(b) for b in cited)
        predictions.append(Prediction(name, "t", "m", text, "", boxes=cited, input_size=(512, 512)))
    scores = GroundingMetric().score(samples, predictions)
    findings = sorted(expected_n)
    assert findings == sorted({s.removeprefix("grounding_iou[")[:-1] for s in scores if s.startswith("grounding_iou[")})
    for finding in findings:
        iou = scores[f"grounding_iou[{finding}]"]
        assert iou.details["n"] == expected_n[finding]
        want = 0.0 if finding == "Nodule" else 1.0
        assert iou.value == pytest.approx(want, abs=1e-9)
        assert scores[f"grounding_hit_rate[{finding}]"].value == want
        assert scores[f"grounding_pointing_game[{finding}]"].value == want
    share = 1 - expected_n["Nodule"] / sum(expected_n.values())
    assert scores["grounding_iou"].value == pytest.approx(share)
