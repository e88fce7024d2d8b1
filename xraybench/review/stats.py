"""Reader-study statistics: preference shares with case-bootstrap CIs, and inter-rater agreement.

Shares count every (reviewer, case) answer; the bootstrap resamples cases (with all their answers), because
cases, not clicks, are the independent units. Agreement is computed on model-mapped choices (A / B / tie),
never on left/right, since each reviewer saw their own random order.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from xraybench.review.store import Answer

OUTCOMES = ("A", "B", "tie")


@dataclass(frozen=True)
class Shares:
    """Shares of A / B / tie answers for one dimension, each with a 95% CI; `decisive_a` = A among non-ties."""

    n_answers: int
    n_cases: int
    share: dict[str, float]
    ci: dict[str, tuple[float, float]]
    decisive_a: float | None
    decisive_a_ci: tuple[float, float] | None


def _counts(answers: Sequence[Answer], dimension: str) -> tuple[list[str], np.ndarray]:
    """Case ids and a (cases x 3) matrix of A / B / tie answer counts."""
    cases: dict[str, np.ndarray] = {}
    for a in answers:
        if a.dimension == dimension:
            cases.setdefault(a.case_id, np.zeros(3, dtype=np.int64))[OUTCOMES.index(a.winner)] += 1
    ids = sorted(cases)
    return ids, np.array([cases[c] for c in ids], dtype=np.int64).reshape(len(ids), 3)


def _interval(values: np.ndarray) -> tuple[float, float]:
    values = values[~np.isnan(values)]
    if values.size == 0:
        return (math.nan, math.nan)
    low, high = np.percentile(values, [2.5, 97.5])
    return (float(low), float(high))


def preference_shares(answers: Sequence[Answer], dimension: str, *, rounds: int = 2000, seed: int = 0) -> Shares:
    ids, counts = _counts(answers, dimension)
    total = counts.sum(axis=0)
    n = int(total.sum())
    if n == 0:
        nan2 = (math.nan, math.nan)
        return Shares(0, 0, dict.fromkeys(OUTCOMES, math.nan), dict.fromkeys(OUTCOMES, nan2), None, None)
    share = {o: float(total[i] / n) for i, o in enumerate(OUTCOMES)}
    decisive = int(total[0] + total[1])
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(ids), size=(rounds, len(ids)))
    resampled = counts[picks].sum(axis=1).astype(float)  # rounds x 3
    sums = resampled.sum(axis=1, keepdims=True)
    ci = {o: _interval(resampled[:, i] / sums[:, 0]) for i, o in enumerate(OUTCOMES)}
    with np.errstate(invalid="ignore", divide="ignore"):
        decisive_rounds = resampled[:, 0] / (resampled[:, 0] + resampled[:, 1])
    return Shares(
        n_answers=n,
        n_cases=len(ids),
        share=share,
        ci=ci,
        decisive_a=float(total[0] / decisive) if decisive else None,
        decisive_a_ci=_interval(decisive_rounds) if decisive else None,
    )


def cohen_kappa(x: Sequence[str], y: Sequence[str], categories: Sequence[str] = OUTCOMES) -> float:
    """Cohen's kappa of two raters on the same items; NaN when chance agreement is total (both constant)."""
    if len(x) != len(y):
        raise ValueError(f"cohen_kappa needs aligned ratings, got {len(x)} and {len(y)}")
    if not x:
        return math.nan
    index = {c: i for i, c in enumerate(categories)}
    table = np.zeros((len(categories), len(categories)))
    for a, b in zip(x, y, strict=True):
        table[index[a], index[b]] += 1
    table /= table.sum()
    observed = float(np.trace(table))
    expected = float(table.sum(axis=1) @ table.sum(axis=0))
    return math.nan if expected >= 1.0 else (observed - expected) / (1.0 - expected)


def fleiss_kappa(table: np.ndarray) -> float:
    """Fleiss' kappa from an (items x categories) count table; items may have different rater counts
    (each item's agreement uses its own count), items with fewer than two ratings are left out."""
    table = np.asarray(table, dtype=float)
    raters = table.sum(axis=1)
    table, raters = table[raters >= 2], raters[raters >= 2]
    if table.shape[0] == 0:
        return math.nan
    per_item = ((table**2).sum(axis=1) - raters) / (raters * (raters - 1))
    p = table.sum(axis=0) / table.sum()
    expected = float((p**2).sum())
    return math.nan if expected >= 1.0 else (float(per_item.mean()) - expected) / (1.0 - expected)


@dataclass(frozen=True)
class Agreement:
    dimension: str
    fleiss: float
    n_items: int  # cases with at least two ratings
    pairs: dict[tuple[str, str], tuple[float, int]]  # (reviewer, reviewer) -> (Cohen's kappa, shared cases)


def agreement(answers: Sequence[Answer], dimension: str) -> Agreement:
    by_reviewer: dict[str, dict[str, str]] = {}
    for a in answers:
        if a.dimension == dimension:
            by_reviewer.setdefault(a.reviewer, {})[a.case_id] = a.winner
    pairs: dict[tuple[str, str], tuple[float, int]] = {}
    for r1, r2 in itertools.combinations(sorted(by_reviewer), 2):
        shared = sorted(set(by_reviewer[r1]) & set(by_reviewer[r2]))
        if shared:
            kappa = cohen_kappa([by_reviewer[r1][c] for c in shared], [by_reviewer[r2][c] for c in shared])
            pairs[(r1, r2)] = (kappa, len(shared))
    _, counts = _counts(answers, dimension)
    return Agreement(dimension, fleiss_kappa(counts), int((counts.sum(axis=1) >= 2).sum()), pairs)
