"""xraybench report-generation metrics as an `evaluate` module: BLEU-1..4, METEOR, ROUGE-L, CIDEr-D, CheXpert F1."""

import datasets
import evaluate

from xraybench.metrics.api import score_texts

_DESCRIPTION = "Corpus BLEU-1..4, METEOR 1.5, ROUGE-L, CIDEr-D (COCO semantics) and CheXpert-style clinical F1."
_KWARGS = """
Args:
    predictions: list of generated reports.
    references: list of reference reports, or list of lists of references.
    metrics: metric families (default bleu, rouge_l, cider, chexpert; add meteor when Java is available).
    tokenizer: coco | r2gen | raw (default coco).
Returns: a dict with bleu_1..bleu_4, meteor, rouge_l, cider, chexpert_{micro,macro}_f1_{5,14}, ... and tokenizer.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class XraybenchReport(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=[
                datasets.Features(
                    {"predictions": datasets.Value("string"), "references": datasets.Sequence(datasets.Value("string"))}
                ),
                datasets.Features({"predictions": datasets.Value("string"), "references": datasets.Value("string")}),
            ],
        )

    def _compute(self, predictions, references, metrics=("bleu", "rouge_l", "cider", "chexpert"), tokenizer="coco"):
        refs = [[r] if isinstance(r, str) else list(r) for r in references]
        scores = score_texts(list(predictions), refs, list(metrics), tokenizer=tokenizer)
        return {**{name: s.value for name, s in scores.items()}, "tokenizer": tokenizer}
