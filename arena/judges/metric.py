"""The base of the offline `metric:` judges: reference-based proxies for a clinical judge.

They let the whole arena (judge, store, export, ratings, leaderboard) run without an API key, for free and
deterministically; every leaderboard that uses one says so (`arena.judges.is_metric_judge`). Each candidate is
scored against the reference on its own, so the verdict of (A, B) is exactly the mirror of (B, A): a metric
judge's order-flip rate is 0 by construction. The implementations: `arena.judges.clinical` (`metric:clinical`),
`arena.judges.lexical` (`metric:lexical`), `arena.judges.paper_score` (`metric:paper-score`).

The thresholds, the version and the labeler are part of the judge's `params`, so they are part of every
judgment key: changing them makes new judgments instead of mixing old and new decisions.
"""

from __future__ import annotations

from typing import Any

from arena.judges.local import Decision, LocalJudge, Thresholds, decision

VERSION = "1"
# Metric judges read no prompt, but their judgment keys were made with the LLM prompt's version of the time
# ("2"); it stays their key's prompt version so existing judgment stores resume without new decisions.
KEY_PROMPT_VERSION = "2"


class MetricJudge(LocalJudge):
    """A `metric:` judge: `metric_params` and `decide` come from the subclass."""

    prompt_version = KEY_PROMPT_VERSION

    @property
    def params(self) -> dict[str, Any]:
        return {"metric_judge_version": VERSION, **self.metric_params()}

    def metric_params(self) -> dict[str, Any]:
        return {}

    def header(self) -> str:
        return f"{self.name} (v{VERSION}), a reference-based proxy judge, not an LLM judgment."


def score_decision(judge: MetricJudge, what: str, a: float, b: float, thresholds: Thresholds) -> Decision:
    """The decision of a judge that scores each candidate alone (higher is better) and compares the scores."""
    lines = [
        judge.header(),
        f"{what}: A {a:.4f}, B {b:.4f}; difference {a - b:+.4f} "
        f"(strong win at >= {thresholds.strong}, win at >= {thresholds.win}).",
    ]
    return decision(lines, thresholds.level(a - b), [], [])
