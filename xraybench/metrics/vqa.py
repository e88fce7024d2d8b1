"""VQA scores: closed-question accuracy, open-question exact match and token F1, list set-F1.

Every sub-metric keeps one value per sample so the runner can break results down by
`metadata["category"]`. A sample a sub-metric does not apply to (an open question for closed
accuracy, a non-list answer for list F1) gets NaN there, and the corpus value is the mean over the
applicable samples only (`NanMean`); `details["n"]` says how many applied.

- closed accuracy compares `normalize_answer` forms, so "Yes." / "yes, there is" equal "yes";
- open exact match and token F1 (SQuAD's definition: F1 of the bags of normalised tokens) compare
  `normalize_text` forms;
- list F1 is the F1 of the sets of normalised '|' items (used when the reference has '|');
- `vqa_accuracy` is the overall score: closed accuracy for closed questions, exact match for open
  ones, where a list counts as matched when its item set equals the reference's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from xraybench.metrics.aggregate import check_aligned, nanmean_scores
from xraybench.metrics.base import MetricSpec, Scores
from xraybench.metrics.normalize import normalize_answer, normalize_text, set_f1, split_list, yes_no
from xraybench.records import Prediction, Sample

NAN = float("nan")


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD token F1: harmonic mean of precision and recall of the token multisets."""
    pred = normalize_text(prediction).split()
    ref = normalize_text(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision = common / len(pred)
    recall = common / len(ref)
    return 2 * precision * recall / (precision + recall)


def answer_type(sample: Sample) -> str:
    """'closed' or 'open': from metadata, else closed when the reference is a yes/no answer."""
    declared = str(sample.metadata.get("answer_type", "")).strip().lower()
    if declared in ("closed", "open"):
        return declared
    return "closed" if yes_no(sample.reference) is not None and len(sample.reference.split()) <= 2 else "open"


class VqaMetric:
    """Closed accuracy, open exact match / token F1, list set-F1 and the overall VQA accuracy."""

    name = "vqa"
    spec = MetricSpec(
        kinds=("vqa",),
        headline=("vqa_accuracy", "vqa_closed_accuracy", "vqa_open_token_f1"),
        leaderboard=("vqa_accuracy",),
    )

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        check_aligned(samples, predictions, self.name)
        closed, open_em, open_f1, list_f1, overall = [], [], [], [], []
        for sample, prediction in zip(samples, predictions, strict=True):
            answer, reference = prediction.answer or "", sample.reference
            is_list = "|" in reference
            if answer_type(sample) == "closed":
                hit = float(normalize_answer(answer) == normalize_answer(reference))
                closed.append(hit)
                open_em.append(NAN)
                open_f1.append(NAN)
            else:
                if is_list:
                    hit = float(set(split_list(answer)) == set(split_list(reference)))
                else:
                    hit = float(normalize_text(answer) == normalize_text(reference))
                closed.append(NAN)
                open_em.append(hit)
                open_f1.append(token_f1(answer, reference))
            list_f1.append(set_f1(split_list(answer), split_list(reference)) if is_list else NAN)
            overall.append(hit)
        return {
            "vqa_accuracy": nanmean_scores("vqa_accuracy", overall),
            "vqa_closed_accuracy": nanmean_scores("vqa_closed_accuracy", closed),
            "vqa_open_exact_match": nanmean_scores("vqa_open_exact_match", open_em),
            "vqa_open_token_f1": nanmean_scores("vqa_open_token_f1", open_f1),
            "vqa_list_f1": nanmean_scores("vqa_list_f1", list_f1),
        }
