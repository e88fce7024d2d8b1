"""RadCliQ-v1: the composite report metric of Yu et al. (2023), as CXR-Report-Metric computes it (lower is better).

Per report, four inputs (CXR-Report-Metric's `run_eval.py`, columns in this order):
1. `radgraph_combined`: the mean of RadGraph entity F1 and relation F1 — entities as the set of (tokens, label),
   relations as the set of ((tokens, label), (target tokens, target label), relation type); F1 with precision
   and recall 0 when a set is empty (so two reports without relations have relation F1 0);
2. `bertscore`: BERTScore F1 with distilroberta-base, layer 5, no idf (its `USE_IDF = False`), rescaled with
   bert-score's baseline for that layer (F: 0.8473319), on texts whose runs of spaces are collapsed;
3. `semb_score`: SembScore (`xraybench.metrics.semb`, CheXbert [CLS] cosine);
4. `bleu_score`: per-report BLEU-2 on CXR-Report-Metric's tokens (`xraybench.metrics.rexrank_bleu`).
RadCliQ-v1 = ((x - mean) / scale) . w + b, with the StandardScaler and coefficients stored in its
`CXRMetric/radcliq-v1.pkl` (fitted on 160 radiologist-scored reports; BLEU-2's weight is ~4e-12, so it barely
counts). The corpus value is the mean over reports, as ReXrank reports it. RadEval's `RadCliQv1` differs: it
turns idf on for BERTScore and reports 1 / mean; we follow CXR-Report-Metric.

One deviation we cannot avoid: CXR-Report-Metric annotates with the original RadGraph checkpoint through
DyGIE++ on allennlp 1.1 (Python 3.7); here annotations come from the `radgraph` package's port of that model
(`xraybench.metrics.radgraph`), as RadEval does. Weights as each part finds them: `xraybench weights fetch
chexbert radgraph` and `xraybench weights fetch bertscore --bertscore-model distilroberta-base`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xraybench.errors import XrayBenchError
from xraybench.metrics.base import MetricSpec, Scores
from xraybench.metrics.rexrank_bleu import rexrank_tokens, sentence_bleu2
from xraybench.records import Prediction, Sample

# CXR-Report-Metric `CXRMetric/radcliq-v1.pkl`: StandardScaler(mean_, scale_) and coefs (4 weights + intercept),
# in the column order radgraph_combined, bertscore, semb_score, bleu_score
MEAN = (0.5379231241355762, 0.6175725628125001, 0.7647942121140658, 0.44738335396242174)
SCALE = (0.3028258411486429, 0.22430938459304575, 0.2539439110169773, 0.2989271671041838)
COEFS = (-0.37708368261038905, -0.37030009974480316, -0.25261621789593225, 4.315048405024756e-12)
INTERCEPT = 2.466552561323256e-10
COLUMNS = ("radgraph_combined", "bertscore", "semb_score", "bleu_score")
BERTSCORE_MODEL = "distilroberta-base"
BERTSCORE_LAYERS = 5
# bert-score's rescale baseline (rescale_baseline/en/distilroberta-base.tsv, layer 5, F), as float32 like bert-score
BERTSCORE_BASELINE_F = float(np.float32(0.8473319))


def radcliq_v1(components: np.ndarray) -> np.ndarray:
    """RadCliQ-v1 per row of an (n, 4) array of the inputs in `COLUMNS` order."""
    x = np.asarray(components, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(COLUMNS):
        raise XrayBenchError(f"radcliq: expected an (n, 4) array of {', '.join(COLUMNS)}, got shape {x.shape}")
    return ((x - np.array(MEAN)) / np.array(SCALE)) @ np.array(COEFS) + INTERCEPT


def _f1(test: set[Any], retrieved: set[Any]) -> float:
    shared = len(test & retrieved)
    precision = shared / len(retrieved) if retrieved else 0.0
    recall = shared / len(test) if test else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _entities_relations(annotation: dict[str, Any] | None) -> tuple[set[Any], set[Any]]:
    entities = (annotation or {}).get("entities") or {}
    ents = {(e["tokens"], e["label"]) for e in entities.values()}
    rels = set()
    for e in entities.values():
        for relation_type, target in e.get("relations", []):
            if target not in entities:
                raise XrayBenchError(f"radcliq: relation to unknown entity {target!r} in a RadGraph annotation")
            other = entities[target]
            rels.add(((e["tokens"], e["label"]), (other["tokens"], other["label"]), relation_type))
    return ents, rels


def radgraph_combined(hypothesis: dict[str, Any] | None, reference: dict[str, Any] | None) -> float:
    """CXR-Report-Metric's `radgraph_combined` of one pair of RadGraph annotations (None: no entities)."""
    hyp_ents, hyp_rels = _entities_relations(hypothesis)
    ref_ents, ref_rels = _entities_relations(reference)
    return (_f1(ref_ents, hyp_ents) + _f1(ref_rels, hyp_rels)) / 2


def bleu2_scores(hypotheses: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """CXR-Report-Metric's per-report BLEU-2 (one reference each)."""
    pairs = zip(hypotheses, references, strict=True)
    return np.array([sentence_bleu2(rexrank_tokens(r), rexrank_tokens(h)) for h, r in pairs], dtype=np.float64)


class RadCliqMetric:
    """`radcliq_v1` per report (lower is better) and its four inputs, from local weights only."""

    name = "radcliq"
    spec = MetricSpec(
        kinds=("report",),
        headline=("radcliq_v1",),
        higher_is_better=False,
        options={"progress": "progress"},
        # RadCliQ-v1 is an error estimate (lower is better); its four inputs are similarities (higher is better)
        directions={f"radcliq_{column}": "higher" for column in COLUMNS},
    )

    def __init__(
        self,
        checkpoint: str | None = None,
        tokenizer: str | None = None,
        radgraph_dir: str | None = None,
        bertscore_model: str | None = None,
        bertscore_num_layers: int = BERTSCORE_LAYERS,
        bertscore_baseline: str | None = None,
        device: str | None = None,
        batch_size: int = 32,
        progress: bool = True,
    ):
        from xraybench.metrics.bertscore import BertScoreMetric
        from xraybench.metrics.chexbert import load_labeler
        from xraybench.metrics.radgraph import RadGraphMetric

        model = bertscore_model or BERTSCORE_MODEL
        # a local copy of distilroberta-base keeps its name as the folder's name
        if bertscore_baseline is None and (Path(model).name, bertscore_num_layers) != (
            BERTSCORE_MODEL,
            BERTSCORE_LAYERS,
        ):
            raise XrayBenchError(
                f"radcliq: the built-in BERTScore baseline is {BERTSCORE_MODEL}'s layer {BERTSCORE_LAYERS}; with "
                f"bertscore_model={model!r}, bertscore_num_layers={bertscore_num_layers} give its bert-score "
                "rescale file as bertscore_baseline"
            )
        self.bertscore = BertScoreMetric(
            model=model, num_layers=bertscore_num_layers, idf=False, baseline=bertscore_baseline,
            device=device, batch_size=batch_size, progress=progress,
        )  # fmt: skip
        self.rescale_f = None if bertscore_baseline else BERTSCORE_BASELINE_F
        self.labeler = load_labeler(checkpoint, tokenizer, device=device, batch_size=batch_size)
        self.radgraph = RadGraphMetric(model_dir=radgraph_dir, device=device, progress=progress)
        self.progress = progress

    def components(self, hypotheses: Sequence[str], references: Sequence[str]) -> np.ndarray:
        """(n, 4) RadCliQ-v1 inputs in `COLUMNS` order."""
        from xraybench.metrics.semb import semb_scores

        if len(hypotheses) != len(references):
            raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
        unique = list(dict.fromkeys(t for t in [*hypotheses, *references] if t.strip()))
        annotations = dict(zip(unique, self.radgraph.annotate(unique), strict=True))
        radgraph = [
            radgraph_combined(annotations.get(h), annotations.get(r))
            for h, r in zip(hypotheses, references, strict=True)
        ]
        spaced_h = [re.sub(r" +", " ", h) for h in hypotheses]  # CXR-Report-Metric's only BERTScore preprocessing
        spaced_r = [re.sub(r" +", " ", r) for r in references]
        bert_f = self.bertscore.compute(spaced_h, [[r] for r in spaced_r])[:, 2]
        if self.rescale_f is not None:
            bert_f = (bert_f.astype(np.float32) - np.float32(self.rescale_f)) / (1 - np.float32(self.rescale_f))
        semb = semb_scores(self.labeler, hypotheses, references, self.progress)
        bleu = bleu2_scores(hypotheses, references)
        return np.column_stack([radgraph, np.asarray(bert_f, dtype=np.float64), semb, bleu])

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        if len(samples) != len(predictions):
            raise ValueError(f"{len(samples)} samples but {len(predictions)} predictions")
        parts = self.components([p.answer or "" for p in predictions], [s.reference or "" for s in samples])
        details = {"variant": "CXR-Report-Metric RadCliQ-v1", "bertscore": self.bertscore.model_name}
        out = {"radcliq_v1": Scores.mean("radcliq_v1", radcliq_v1(parts), **details)}
        for k, column in enumerate(COLUMNS):
            name = f"radcliq_{column}"
            out[name] = Scores.mean(name, parts[:, k], **details)
        return out
