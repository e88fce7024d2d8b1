"""Benchmark: judgments the adaptive schedule needs to recover the true ranking, against the full matrix.

Simulated arenas with known strengths: adjacent models are `--gap-min`..`--gap-max` Elo apart (uniform), each
study shifts each model by N(0, `STUDY_SD`) logits (case difficulty suits some models), the judge adds
N(0, `JUDGE_SD`) logit noise per judgment and answers "tie" 15% of the time, otherwise model a wins with the
resulting Bradley–Terry probability. Every (pair, study) outcome is drawn once per seed, so both schedules
see the same judge. One outcome per (pair, study) is what `arena.judging` gives the scheduler: it judges
both orders of a proposed comparison and stores one battle (an order flip is a tie).

Measure: after every batch of `--batch` judgments, the Bradley–Terry ratings that `arena leaderboard`
reports by default (plain MLE; `--prior 1` adds a virtual tie per pair, as this benchmark did before session 4)
are compared with the true order by Kendall tau (a checkpoint whose MLE is infinite is below the target);
"judgments needed" is the first checkpoint from which tau stays >= 0.95 until the end of the run. The
anchor, in the same run, is the full matrix (every pair x every study) judged in a random order; the
adaptive run goes until `AdaptiveScheduler.done` (ranking separated or budget spent). Per arena: mean
judgments needed over the seeds, the ratio of the means adaptive / full (goal <= 40%) with a 95% bootstrap interval over seeds, and,
for the runs the stopping rule ended, tau at the stop against the true order and against the order of the
whole matrix (the ranking `full` would finally report). A seed where even the whole matrix does not stay
at tau >= 0.95 has no "needed" for `full` and is left out of the ratio (counted and shown); an adaptive run
that ends below tau 0.95 (a wrong stop, or a spent budget) counts as needing the whole matrix.

Yardstick (`design_bound`): the judgments the best fixed allocation needs when it knows the true strengths,
as a fraction of the full matrix's, under the Laplace approximation with "every adjacent gap >= 2 standard
errors" as the criterion and at most one judgment per (pair, study). No schedule that has to learn the
strengths can expect to beat it by much; where few studies cap the closest pair, it is near the goal itself.

    .venv/bin/python benchmarks/arena_schedule/run.py [--seeds 100] [--first-seed 0] [--batch 16] \
        [--arenas 8x300,12x400,8x1000] [--jobs 2] [--json FILE] [--prior 0] [--lag K]

Reported numbers use seeds 0-199 (`--seeds 200`, or two runs of 100 pooled); candidate schedules were
compared on paired seeds from 100 up, and none was adopted. The per-seed measure is a hitting time and very
noisy: 12 seeds cannot tell apart schedules that differ by less than ~25%, one block of 100 seeds differs
from the next by up to a quarter, and even 200 give a ratio interval of about ±15% of its value.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from contextlib import nullcontext
from multiprocessing.pool import Pool
from pathlib import Path

import numpy as np

from arena.adaptive import AdaptiveScheduler
from arena.battles import Battles
from arena.ratings import _newton, _reachable_all, bradley_terry
from arena.schedule import full_schedule

FACTOR = 400 / math.log(10)
TIE, STUDY_SD, JUDGE_SD, TARGET = 0.15, 0.3, 0.3, 0.95

Row = tuple[int, int, int, float]


class Arena:
    """Known strengths and one pre-drawn judge outcome per (pair, study)."""

    def __init__(self, n_models: int, n_studies: int, seed: int, gap_min: float, gap_max: float) -> None:
        rng = np.random.default_rng(seed)
        gaps = rng.uniform(gap_min, gap_max, n_models - 1) / FACTOR
        strength = np.concatenate([[0.0], np.cumsum(gaps)])
        self.models = tuple(f"model-{i:02d}" for i in rng.permutation(n_models))  # names do not give the order
        self.strength = strength
        self.studies = tuple(f"study-{i:04d}" for i in range(n_studies))
        self.index = {name: i for i, name in enumerate(self.models)}
        self.study_index = {name: i for i, name in enumerate(self.studies)}
        shift = rng.normal(0.0, STUDY_SD, (n_studies, n_models))
        eta = strength[:, None, None] - strength[None, :, None] + (shift.T[:, None, :] - shift.T[None, :, :])
        eta = eta + rng.normal(0.0, JUDGE_SD, eta.shape)
        win = (rng.random(eta.shape) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
        win = np.triu(np.moveaxis(win, 2, 0), 1)  # outcome drawn for i < j; j's view mirrors it
        win = win + np.swapaxes(1.0 - win, 1, 2) * np.triu(np.ones((n_models, n_models)), 1).T
        tie = np.triu(np.moveaxis(rng.random(eta.shape) < TIE, 2, 0), 1)
        tie = tie | np.swapaxes(tie, 1, 2)
        self.score = np.where(tie, 0.5, win)  # [study, i, j]: i's result against j

    def judge(self, a: str, b: str, study: str) -> Row:
        i, j, s = self.index[a], self.index[b], self.study_index[study]
        return i, j, s, float(self.score[s, i, j])

    def battles(self, rows: list[Row]) -> Battles:
        arr = np.array(rows, dtype=np.float64)
        return Battles(
            self.models, arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 3], arr[:, 2].astype(np.int64),
            self.studies,
        )  # fmt: skip

    def strengths_at(self, rows: list[Row], marks: list[int], prior: float = 0.0) -> np.ndarray:
        """Bradley–Terry strengths after the first n rows, for every n in `marks`: (len(marks), m).

        `prior` virtual ties per pair; with 0 (what `arena leaderboard` reports by default) the plain MLE, and
        NaN where it is infinite (some group of models never lost, or never won, against the rest).
        One batched solve over all checkpoints with `arena.ratings`' own Newton (the full matrix has ~1,650
        checkpoints on 12 models); `bradley_terry` on the last checkpoint is the cross-check.
        """
        m = len(self.models)
        arr = np.array(rows, dtype=np.float64)
        i, j, score = arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 3]
        steps = np.zeros((len(rows), m * m))
        np.add.at(steps, (np.arange(len(rows)), i * m + j), score)
        np.add.at(steps, (np.arange(len(rows)), j * m + i), 1.0 - score)
        wins = np.cumsum(steps, axis=0)[np.array(marks) - 1].reshape(-1, m, m) + prior / 2 * (1.0 - np.eye(m))
        finite = _reachable_all(wins)  # the leaderboard's own finiteness test and solver
        theta = _newton(wins[finite], anchor=0) if finite.any() else np.zeros((0, m))
        out = np.full((len(marks), m), np.nan)
        out[finite] = theta
        if finite[-1]:
            check = bradley_terry(self.battles(rows[: marks[-1]]), prior=prior)
            expect = (np.array([check[name] for name in self.models]) - 1000.0) / FACTOR
            assert np.allclose(out[-1] - out[-1, 0], expect, atol=1e-6), "batched fit disagrees with bradley_terry"
        return out


def kendall(est: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Kendall tau-a of each row of `est` (or `est` itself) against `truth`."""
    i, j = np.triu_indices(len(truth), 1)
    est = np.atleast_2d(est)
    return np.mean(np.sign(est[:, i] - est[:, j]) * np.sign(truth[i] - truth[j]), axis=1)


def needed(checkpoints: list[int], taus: np.ndarray) -> int | None:
    """First checkpoint from which tau stays >= TARGET to the end of the run (None: never)."""
    result = None
    for n, tau in zip(reversed(checkpoints), reversed(taus.tolist()), strict=True):
        if not tau >= TARGET:  # NaN (no finite fit yet) is below
            break
        result = n
    return result


def run_full(arena: Arena, seed: int, batch: int, prior: float = 0.0) -> tuple[int | None, np.ndarray]:
    """Judgments the randomly ordered full matrix needs, and its final strengths."""
    items = full_schedule(arena.models, arena.studies)
    order = np.random.default_rng(seed + 10_000).permutation(len(items))
    rows = [arena.judge(*items[k]) for k in order]
    marks = list(range(batch, len(rows), batch)) + [len(rows)]
    theta = arena.strengths_at(rows, marks, prior)
    return needed(marks, kendall(theta, arena.strength)), theta[-1]


def run_adaptive(
    arena: Arena, seed: int, batch: int, lag: int = 0, prior: float = 0.0
) -> tuple[int | None, int, np.ndarray, bool]:
    """Judgments the adaptive schedule needs, where it stopped, its final strengths, and whether it separated.

    `lag`: comparisons still in flight whenever the next batch is proposed (`arena judge --max-in-flight`
    with a pool busy enough to keep that many outstanding); 0 is the round-by-round loop. As in
    `arena.judging`, when the scheduler is done (or has nothing left to propose) with comparisons in flight,
    those are judged and it looks again.
    """
    scheduler = AdaptiveScheduler(arena.models, arena.studies, seed=seed, batch_size=batch)
    proposed: list[tuple[str, str, str]] = []
    rows: list[Row] = []
    marks: list[int] = []
    n_judged = 0
    while True:
        battles = arena.battles(rows[:n_judged]) if n_judged else None
        new = [] if scheduler.done(battles) else scheduler.propose(battles, pending=proposed[n_judged:])
        if not new:
            if n_judged == len(proposed):
                break
            n_judged = len(proposed)  # wait for what is in flight, then look again
        else:
            proposed += new
            rows += [arena.judge(*item) for item in new]
            n_judged = max(len(proposed) - lag, 0)
        if n_judged and (not marks or marks[-1] != n_judged):
            marks.append(n_judged)
    theta = arena.strengths_at(rows, marks, prior)
    separated = len(rows) < scheduler.budget and scheduler.separated(arena.battles(rows))
    return needed(marks, kendall(theta, arena.strength)), len(rows), theta[-1], separated


def design_bound(strength: np.ndarray, n_studies: int, z: float = 2.0) -> tuple[float, float]:
    """Judgments the best fixed design needs when it knows the true strengths, and those the full matrix needs.

    A yardstick, not a schedule: under the Laplace approximation (information p(1-p) per judgment, times the
    non-tie rate), "resolved" means every adjacent gap is at least `z` standard errors. The full matrix
    spends its judgments evenly over the pairs; the best design chooses how many judgments each pair gets (at
    most `n_studies`) to minimise the total, a convex problem solved with SLSQP. The ratio of the two is what
    an omniscient allocation could save; an adaptive schedule has to learn the strengths first.
    """
    from scipy.optimize import minimize

    m = len(strength)
    order = np.argsort(strength)
    gap = np.diff(strength[order])
    i, j = np.triu_indices(m, 1)
    p = 1.0 / (1.0 + np.exp(-(strength[i] - strength[j])))
    info = p * (1.0 - p) * (1.0 - TIE)
    u = np.eye(m)[i] - np.eye(m)[j]
    adjacent = np.eye(m)[order[:-1]] - np.eye(m)[order[1:]]
    centre = np.ones((m, m)) / m  # fixes the free location; differences are unaffected

    def need(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each adjacent gap's (standard errors / (gap / z))^2 (<= 1: resolved) and its gradient in the counts."""
        cov = np.linalg.inv((u.T * (info * counts)) @ u + centre)
        along = adjacent @ cov @ u.T  # (gaps, pairs)
        scale = z**2 / gap**2
        return scale * np.einsum("ki,ij,kj->k", adjacent, cov, adjacent), -scale[:, None] * along**2 * info

    full = len(i) * float(need(np.ones(len(i)))[0].max())
    if full > len(i) * n_studies:
        return math.nan, full  # not even the whole matrix resolves every gap: no yardstick for this arena
    # at least 0.01 judgments per pair (0.3-0.7 in all) keeps the information matrix well conditioned
    start = np.full(len(i), 1.0 / len(i))  # the full matrix itself: feasible, on the boundary
    best = math.inf
    for _ in range(3):  # SLSQP sometimes stops early ("positive directional derivative"); restart where it stopped
        fit = minimize(
            lambda x: x.sum(), start, jac=lambda x: np.ones_like(x), method="SLSQP",
            constraints=[{
                "type": "ineq", "fun": lambda x: 1.0 - need(x * full)[0], "jac": lambda x: -need(x * full)[1] * full,
            }],
            bounds=[(0.01 / full, n_studies / full)] * len(i), options={"maxiter": 500, "ftol": 1e-10},
        )  # fmt: skip
        # where it stops a hair outside the constraints, scaling every count by the worst gap's excess makes the
        # design feasible (variances scale as 1 / count): the yardstick is always a design that resolves every gap
        counts = fit.x * full * max(1.0, float(need(fit.x * full)[0].max()))
        if counts.max() <= n_studies * (1 + 1e-6):
            best = min(best, float(counts.sum()))
        if fit.success:
            break
        start = fit.x
    if math.isinf(best):
        raise RuntimeError(f"no allocation of at most {n_studies} judgments per pair resolves every gap: {fit.message}")
    return best, full


def ratio_ci(full: np.ndarray, adaptive: np.ndarray, rounds: int = 10_000) -> tuple[float, float]:
    """95% percentile interval of mean(adaptive) / mean(full) over seeds resampled with replacement."""
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(full), (rounds, len(full)))
    ratios = adaptive[pick].mean(axis=1) / full[pick].mean(axis=1)
    return float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5))


def run_seed(job: tuple[int, int, int, argparse.Namespace]) -> dict[str, object]:
    """Both schedules on one simulated arena; a plain dict so worker processes can return it."""
    n_models, n_studies, seed, args = job
    arena = Arena(n_models, n_studies, seed, args.gap_min, args.gap_max)
    t0 = time.perf_counter()
    f_need, f_theta = run_full(arena, seed, args.batch, args.prior)
    t1 = time.perf_counter()
    a_need, a_total, a_theta, a_sep = run_adaptive(arena, seed, args.batch, args.lag, args.prior)
    t2 = time.perf_counter()
    best, even = design_bound(arena.strength, n_studies)
    return {
        "seed": seed, "full_need": f_need, "adaptive_need": a_need, "adaptive_stop": a_total, "separated": a_sep,
        "tau_true": float(kendall(a_theta, arena.strength)[0]), "tau_full": float(kendall(a_theta, f_theta)[0]),
        "full_s": t1 - t0, "adaptive_s": t2 - t1, "design_best": best, "design_full": even,
    }  # fmt: skip


def bench_arena(n_models: int, n_studies: int, args: argparse.Namespace, pool: Pool | None) -> dict[str, object]:
    seeds = f"{args.seeds} seeds from {args.first_seed}" + (
        f", adaptive proposing {args.lag} behind" if args.lag else ""
    )
    print(f"\n{n_models} models x {n_studies} studies, gaps {args.gap_min:g}-{args.gap_max:g} Elo, {seeds}")
    n_full = n_models * (n_models - 1) // 2 * n_studies
    jobs = [(n_models, n_studies, seed, args) for seed in range(args.first_seed, args.first_seed + args.seeds)]
    results = list(pool.imap(run_seed, jobs) if pool is not None else map(run_seed, jobs))
    full_n: list[int] = []
    adapt_n: list[int] = []
    stops: list[tuple[int, float, float]] = []
    for r in results:
        print(
            f"  seed {r['seed']:3d}: full {r['full_need']}/{n_full} ({r['full_s']:.1f} s) | adaptive "
            f"{r['adaptive_need']}, stopped at {r['adaptive_stop']} ({'separated' if r['separated'] else 'budget'}, "
            f"tau {r['tau_true']:.3f} vs truth, {r['tau_full']:.3f} vs full matrix) ({r['adaptive_s']:.1f} s)"
        )
        if r["separated"]:
            stops.append((r["adaptive_stop"], r["tau_true"], r["tau_full"]))  # type: ignore[arg-type]
        if r["full_need"] is not None:
            full_n.append(r["full_need"])  # type: ignore[arg-type]
            # a run that ends below the target (a wrong stop, or a spent budget) needed the whole matrix
            adapt_n.append(r["adaptive_need"] if r["adaptive_need"] is not None else n_full)  # type: ignore[arg-type]
    summary: dict[str, object] = {"arena": f"{n_models}x{n_studies}", "n_full": n_full, "seeds": results}
    left_out = args.seeds - len(full_n)
    if not full_n:
        print("  the full matrix never stayed at tau >= 0.95: no ratio")
        return summary
    full, adaptive = np.array(full_n, dtype=float), np.array(adapt_n, dtype=float)
    lo, hi = ratio_ci(full, adaptive)
    summary.update(
        ratio=adaptive.mean() / full.mean(), ci=[lo, hi], full_mean=full.mean(), adaptive_mean=adaptive.mean()
    )
    print(
        f"  mean judgments to tau >= {TARGET} over {len(full)} seeds ({left_out} left out): full {full.mean():.0f}, "
        f"adaptive {adaptive.mean():.0f}, ratio {adaptive.mean() / full.mean():.1%} (95% CI {lo:.1%}-{hi:.1%}); "
        f"per-seed median {np.median(adaptive / full):.1%}"
    )
    best = np.array([r["design_best"] for r in results if r["design_full"] <= n_full], dtype=float)
    even = np.array([r["design_full"] for r in results if r["design_full"] <= n_full], dtype=float)
    summary.update(design_ratio=best.mean() / even.mean())
    print(
        f"  yardstick: the best fixed design that knows the strengths needs {best.mean() / even.mean():.1%} of the "
        f"full matrix to put every adjacent gap at >= 2 standard errors ({len(best)} seeds where the matrix can)"
    )
    if stops:
        n, tt, tf = (np.array(x) for x in zip(*stops, strict=True))
        print(
            f"  separated in {len(stops)}/{args.seeds} runs, at {n.min():.0f}-{n.max():.0f} judgments "
            f"({n.min() / n_full:.0%}-{n.max() / n_full:.0%} of the matrix); tau at the stop: vs truth min "
            f"{tt.min():.3f}, vs the full matrix's order min {tf.min():.3f}"
        )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=0, help="first seed (held-out comparisons: 100)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument(
        "--prior", type=float, default=0.0,
        help="virtual ties per pair in the fit whose order is measured (0: the leaderboard's plain MLE; "
        "before session 4 the benchmark measured a fit with 1)",
    )  # fmt: skip
    parser.add_argument(
        "--lag", type=int, default=0, help="comparisons in flight when the adaptive schedule proposes (--max-in-flight)"
    )
    parser.add_argument("--gap-min", type=float, default=30.0, help="smallest adjacent Elo gap")
    parser.add_argument("--gap-max", type=float, default=100.0, help="largest adjacent Elo gap")
    parser.add_argument("--arenas", default="8x300,12x400,8x1000", help="MODELSxSTUDIES, comma-separated")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    parser.add_argument("--json", type=Path, help="also write every seed's numbers here")
    args = parser.parse_args()
    start = time.perf_counter()
    summaries = []
    with Pool(args.jobs) if args.jobs > 1 else nullcontext() as pool:
        for spec in args.arenas.split(","):
            n_models, n_studies = (int(x) for x in spec.split("x"))
            summaries.append(bench_arena(n_models, n_studies, args, pool))
    if args.json:
        args.json.write_text(json.dumps(summaries, indent=1))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
