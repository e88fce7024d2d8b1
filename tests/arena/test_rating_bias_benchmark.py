"""The rating-bias benchmark's simulated judge: its target is the true strengths, and its measure is what it says.

The benchmark's bias and coverage numbers mean something only if the fitted likelihood (ties = half a win) has
the true strengths as its target: ties are placed so that P(win) + P(tie) / 2 = p. A judge that drew ties
independently of p would shrink every fitted strength, and the benchmark would report that as bias.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

RUN = Path(__file__).resolve().parents[2] / "benchmarks" / "arena_rating_bias" / "run.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("arena_rating_bias_run", RUN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_simulated_judge_keeps_the_bradley_terry_target(bench: ModuleType) -> None:
    arena = bench.Arena(5, 4000, seed=3, gap_min=40.0, gap_max=120.0)
    i, j = np.triu_indices(5, 1)
    p = 1 / (1 + np.exp(-(arena.strength[i] - arena.strength[j])))
    mean_score = arena.score[:, i, j].mean(axis=0)
    assert np.abs(mean_score - p).max() < 0.025  # 4,000 draws per pair: ~4 standard errors
    ties = (arena.score[:, i, j] == 0.5).mean()
    assert 0.12 < ties < 0.16
    assert np.array_equal(arena.score[:, j, i], 1 - arena.score[:, i, j])  # one outcome per (pair, study)


def test_one_arena_is_measured_against_the_truth(bench: ModuleType) -> None:
    args = argparse.Namespace(models=4, studies=400, gap_min=60.0, gap_max=120.0, batch=16, prior=1.0, rounds=100,
                              fixed_budget=None)  # fmt: skip
    out = bench.run_seed((2, args))
    full, adaptive = out["full"], out["adaptive"]
    assert full["n"] == [6 * 400.0] and 0 < adaptive["n"][0] <= 6 * 400
    # the anchor (exact by construction) is left out: three distinct true ranks of the four
    assert len(full["err"]) == 3 and len(set(full["position"])) == 3 and set(full["position"]) < {0.0, 1.0, 2.0, 3.0}
    # 2,400 battles: every non-anchor rating within ~4 standard errors (about 12 Elo each) of the truth
    assert max(abs(e) for e in full["err"]) < 50
    summary = bench.summarise([out, bench.run_seed((3, args))], 4)
    assert 0.0 <= summary["adaptive"]["coverage_bootstrap"] <= 1.0
    assert math.isfinite(summary["full"]["bias"])
