"""SembScore: cosine similarity of the CheXbert embeddings of a generated and a reference report.

As CXR-Report-Metric computes it (Yu et al. 2023, the s_emb input of RadCliQ): each report goes through CheXbert
(`chexbert.pth`) prepared as CheXbert labels it (whitespace collapsed, WordPiece, [CLS] ... [SEP], 512 tokens at
most); its embedding is the [CLS] vector of BERT's last layer, before dropout and the label heads; the score of a
pair is `(g * p).sum() / (|g| * |p|)`, the corpus value the mean over pairs. One reference per sample (the sample's
`reference`), as CXR-Report-Metric pairs one ground-truth report with each prediction. A zero embedding (never seen
from a real BERT) scores 0, as RadEval does, rather than NaN.

The weights are CheXbert's, found as the `chexbert` metric finds them (`xraybench weights fetch chexbert`, the
option `checkpoint` / XRAYBENCH_CHEXBERT_CHECKPOINT, the tokenizer option / XRAYBENCH_CHEXBERT_TOKENIZER).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xraybench.metrics.base import MetricSpec, Scores
from xraybench.metrics.chexbert import ChexbertLabeler, load_labeler
from xraybench.records import Prediction, Sample


def cosine_rows(hyps: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two (n, d) arrays; 0 where either row is zero."""
    dot = np.einsum("nd,nd->n", hyps.astype(np.float64), refs.astype(np.float64))
    norms = np.linalg.norm(hyps.astype(np.float64), axis=1) * np.linalg.norm(refs.astype(np.float64), axis=1)
    return np.divide(dot, norms, out=np.zeros_like(dot), where=norms > 0)


def semb_scores(
    labeler: ChexbertLabeler, hypotheses: Sequence[str], references: Sequence[str], progress: bool = False
) -> np.ndarray:
    """Per pair, the cosine of the two reports' CheXbert [CLS] embeddings; each distinct text embedded once."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    unique = list(dict.fromkeys([*hypotheses, *references]))
    vectors = dict(zip(unique, (e.numpy() for e in labeler.embeddings(unique, progress)), strict=True))
    width = labeler.bert.config.hidden_size
    hyp = np.stack([vectors[t] for t in hypotheses]) if hypotheses else np.zeros((0, width))
    ref = np.stack([vectors[t] for t in references]) if references else np.zeros((0, width))
    return cosine_rows(hyp, ref)


class SembScoreMetric:
    """SembScore (CXR-Report-Metric's s_emb): CheXbert embedding cosine, mean over samples."""

    name = "semb_score"
    spec = MetricSpec(kinds=("report",), headline=("semb_score",), options={"progress": "progress"})

    def __init__(
        self,
        checkpoint: str | None = None,
        tokenizer: str | None = None,
        batch_size: int = 32,
        device: str | None = None,
        progress: bool = True,
    ):
        self.labeler = load_labeler(checkpoint, tokenizer, device=device, batch_size=batch_size)
        self.progress = progress

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        if len(samples) != len(predictions):
            raise ValueError(f"{len(samples)} samples but {len(predictions)} predictions")
        values = semb_scores(
            self.labeler, [p.answer or "" for p in predictions], [s.reference or "" for s in samples], self.progress
        )
        return {"semb_score": Scores.mean("semb_score", values, encoder="CheXbert [CLS]", reference="first")}
