"""Metric registry. A new metric = one module + one `register` line here."""

from __future__ import annotations

from xraybench.metrics.base import Metric, Scores
from xraybench.registry import Registry

METRICS: Registry = Registry("metric")
_r = METRICS.register
_r("bleu", "xraybench.metrics.bleu:BleuMetric", help="BLEU-1..4, corpus level, COCO caption semantics")
_r(
    "meteor",
    "xraybench.metrics.meteor:MeteorMetric",
    help="METEOR 1.5 (pycocoevalcap semantics; a native port, no Java needed; backend=jar uses Java) [extra: meteor]",
)
_r("rouge_l", "xraybench.metrics.rouge:RougeLMetric", help="ROUGE-L F (beta 1.2 as COCO, or 1.0 as rouge-score)")
_r(
    "rouge_score",
    "xraybench.metrics.rouge:RougeScoreMetric",
    help="ROUGE-1, ROUGE-2, ROUGE-L F as Google's rouge-score (scores rouge1, rouge2, rougeL; Porter stemmer)",
)
_r("cider", "xraybench.metrics.cider:CiderMetric", help="CIDEr-D, COCO semantics, IDF from the scored set")
_r("chexpert", "xraybench.metrics.clinical:ChexpertMetric", help="clinical efficacy P/R/F1 from our offline labeler")
_r("vqa", "xraybench.metrics.vqa:VqaMetric", help="closed accuracy, open token F1 / exact match, list set-F1")
_r(
    "classification",
    "xraybench.metrics.classification:ClassificationMetric",
    help="per-label and micro/macro F1, AUROC",
)
_r("grounding", "xraybench.metrics.grounding:GroundingMetric", help="box validity, count, IoU / hit rate")
_r("answer_score", "xraybench.metrics.answer_score:AnswerScoreMetric", help="the paper's per-item answer score")
_r(
    "bertscore",
    "xraybench.metrics.bertscore:BertScoreMetric",
    extra="hf",
    help="BERTScore P/R/F1 (bert-score semantics) from local weights (option model / XRAYBENCH_BERTSCORE_MODEL)",
)
_r(
    "chexbert",
    "xraybench.metrics.chexbert:ChexbertMetric",
    extra="hf",
    help="clinical efficacy P/R/F1 from CheXbert labels (option checkpoint / XRAYBENCH_CHEXBERT_CHECKPOINT)",
)
_r(
    "radgraph",
    "xraybench.metrics.radgraph:RadGraphMetric",
    extra="radgraph",
    help="RadGraph F1 simple/partial/complete (radgraph package; option model_dir / XRAYBENCH_RADGRAPH_DIR)",
)

__all__ = ["METRICS", "Metric", "Scores"]
