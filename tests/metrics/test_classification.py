"""Classification: label parsing, P/R/F1 and AUROC equal to scikit-learn, resamples included."""

from __future__ import annotations

import random

import numpy as np
import pytest

from xraybench.errors import DataFormatError, XrayBenchError
from xraybench.metrics.classification import CXR14_LABELS, SYNONYMS, ClassificationMetric, LabelParser, snake
from xraybench.records import Prediction, Sample

skm = pytest.importorskip("sklearn.metrics")


def sample(i: int, labels: list[str]) -> Sample:
    return Sample(f"s{i}", "cxr14", "cxr14", "test", "q", "|".join(labels) if labels else "No Finding")


def pred(i: int, answer: str, scores: dict[str, float] | None = None) -> Prediction:
    return Prediction(f"s{i}", "cxr14", "m", answer, answer, scores=scores)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("No Finding", set()),
        ("Infiltrate", {"Infiltration"}),
        ("Pleural Thickening and effusion", {"Pleural_Thickening", "Effusion"}),
        ("pleural_thickening|Hernia", {"Pleural_Thickening", "Hernia"}),
        ("Cardiomegaly, no pneumothorax", {"Cardiomegaly"}),
        ("Findings: enlarged heart; bilateral pleural effusions.", {"Cardiomegaly", "Effusion"}),
        ("MASS, Nodules / emphysematous changes", {"Mass", "Nodule", "Emphysema"}),
        ("none", set()),
        ("hiatal hernia with fibrotic change", {"Hernia", "Fibrosis"}),
    ],
)
def test_parse_labels(answer: str, expected: set[str]) -> None:
    assert LabelParser(CXR14_LABELS).parse(answer) == expected


def test_reference_parsing_is_strict() -> None:
    parser = LabelParser(CXR14_LABELS)
    assert parser.parse_reference(sample(0, ["Effusion", "Infiltration"])) == {"Effusion", "Infiltration"}
    assert parser.parse_reference(sample(0, [])) == set()
    with pytest.raises(DataFormatError, match="record s0"):
        parser.parse_reference(sample(0, ["Effusion", "Broken Heart"]))


def random_case(n: int, seed: int, with_scores: bool = False):
    rng = random.Random(seed)
    samples, preds, truth, guess = [], [], [], []
    for i in range(n):
        t = [lab for lab in CXR14_LABELS if rng.random() < 0.15]
        p = [lab for lab in CXR14_LABELS if (lab in t and rng.random() < 0.6) or rng.random() < 0.08]
        words = [rng.choice((lab.replace("_", " "), *SYNONYMS[lab])) for lab in p]
        answer = rng.choice([", ", " | ", " and "]).join(words) if words else "No Finding"
        scores = {lab: round(rng.random() * 0.5 + 0.5 * (lab in t), 1) for lab in CXR14_LABELS} if with_scores else None
        samples.append(sample(i, t))
        preds.append(pred(i, answer, scores))
        truth.append([lab in t for lab in CXR14_LABELS])
        guess.append([lab in p for lab in CXR14_LABELS])
    return samples, preds, np.array(truth), np.array(guess)


def test_f1_equals_sklearn_including_resamples() -> None:
    samples, preds, y_true, y_pred = random_case(120, seed=0)
    y_true[:, CXR14_LABELS.index("Hernia")] = False  # zero support: predictions of Hernia are false positives
    samples = [
        sample(i, [lab for lab, on in zip(CXR14_LABELS, row, strict=True) if on]) for i, row in enumerate(y_true)
    ]
    scores = ClassificationMetric().score(samples, preds)
    rng = np.random.default_rng(5)
    for idx in (np.arange(len(samples)), rng.integers(0, len(samples), len(samples))):
        t, p = y_true[idx], y_pred[idx]
        for average in ("micro", "macro"):
            prec, rec, f1, _ = skm.precision_recall_fscore_support(t, p, average=average, zero_division=0)
            assert scores[f"cls_{average}_precision"].on(idx) == pytest.approx(prec, abs=1e-9)
            assert scores[f"cls_{average}_recall"].on(idx) == pytest.approx(rec, abs=1e-9)
            assert scores[f"cls_{average}_f1"].on(idx) == pytest.approx(f1, abs=1e-9)
        prec, rec, f1, _ = skm.precision_recall_fscore_support(t, p, average=None, zero_division=0)
        for j, label in enumerate(CXR14_LABELS):
            assert scores[f"cls_f1_{snake(label)}"].on(idx) == pytest.approx(f1[j], abs=1e-9)
            assert scores[f"cls_precision_{snake(label)}"].on(idx) == pytest.approx(prec[j], abs=1e-9)
            assert scores[f"cls_recall_{snake(label)}"].on(idx) == pytest.approx(rec[j], abs=1e-9)
        assert scores["cls_exact_match"].on(idx) == pytest.approx(skm.accuracy_score(t, p), abs=1e-9)
    assert scores["cls_macro_f1"].value == pytest.approx(skm.f1_score(y_true, y_pred, average="macro", zero_division=0))
    assert "cls_macro_auroc" not in scores  # no probabilities, no AUROC


def test_auroc_equals_sklearn_with_ties_and_skips_one_class_labels() -> None:
    samples, preds, y_true, _ = random_case(150, seed=1, with_scores=True)
    scores = ClassificationMetric().score(samples, preds)
    probs = np.array([[p.scores[lab] for lab in CXR14_LABELS] for p in preds])
    kept = [j for j in range(len(CXR14_LABELS)) if 0 < y_true[:, j].sum() < len(y_true)]
    rng = np.random.default_rng(7)
    for idx in (np.arange(len(samples)), rng.integers(0, len(samples), len(samples))):
        per_label = []
        for j in kept:
            if 0 < y_true[idx, j].sum() < len(idx):
                expected = skm.roc_auc_score(y_true[idx, j], probs[idx, j])
                per_label.append(expected)
                assert scores[f"cls_auroc_{snake(CXR14_LABELS[j])}"].on(idx) == pytest.approx(expected, abs=1e-9)
        assert scores["cls_macro_auroc"].on(idx) == pytest.approx(np.mean(per_label), abs=1e-9)
    skipped = [lab for j, lab in enumerate(CXR14_LABELS) if j not in kept]
    assert scores["cls_macro_auroc"].details["skipped_one_class"] == skipped


def test_one_class_label_is_reported() -> None:
    samples = [sample(0, ["Effusion"]), sample(1, [])]
    probs = {lab: 0.5 for lab in CXR14_LABELS}
    preds = [pred(0, "Effusion", {**probs, "Effusion": 0.9}), pred(1, "No Finding", {**probs, "Effusion": 0.1})]
    scores = ClassificationMetric().score(samples, preds)
    assert scores["cls_auroc_effusion"].value == 1.0
    assert scores["cls_macro_auroc"].details["skipped_one_class"] == [lab for lab in CXR14_LABELS if lab != "Effusion"]


def test_missing_probability_is_an_error() -> None:
    with pytest.raises(XrayBenchError, match="Hernia"):
        ClassificationMetric().score([sample(0, [])], [pred(0, "x", {lab: 0.1 for lab in CXR14_LABELS[:-1]})])


def test_custom_labels_and_demo_metadata() -> None:
    s = Sample("d0", "demo", "demo", "test", "q", "Effusion|Nodule", metadata={"labels": ["Effusion", "Nodule"]})
    labels = ("Effusion", "Nodule", "Edema", "Hernia")
    scores = ClassificationMetric(labels=labels).score([s], [Prediction("d0", "demo", "m", "", "nodule and edema")])
    assert scores["cls_micro_f1"].value == pytest.approx(0.5)
    assert scores["cls_f1_edema"].value == 0.0
    assert scores["cls_f1_hernia"].value == 0.0  # no support, never predicted: 0 as scikit-learn's default
    assert scores["cls_macro_f1"].value == pytest.approx((0 + 1 + 0 + 0) / 4)
    assert set(scores) >= {"cls_f1_effusion", "cls_micro_precision", "cls_macro_recall", "cls_exact_match"}


# --- one synonym table, each dataset's own label names, negation -------------------------------------------------
# (answer, ChestX-ray14 labels, CheXpert labels): what a model's free-text answer counts as on each label set
ANSWERS: list[tuple[str, set[str], set[str]]] = [
    ("effusion", {"Effusion"}, {"Pleural Effusion"}),
    ("Pleural Effusion", {"Effusion"}, {"Pleural Effusion"}),
    ("enlarged heart", {"Cardiomegaly"}, {"Cardiomegaly"}),
    ("The heart is enlarged.", {"Cardiomegaly"}, {"Cardiomegaly"}),
    ("collapse of the left lower lobe", {"Atelectasis"}, {"Atelectasis"}),
    ("Infiltrate", {"Infiltration"}, {"Lung Opacity"}),
    ("Pleural_Thickening", {"Pleural_Thickening"}, {"Pleural Other"}),
    ("pulmonary nodule and a mass", {"Nodule", "Mass"}, {"Lung Lesion"}),
    ("widened mediastinum | opacity", set(), {"Enlarged Cardiomediastinum", "Lung Opacity"}),
    ("Support Devices|Fracture", set(), {"Support Devices", "Fracture"}),
    ("emphysema, hiatal hernia", {"Emphysema", "Hernia"}, set()),
    ("no effusion", set(), set()),
    ("No pleural effusion or pneumothorax.", set(), set()),
    ("Cardiomegaly without effusion", {"Cardiomegaly"}, {"Cardiomegaly"}),
    ("Cardiomegaly. No effusion.", {"Cardiomegaly"}, {"Cardiomegaly"}),
    ("cardiomegaly and no pleural effusion", {"Cardiomegaly"}, {"Cardiomegaly"}),
    ("Effusion and pneumothorax are absent; atelectasis", {"Atelectasis"}, {"Atelectasis"}),
    ("cardiomegaly, pneumothorax not seen", {"Cardiomegaly"}, {"Cardiomegaly"}),
    ("Effusion: no, Pneumothorax: yes", {"Pneumothorax"}, {"Pneumothorax"}),
    ("Absent: effusion, edema. Present: consolidation", {"Consolidation"}, {"Consolidation"}),
    ("No pneumothorax, but there is an enlarged heart", {"Cardiomegaly"}, {"Cardiomegaly"}),
    ("pneumonia cannot be excluded", {"Pneumonia"}, {"Pneumonia"}),  # uncertain counts as present (U-Ones)
    ("no change in the left effusion", {"Effusion"}, {"Pleural Effusion"}),
    ("subcutaneous emphysema; pericardial effusion", set(), set()),
    ("No Finding", set(), set()),
]


def nih_labels(shared_data) -> tuple[str, ...]:
    path = shared_data / "nih_cxr14" / "label_names.txt"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return tuple(line.strip() for line in path.read_text().splitlines() if line.strip())


def test_nih_label_names_file_is_the_label_set(shared_data) -> None:
    assert nih_labels(shared_data) == CXR14_LABELS


@pytest.mark.parametrize(("answer", "nih", "chexpert"), ANSWERS)
def test_answers_map_to_each_datasets_own_labels(shared_data, answer: str, nih: set, chexpert: set) -> None:
    from xraybench.datasets.chexpert import LABELS as CHEXPERT_LABELS

    assert LabelParser(nih_labels(shared_data)).parse(answer) == nih
    assert LabelParser(CHEXPERT_LABELS).parse(answer) == chexpert


def test_every_synonym_names_its_label_and_negated_names_nothing(shared_data) -> None:
    from xraybench.datasets.chexpert import LABELS as CHEXPERT_LABELS
    from xraybench.metrics.classification import BROADER

    for labels in (nih_labels(shared_data), CHEXPERT_LABELS):
        parser = LabelParser(labels)
        by_finding = {{"Pleural Effusion": "Effusion"}.get(label, label): label for label in labels}
        for finding, phrases in SYNONYMS.items():
            label = by_finding.get(finding) or by_finding.get(BROADER.get(finding, ""))
            for phrase in phrases:
                assert parser.parse(phrase) == ({label} if label else set()), (labels[0], phrase)
                assert parser.parse(f"no {phrase}") == set(), phrase
                assert parser.parse(f"{phrase} is absent") == set(), phrase


def test_synonym_table_has_each_phrase_once() -> None:
    from xraybench.metrics.classification import NOT_FINDINGS

    phrases = [p for finding, ps in SYNONYMS.items() for p in {finding.lower().replace("_", " "), *ps}]
    assert len(phrases) == len(set(phrases))
    assert not set(phrases) & set(NOT_FINDINGS)


def test_real_bbox_finding_names_parse_on_both_label_sets(shared_data) -> None:
    """The real ChestX-ray14 box file names its findings its own way ("Infiltrate"): both label sets read them."""
    import csv

    from xraybench.datasets.chexpert import LABELS as CHEXPERT_LABELS

    path = shared_data / "nih_cxr14" / "BBox_List_2017.csv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    names = {row["Finding Label"] for row in csv.DictReader(path.open(encoding="utf-8"))}
    nih, chexpert = LabelParser(CXR14_LABELS), LabelParser(CHEXPERT_LABELS)
    assert {name: nih.parse(name) for name in names} == {
        name: {"Infiltration" if name == "Infiltrate" else name} for name in names
    }
    to_chexpert = {"Effusion": "Pleural Effusion", "Infiltrate": "Lung Opacity", "Mass": "Lung Lesion",
                   "Nodule": "Lung Lesion"}  # fmt: skip
    assert {name: chexpert.parse(name) for name in names} == {name: {to_chexpert.get(name, name)} for name in names}


@pytest.mark.parametrize("which", ["nih", "chexpert"])
def test_free_text_answers_score_as_sklearn_on_the_parsed_sets(shared_data, which: str) -> None:
    from xraybench.datasets.chexpert import LABELS as CHEXPERT_LABELS

    labels = nih_labels(shared_data) if which == "nih" else CHEXPERT_LABELS
    column = 1 if which == "nih" else 2
    rng = random.Random(3)
    samples, preds, parsed, truths = [], [], [], []
    for i in range(200):
        answer, *expected = ANSWERS[i % len(ANSWERS)]
        truth = sorted({lab for lab in labels if rng.random() < 0.12} | (expected[column - 1] if i % 3 else set()))
        samples.append(Sample(f"s{i}", which, which, "test", "q", "|".join(truth) or "No Finding"))
        preds.append(Prediction(f"s{i}", which, "m", answer, answer))
        parsed.append(expected[column - 1])
        truths.append(set(truth))
    scores = ClassificationMetric(labels=labels).score(samples, preds)
    binarizer = pytest.importorskip("sklearn.preprocessing").MultiLabelBinarizer(classes=list(labels))
    y_true, y_pred = binarizer.fit_transform(truths), binarizer.transform(parsed)
    for average in ("micro", "macro"):
        prec, rec, f1, _ = skm.precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0)
        assert scores[f"cls_{average}_precision"].value == pytest.approx(prec, abs=1e-12)
        assert scores[f"cls_{average}_recall"].value == pytest.approx(rec, abs=1e-12)
        assert scores[f"cls_{average}_f1"].value == pytest.approx(f1, abs=1e-12)
    _, _, f1, support = skm.precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
    for j, label in enumerate(labels):
        assert scores[f"cls_f1_{snake(label)}"].value == pytest.approx(f1[j], abs=1e-12)
        assert scores[f"cls_f1_{snake(label)}"].details["support"] == support[j]
    assert scores["cls_exact_match"].value == pytest.approx(skm.accuracy_score(y_true, y_pred))
