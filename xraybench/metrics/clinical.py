"""Clinical efficacy: precision / recall / F1 of CheXpert labels of generated vs reference reports.

Both texts are labelled with our offline labeler (`xraybench.metrics.chexpert`); a label counts as
positive when it is 1, and also when it is -1 (uncertain) if `uncertain_as="positive"` (the default,
as in most report-generation papers); 0 and blank are negative. Scores are computed over the 5
standard observations and over all 14, micro and macro, with scikit-learn's conventions: a ratio with
a zero denominator is 0, and a label with no true and no predicted positives scores 0 in macro means.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from xraybench.metrics.aggregate import resample_counts
from xraybench.metrics.base import MetricSpec, Scores
from xraybench.metrics.chexpert import CHEXPERT_LABELS, label_reports
from xraybench.records import Prediction, Sample

FIVE_LABELS: tuple[str, ...] = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion")
LABEL_SETS: dict[str, tuple[int, ...]] = {
    "5": tuple(CHEXPERT_LABELS.index(name) for name in FIVE_LABELS),
    "14": tuple(range(len(CHEXPERT_LABELS))),
}


def positive_matrix(labels: Sequence[Sequence[int | None]], uncertain_as: str) -> np.ndarray:
    """Binary (n, 14) matrix: 1 where a label counts as positive under the `uncertain_as` policy."""
    positive = {1, -1} if uncertain_as == "positive" else {1}
    width = len(CHEXPERT_LABELS)
    return np.array([[v in positive for v in row] for row in labels], dtype=bool).reshape(len(labels), width)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0 (scikit-learn's zero_division default)."""
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def prf(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, average: str) -> np.ndarray:
    """Precision, recall, F1 from label counts (last axis = labels), `average` "micro" or "macro".

    Works on one count vector (shape (k,) -> (3,)) or on one row per sample ((n, k) -> (3, n)),
    with scikit-learn's semantics for both averages.
    """
    if average == "micro":
        tp, fp, fn = tp.sum(axis=-1, keepdims=True), fp.sum(axis=-1, keepdims=True), fn.sum(axis=-1, keepdims=True)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    return np.stack([precision.mean(axis=-1), recall.mean(axis=-1), f1.mean(axis=-1)])


class ChexpertMetric:
    """CheXpert-label P/R/F1 (micro, macro; 5 and 14 observations) from our rule-based labeler."""

    name = "chexpert"
    spec = MetricSpec(
        kinds=("report",),
        headline=("chexpert_micro_f1_14", "chexpert_micro_f1_5"),
        leaderboard=("chexpert_micro_f1_5", "chexpert_macro_f1_14"),
        options={"uncertain_as": "uncertain_as"},
    )

    def __init__(self, uncertain_as: Literal["positive", "negative"] = "positive"):
        if uncertain_as not in ("positive", "negative"):
            raise ValueError(f"uncertain_as must be 'positive' or 'negative', not {uncertain_as!r}")
        self.uncertain_as = uncertain_as

    def label(self, texts: Sequence[str]) -> np.ndarray:
        """Positive matrix of `texts`, labelling each distinct text once."""
        unique = list(dict.fromkeys(texts))
        rows = dict(zip(unique, label_reports(unique), strict=True))
        return positive_matrix([rows[t] for t in texts], self.uncertain_as)

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        if len(samples) != len(predictions):
            raise ValueError(f"{len(samples)} samples but {len(predictions)} predictions")
        texts = [p.answer or "" for p in predictions] + [s.reference or "" for s in samples]
        matrix = self.label(texts)
        return self.score_matrices(matrix[: len(predictions)], matrix[len(predictions) :])

    def score_matrices(self, predicted: np.ndarray, reference: np.ndarray) -> dict[str, Scores]:
        """Scores from binary (n, 14) predicted and reference matrices (see `positive_matrix`)."""
        tp = (predicted & reference).astype(np.int64)
        fp = (predicted & ~reference).astype(np.int64)
        fn = (~predicted & reference).astype(np.int64)
        details = {"uncertain_as": self.uncertain_as, "labeler": "xraybench rule-based CheXpert labeler"}
        out: dict[str, Scores] = {}
        for set_name, columns in LABEL_SETS.items():
            cols = list(columns)
            for average in ("micro", "macro"):
                # per sample: the same statistic on that sample alone (informative; corpus values use `aggregate`)
                per_sample = prf(tp[:, cols], fp[:, cols], fn[:, cols], average)
                for which, stat in enumerate(("precision", "recall", "f1")):
                    agg = _aggregator(tp[:, cols], fp[:, cols], fn[:, cols], average, which)
                    value = agg(np.arange(len(tp))) if len(tp) else float("nan")
                    name = f"chexpert_{average}_{stat}_{set_name}"
                    labels = [CHEXPERT_LABELS[c] for c in cols]
                    extra = {"average": average, "labels": labels}
                    out[name] = Scores(name, value, per_sample[which], agg, {**details, **extra})
        return out


class _Aggregator:
    """Corpus statistic over any resample of sample indices (repeats count again).

    `many` evaluates a whole matrix of bootstrap resamples at once: per-round label counts are the
    resample multiplicities times the per-sample count matrices.
    """

    def __init__(self, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, average: str, which: int):
        self.tp, self.fp, self.fn = tp, fp, fn
        self.average, self.which = average, which

    def __call__(self, indices: np.ndarray) -> float:
        idx = np.asarray(indices, dtype=np.int64)
        counts = (self.tp[idx].sum(axis=0), self.fp[idx].sum(axis=0), self.fn[idx].sum(axis=0))
        return float(prf(*counts, self.average)[self.which])

    def many(self, index_matrix: np.ndarray) -> np.ndarray:
        weights = resample_counts(index_matrix, len(self.tp))
        counts = (weights @ self.tp, weights @ self.fp, weights @ self.fn)
        return prf(*counts, self.average)[self.which]


def _aggregator(
    tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, average: str, which: int
) -> Callable[[np.ndarray], float]:
    return _Aggregator(tp, fp, fn, average, which)
