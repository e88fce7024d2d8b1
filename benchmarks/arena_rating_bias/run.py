"""Benchmark: are the arena's ratings unbiased, and do their 95% CIs cover the truth, under the adaptive schedule?

Why: `AdaptiveScheduler` spends judgments unevenly (close pairs get many, far pairs few) and stops once the ranking
is separated. lmarena reweights non-uniformly sampled battles by their inverse sampling probability (Arena-Rank's
composite Bradley–Terry); our scheduler is deterministic given the battles so far, so its choice depends only on
outcomes already seen and the likelihood is unchanged by it (the design is ignorable), which predicts that the
unweighted fit stays unbiased. This benchmark checks that prediction by simulation, against the full matrix as
the anchor in the same run.

Simulated arenas with known strengths: `--models` models, adjacent ones `--gap-min`..`--gap-max` Elo apart
(uniform), names shuffled (the anchor, the first name, sits anywhere in the order); `--studies` studies; one
judge outcome per (pair, study), drawn once per seed so both schedules see the same judge. The judge follows
Bradley–Terry exactly, with ties: a tie 15% of the time where that keeps P(a wins) + P(tie) / 2 = p_ab, so
the tie-as-half-a-win likelihood the arena fits has the true strengths as its target. (With study effects, which
make the marginal model's strengths differ from the latent ones, "the true strength" would be ill defined.)

Per arena: `full` (every pair x every study) and `adaptive` (until `AdaptiveScheduler.done`) are rated as the
leaderboard rates them (`compute_ratings`, prior `--prior` virtual ties per pair, default the leaderboard's, and
`--rounds` bootstrap rounds over studies) and compared with the true ratings relative to the anchor. Reported:
battles used; mean signed error (bias) with a 95% interval over arenas, per true-rank position and pooled; RMSE;
coverage of the 95% bootstrap and sandwich intervals (share of non-anchor models whose interval holds the true
rating); mean interval width.

    .venv/bin/python benchmarks/arena_rating_bias/run.py [--arenas 200] [--models 8] [--studies 300] \
        [--prior 1] [--rounds 200] [--fixed-budget N] [--jobs 2] [--json FILE]
    .venv/bin/python benchmarks/arena_rating_bias/run.py --merge A.json B.json ...   # pool runs of other seeds

`--json` also keeps every arena's raw errors, so runs over disjoint seed ranges (each under the shared machine's
10-minute limit) are pooled with `--merge`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from multiprocessing.pool import Pool
from pathlib import Path

import numpy as np

from arena.adaptive import AdaptiveScheduler
from arena.battles import Battles
from arena.ratings import DEFAULT_PRIOR, compute_ratings
from arena.schedule import full_schedule

FACTOR = 400 / math.log(10)
TIE = 0.15


class Arena:
    """Known strengths and one pre-drawn outcome per (pair, study)."""

    def __init__(self, n_models: int, n_studies: int, seed: int, gap_min: float, gap_max: float) -> None:
        rng = np.random.default_rng(seed)
        gaps = rng.uniform(gap_min, gap_max, n_models - 1) / FACTOR
        strength = np.concatenate([[0.0], np.cumsum(gaps)])
        perm = rng.permutation(n_models)
        self.models = tuple(sorted(f"model-{i:02d}" for i in range(n_models)))
        self.strength = strength[perm]  # model-00 (the anchor) is at a random position in the true order
        self.studies = tuple(f"study-{i:04d}" for i in range(n_studies))
        self.index = {name: i for i, name in enumerate(self.models)}
        self.study_index = {name: i for i, name in enumerate(self.studies)}
        p = 1.0 / (1.0 + np.exp(-(self.strength[:, None] - self.strength[None, :])))
        tie = np.minimum(TIE, 2 * np.minimum(p, 1 - p))  # keeps P(win) + P(tie) / 2 = p
        u = rng.random((n_studies, n_models, n_models))
        score = np.where(u < p - tie / 2, 1.0, np.where(u > p + tie / 2, 0.0, 0.5))
        upper = np.triu(np.ones((n_models, n_models), dtype=bool), 1)
        self.score = np.where(upper, score, np.swapaxes(1.0 - score, 1, 2))  # [study, i, j]: i's result against j

    def battles(self, items: list[tuple[str, str, str]]) -> Battles:
        a = np.array([self.index[x] for x, _, _ in items], dtype=np.int64)
        b = np.array([self.index[y] for _, y, _ in items], dtype=np.int64)
        s = np.array([self.study_index[z] for _, _, z in items], dtype=np.int64)
        return Battles(self.models, a, b, self.score[s, a, b], s, self.studies)

    def truth(self) -> np.ndarray:
        """True ratings relative to the anchor (the first model), as the leaderboard reports them."""
        return 1000.0 + FACTOR * (self.strength - self.strength[0])


def adaptive_items(arena: Arena, seed: int, batch: int, fixed: int | None = None) -> list[tuple[str, str, str]]:
    """The adaptive schedule's comparisons until `done`; with `fixed`, exactly that many (no stopping rule)."""
    scheduler = AdaptiveScheduler(arena.models, arena.studies, seed=seed, batch_size=batch, budget=fixed)
    items: list[tuple[str, str, str]] = []
    while True:
        battles = arena.battles(items) if items else None
        if fixed is None and scheduler.done(battles):
            return items
        new = scheduler.propose(battles)
        if not new:
            return items
        items += new


def run_seed(job: tuple[int, argparse.Namespace]) -> dict[str, dict[str, list[float]]]:
    seed, args = job
    arena = Arena(args.models, args.studies, seed, args.gap_min, args.gap_max)
    truth = arena.truth()
    position = np.argsort(np.argsort(-arena.strength))  # 0 = best
    out: dict[str, dict[str, list[float]]] = {}
    schedules = {
        "full": full_schedule(arena.models, arena.studies),
        "adaptive": adaptive_items(arena, seed, args.batch, args.fixed_budget),
    }
    for name, items in schedules.items():
        rated = compute_ratings(arena.battles(items), rounds=args.rounds, seed=seed, prior=args.prior)
        free = np.arange(1, len(truth))  # the anchor is exact by construction
        err = rated.rating[free] - truth[free]
        boot = (rated.ci_low[free] <= truth[free]) & (truth[free] <= rated.ci_high[free])
        sand = (rated.sandwich_low[free] <= truth[free]) & (truth[free] <= rated.sandwich_high[free])  # type: ignore[index]
        out[name] = {
            "n": [float(len(items))],
            "err": err.tolist(),
            "position": position[free].astype(float).tolist(),
            "boot": boot.astype(float).tolist(),
            "sandwich": sand.astype(float).tolist(),
            "boot_width": (rated.ci_high - rated.ci_low)[free].tolist(),
            "sandwich_width": (rated.sandwich_high - rated.sandwich_low)[free].tolist(),  # type: ignore[operator]
        }
    return out


def mean_ci(values: np.ndarray) -> tuple[float, float]:
    """Mean and the half-width of its 95% normal interval."""
    return float(values.mean()), float(1.96 * values.std(ddof=1) / math.sqrt(len(values)))


def summarise(results: list[dict[str, dict[str, list[float]]]], n_models: int) -> dict[str, object]:
    summary: dict[str, object] = {}
    for name in ("full", "adaptive"):
        pooled = {k: np.concatenate([np.array(r[name][k]) for r in results]) for k in results[0][name]}
        per_arena_bias = np.array([np.mean(r[name]["err"]) for r in results])
        bias, half = mean_ci(per_arena_bias)
        by_position = {}
        for pos in range(n_models):
            sel = pooled["position"] == pos
            if sel.sum() > 1:
                mean, h = mean_ci(pooled["err"][sel])
                by_position[str(pos + 1)] = {"bias": mean, "ci_half": h, "n": int(sel.sum())}
        summary[name] = {
            "battles": float(pooled["n"].mean()),
            "bias": bias,
            "bias_ci_half": half,
            "rmse": float(np.sqrt((pooled["err"] ** 2).mean())),
            "coverage_bootstrap": float(pooled["boot"].mean()),
            "coverage_sandwich": float(pooled["sandwich"].mean()),
            "width_bootstrap": float(pooled["boot_width"].mean()),
            "width_sandwich": float(pooled["sandwich_width"].mean()),
            "bias_by_true_rank": by_position,
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--arenas", type=int, default=200)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--studies", type=int, default=300)
    parser.add_argument("--gap-min", type=float, default=30.0)
    parser.add_argument("--gap-max", type=float, default=100.0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--prior", type=float, default=DEFAULT_PRIOR)
    parser.add_argument("--rounds", type=int, default=200, help="bootstrap rounds of each rating (default 200)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--fixed-budget", type=int, default=None, metavar="N",
        help="adaptive choice of pairs without the stopping rule: exactly N comparisons (tells the design's effect "
        "from the stopping rule's)",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--merge", type=Path, nargs="+", default=None, help="pool the raw results of --json files")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.merge:
        files = [json.loads(path.read_text()) for path in args.merge]
        settings = {k: v for k, v in files[0]["args"].items() if k not in ("first_seed", "arenas", "jobs", "json")}
        for path, data in zip(args.merge, files, strict=True):
            other = {k: v for k, v in data["args"].items() if k in settings}
            if other != settings:
                raise SystemExit(f"{path}: settings {other} differ from {args.merge[0]}'s {settings}")
        results = [r for data in files for r in data["raw"]]
        for key in ("models", "studies", "gap_min", "gap_max", "prior", "rounds"):
            setattr(args, key, type(getattr(args, key))(settings[key]))
        args.fixed_budget = None if settings.get("fixed_budget") in (None, "None") else int(settings["fixed_budget"])
        args.arenas = len(results)
    else:
        jobs = [(seed, args) for seed in range(args.first_seed, args.first_seed + args.arenas)]
        if args.jobs > 1:
            with Pool(args.jobs) as pool:
                results = list(pool.imap(run_seed, jobs))
        else:
            results = [run_seed(job) for job in jobs]
    summary = summarise(results, args.models)
    elapsed = time.perf_counter() - start
    print(
        f"{args.arenas} arenas, {args.models} models, {args.studies} studies, gaps {args.gap_min:g}-{args.gap_max:g} "
        f"Elo, prior {args.prior:g}, {args.rounds} bootstrap rounds, adaptive "
        f"{'until done' if args.fixed_budget is None else f'fixed at {args.fixed_budget} comparisons'} ({elapsed:.0f} s)"
    )
    print(f"{'schedule':<9} {'battles':>8} {'bias (Elo)':>16} {'RMSE':>6} {'cover boot':>10} {'cover sandw':>11} "
          f"{'width boot':>10} {'width sandw':>11}")  # fmt: skip
    for name in ("full", "adaptive"):
        s = summary[name]
        assert isinstance(s, dict)
        print(
            f"{name:<9} {s['battles']:>8.0f} {s['bias']:>+8.1f} ± {s['bias_ci_half']:<5.1f} {s['rmse']:>6.1f} "
            f"{s['coverage_bootstrap']:>10.3f} {s['coverage_sandwich']:>11.3f} {s['width_bootstrap']:>10.1f} "
            f"{s['width_sandwich']:>11.1f}"
        )
    for name in ("full", "adaptive"):
        s = summary[name]
        assert isinstance(s, dict)
        parts = [f"{k}: {v['bias']:+.1f} ± {v['ci_half']:.1f}" for k, v in s["bias_by_true_rank"].items()]
        print(f"{name} bias by true rank (Elo): " + "; ".join(parts))
    full, adaptive = summary["full"], summary["adaptive"]
    assert isinstance(full, dict) and isinstance(adaptive, dict)
    print(f"ratio adaptive/full battles: {adaptive['battles'] / full['battles']:.2f}")
    if args.json:
        saved = {k: str(v) for k, v in vars(args).items() if k != "merge"}
        args.json.write_text(json.dumps({"args": saved, **summary, "raw": results}) + "\n")


if __name__ == "__main__":
    main()
