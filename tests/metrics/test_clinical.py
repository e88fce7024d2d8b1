"""ChexpertMetric against scikit-learn's precision_recall_fscore_support (|delta| <= 1e-9)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.metrics import precision_recall_fscore_support  # noqa: E402

import xraybench.metrics.clinical as clinical  # noqa: E402
from xraybench.metrics import METRICS  # noqa: E402
from xraybench.metrics.chexpert import CHEXPERT_LABELS, label_reports  # noqa: E402
from xraybench.metrics.clinical import FIVE_LABELS, ChexpertMetric, positive_matrix  # noqa: E402
from xraybench.records import Prediction, Sample  # noqa: E402

COLUMNS = {"5": [CHEXPERT_LABELS.index(n) for n in FIVE_LABELS], "14": list(range(14))}
STATS = ("precision", "recall", "f1")


def sklearn_scores(pred: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    out = {}
    for set_name, cols in COLUMNS.items():
        for average in ("micro", "macro"):
            values = precision_recall_fscore_support(ref[:, cols], pred[:, cols], average=average, zero_division=0)
            for stat, value in zip(STATS, values[:3], strict=True):
                out[f"chexpert_{average}_{stat}_{set_name}"] = float(value)
    return out


def _pairs(preds: list[str], refs: list[str]) -> tuple[list[Sample], list[Prediction]]:
    samples = [Sample(str(i), "report", "fixture", "test", "", r) for i, r in enumerate(refs)]
    predictions = [Prediction(str(i), "report", "m", p, p) for i, p in enumerate(preds)]
    return samples, predictions


@pytest.mark.parametrize("seed", range(25))
def test_random_matrices_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    pred = rng.random((n, 14)) < rng.random()
    ref = rng.random((n, 14)) < rng.random() * 0.6
    if seed % 5 == 0:
        ref[:, :7] = False  # zero-support labels
    got = ChexpertMetric().score_matrices(pred, ref)
    for name, value in sklearn_scores(pred, ref).items():
        assert abs(got[name].value - value) <= 1e-9, name


def test_sklearn_default_zero_division_is_zero() -> None:
    """The 'warn' default of scikit-learn scores undefined ratios as 0, like zero_division=0."""
    pred = np.zeros((3, 14), dtype=bool)
    ref = np.zeros((3, 14), dtype=bool)
    ref[0, 1] = True
    got = ChexpertMetric().score_matrices(pred, ref)
    with pytest.warns(Warning):
        expected = precision_recall_fscore_support(ref, pred, average="macro")
    assert got["chexpert_macro_f1_14"].value == pytest.approx(expected[2], abs=1e-12) == 0.0
    assert got["chexpert_micro_precision_14"].value == 0.0


REFS = [
    "Mild cardiomegaly. Small bilateral pleural effusions. No pneumothorax.",
    "The lungs are clear. No pleural effusion or pneumothorax.",
    "Right lower lobe consolidation concerning for pneumonia.",
    "Bibasilar atelectasis. Pulmonary edema cannot be excluded.",
    "ET tube 4 cm above the carina. Left lower lobe collapse.",
    "Heart size is normal. No focal consolidation.",
]
PREDS = [
    "Moderate cardiomegaly with small left effusion.",
    "No acute cardiopulmonary process.",
    "Possible right lower lobe pneumonia.",
    "Bibasilar atelectasis. No pulmonary edema.",
    "Endotracheal tube in place. Left basilar atelectasis and small effusion.",
    "",
]


@pytest.mark.parametrize("uncertain_as", ["positive", "negative"])
def test_labeled_reports_match_sklearn(uncertain_as: str) -> None:
    samples, predictions = _pairs(PREDS, REFS)
    got = ChexpertMetric(uncertain_as=uncertain_as).score(samples, predictions)
    pred = positive_matrix(label_reports(PREDS), uncertain_as)
    ref = positive_matrix(label_reports(REFS), uncertain_as)
    expected = sklearn_scores(pred, ref)
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert abs(got[name].value - value) <= 1e-9, name
        assert got[name].details["uncertain_as"] == uncertain_as


def test_uncertain_policy_changes_what_counts() -> None:
    labels = [[-1] * 14, [1] + [None] * 13]
    assert positive_matrix(labels, "positive")[0].all()
    assert not positive_matrix(labels, "negative")[0].any()
    assert positive_matrix(labels, "negative")[1, 0]
    with pytest.raises(ValueError, match="uncertain_as"):
        ChexpertMetric(uncertain_as="maybe")  # type: ignore[arg-type]


def test_aggregate_recomputes_corpus_scores_on_resamples() -> None:
    rng = np.random.default_rng(7)
    pred = rng.random((40, 14)) < 0.3
    ref = rng.random((40, 14)) < 0.3
    scores = ChexpertMetric().score_matrices(pred, ref)
    for _ in range(10):
        idx = rng.integers(0, 40, size=40)  # a bootstrap resample, with repeats
        expected = sklearn_scores(pred[idx], ref[idx])
        for name, value in expected.items():
            assert abs(scores[name].on(idx) - value) <= 1e-9, name
    assert scores["chexpert_micro_f1_5"].on(np.arange(40)) == scores["chexpert_micro_f1_5"].value


def test_per_sample_values_are_single_sample_scores() -> None:
    pred = np.array([[True] * 14, [False] * 14])
    ref = np.array([[True] * 14, [True] * 14])
    scores = ChexpertMetric().score_matrices(pred, ref)
    assert scores["chexpert_micro_f1_14"].per_sample.tolist() == [1.0, 0.0]
    assert len(scores["chexpert_macro_recall_5"].per_sample) == 2


def test_each_distinct_text_is_labelled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def counting(texts: list[str]) -> list[list[int | None]]:
        seen.extend(texts)
        return label_reports(texts)

    monkeypatch.setattr(clinical, "label_reports", counting)
    samples, predictions = _pairs(
        ["No effusion.", "No effusion.", "Effusion."], ["Effusion.", "Effusion.", "No effusion."]
    )
    ChexpertMetric().score(samples, predictions)
    assert sorted(seen) == ["Effusion.", "No effusion."]


def test_registry_and_names() -> None:
    metric = METRICS.get("chexpert")()
    samples, predictions = _pairs(PREDS, REFS)
    scores = metric.score(samples, predictions)
    for size in ("5", "14"):
        for average in ("micro", "macro"):
            for stat in STATS:
                assert f"chexpert_{average}_{stat}_{size}" in scores
    assert scores["chexpert_micro_f1_14"].details["labels"] == list(CHEXPERT_LABELS)
    assert scores["chexpert_micro_f1_5"].details["labels"] == list(FIVE_LABELS)


def test_empty_and_misaligned_inputs() -> None:
    scores = ChexpertMetric().score([], [])
    assert np.isnan(scores["chexpert_micro_f1_14"].value)
    samples, predictions = _pairs(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="samples"):
        ChexpertMetric().score(samples, predictions)


def test_vectorised_bootstrap_rows_equal_one_by_one() -> None:
    rng = np.random.default_rng(3)
    predicted = rng.random((40, 14)) < 0.3
    reference = rng.random((40, 14)) < 0.3
    scores = ChexpertMetric().score_matrices(predicted, reference)
    matrix = rng.integers(0, 40, size=(25, 40))
    for name, s in scores.items():
        fast = s.aggregate.many(matrix)
        slow = [s.aggregate(row) for row in matrix]
        np.testing.assert_allclose(fast, slow, atol=1e-12, err_msg=name)
