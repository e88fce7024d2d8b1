"""Finding classification (NIH ChestX-ray14, CheXpert): label sets parsed from answers, P/R/F1 and AUROC.

A generative model answers in words ("Effusion and infiltrate", "enlarged heart, no effusion", "No Finding");
`LabelParser` maps the answer to a set of the dataset's own labels (ChestX-ray14's "Effusion", CheXpert's
"Pleural Effusion", a task's own) through one synonym table, `SYNONYMS`, leaving out negated findings ("no
pneumothorax", "cardiomegaly without effusion", "effusion is absent"); uncertain ones count as present. A
finding the label set has no label for counts as a broader one it has (a nodule is CheXpert's "Lung Lesion"). The
metric then scores the binary sample x label matrices the way scikit-learn's `precision_recall_fscore_support`
does for multilabel input (zero_division = 0, macro averages over every label, supported or not). Classifier-style adapters that return per-label probabilities in
`prediction.scores` also get AUROC (scikit-learn's `roc_auc_score` semantics: tied scores count half);
labels whose resampled or full ground truth has one class only are skipped and listed.

Corpus values are not means of per-sample values, so every `Scores` carries a batched aggregate that
recomputes the statistic from per-sample multiplicities (one matrix product per batch of bootstrap
rounds). `per_sample` holds an informative per-item value: the sample's own label-set F1 for the
micro/macro scores, whether the label was decided correctly for per-label scores, and the score
given to the label for AUROC.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from xraybench.errors import DataFormatError, XrayBenchError
from xraybench.metrics.aggregate import check_aligned, resample_counts
from xraybench.metrics.base import MetricSpec, Scores
from xraybench.metrics.normalize import set_f1
from xraybench.records import Prediction, Sample

CXR14_LABELS: tuple[str, ...] = (
    "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
    "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia",
)  # fmt: skip
# The one synonym table of answer parsing: finding -> the phrases that name it. A dataset label takes the
# finding whose name or phrase it is (CheXpert's "Pleural Effusion" is the finding "Effusion"), so every label set
# (ChestX-ray14, CheXpert, a task's own) reads answers through the same phrases. No phrase appears twice, and
# none holds a negation or scope word ("no", "with", ...): those are read by `LabelParser.parse`.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "Atelectasis": ("atelectasis", "atelectases", "atelectatic", "atelectatic change", "atelectatic changes",
                    "collapse", "lung collapse", "lobar collapse", "lobe collapse", "volume loss"),
    "Cardiomegaly": ("cardiomegaly", "enlarged heart", "heart enlargement", "cardiac enlargement", "large heart",
                     "enlarged cardiac silhouette", "enlargement of the heart", "heart is enlarged", "heart enlarged",
                     "heart size is enlarged", "enlarged heart size", "increased heart size",
                     "cardiac silhouette is enlarged", "enlarged cardiac shadow"),
    "Effusion": ("effusion", "effusions", "pleural effusion", "pleural effusions", "pleural fluid", "hydrothorax",
                 "hemothorax", "fluid in the pleural space"),
    "Infiltration": ("infiltration", "infiltrations", "infiltrate", "infiltrates", "infiltrative",
                     "pulmonary infiltrate", "pulmonary infiltrates"),
    "Mass": ("mass", "masses", "lung mass", "pulmonary mass", "tumor", "tumour"),
    "Nodule": ("nodule", "nodules", "pulmonary nodule", "pulmonary nodules", "lung nodule", "lung nodules"),
    "Pneumonia": ("pneumonia", "pneumonias", "bronchopneumonia", "pneumonic", "lung infection",
                  "pulmonary infection", "chest infection"),
    "Pneumothorax": ("pneumothorax", "pneumothoraces", "pneumothoraxes", "ptx"),
    "Consolidation": ("consolidation", "consolidations", "consolidated", "consolidative", "airspace consolidation"),
    "Edema": ("edema", "oedema", "pulmonary edema", "pulmonary oedema", "interstitial edema", "alveolar edema"),
    "Emphysema": ("emphysema", "emphysematous", "emphysematous change", "emphysematous changes",
                  "bullous emphysema", "pulmonary emphysema"),
    "Fibrosis": ("fibrosis", "fibrotic", "fibrotic change", "fibrotic changes", "pulmonary fibrosis",
                 "interstitial fibrosis"),
    "Pleural_Thickening": ("pleural thickening", "pleural thickenings", "thickening of the pleura",
                           "thickened pleura", "pleural plaque", "pleural plaques", "apical cap", "apical caps",
                           "pleural scarring", "pleural fibrosis", "fibrothorax"),
    "Hernia": ("hernia", "hernias", "hiatal hernia", "hiatus hernia", "diaphragmatic hernia"),
    # CheXpert observations that ChestX-ray14 has no label for
    "Enlarged Cardiomediastinum": ("enlarged cardiomediastinum", "widened mediastinum", "mediastinal widening",
                                   "enlarged mediastinum", "mediastinal enlargement", "cardiomediastinal enlargement",
                                   "widened cardiomediastinal silhouette", "enlarged cardiomediastinal silhouette"),
    "Lung Opacity": ("lung opacity", "lung opacities", "opacity", "opacities", "opacification", "pulmonary opacity",
                     "pulmonary opacities", "airspace opacity", "airspace opacities", "airspace disease",
                     "ground glass", "ground glass opacity", "ground glass opacities", "haziness"),
    "Lung Lesion": ("lung lesion", "lung lesions", "lesion", "lesions", "pulmonary lesion", "pulmonary lesions"),
    "Pleural Other": ("pleural other", "pleural abnormality", "pleural abnormalities", "pleural calcification",
                      "pleural calcifications"),
    "Fracture": ("fracture", "fractures", "fractured", "rib fracture", "rib fractures", "broken rib", "broken ribs",
                 "compression fracture"),
    "Support Devices": ("support devices", "support device", "device", "devices", "tubes and lines",
                        "lines and tubes", "endotracheal tube", "nasogastric tube", "chest tube", "feeding tube",
                        "tracheostomy", "tracheostomy tube", "central line", "central venous catheter", "picc",
                        "picc line", "catheter", "pacemaker", "pacer", "icd", "sternotomy wires", "sternal wires"),
}  # fmt: skip
# A finding a label set has no label for counts as the broader one it does have (CheXpert: a nodule is a Lung Lesion).
BROADER: dict[str, str] = {
    "Mass": "Lung Lesion", "Nodule": "Lung Lesion", "Infiltration": "Lung Opacity", "Pleural_Thickening": "Pleural Other",
}  # fmt: skip
# Phrases that contain a finding's words but are not that finding; read as one unit, they name nothing.
NOT_FINDINGS = (
    "pericardial effusion", "pericardial effusions", "joint effusion", "subcutaneous emphysema",
    "surgical emphysema", "soft tissue emphysema", "mass effect", "breast mass", "soft tissue edema",
    "subcutaneous edema", "vertebral collapse", "compression deformity",
)  # fmt: skip
NO_FINDING = ("no finding", "no findings", "none", "normal", "no abnormality", "no abnormalities", "nothing")
# Negation, as a short answer states it. A *pre* cue negates the findings after it in its part of the answer
# ("no effusion or pneumothorax", "cardiomegaly without effusion"); a *post* cue the ones before it back to the last
# comma ("effusion and pneumothorax are absent"); a double negation or "no change" negates nothing (uncertain
# findings count as present, CheXpert's U-Ones); "with", "present:" and the like end a pre cue's reach.
PRE_NEGATION = (
    "no", "not", "without", "negative for", "absence of", "free of", "rather than", "instead of", "neither", "nor",
)  # fmt: skip
POST_NEGATION = (
    "absent", "resolved", "ruled out", "excluded", "negative", "not seen", "not present", "not identified",
    "not visualized", "not evident", "not detected", "not demonstrated", "not appreciated", "not noted",
    "not visible", "not apparent",
)  # fmt: skip
NOT_NEGATION = (
    "cannot be excluded", "can not be excluded", "cannot be ruled out", "can not be ruled out", "not excluded",
    "not ruled out", "cannot exclude", "can not exclude", "can t exclude", "cannot rule out", "can not rule out",
    "not be excluded", "not be ruled out", "no change", "no change in", "no interval change", "not resolved",
    "not only",
)  # fmt: skip
END_NEGATION = ("with", "there is", "there are", "shows", "showing", "demonstrates", "also")
# Parts of an answer that negation never crosses: list separators, sentence ends (not decimal points), "but".
_PARTS = re.compile(r"[|;\n]|(?<!\d)\.(?!\d)|\b(?:but|however|although|though|except|whereas|while|yet)\b")
_PRE, _POST, _NONE, _END = "pre", "post", "none", "end"


def snake(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def _canonical_key(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def _finding_of(key: str) -> str | None:
    """The finding of the synonym table that `key` (a canonical key) names, if any."""
    return _FINDING_OF_KEY.get(key)


_FINDING_OF_KEY: dict[str, str] = {
    _canonical_key(phrase): finding for finding, phrases in SYNONYMS.items() for phrase in (finding, *phrases)
}


class LabelParser:
    """Maps free-text answers and reference strings to sets of the given labels."""

    def __init__(self, labels: Sequence[str]):
        self.labels = tuple(labels)
        label_of: dict[str, str] = {}  # finding -> this label set's label for it
        for label in self.labels:
            finding = _finding_of(_canonical_key(label))
            if finding is None:
                continue  # a label outside the table: read by its own name only
            if finding in label_of:
                raise XrayBenchError(
                    f"classification labels {label_of[finding]!r} and {label!r} name the same finding {finding!r}"
                )
            label_of[finding] = label
        # every phrase -> the label it counts as here (None: a finding this label set has no label for)
        mentions: dict[str, str | None] = {}
        for finding, phrases in SYNONYMS.items():
            target = label_of.get(finding) or label_of.get(BROADER.get(finding, ""))
            for phrase in (finding, *phrases):
                mentions[_canonical_key(phrase)] = target
        mentions.update({_canonical_key(label): label for label in self.labels})
        mentions.update({key: None for key in NOT_FINDINGS})
        self.lookup: dict[str, str] = {key: label for key, label in mentions.items() if label is not None}
        self._mentions = mentions
        kinds = {key: _NONE for key in NOT_NEGATION}
        kinds.update({key: _END for key in END_NEGATION})
        kinds.update({key: _PRE for key in PRE_NEGATION})
        kinds.update({key: _POST for key in POST_NEGATION})
        self._cues = kinds
        # Longest phrase first at each position, so "pleural effusion" is one mention and "cannot be excluded" is
        # not read as "excluded"; the colon forms ("effusion: no", "absent: effusion") come before the words.
        words = sorted({*mentions, *kinds}, key=len, reverse=True)
        self.pattern = re.compile(
            r"(?P<post>:\s*(?:no|none|absent|negative)\b)|(?P<pre>\b(?:absent|negative|not present|excluded)\s*:)"
            r"|(?P<end>\b(?:present|positive|findings)\s*:)|(?P<comma>,)"
            r"|\b(?P<word>" + "|".join(r"\s+".join(map(re.escape, w.split())) for w in words) + r")\b"
        )

    def parse(self, text: str) -> set[str]:
        """The labels `text` names as present: negated findings are left out (see `PRE_NEGATION`)."""
        found: set[str] = set()
        # hyphens, underscores, brackets, slashes are word gaps; , : and the part separators stay
        cleaned = re.sub(r"[^a-z0-9|;:.,\n]+", " ", text.lower())
        for part in _PARTS.split(cleaned):
            found.update(self._present(part))
        return found

    def _present(self, part: str) -> set[str]:
        named: list[list[Any]] = []  # [label, negated] in order
        negated, clause = False, 0
        for match in self.pattern.finditer(part):
            word = match.group("word")
            kind = match.lastgroup if word is None else self._cues.get(" ".join(word.split()))
            if kind is None:  # a finding (or a phrase that names none)
                label = self._mentions[" ".join(word.split())]
                if label is not None:
                    named.append([label, negated])
            elif kind == "comma":
                clause = len(named)
            elif kind == _PRE:
                negated = True
            elif kind == _END:
                negated = False
            elif kind == _POST:
                for item in named[clause:]:
                    item[1] = True
        return {label for label, neg in named if not neg}

    def parse_reference(self, sample: Sample) -> set[str]:
        """The reference label set: `metadata["labels"]` if given, else the '|'-joined reference; strict."""
        items = sample.metadata.get("labels")
        if items is None:
            items = [] if _canonical_key(sample.reference) in NO_FINDING else sample.reference.split("|")
        labels = set()
        for item in items:
            key = _canonical_key(str(item))
            if key not in self.lookup:
                raise DataFormatError(
                    sample.dataset,
                    f"reference label {item!r} is not one of: {', '.join(self.labels)}",
                    record=sample.id,
                )
            labels.add(self.lookup[key])
        return labels


def _prf(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 with scikit-learn's zero_division=0, elementwise."""
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    return precision, recall, f1


_LAST_SUMS: list = []  # [(counts, tp, (tp, fp, fn) sums)] of the latest batch, see CountStat._sums


class CountStat:
    """A statistic of summed true-positive / false-positive / false-negative counts.

    `kind` is (label index | "micro" | "macro", "precision" | "recall" | "f1"). Resamples are
    multiplicity vectors, so a batch of bootstrap rounds is three matrix products.
    """

    def __init__(self, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, which: int | str, measure: str):
        self.tp, self.fp, self.fn = tp, fp, fn
        self.which, self.measure = which, measure

    def _sums(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Resampled tp/fp/fn per label (rounds x labels), shared by the statistics of one metric run."""
        last = _LAST_SUMS[0] if _LAST_SUMS else None
        if last is not None and last[0] is counts and last[1] is self.tp:
            return last[2]
        sums = (counts @ self.tp, counts @ self.fp, counts @ self.fn)
        _LAST_SUMS[:] = [(counts, self.tp, sums)]
        return sums

    def _from_counts(self, counts: np.ndarray) -> np.ndarray:
        tp, fp, fn = self._sums(counts)
        if self.which == "micro":
            tp, fp, fn = tp.sum(axis=1), fp.sum(axis=1), fn.sum(axis=1)
        elif self.which != "macro":
            tp, fp, fn = tp[:, self.which], fp[:, self.which], fn[:, self.which]
        precision, recall, f1 = _prf(tp, fp, fn)
        value = {"precision": precision, "recall": recall, "f1": f1}[self.measure]
        return value.mean(axis=1) if self.which == "macro" else value

    def many(self, index_matrix: np.ndarray) -> np.ndarray:
        return self._from_counts(resample_counts(index_matrix, self.tp.shape[0]))

    def __call__(self, indices: np.ndarray) -> float:
        return float(self.many(np.asarray(indices, dtype=np.int64)[None, :])[0])

    def concat(self, other: Any) -> CountStat:
        if not isinstance(other, CountStat) or (other.which, other.measure) != (self.which, self.measure):
            raise XrayBenchError("CountStat can only be combined with the same statistic")
        stack = np.concatenate
        return CountStat(
            stack([self.tp, other.tp]), stack([self.fp, other.fp]), stack([self.fn, other.fn]), self.which, self.measure
        )


class Auroc:
    """AUROC of one label, or the macro mean over labels, from weighted Mann-Whitney counts.

    For every positive sample, the negatives scored below it count fully and the tied ones half,
    exactly as the trapezoidal ROC area of scikit-learn. A resample weighs each sample by its
    multiplicity: negatives are sorted by score once, and per round one cumulative sum of their
    weights answers "how much negative weight lies below / at this score" for every positive.
    Labels with one class in a resample are left out of the macro mean (NaN when none is left).
    """

    def __init__(self, truth: np.ndarray, scores: np.ndarray, macro: bool):
        self.truth = truth.astype(bool)  # samples x labels
        self.scores = scores.astype(np.float64)
        self.macro = macro
        self.plans = []
        for j in range(scores.shape[1]):
            pos = np.flatnonzero(self.truth[:, j])
            neg = np.flatnonzero(~self.truth[:, j])
            neg = neg[np.argsort(self.scores[neg, j], kind="mergesort")]
            neg_scores = self.scores[neg, j]
            lo = np.searchsorted(neg_scores, self.scores[pos, j], side="left")
            hi = np.searchsorted(neg_scores, self.scores[pos, j], side="right")
            self.plans.append((pos, neg, lo, hi))

    def _from_counts(self, counts: np.ndarray) -> np.ndarray:
        rounds = counts.shape[0]
        per_sample = np.ascontiguousarray(counts.T)  # samples x rounds: gathering samples copies whole rows
        per_label = np.empty((rounds, len(self.plans)))
        for j, (pos, neg, lo, hi) in enumerate(self.plans):
            w_pos = per_sample[pos]
            cum_neg = np.zeros((len(neg) + 1, rounds))
            np.cumsum(per_sample[neg], axis=0, out=cum_neg[1:])
            below, upto = cum_neg[lo], cum_neg[hi]
            wins = (w_pos * (below + 0.5 * (upto - below))).sum(axis=0)
            n_pos, n_neg = w_pos.sum(axis=0), cum_neg[-1]
            with np.errstate(divide="ignore", invalid="ignore"):
                per_label[:, j] = np.where((n_pos > 0) & (n_neg > 0), wins / (n_pos * n_neg), np.nan)
        if not self.macro:
            return per_label[:, 0]
        defined = np.isfinite(per_label)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(defined.any(axis=1), np.nansum(per_label, axis=1) / defined.sum(axis=1), np.nan)

    def many(self, index_matrix: np.ndarray) -> np.ndarray:
        return self._from_counts(resample_counts(index_matrix, self.truth.shape[0]))

    def __call__(self, indices: np.ndarray) -> float:
        return float(self.many(np.asarray(indices, dtype=np.int64)[None, :])[0])

    def concat(self, other: Any) -> Auroc:
        if not isinstance(other, Auroc) or other.macro != self.macro:
            raise XrayBenchError("Auroc can only be combined with the same kind of AUROC")
        return Auroc(np.concatenate([self.truth, other.truth]), np.concatenate([self.scores, other.scores]), self.macro)


def _scores_from(stat: CountStat | Auroc, name: str, per_sample: np.ndarray, **details: Any) -> Scores:
    n = len(per_sample)
    value = stat(np.arange(n)) if n else float("nan")
    return Scores(name, value, per_sample, stat, dict(details))


class ClassificationMetric:
    """Per-label and micro/macro precision, recall and F1, exact match, and AUROC when scores exist."""

    name = "classification"
    spec = MetricSpec(
        kinds=("classification",),
        headline=("cls_micro_f1", "cls_macro_f1"),
        leaderboard=("cls_macro_f1",),
        scores=("cls_*",),
    )

    def __init__(self, labels: Sequence[str] = CXR14_LABELS):
        self.labels = tuple(labels)
        self.parser = LabelParser(self.labels)

    def _score_matrix(self, predictions: Sequence[Prediction]) -> np.ndarray | None:
        if not predictions or any(not p.scores for p in predictions):
            return None
        matrix = np.full((len(predictions), len(self.labels)), np.nan)
        for i, prediction in enumerate(predictions):
            for key, value in (prediction.scores or {}).items():
                label = self.parser.lookup.get(_canonical_key(key))
                if label is not None:
                    matrix[i, self.labels.index(label)] = float(value)
        missing = np.isnan(matrix).any(axis=0)
        if missing.any():
            names = ", ".join(label for label, m in zip(self.labels, missing, strict=True) if m)
            raise XrayBenchError(f"classification: prediction scores lack a probability for: {names}")
        return matrix

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        check_aligned(samples, predictions, self.name)
        truth_sets = [self.parser.parse_reference(s) for s in samples]
        pred_sets = [self.parser.parse(p.answer or "") for p in predictions]
        n, k = len(samples), len(self.labels)
        truth = np.zeros((n, k), dtype=bool)
        pred = np.zeros((n, k), dtype=bool)
        for i, (t, p) in enumerate(zip(truth_sets, pred_sets, strict=True)):
            truth[i] = [label in t for label in self.labels]
            pred[i] = [label in p for label in self.labels]
        tp = (truth & pred).astype(np.float64)
        fp = (~truth & pred).astype(np.float64)
        fn = (truth & ~pred).astype(np.float64)
        sample_f1 = np.array([set_f1(p, t) for p, t in zip(pred_sets, truth_sets, strict=True)], dtype=np.float64)
        details = {"labels": list(self.labels), "zero_division": 0}
        out: dict[str, Scores] = {}
        for which in ("micro", "macro"):
            for measure in ("precision", "recall", "f1"):
                name = f"cls_{which}_{measure}"
                out[name] = _scores_from(CountStat(tp, fp, fn, which, measure), name, sample_f1, **details)
        for j, label in enumerate(self.labels):
            correct = (truth[:, j] == pred[:, j]).astype(np.float64)
            support = int(truth[:, j].sum())
            for measure in ("precision", "recall", "f1"):
                name = f"cls_{measure}_{snake(label)}"
                out[name] = _scores_from(CountStat(tp, fp, fn, j, measure), name, correct, label=label, support=support)
        out["cls_exact_match"] = Scores.mean("cls_exact_match", (truth == pred).all(axis=1).astype(np.float64))
        out.update(self._auroc(truth, self._score_matrix(predictions)))
        return out

    def _auroc(self, truth: np.ndarray, scores: np.ndarray | None) -> dict[str, Scores]:
        if scores is None:
            return {}
        out: dict[str, Scores] = {}
        one_class = [label for j, label in enumerate(self.labels) if truth[:, j].all() or not truth[:, j].any()]
        keep = [j for j, label in enumerate(self.labels) if label not in one_class]
        for j in keep:
            name = f"cls_auroc_{snake(self.labels[j])}"
            stat = Auroc(truth[:, [j]], scores[:, [j]], macro=False)
            out[name] = _scores_from(stat, name, scores[:, j].copy(), label=self.labels[j])
        if keep:
            stat = Auroc(truth[:, keep], scores[:, keep], macro=True)
            out["cls_macro_auroc"] = _scores_from(
                stat,
                "cls_macro_auroc",
                scores[:, keep].mean(axis=1),
                skipped_one_class=one_class,
                labels=[self.labels[j] for j in keep],
            )
        return out
