"""DeepMedix-R1's per-item answer score as an `evaluate` module (mean over items)."""

import datasets
import evaluate

from xraybench.metrics.answer_score import answer_score

_DESCRIPTION = "List set-F1 / short exact match / mean of BLEU-1, BLEU-4, ROUGE-1 (word or the paper's char variant)."
_KWARGS = """
Args:
    predictions: list of answers; references: list of ground truths; variant: word | paper.
Returns: {"answer_score": mean score in 0..1, "variant": variant}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class XraybenchAnswerScore(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references, variant="word"):
        values = [answer_score(p, r, variant=variant) for p, r in zip(predictions, references, strict=True)]
        return {"answer_score": sum(values) / len(values) if values else float("nan"), "variant": variant}
