"""Benchmark: judgments the adaptive schedule needs to recover the true ranking, against the full matrix.

Simulated arenas with known strengths: adjacent models are `--gap-min`..`--gap-max` Elo apart (uniform), each
study shifts each model by N(0, `STUDY_SD`) logits (case difficulty suits some models), the judge adds
N(0, `JUDGE_SD`) logit noise per judgment and answers "tie" 15% of the time, otherwise model a wins with the
resulting Bradley–Terry probability. Every (pair, study) outcome is drawn once per seed, so both schedules
see the same judge.

Measure: after every batch of `--batch` judgments, Bradley–Terry ratings (prior 1 virtual tie per pair, so
they exist from the first battle) are compared with the true order by Kendall tau; "judgments needed" is
the first checkpoint from which tau stays >= 0.95 until the end of the run. The anchor, in the same run, is
the full matrix (every pair x every study) judged in a random order; the adaptive run goes until
`AdaptiveScheduler.done` (ranking separated or budget spent). Prints per-arena means over seeds and the
adaptive / full ratio (goal <= 40%).

    .venv/bin/python benchmarks/arena_schedule/run.py [--seeds 5] [--batch 16]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from arena.battles import Battles
from arena.ratings import bradley_terry
from arena.schedule import AdaptiveScheduler, full_schedule

FACTOR = 400 / math.log(10)
TIE, STUDY_SD, JUDGE_SD, TARGET = 0.15, 0.3, 0.3, 0.95


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

    def judge(self, a: str, b: str, study: str) -> tuple[int, int, int, float]:
        i, j, s = self.index[a], self.index[b], self.study_index[study]
        return i, j, s, float(self.score[s, i, j])

    def battles(self, rows: list[tuple[int, int, int, float]]) -> Battles:
        arr = np.array(rows, dtype=np.float64)
        return Battles(
            self.models, arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 3], arr[:, 2].astype(np.int64),
            self.studies,
        )  # fmt: skip

    def tau(self, battles: Battles) -> float:
        """Kendall tau-a between fitted ratings and true strengths."""
        ratings = bradley_terry(battles, prior=1.0)
        est = np.array([ratings[name] for name in self.models])
        i, j = np.triu_indices(len(self.models), 1)
        return float(np.mean(np.sign(est[i] - est[j]) * np.sign(self.strength[i] - self.strength[j])))


def needed(checkpoints: list[int], taus: list[float]) -> int | None:
    """First checkpoint from which tau stays >= TARGET to the end of the run (None: never)."""
    result = None
    for n, tau in zip(reversed(checkpoints), reversed(taus), strict=True):
        if tau < TARGET:
            break
        result = n
    return result


def run_full(arena: Arena, seed: int, batch: int) -> tuple[int | None, int]:
    items = full_schedule(arena.models, arena.studies)
    order = np.random.default_rng(seed + 10_000).permutation(len(items))
    rows = [arena.judge(*items[k]) for k in order]
    marks = list(range(batch, len(rows), batch)) + [len(rows)]
    taus = [arena.tau(arena.battles(rows[:n])) for n in marks]
    return needed(marks, taus), len(rows)


def run_adaptive(arena: Arena, seed: int, batch: int) -> tuple[int | None, int, float, bool]:
    scheduler = AdaptiveScheduler(arena.models, arena.studies, seed=seed, batch_size=batch)
    rows: list[tuple[int, int, int, float]] = []
    marks: list[int] = []
    taus: list[float] = []
    battles = None
    while not scheduler.done(battles):
        rows += [arena.judge(*item) for item in scheduler.propose(battles)]
        battles = arena.battles(rows)
        marks.append(len(rows))
        taus.append(arena.tau(battles))
    return needed(marks, taus), len(rows), taus[-1], len(rows) < scheduler.budget


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--gap-min", type=float, default=30.0, help="smallest adjacent Elo gap")
    parser.add_argument("--gap-max", type=float, default=100.0, help="largest adjacent Elo gap")
    parser.add_argument("--arenas", default="8x300,12x400", help="MODELSxSTUDIES, comma-separated")
    args = parser.parse_args()
    totals = {"full": 0.0, "adaptive": 0.0}
    for spec in args.arenas.split(","):
        n_models, n_studies = (int(x) for x in spec.split("x"))
        print(
            f"\n{n_models} models x {n_studies} studies, gaps {args.gap_min:g}-{args.gap_max:g} Elo, {args.seeds} seeds"
        )
        full_n, adapt_n = [], []
        for seed in range(args.seeds):
            arena = Arena(n_models, n_studies, seed, args.gap_min, args.gap_max)
            t0 = time.perf_counter()
            f_need, f_total = run_full(arena, seed, args.batch)
            t1 = time.perf_counter()
            a_need, a_total, a_tau, a_sep = run_adaptive(arena, seed, args.batch)
            t2 = time.perf_counter()
            print(
                f"  seed {seed}: full {f_need}/{f_total} ({t1 - t0:.1f} s) | adaptive {a_need}, stopped at {a_total} "
                f"({'separated' if a_sep else 'budget'}, tau {a_tau:.3f}) ({t2 - t1:.1f} s)"
            )
            if f_need is not None:
                full_n.append(f_need)
                adapt_n.append(a_need if a_need is not None else a_total)
        if not full_n:
            print("  full matrix never reached tau >= 0.95: no ratio")
            continue
        f_mean, a_mean = float(np.mean(full_n)), float(np.mean(adapt_n))
        totals["full"] += f_mean
        totals["adaptive"] += a_mean
        print(
            f"  mean judgments to tau >= {TARGET}: full {f_mean:.0f}, adaptive {a_mean:.0f}, ratio {a_mean / f_mean:.1%}"
        )
    if totals["full"]:
        print(f"\noverall adaptive / full: {totals['adaptive'] / totals['full']:.1%} (goal <= 40%)")


if __name__ == "__main__":
    main()
