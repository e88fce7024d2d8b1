"""Benchmark: Bradley–Terry ratings with 1,000 study-bootstrap rounds, 20 models x 100k battles, 5k studies.

Ours: `arena.ratings.compute_ratings` (point fit, bootstrap CIs, matrices, rank ranges, online Elo).
Anchor, measured in the same run: a straightforward implementation as Chatbot Arena does it, one
scikit-learn `LogisticRegression` (lbfgs, C=inf i.e. no penalty, no intercept) per bootstrap round on the per-battle
design matrix (+1 for model a, -1 for model b; a battle is two rows, a win and a loss, weighted by its score,
so a tie is half a win each way; the round's resampled study multiplicities are sample weights). It runs
`--ref-rounds` rounds and is extrapolated to 1,000.

    .venv/bin/python benchmarks/ratings/run.py [--ref-rounds 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from arena.battles import Battles
from arena.ratings import bradley_terry, compute_ratings

MODELS, BATTLES, STUDIES, ROUNDS = 20, 100_000, 5_000, 1_000
FACTOR = 400 / math.log(10)


def simulate(seed: int = 0) -> Battles:
    rng = np.random.default_rng(seed)
    strengths = rng.normal(0, 0.8, MODELS)
    a = rng.integers(0, MODELS, BATTLES)
    b = (a + rng.integers(1, MODELS, BATTLES)) % MODELS
    win = rng.random(BATTLES) < 1 / (1 + np.exp(-(strengths[a] - strengths[b])))
    score = np.where(rng.random(BATTLES) < 0.15, 0.5, win.astype(float))
    study = rng.integers(0, STUDIES, BATTLES)
    names = tuple(f"model-{i:02d}" for i in range(MODELS))
    return Battles(names, a, b, score, study, tuple(f"study-{i}" for i in range(STUDIES)))


def sklearn_fit(battles: Battles, weights: np.ndarray) -> np.ndarray:
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    n, m = len(battles), len(battles.models)
    rows = np.arange(n)
    design = sparse.csr_matrix(
        (np.r_[np.ones(n), -np.ones(n)], (np.r_[rows, rows], np.r_[battles.a, battles.b])), shape=(n, m)
    )
    x = sparse.vstack([design, design]).tocsr()
    y = np.r_[np.ones(n), np.zeros(n)]
    w = np.r_[battles.score, 1.0 - battles.score] * np.r_[weights, weights]
    model = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-6, max_iter=1000)  # C=inf: no penalty
    model.fit(x, y, sample_weight=w)
    coef = model.coef_[0]
    return 1000.0 + FACTOR * (coef - coef[0])


def reference_bootstrap(battles: Battles, rounds: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(rounds):
        picks = rng.integers(0, STUDIES, STUDIES)
        multiplicity = np.bincount(picks, minlength=STUDIES)
        out.append(sklearn_fit(battles, multiplicity[battles.study].astype(float)))
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref-rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    battles = simulate()
    print(f"{MODELS} models, {BATTLES} battles, {STUDIES} studies, {ROUNDS} bootstrap rounds")

    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = compute_ratings(battles, rounds=ROUNDS, seed=0)
        times.append(time.perf_counter() - start)
    ours = min(times)
    start = time.perf_counter()
    bradley_terry(battles)
    point_ours = time.perf_counter() - start
    print(
        f"ours: compute_ratings best of {args.repeat}: {ours:.3f} s (runs: "
        f"{', '.join(f'{t:.3f}' for t in times)}); point fit alone {point_ours * 1000:.1f} ms"
    )

    sklearn_fit(battles, np.ones(len(battles)))  # warm-up: imports and first-call costs are not timed
    start = time.perf_counter()
    ref_point = sklearn_fit(battles, np.ones(len(battles)))
    ref_point_s = time.perf_counter() - start
    start = time.perf_counter()
    reference_bootstrap(battles, args.ref_rounds, seed=0)
    ref_round = (time.perf_counter() - start) / args.ref_rounds
    ref_total = ref_point_s + ROUNDS * ref_round
    print(
        f"reference (scikit-learn per round): point fit {ref_point_s:.3f} s, {ref_round:.3f} s per round over "
        f"{args.ref_rounds} rounds -> {ref_total:.1f} s for {ROUNDS} rounds (extrapolated)"
    )
    print(f"ratio: {ref_total / ours:.0f}x faster (goal: ours <= 2 s: {'met' if ours <= 2 else 'NOT met'})")
    print(
        f"max |rating difference| ours vs scikit-learn point fit: {np.abs(result.rating - ref_point).max():.2e} "
        f"(scikit-learn stops at tol 1e-6)"
    )
    print(f"mean 95% CI width {np.mean(result.ci_high - result.ci_low):.1f} rating points")


if __name__ == "__main__":
    main()
