"""`metric:lexical`: lexical overlap only, the mean of ROUGE-L F1 (rouge-score's tokens, Porter-stemmed) and
smoothed sentence BLEU-4 (NLTK method 2) over normalised words: a difference of at least 0.20 is a strong win,
of at least 0.05 a win, else a tie."""

from __future__ import annotations

from typing import Any

from arena.judges.local import Decision, Thresholds
from arena.judges.metric import MetricJudge, score_decision
from xraybench.metrics.answer_score import BLEU4_WEIGHTS, sentence_bleu
from xraybench.metrics.normalize import normalize_text
from xraybench.metrics.rouge import rouge_score_f, rouge_score_tokens

LEXICAL = Thresholds(strong=0.20, win=0.05)  # in lexical score (0..1)


def lexical_score(candidate: str, reference: str) -> float:
    """Mean of ROUGE-L F1 (stemmed rouge-score tokens) and smoothed sentence BLEU-4 over normalised words."""
    rouge = rouge_score_f(rouge_score_tokens(candidate, True), [rouge_score_tokens(reference, True)])
    hyp, ref = normalize_text(candidate).split(), normalize_text(reference).split()
    bleu = sentence_bleu(hyp, ref, BLEU4_WEIGHTS) if hyp and ref else 0.0
    return (rouge + bleu) / 2


class LexicalJudge(MetricJudge):
    NAME = "metric:lexical"
    THRESHOLDS = LEXICAL

    def metric_params(self) -> dict[str, Any]:
        return {"lexical": vars(self.thresholds)}

    def decide(self, reference: str, text_a: str, text_b: str) -> Decision:
        a, b = lexical_score(text_a, reference), lexical_score(text_b, reference)
        return score_decision(self, "lexical score (mean of ROUGE-L F1 and BLEU-4)", a, b, self.thresholds)
