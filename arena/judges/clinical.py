"""`metric:clinical`: clinical errors first, lexical overlap to break a near-tie.

Both texts are labelled with our offline CheXpert labeler; over the 13 observations (the derived "No Finding"
is left out so one false finding is not counted twice) a candidate gets 1 error per observation present in one
text and absent (negative or not mentioned) in the other, and 0.5 when one of the two calls it uncertain and the
other does not. A difference of at least 2 errors is a strong win, of at least 0.5 a win; equal error counts are
a near-tie that lexical overlap (`arena.judges.lexical.lexical_score`) breaks (a win when the lexical score
differs by at least 0.05, else a tie).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from arena.judges.lexical import lexical_score
from arena.judges.local import Decision, Thresholds, decision
from arena.judges.metric import MetricJudge
from xraybench.errors import XrayBenchError
from xraybench.metrics.chexpert import CHEXPERT_LABELS, label_reports

OBSERVATIONS = tuple(i for i, name in enumerate(CHEXPERT_LABELS) if name != "No Finding")
PRESENT, UNCERTAIN, ABSENT = "present", "uncertain", "absent"
CLINICAL = Thresholds(strong=2.0, win=0.5)  # in clinical errors (the error count of B minus that of A)
TIE_BREAK = 0.05  # lexical difference that breaks an equal clinical error count


def _status(value: int | None) -> str:
    return PRESENT if value == 1 else UNCERTAIN if value == -1 else ABSENT


def clinical_errors(candidate: Sequence[int | None], reference: Sequence[int | None]) -> list[dict[str, Any]]:
    """The candidate's disagreements with the reference's labels, each with its type and weight (1 or 0.5)."""
    errors: list[dict[str, Any]] = []
    for i in OBSERVATIONS:
        cand, ref = _status(candidate[i]), _status(reference[i])
        if cand == ref:
            continue
        weight = 0.5 if UNCERTAIN in (cand, ref) else 1.0
        more = (cand, ref) in ((PRESENT, ABSENT), (PRESENT, UNCERTAIN), (UNCERTAIN, ABSENT))
        errors.append(
            {
                "type": "false_finding" if more else "missing_finding",
                "description": f"{CHEXPERT_LABELS[i]}: {cand} in the candidate, {ref} in the reference",
                "weight": weight,
            }
        )
    return errors


class ClinicalJudge(MetricJudge):
    """Labels each distinct text once (a model's report meets every other model's on its study)."""

    NAME = "metric:clinical"
    THRESHOLDS = CLINICAL

    def __init__(
        self, name: str | None = None, *, strong: float | None = None, win: float | None = None,
        tie_break: float | None = None,
    ):  # fmt: skip
        super().__init__(name, strong=strong, win=win)
        self.tie_break = TIE_BREAK if tie_break is None else tie_break
        if self.tie_break <= 0:
            raise XrayBenchError(f"{self.name}: tie_break must be above 0, got {self.tie_break:g}")
        self._labels: dict[str, list[int | None]] = {}
        self._lock = threading.Lock()  # the call engine decides battles on several threads

    def metric_params(self) -> dict[str, Any]:
        return {"clinical": vars(self.thresholds), "tie_break": self.tie_break, "labeler": "xraybench CheXpert labeler"}

    def prepare_labels(self, texts: Iterable[str]) -> None:
        """Label every distinct text not labelled yet; later decisions reuse the labels."""
        with self._lock:
            todo = [t for t in dict.fromkeys(texts) if t not in self._labels]
        labels = label_reports(todo)
        with self._lock:
            self._labels.update(zip(todo, labels, strict=True))

    def labels_of(self, text: str) -> list[int | None]:
        with self._lock:
            labels = self._labels.get(text)
        if labels is None:
            self.prepare_labels([text])
            with self._lock:
                labels = self._labels[text]
        return labels

    def decide(self, reference: str, text_a: str, text_b: str) -> Decision:
        ref = self.labels_of(reference)
        errors_a = clinical_errors(self.labels_of(text_a), ref)
        errors_b = clinical_errors(self.labels_of(text_b), ref)
        count_a, count_b = sum(e["weight"] for e in errors_a), sum(e["weight"] for e in errors_b)
        lex_a, lex_b = lexical_score(text_a, reference), lexical_score(text_b, reference)
        lines = [
            self.header(),
            f"CheXpert label disagreements with the reference: A {count_a:g}, B {count_b:g} "
            f"(strong win at a difference >= {self.thresholds.strong:g}, win at >= {self.thresholds.win:g}).",
        ]
        lines += [f"A: {e['description']} ({e['weight']:g})" for e in errors_a]
        lines += [f"B: {e['description']} ({e['weight']:g})" for e in errors_b]
        level = self.thresholds.level(count_b - count_a)
        lines.append(f"Lexical score (mean of ROUGE-L F1 and BLEU-4): A {lex_a:.4f}, B {lex_b:.4f}.")
        if level == "tie":
            level = Thresholds(strong=float("inf"), win=self.tie_break).level(lex_a - lex_b)
            lines.append(
                f"Equal clinical errors: lexical difference {lex_a - lex_b:+.4f} (win at >= {self.tie_break})."
            )
        strip_a = [{k: e[k] for k in ("type", "description")} for e in errors_a]
        strip_b = [{k: e[k] for k in ("type", "description")} for e in errors_b]
        return decision(lines, level, strip_a, strip_b)
