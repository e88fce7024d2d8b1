"""Metrics as judges of human-rated pairs (`judge-audit --metrics`) vote by each score's own direction: one metric
may emit a score that rises with a better report and an error count that falls (GREEN, CRIMSON), so the second must
vote for the report with fewer errors, not more. On the preference fixtures of tests/arena/test_preferences.py."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from arena.preferences import load_preferences, metric_votes
from xraybench.metrics import METRICS, MetricSpec, Scores
from xraybench.records import Prediction, Sample

HERE = Path(__file__).parent / "preference_files"


class WordMatch:
    """Per report: the share of reference words it contains (higher is better) and the count of reference words it
    misses (lower is better), as GREEN's score beside its error counts."""

    name = "word_match"
    spec = MetricSpec(kinds=("report",), headline=("word_match", "word_match_missed"),
                      directions={"word_match_missed": "lower", "word_match_length": "none"})  # fmt: skip

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        shares, missed, lengths = [], [], []
        for sample, prediction in zip(samples, predictions, strict=True):
            ref, hyp = set(sample.reference.lower().split()), set((prediction.answer or "").lower().split())
            shares.append(len(ref & hyp) / len(ref))
            missed.append(len(ref - hyp))
            lengths.append(len(hyp))
        return {"word_match": Scores.mean("word_match", shares), "word_match_missed": Scores.mean("word_match_missed", missed),
                "word_match_length": Scores.mean("word_match_length", lengths)}  # fmt: skip


def test_each_score_votes_in_its_own_direction() -> None:
    pairs = load_preferences(HERE / "pairs.json", [HERE / f"rater_{i}.json" for i in (1, 2, 3)]).pairs
    with METRICS.scoped():
        METRICS.register("word_match", WordMatch)
        votes = metric_votes(pairs, "word_match")
    decided = {pid: v for pid, v in votes["word_match"].items() if v}
    assert decided  # the fixtures' candidates differ in their reference words
    for pair in pairs:
        ref = set(pair.reference.lower().split())
        missed = [len(ref - set(text.lower().split())) for text in (pair.first, pair.second)]
        fewer_missed = 0 if missed[0] == missed[1] else (1 if missed[0] < missed[1] else -1)
        # the report that misses fewer reference words wins on the error count, as it wins on the share
        assert votes["word_match_missed"][pair.id] == fewer_missed
        assert votes["word_match"][pair.id] == fewer_missed
    assert "word_match_length" not in votes  # a count without a direction prefers no report
