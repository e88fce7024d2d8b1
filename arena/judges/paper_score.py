"""`metric:paper-score`: the paper's per-item answer score (`xraybench.metrics.answer_score`, word variant),
with the lexical thresholds (a difference of at least 0.20 is a strong win, of at least 0.05 a win)."""

from __future__ import annotations

from typing import Any

from arena.judges.local import Decision, Thresholds
from arena.judges.metric import MetricJudge, score_decision
from xraybench.metrics.answer_score import answer_score

PAPER_SCORE = Thresholds(strong=0.20, win=0.05)  # in answer score (0..1)


class PaperScoreJudge(MetricJudge):
    NAME = "metric:paper-score"
    THRESHOLDS = PAPER_SCORE

    def metric_params(self) -> dict[str, Any]:
        return {"paper_score": vars(self.thresholds), "variant": "word"}

    def decide(self, reference: str, text_a: str, text_b: str) -> Decision:
        a, b = answer_score(text_a, reference, "word"), answer_score(text_b, reference, "word")
        return score_decision(self, "answer score", a, b, self.thresholds)
