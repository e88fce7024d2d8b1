"""The arena-schedule benchmark's yardstick (`design_bound`) against a brute-force search, and its measure."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

pytest.importorskip("scipy")

RUN = Path(__file__).resolve().parents[2] / "benchmarks" / "arena_schedule" / "run.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("arena_schedule_run", RUN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def brute_force_best(strength: np.ndarray, z: float, tie: float, step: float = 0.002) -> float:
    """Minimum total judgments over a grid of allocations of 3 models' 3 pairs (no per-pair cap)."""
    i, j = np.array([0, 0, 1]), np.array([1, 2, 2])
    p = 1.0 / (1.0 + np.exp(-(strength[i] - strength[j])))
    info = p * (1.0 - p) * (1.0 - tie)
    grid = np.arange(step, 1.0, step)
    a, b = np.meshgrid(grid, grid, indexing="ij")
    a, b = a.ravel(), b.ravel()
    keep = a + b < 1.0
    share = np.stack([a[keep], b[keep], 1.0 - a[keep] - b[keep]], axis=1)  # judgments per pair, total 1
    w = share * info
    # 3-model Laplacian restricted to models 1, 2 (model 0 fixed): a 2 x 2 inverse in closed form
    h11, h22, h12 = w[:, 0] + w[:, 2], w[:, 1] + w[:, 2], -w[:, 2]
    det = h11 * h22 - h12**2
    c11, c22, c12 = h22 / det, h11 / det, -h12 / det
    order = np.argsort(strength)
    var = {  # Var(theta_x - theta_y) for the two adjacent pairs, with theta_0 = 0
        (0, 1): c11, (0, 2): c22, (1, 2): c11 + c22 - 2 * c12,
    }  # fmt: skip
    need = np.zeros(len(w))
    for lo, hi in zip(order[:-1], order[1:], strict=True):
        gap = strength[hi] - strength[lo]
        need = np.maximum(need, z**2 * var[tuple(sorted((int(lo), int(hi))))] / gap**2)
    return float(need.min())  # total judgments at which every adjacent gap reaches z standard errors


@pytest.mark.parametrize("strength", [[0.0, 0.3, 0.5], [0.4, 0.0, 0.15], [0.0, 1.2, 0.2]])
def test_design_bound_equals_brute_force_on_three_models(bench: ModuleType, strength: list[float]) -> None:
    strength_arr = np.array(strength)
    best, full = bench.design_bound(strength_arr, n_studies=10**9)
    expected = brute_force_best(strength_arr, 2.0, bench.TIE)
    assert best == pytest.approx(expected, rel=5e-3)
    assert best <= full * (1 + 1e-6)


def test_design_bound_is_the_full_matrix_for_two_models(bench: ModuleType) -> None:
    best, full = bench.design_bound(np.array([0.0, 0.2]), n_studies=10**9)
    assert best == pytest.approx(full, rel=1e-4)


def test_a_study_cap_makes_the_best_design_dearer(bench: ModuleType) -> None:
    strength = np.array([0.0, 0.17, 0.6, 1.1, 1.5])  # one close pair that wants many direct comparisons
    free, full = bench.design_bound(strength, n_studies=10**9)
    capped, full_capped = bench.design_bound(strength, n_studies=400)  # the matrix needs ~301 per pair
    assert full_capped == full < 10 * 400
    assert free * 1.5 < capped < full
    assert np.isnan(bench.design_bound(strength, n_studies=200)[0])  # even the whole matrix falls short


def test_needed_is_the_start_of_the_last_run_at_target(bench: ModuleType) -> None:
    marks = [16, 32, 48, 64, 80]
    assert bench.needed(marks, np.array([0.9, 1.0, 0.9, 0.96, 1.0])) == 64
    assert bench.needed(marks, np.array([1.0, 1.0, 1.0, 1.0, 1.0])) == 16
    assert bench.needed(marks, np.array([1.0, 1.0, 1.0, 1.0, 0.9])) is None


@pytest.mark.parametrize(("n_models", "n_studies", "seed"), [(8, 300, 68), (12, 400, 58), (8, 1000, 12)])
def test_design_bound_converges_where_slsqp_once_stopped_early(
    bench: ModuleType, n_models: int, n_studies: int, seed: int
) -> None:
    arena = bench.Arena(n_models, n_studies, seed, 30.0, 100.0)
    best, full = bench.design_bound(arena.strength, n_studies)
    assert 0.15 * full < best < full  # a real design between "all on one pair" and the even matrix


def test_simulated_adaptive_run_with_a_lag_judges_everything_it_proposes_once(bench: ModuleType) -> None:
    arena = bench.Arena(5, 200, 3, 100.0, 150.0)
    judge = arena.judge
    asked: list[tuple[frozenset[str], str]] = []

    def recorded(a: str, b: str, study: str) -> tuple[int, int, int, float]:
        asked.append((frozenset((a, b)), study))
        return judge(a, b, study)

    arena.judge = recorded  # type: ignore[method-assign]
    for lag in (0, 24):
        asked.clear()
        need, total, theta, separated = bench.run_adaptive(arena, 3, 8, lag=lag)
        assert len(asked) == len(set(asked)) == total < 10 * 200  # each (pair, study) once, well under the matrix
        assert separated and need is not None and need <= total
        assert bench.kendall(theta, arena.strength)[0] == 1.0


def test_measured_fit_is_the_leaderboards_mle_and_nan_where_it_is_infinite(bench: ModuleType) -> None:
    from arena.ratings import bradley_terry

    arena = bench.Arena(4, 50, 0, 30.0, 100.0)
    rng = np.random.default_rng(0)
    items = [(arena.models[i], arena.models[j], s) for s in arena.studies for i in range(4) for j in range(i + 1, 4)]
    rows = [arena.judge(*items[k]) for k in rng.permutation(len(items))]
    marks = [1, 3, 40, 120, len(rows)]
    theta = bench.Arena.strengths_at(arena, rows, marks)
    assert np.isnan(theta[0]).all() and np.isnan(theta[1]).all()  # one or three battles: here some model never lost
    for mark, fitted in zip(marks[2:], theta[2:], strict=True):
        ratings = bradley_terry(arena.battles(rows[:mark]))  # the leaderboard's default: no prior
        expect = (np.array([ratings[name] for name in arena.models]) - 1000.0) / bench.FACTOR
        assert np.allclose(fitted - fitted[0], expect, atol=1e-6)
    taus = bench.kendall(theta, arena.strength)
    assert np.isnan(taus[0]) and bench.needed(marks[:2], taus[:2]) is None  # no finite fit is below the target
