"""VQA scores: normalisation, closed/open/list sub-metrics, NaN for non-applicable samples."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from xraybench.errors import XrayBenchError
from xraybench.metrics.normalize import normalize_answer, normalize_text, split_list, yes_no
from xraybench.metrics.vqa import VqaMetric, token_f1
from xraybench.records import Prediction, Sample

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "vqa"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes.", "yes"), ("yes, there is", "yes"), ("No.", "no"), ("no", "no"),
        ("There is no pleural effusion.", "no"), ("There are no nodules", "no"), ("Nope", "no"),
        ("Left lung", "left lung"), ("The  heart!", "heart"), ("Two", "2"), ("2.0", "2"), ("1.50 cm", "1.5 cm"),
    ],
)  # fmt: skip
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


def test_normalize_helpers() -> None:
    assert normalize_text("T1/T2-weighted, an MRI") == "t1 t2 weighted mri"
    assert yes_no("Left") is None and yes_no("") is None
    assert split_list("Effusion | the Atelectasis|") == ["effusion", "atelectasis"]
    assert split_list("effusion, atelectasis; edema") == ["effusion", "atelectasis", "edema"]


def test_token_f1_hand_computed() -> None:
    assert token_f1("left lower lobe", "the left lobe") == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    assert token_f1("", "") == 1.0
    assert token_f1("", "lung") == 0.0
    assert token_f1("heart", "lung") == 0.0


def make(rows: list[tuple[str, str, str, str]]) -> tuple[list[Sample], list[Prediction]]:
    samples, preds = [], []
    for i, (reference, answer, answer_type, category) in enumerate(rows):
        meta = {"category": category} | ({"answer_type": answer_type} if answer_type else {})
        samples.append(Sample(f"q{i}", "vqa", "d", "test", "question", reference, metadata=meta))
        preds.append(Prediction(f"q{i}", "vqa", "m", answer, answer))
    return samples, preds


def test_vqa_metric_hand_computed() -> None:
    samples, preds = make([
        ("yes", "Yes, there is.", "closed", "presence"),
        ("no", "yes", "closed", "presence"),
        ("Left", "left.", "CLOSED", "location"),
        ("left lower lobe", "left lobe", "open", "location"),
        ("effusion|atelectasis", "Atelectasis, effusion", "open", "abnormality"),
        ("effusion|atelectasis|edema", "effusion", "open", "abnormality"),
        ("no", "No.", "", "presence"),  # no answer_type: yes/no reference -> closed
    ])  # fmt: skip
    s = VqaMetric().score(samples, preds)
    assert s["vqa_closed_accuracy"].value == pytest.approx(3 / 4)
    assert s["vqa_closed_accuracy"].details["n"] == 4
    assert s["vqa_open_exact_match"].value == pytest.approx(1 / 3)
    assert s["vqa_open_token_f1"].per_sample[3] == pytest.approx(0.8)
    assert s["vqa_list_f1"].per_sample[4:6].tolist() == pytest.approx([1.0, 0.5])
    assert s["vqa_list_f1"].value == pytest.approx(0.75)
    assert s["vqa_accuracy"].value == pytest.approx(4 / 7)
    assert math.isnan(s["vqa_list_f1"].per_sample[0])
    # Per-category breakdown through Scores.on, NaN-aware.
    location = [i for i, x in enumerate(samples) if x.metadata["category"] == "location"]
    assert s["vqa_accuracy"].on(location) == pytest.approx(0.5)
    assert s["vqa_closed_accuracy"].on(location) == 1.0
    assert math.isnan(s["vqa_list_f1"].on(location))


def test_empty_and_misaligned() -> None:
    s = VqaMetric().score([], [])
    assert math.isnan(s["vqa_accuracy"].value)
    samples, preds = make([("yes", "yes", "closed", "x")])
    with pytest.raises(XrayBenchError, match="expected the same id"):
        VqaMetric().score(samples, [Prediction("other", "vqa", "m", "", "yes")])


@pytest.mark.skipif(not (DATA / "vqa_rad_public.json").exists(), reason="dev data ../shared/data/vqa absent")
def test_real_vqa_rad_answers_score_themselves_perfectly() -> None:
    items = [x for x in json.loads((DATA / "vqa_rad_public.json").read_text()) if x["image_organ"] == "CHEST"]
    samples = [
        Sample(str(x["qid"]), "vqa", "vqa_rad", "test", x["question"], str(x["answer"]),
               metadata={"answer_type": x["answer_type"].strip().lower(), "category": x["question_type"]})
        for x in items
    ]  # fmt: skip
    preds = [Prediction(s.id, "vqa", "m", s.reference, s.reference.upper() + ".") for s in samples]
    scores = VqaMetric().score(samples, preds)
    assert scores["vqa_accuracy"].value == 1.0
    assert scores["vqa_closed_accuracy"].details["n"] + scores["vqa_open_exact_match"].details["n"] == len(items)
    assert np.nanmin(scores["vqa_open_token_f1"].per_sample) == 1.0
