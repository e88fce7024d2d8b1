"""Metric registry. A new metric = one module (its class declares `spec = MetricSpec(...)`: task kinds, headline
scores, leaderboard columns, direction, options) + one `register` line here (or a plugin's entry point).

The run table, the arena leaderboard, `--extra-metrics` and every comparison read those declarations
(`headline_scores`, `leaderboard_scores`, `metric_spec`, `score_direction`); nothing else decides a metric's
behaviour by its name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from xraybench.errors import MissingExtraError, XrayBenchError
from xraybench.metrics.base import Direction, Metric, MetricSpec, Scores, check_metric, spec_of
from xraybench.registry import PluginError, Registry

log = logging.getLogger(__name__)

METRICS: Registry[type] = Registry("metric", plugin_kind="metric", check=check_metric)
# the order of these lines is the order of the run table's rows and of the leaderboard's metric columns
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
_r(
    "rexrank_bleu",
    "xraybench.metrics.rexrank_bleu:RexrankBleuMetric",
    help="ReXrank's BLEU: CXR-Report-Metric's per-report BLEU-2 (NLTK smoothing 1), mean over reports",
)
_r("chexpert", "xraybench.metrics.clinical:ChexpertMetric", help="clinical efficacy P/R/F1 from our offline labeler")
_r("vqa", "xraybench.metrics.vqa:VqaMetric", help="closed accuracy, open token F1 / exact match, list set-F1")
_r("answer_score", "xraybench.metrics.answer_score:AnswerScoreMetric", help="the paper's per-item answer score")
_r(
    "classification",
    "xraybench.metrics.classification:ClassificationMetric",
    help="per-label and micro/macro F1, AUROC",
)
_r(
    "phrase_grounding",
    "xraybench.metrics.phrase_grounding:PhraseGroundingMetric",
    help="phrase grounding (MS-CXR): IoU, hit rate at IoU >= 0.5, pointing game of the answer's boxes",
)
_r("grounding", "xraybench.metrics.grounding:GroundingMetric", help="box validity, count, IoU / hit rate")
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
_r(
    "semb_score",
    "xraybench.metrics.semb:SembScoreMetric",
    extra="hf",
    help="SembScore: cosine of CheXbert [CLS] embeddings, as CXR-Report-Metric (CheXbert weights)",
)
_r(
    "radcliq",
    "xraybench.metrics.radcliq:RadCliqMetric",
    extra="radgraph",
    help="RadCliQ-v1 (lower is better) from RadGraph, BERTScore, SembScore and BLEU-2, as CXR-Report-Metric",
)
_r(
    "green",
    "xraybench.metrics.green:GreenMetric",
    extra="hf",
    help="GREEN (RadEval semantics): LLM-counted significant errors by category and matched findings (option model / XRAYBENCH_GREEN_MODEL)",
)
_r(
    "crimson",
    "xraybench.metrics.crimson:CrimsonMetric",
    extra="crimson",
    help="CRIMSON (crimson-score package): LLM-judged findings weighted by clinical significance, error counts by "
    "category, failures marked (option model / XRAYBENCH_CRIMSON_MODEL)",
)
_r(
    "ratescore",
    "xraybench.metrics.ratescore:RaTEScoreMetric",
    extra="ratescore",
    help="RaTEScore (RaTEScore package): medical entities (NER) matched by BioLORD embeddings, type-weighted, "
    "failures marked (options ner_model / embedding_model)",
)


def metric_spec(name: str) -> MetricSpec:
    """The declaration of the metric registered as `name` (imports its module; "did you mean" if unknown)."""
    return spec_of(METRICS.get(name))


def _declared(which: str) -> tuple[str, ...]:
    out: list[str] = []
    for name in METRICS.in_order():
        try:
            spec = metric_spec(name)
        except (MissingExtraError, PluginError) as exc:  # a broken plugin must not hide every other number
            log.warning("metric %s left out of the %s scores: %s", name, which, exc)
            continue
        for score in spec.headline_for(name) if which == "headline" else spec.leaderboard:
            if score not in out:
                out.append(score)
    return tuple(out)


def headline_scores() -> tuple[str, ...]:
    """Score names the run table shows, in registration order, as every registered metric declares them."""
    return _declared("headline")


def leaderboard_scores() -> tuple[str, ...]:
    """Score names that are arena leaderboard columns (`MetricSpec.leaderboard`), in registration order."""
    return _declared("leaderboard")


def score_direction(score: str, metrics: Iterable[str] | None = None) -> Direction | None:
    """Which way the score named `score` improves ("higher", "lower", "none"), as the metric that emits it declares
    (`MetricSpec.emits` / `.direction`), looked for among `metrics` (default: every registered metric).

    None when no metric here claims the score (a plugin's, not installed here) or two claim it with different
    directions: a caller then says the direction is unknown; it never assumes "higher"."""
    found: set[str] = set()
    for name in METRICS.in_order() if metrics is None else metrics:
        try:
            spec = metric_spec(name)
        except XrayBenchError as exc:  # not importable here (extra, plugin): it claims nothing
            log.info("metric %s not consulted for the direction of %s: %s", name, score, exc)
            continue
        if spec.emits(name, score):
            found.add(spec.direction(score))
    return found.pop() if len(found) == 1 else None  # type: ignore[return-value]


__all__ = [
    "METRICS", "Direction", "Metric", "MetricSpec", "Scores", "headline_scores", "leaderboard_scores", "metric_spec",
    "score_direction",
]  # fmt: skip
