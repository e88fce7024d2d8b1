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
    return kappa_from_table(confusion(x, y, categories))


def weighted_kappa(x: Sequence[str], y: Sequence[str], categories: Sequence[str], weights: str = "quadratic") -> float:
    """Cohen's weighted kappa (Cohen 1968) for ordered `categories`: disagreements cost (i - j)^2 ("quadratic") or
    |i - j| ("linear"), as scikit-learn's `cohen_kappa_score(weights=...)`; NaN when undefined."""
    return kappa_from_table(confusion(x, y, categories), weights)


def confusion(x: Sequence[str], y: Sequence[str], categories: Sequence[str]) -> np.ndarray:
    """The (categories x categories) count table of two raters' labels on the same items."""
    if len(x) != len(y):
        raise ValueError(f"kappa needs aligned ratings, got {len(x)} and {len(y)}")
    index = {c: i for i, c in enumerate(categories)}
    table = np.zeros((len(categories), len(categories)))
    for a, b in zip(x, y, strict=True):
        table[index[a], index[b]] += 1
    return table


def _disagreement(k: int, weights: str | None) -> np.ndarray:
    i, j = np.indices((k, k))
    if weights is None:
        return (i != j).astype(float)
    if weights == "linear":
        return np.abs(i - j).astype(float)
    if weights == "quadratic":
        return ((i - j) ** 2).astype(float)
    raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")


def kappa_from_table(table: np.ndarray, weights: str | None = None) -> float:
    """Cohen's kappa (weighted with `weights`) of a two-rater count table: 1 - observed / expected disagreement,
    the expected one from the two raters' marginals; NaN for an empty table or when no disagreement is expected."""
    table = np.asarray(table, dtype=float)
    total = table.sum()
    if total <= 0:
        return math.nan
    w = _disagreement(table.shape[0], weights)
    p = table / total
    observed = float((w * p).sum())
    expected = float((w * np.outer(p.sum(axis=1), p.sum(axis=0))).sum())
    return math.nan if expected <= 1e-15 else 1.0 - observed / expected


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


def coincidences(table: np.ndarray) -> np.ndarray:
    """Krippendorff's coincidence matrix of an (items x categories) count table: each item with m >= 2 values
    adds its ordered pairs of values from different raters, weighted 1 / (m - 1); items with fewer are left out."""
    table = np.asarray(table, dtype=float)
    raters = table.sum(axis=1)
    table, raters = table[raters >= 2], raters[raters >= 2]
    pairs = table[:, :, None] * table[:, None, :] - np.einsum("uc,ck->uck", table, np.eye(table.shape[1]))
    return np.asarray((pairs / (raters - 1)[:, None, None]).sum(axis=0))


def alpha_from_coincidences(o: np.ndarray, metric: str = "ordinal") -> float:
    """Krippendorff's alpha, 1 - (n - 1) sum(o * d) / sum(n_c n_k d), of a coincidence matrix `o` whose categories
    are in order; `metric`: nominal (d = [c != k]), ordinal (d = (sum of n_g for g from c to k - (n_c + n_k) / 2)^2)
    or interval (d = (c - k)^2 on the category positions). Krippendorff (2011), "Computing Krippendorff's
    Alpha-Reliability"; NaN when fewer than two pairable values or no disagreement is expected."""
    o = np.asarray(o, dtype=float)
    n_c = o.sum(axis=1)
    n = float(n_c.sum())
    if n <= 1:
        return math.nan
    k = len(n_c)
    if metric == "nominal":
        d = _disagreement(k, None)
    elif metric == "interval":
        d = _disagreement(k, "quadratic")
    elif metric == "ordinal":
        cum = np.concatenate([[0.0], np.cumsum(n_c)])
        lo, hi = np.minimum.outer(np.arange(k), np.arange(k)), np.maximum.outer(np.arange(k), np.arange(k))
        d = (cum[hi + 1] - cum[lo] - (n_c[:, None] + n_c[None, :]) / 2) ** 2
    else:
        raise ValueError(f"metric must be nominal, ordinal or interval, got {metric!r}")
    expected = float((np.outer(n_c, n_c) * d).sum())
    return math.nan if expected <= 1e-15 else 1.0 - (n - 1) * float((o * d).sum()) / expected


def krippendorff_alpha(table: np.ndarray, metric: str = "ordinal") -> float:
    """Krippendorff's alpha of an (items x categories) count table (categories in order; any number of raters per
    item, items with fewer than two values left out)."""
    return alpha_from_coincidences(coincidences(table), metric)


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
