"""The metric interface: a metric scores aligned samples and predictions.

Every metric returns `Scores` objects that keep per-sample values and know how to re-aggregate any
resample of sample indices, so bootstrap CIs, per-category breakdowns and paired tests work the same
way for mean-of-samples metrics (accuracy) and corpus-level metrics (BLEU, CIDEr, METEOR).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal, Protocol

import numpy as np

from xraybench.records import Prediction, Sample, TaskKind

Aggregate = Callable[[np.ndarray], float]


@dataclass
class Scores:
    """One metric's result over a list of samples.

    `aggregate(indices)` returns the corpus value over the samples at `indices` (repeats allowed,
    as in a bootstrap resample). When it is None the corpus value is the mean of `per_sample`.
    `details` records how the value was computed (tokenizer mode, variant, thresholds...).
    """

    name: str
    value: float
    per_sample: np.ndarray
    aggregate: Aggregate | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def on(self, indices: Sequence[int] | np.ndarray) -> float:
        idx = np.asarray(indices, dtype=np.int64)
        if len(idx) == 0:
            return float("nan")
        if self.aggregate is not None:
            return float(self.aggregate(idx))
        return float(np.mean(self.per_sample[idx]))

    @classmethod
    def mean(cls, name: str, per_sample: Sequence[float] | np.ndarray, **details: Any) -> Scores:
        values = np.asarray(per_sample, dtype=np.float64)
        value = float(values.mean()) if len(values) else float("nan")
        return cls(name, value, values, None, dict(details))


# What a run can hand a metric's constructor: the metric picks what it needs in `MetricSpec.options`
# (constructor parameter -> one of these names), so no caller decides a metric's arguments by its name.
RUN_OPTIONS = {
    "tokenizer": "tokenization for lexical metrics (--tokenizer: coco | r2gen | raw)",
    "token_cache": "the token cache the lexical metrics of one task share (each text tokenized once)",
    "uncertain_as": "clinical efficacy: count uncertain labels as positive | negative (--uncertain-as)",
    "answer_variant": "the paper's answer score: word | paper (--answer-variant)",
    "progress": "show a progress bar (--progress)",
    "image_size": "the side the model's images were resized to, for box checks (--image-size)",
    "max_pixels": "the pixel budget the model's images were shrunk to, for box checks (the template's policy)",
}
TASK_KINDS: tuple[TaskKind, ...] = ("report", "vqa", "classification", "grounding")
# Which way a score improves: "higher" (F1, accuracy), "lower" (RadCliQ, error counts, failure rates) or "none"
# (a count that is neither better nor worse, e.g. boxes per answer). `xraybench compare`, published comparisons
# and preference votes read it through `MetricSpec.direction` / `xraybench.metrics.score_direction`.
Direction = Literal["higher", "lower", "none"]
DIRECTIONS: tuple[Direction, ...] = ("higher", "lower", "none")


@dataclass(frozen=True)
class MetricSpec:
    """What the rest of the package must know about a metric, declared on its class as `spec = MetricSpec(...)`.

    - `kinds`: the task kinds it scores; `--extra-metrics` adds it to tasks of these kinds only (a run with
      none of them is refused, other tasks list it as skipped with the reason).
    - `headline`: the score names the run table shows (None: the one score named like the metric).
    - `leaderboard`: the score names that become arena leaderboard columns.
    - `higher_is_better`: the direction of its scores (False for an error rate), every score it emits unless
      `directions` names it.
    - `directions`: score-name pattern (`fnmatch`, e.g. `green_errors_*`) -> "higher" | "lower" | "none", for the
      scores whose direction differs from `higher_is_better` (GREEN's error counts beside the GREEN score).
    - `scores`: patterns of the score names it emits, where they do not start with its name (`cls_*` of
      `classification`); a score is found to be this metric's by these, its name and `NAME_*`, its headline and
      leaderboard names and the `directions` patterns (`score_direction` in `xraybench.metrics`).
    - `options`: constructor parameter -> `RUN_OPTIONS` name, filled from the run's settings.
    """

    kinds: tuple[TaskKind, ...] = TASK_KINDS
    headline: tuple[str, ...] | None = None
    leaderboard: tuple[str, ...] = ()
    higher_is_better: bool = True
    options: Mapping[str, str] = field(default_factory=dict)
    directions: Mapping[str, Direction] = field(default_factory=dict)
    scores: tuple[str, ...] = ()

    def headline_for(self, metric: str) -> tuple[str, ...]:
        return (metric,) if self.headline is None else self.headline

    def direction(self, score: str) -> Direction:
        """Which way `score` improves: the first `directions` pattern it matches, else `higher_is_better`'s."""
        for pattern, direction in self.directions.items():
            if fnmatchcase(score, pattern):
                return direction
        return "higher" if self.higher_is_better else "lower"

    def emits(self, metric: str, score: str) -> bool:
        """Whether a score named `score` is one of this metric's (registered as `metric`)."""
        if score == metric or score.startswith(metric + "_") or score in self.headline_for(metric):
            return True
        return score in self.leaderboard or any(fnmatchcase(score, p) for p in (*self.scores, *self.directions))


LEXICAL_OPTIONS = {"tokenizer": "tokenizer", "cache": "token_cache"}  # what BLEU, METEOR, ROUGE-L, CIDEr take


def spec_of(metric_class: Any) -> MetricSpec:
    """A metric class's declaration; a class that declares none gets the defaults (scores every task kind,
    its score named like the metric is its headline)."""
    spec = getattr(metric_class, "spec", None)
    return MetricSpec() if spec is None else spec


def check_metric(name: str, target: Any) -> str | None:
    """The metric registry's contract: a class with `score`, whose `spec` (if any) is a `MetricSpec` naming
    known task kinds, constructor parameters it has and `RUN_OPTIONS` that exist."""
    if not inspect.isclass(target) or not callable(getattr(target, "score", None)):
        return f"expected a class with a score(samples, predictions) method, got {target!r}"
    spec = getattr(target, "spec", None)
    if spec is not None and not isinstance(spec, MetricSpec):
        return f"{target.__qualname__}.spec must be a MetricSpec, got {spec!r}"
    spec = spec_of(target)
    bad_kinds = [k for k in spec.kinds if k not in TASK_KINDS]
    if bad_kinds:
        return f"{target.__qualname__}.spec.kinds has {bad_kinds}; task kinds are {', '.join(TASK_KINDS)}"
    bad_directions = {p: d for p, d in spec.directions.items() if d not in DIRECTIONS}
    if bad_directions:
        return (
            f"{target.__qualname__}.spec.directions has {bad_directions}; a direction is one of {', '.join(DIRECTIONS)}"
        )
    params = inspect.signature(target).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for param, option in spec.options.items():
        if option not in RUN_OPTIONS:
            return f"{target.__qualname__}.spec.options maps {param!r} to unknown run option {option!r} (known: {', '.join(RUN_OPTIONS)})"
        if param not in params and not takes_any:
            return f"{target.__qualname__}.spec.options names {param!r}, which its constructor does not take"
    return None


class Metric(Protocol):
    """Scores aligned lists of samples and predictions; returns one or more named `Scores`."""

    name: str
    spec: MetricSpec

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]: ...
