"""Arena ratings: Bradley–Terry on the Elo scale with bootstrap CIs, pairwise matrices and secondary views.

Likelihood. Model i has strength theta_i (natural log-odds units) and beats j with probability
p_ij = 1 / (1 + exp(-(theta_i - theta_j))). A battle scores s = 1 for a win of model a, 0 for a loss and
1/2 for a tie, and contributes s * log p_ab + (1 - s) * log p_ba: a tie is half a win for each side. Summed
over battles this depends on the data only through W[i, j] = wins of i over j + ties between them / 2, so
log L(theta) = sum_ij W[i, j] * log p_ij. The fit aggregates battles into W once and runs Newton's method
(with step halving, so each step increases log L) on the aggregated counts, to a step below 1e-10 of the
largest strength. Ratings are `anchor_rating + scale / ln(base) * (theta_i - theta_anchor)`: with the
defaults 400 points per factor of 10 in the odds, as in Elo; the anchor is the first model alphabetically
unless named.

The MLE exists only when every split of the models into two groups has each group winning (or tying) at
least once against the other; otherwise some rating is infinite and the fit says so. `prior > 0` adds that
many virtual ties between every pair of models, which always makes the MLE finite (a shrinkage towards equal
strengths; 0, this module's default, is the plain MLE). Every command (`arena ratings`, `arena leaderboard`,
`submit`) defaults to `DEFAULT_PRIOR`, so a model that never wins still gets a finite rating, and every output
states the prior it used (`prior_statement`).

Confidence intervals: 95% percentile intervals from a bootstrap that resamples studies with replacement
(all battles of a study stay together, because they share a reference report and case difficulty), or
battles when the file has no study ids. Each unit's battles are pre-aggregated into pair counts, so a round
is one weighted sum of those rows, and every round's fit starts from the point estimate. Rounds whose
resample has no finite MLE are left out and counted in `rounds_degenerate`. As in Chatbot Arena, every round
is anchored, so the anchor's own interval has zero width and the others are intervals relative to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from arena.battles import Battles
from xraybench.errors import XrayBenchError

DEFAULT_PRIOR = 1.0  # virtual ties per model pair in every command's ratings: always finite, weak shrinkage


def prior_statement(prior: float) -> str:
    """How the ratings were regularised, in words: printed with every rating output."""
    if not prior:
        return "prior: none (plain maximum likelihood; infinite when a model never wins or never loses)"
    ties = "tie" if prior == 1 else "ties"
    return f"prior: {prior:g} virtual {ties} per model pair (shrinks towards equal strengths; keeps ratings finite)"


RTOL = 1e-10
MAX_ITER = 100
ELO_K = 4.0
BOOTSTRAP_CHUNK = 250


def _factor(scale: float, base: float) -> float:
    """Rating points per natural log-odds unit."""
    return scale / math.log(base)


def pair_wins(battles: Battles) -> np.ndarray:
    """W[i, j]: wins of model i over model j plus half of their ties."""
    m = len(battles.models)
    wins = np.bincount(battles.a * m + battles.b, weights=battles.score, minlength=m * m)
    wins += np.bincount(battles.b * m + battles.a, weights=1.0 - battles.score, minlength=m * m)
    return wins.reshape(m, m)


def battle_counts(battles: Battles) -> np.ndarray:
    """Symmetric matrix of the number of battles between each pair of models."""
    m = len(battles.models)
    counts = np.bincount(battles.a * m + battles.b, minlength=m * m).reshape(m, m)
    return counts + counts.T


def _loglik(wins: np.ndarray, theta: np.ndarray) -> np.ndarray:
    diff = theta[:, :, None] - theta[:, None, :]
    return -(wins * np.logaddexp(0.0, -diff)).sum(axis=(1, 2))


def _reachable_all(wins: np.ndarray) -> np.ndarray:
    """Per round: is the graph "i beat or tied j" strongly connected (i.e. is the MLE finite)?"""
    m = wins.shape[-1]
    reach = ((wins > 0) | np.eye(m, dtype=bool)).astype(np.float32)
    for _ in range(max(1, math.ceil(math.log2(m)))):
        reach = (reach @ reach > 0).astype(np.float32)
    return reach.all(axis=(1, 2))


def _newton(wins: np.ndarray, anchor: int, theta0: np.ndarray | None = None) -> np.ndarray:
    """Maximise log L for a batch of count matrices `wins` (R, m, m); theta[:, anchor] stays 0."""
    rounds, m, _ = wins.shape
    free = np.arange(m) != anchor
    theta = np.zeros((rounds, m)) if theta0 is None else np.array(theta0, dtype=np.float64, copy=True)
    theta -= theta[:, anchor : anchor + 1]
    total = wins + np.swapaxes(wins, 1, 2)
    ll = _loglik(wins, theta)
    diag = np.arange(m)
    for _ in range(MAX_ITER):
        p = 1.0 / (1.0 + np.exp(-(theta[:, :, None] - theta[:, None, :])))
        grad = (wins - total * p).sum(axis=2)
        hess = -total * p * (1.0 - p)
        hess[:, diag, diag] = -hess.sum(axis=2)
        step = np.zeros_like(theta)
        step[:, free] = np.linalg.solve(hess[:, free][:, :, free], grad[:, free][..., None])[..., 0]
        t = np.ones(rounds)
        for _ in range(60):
            cand = theta + t[:, None] * step
            ll_cand = _loglik(wins, cand)
            worse = ll_cand < ll - 1e-12 * np.abs(ll)
            if not worse.any():
                break
            t[worse] *= 0.5
        theta, ll = cand, ll_cand
        moved = np.abs(t[:, None] * step).max(axis=1)
        if (moved <= RTOL * np.maximum(1.0, np.abs(theta).max(axis=1))).all():
            return theta
    raise XrayBenchError(f"Bradley-Terry fit did not converge in {MAX_ITER} Newton steps")


def _anchor_index(models: tuple[str, ...], anchor: str | None) -> int:
    if anchor is None:
        return 0
    if anchor not in models:
        raise XrayBenchError(f"anchor model {anchor!r} is not in the battles (models: {', '.join(models)})")
    return models.index(anchor)


def _with_prior(wins: np.ndarray, prior: float) -> np.ndarray:
    if prior < 0:
        raise XrayBenchError(f"prior must be >= 0, got {prior}")
    m = wins.shape[-1]
    return wins + (prior / 2.0) * (1.0 - np.eye(m)) if prior else wins


def _check_finite(wins: np.ndarray, models: tuple[str, ...]) -> None:
    if _reachable_all(wins[None])[0]:
        return
    never_won = [models[i] for i in np.flatnonzero(wins.sum(axis=1) == 0)]
    never_lost = [models[i] for i in np.flatnonzero(wins.sum(axis=0) == 0)]
    parts = [f"never won or tied: {', '.join(never_won)}"] if never_won else []
    parts += [f"never lost or tied: {', '.join(never_lost)}"] if never_lost else []
    detail = "; ".join(parts) or "a group of models never lost (or never won) against the rest"
    raise XrayBenchError(f"Bradley-Terry ratings are infinite ({detail}); collect more battles or use a prior > 0")


def _fit_point(battles: Battles, anchor: int, prior: float) -> np.ndarray:
    wins = _with_prior(pair_wins(battles), prior)
    _check_finite(wins, battles.models)
    return _newton(wins[None], anchor)[0]


def bradley_terry(
    battles: Battles,
    anchor: str | None = None,
    anchor_rating: float = 1000.0,
    scale: float = 400,
    base: float = 10,
    prior: float = 0.0,
) -> dict[str, float]:
    """Bradley–Terry MLE (ties = half a win each side) on the Elo scale, anchored; see the module docstring."""
    idx = _anchor_index(battles.models, anchor)
    theta = _fit_point(battles, idx, prior)
    ratings = anchor_rating + _factor(scale, base) * theta
    return dict(zip(battles.models, ratings.tolist(), strict=True))


def _bootstrap_units(battles: Battles) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Resampling units as rows of pair counts: (unit_wins (U, K), multiplicity (U,), cells (K,), unit name).

    Studies are the units when the battles have study ids; otherwise battles are, and identical battles
    (same pair, same outcome) are merged into one row with a multiplicity, since a multinomial draw over the
    merged rows is exactly a resample of the battles.
    """
    m = len(battles.models)
    fwd, rev = battles.a * m + battles.b, battles.b * m + battles.a
    cells, inverse = np.unique(np.concatenate([fwd, rev]), return_inverse=True)
    n = len(battles)
    col_fwd, col_rev = inverse[:n], inverse[n:]
    if battles.study is not None:
        unit, n_units, mult, name = battles.study, len(battles.study_ids or ()), None, "study"
    else:
        key = (fwd * 3 + np.rint(battles.score * 2).astype(np.int64)).astype(np.int64)
        _, first, unit, mult = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
        n_units, name = len(first), "battle"
    k = len(cells)
    unit_wins = np.bincount(unit * k + col_fwd, weights=battles.score, minlength=n_units * k)
    unit_wins += np.bincount(unit * k + col_rev, weights=1.0 - battles.score, minlength=n_units * k)
    unit_wins = unit_wins.reshape(n_units, k)
    if mult is None:
        mult = np.ones(n_units, dtype=np.int64)
    else:
        unit_wins /= mult[:, None]
    return unit_wins, mult, cells, name


def _resample(rng: np.random.Generator, mult: np.ndarray, total: int, pvals: np.ndarray, size: int) -> np.ndarray:
    """How often each unit is drawn in `size` rounds of `total` draws with replacement (a multinomial).

    Equal units (studies) are drawn as uniform integers and counted, which is several times faster than
    numpy's multinomial for thousands of units; merged battles with multiplicities use the multinomial.
    """
    n_units = len(mult)
    if total == n_units:  # every multiplicity is 1
        picks = rng.integers(0, n_units, (size, n_units)) + (np.arange(size) * n_units)[:, None]
        return np.bincount(picks.ravel(), minlength=size * n_units).reshape(size, n_units).astype(np.float64)
    return rng.multinomial(total, pvals, size=size).astype(np.float64)


def bootstrap_thetas(
    battles: Battles, anchor: int, theta0: np.ndarray, rounds: int, seed: int, prior: float = 0.0
) -> tuple[np.ndarray, int, str]:
    """Fitted strengths of each usable bootstrap round (natural units), the degenerate count and the unit."""
    m = len(battles.models)
    unit_wins, mult, cells, unit = _bootstrap_units(battles)
    rng = np.random.default_rng(seed)
    total_units = int(mult.sum())
    pvals = mult / total_units
    kept: list[np.ndarray] = []
    degenerate = 0
    for start in range(0, rounds, BOOTSTRAP_CHUNK):
        size = min(BOOTSTRAP_CHUNK, rounds - start)
        counts = _resample(rng, mult, total_units, pvals, size)
        wins = np.zeros((size, m * m))
        wins[:, cells] = counts @ unit_wins
        wins = _with_prior(wins.reshape(size, m, m), prior)
        ok = _reachable_all(wins)
        degenerate += int(size - ok.sum())
        if ok.any():
            kept.append(_newton(wins[ok], anchor, np.broadcast_to(theta0, (int(ok.sum()), m))))
    thetas = np.concatenate(kept) if kept else np.empty((0, m))
    return thetas, degenerate, unit


def online_elo(
    battles: Battles, k: float = ELO_K, initial: float = 1000.0, scale: float = 400, base: float = 10
) -> np.ndarray:
    """Sequential Elo over the battles in file order (K=4 as in Chatbot Arena): order-dependent, secondary."""
    ratings = [initial] * len(battles.models)
    for a, b, s in zip(battles.a.tolist(), battles.b.tolist(), battles.score.tolist(), strict=True):
        expected = 1.0 / (1.0 + base ** ((ratings[b] - ratings[a]) / scale))
        ratings[a] += k * (s - expected)
        ratings[b] -= k * (s - expected)
    return np.array(ratings)


def length_controlled(battles: Battles, anchor: int, prior: float = 0.0) -> tuple[np.ndarray, float]:
    """Bradley–Terry with a length covariate: logit P(a beats b) = theta_a - theta_b + gamma * log(len_a/len_b).

    Ties are half a win as in the plain fit, and `prior` adds the same virtual ties per pair as the plain fit
    (between reports of equal length), so a model that never wins has a finite length-controlled rating too.
    Returns (theta at equal lengths, gamma); a positive gamma means the judge favours longer reports.
    """
    if not battles.has_lengths:
        raise XrayBenchError("length control needs length_a and length_b on every battle")
    m = len(battles.models)
    virtual_a, virtual_b = np.triu_indices(m, k=1) if prior > 0 else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    a = np.concatenate([battles.a, virtual_a])
    b = np.concatenate([battles.b, virtual_b])
    s = np.concatenate([battles.score, np.full(len(virtual_a), 0.5)])
    w = np.concatenate([np.ones(len(battles)), np.full(len(virtual_a), prior)])  # a virtual pair weighs `prior`
    x = np.concatenate([np.log(battles.length_a) - np.log(battles.length_b), np.zeros(len(virtual_a))])  # type: ignore[arg-type]
    free = np.flatnonzero(np.arange(m) != anchor)
    params = np.zeros(m + 1)  # strengths, then gamma

    def loglik(p: np.ndarray) -> float:
        eta = p[a] - p[b] + p[m] * x
        return float(-(w * (s * np.logaddexp(0.0, -eta) + (1.0 - s) * np.logaddexp(0.0, eta))).sum())

    ll = loglik(params)
    for _ in range(MAX_ITER):
        eta = params[a] - params[b] + params[m] * x
        prob = 1.0 / (1.0 + np.exp(-eta))
        resid, weight = w * (s - prob), w * prob * (1.0 - prob)
        grad = np.zeros(m + 1)
        grad[:m] = np.bincount(a, resid, m) - np.bincount(b, resid, m)
        grad[m] = resid @ x
        pair = np.bincount(a * m + b, weight, m * m).reshape(m, m)
        hess = np.zeros((m + 1, m + 1))
        hess[:m, :m] = pair + pair.T
        hess[np.arange(m), np.arange(m)] = -(pair.sum(axis=0) + pair.sum(axis=1))
        cross = -(np.bincount(a, weight * x, m) - np.bincount(b, weight * x, m))
        hess[:m, m] = hess[m, :m] = cross
        hess[m, m] = -(weight * x * x).sum()
        keep = np.append(free, m)
        step = np.zeros(m + 1)
        try:
            step[keep] = np.linalg.solve(-hess[np.ix_(keep, keep)], grad[keep])
        except np.linalg.LinAlgError:
            raise XrayBenchError(
                "the length-controlled fit has no finite solution (a model never wins or never loses, or the "
                "lengths say nothing beyond the models); use a prior > 0 or collect more battles"
            ) from None
        t = 1.0
        for _ in range(60):
            cand_ll = loglik(params + t * step)
            if cand_ll >= ll - 1e-12 * abs(ll):
                break
            t *= 0.5
        params, ll = params + t * step, cand_ll
        if np.abs(t * step).max() <= RTOL * max(1.0, np.abs(params).max()):
            return params[:m], float(params[m])
    raise XrayBenchError(f"length-controlled fit did not converge in {MAX_ITER} Newton steps")


def rank_ranges(rating: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point rank and best/worst ranks from CIs: best = 1 + #models whose lower bound exceeds this upper bound,
    worst = #models - #models whose upper bound is below this lower bound."""
    rank = 1 + (rating[None, :] > rating[:, None]).sum(axis=1)
    best = 1 + (low[None, :] > high[:, None]).sum(axis=1)
    worst = len(rating) - (high[None, :] < low[:, None]).sum(axis=1)
    return rank, best, worst


@dataclass
class Ratings:
    """Everything the leaderboard shows about one set of battles (arrays in `models` order)."""

    models: tuple[str, ...]
    rating: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    rank: np.ndarray
    rank_best: np.ndarray
    rank_worst: np.ndarray
    win_rate: np.ndarray  # the paper's: mean over opponents of the observed pairwise win fraction
    predicted_win_rate: np.ndarray  # mean over all other models of the BT-predicted win probability
    n_battles: np.ndarray
    battle_counts: np.ndarray
    win_fraction: np.ndarray  # observed (wins + ties/2) / battles, NaN where a pair never met
    predicted: np.ndarray  # BT P(row beats column)
    elo: np.ndarray
    anchor: str
    settings: dict[str, object] = field(default_factory=dict)
    length_rating: np.ndarray | None = None
    length_coef: float | None = None

    def order(self) -> list[int]:
        """Model indices from best to worst rating."""
        return sorted(range(len(self.models)), key=lambda i: (-self.rating[i], self.models[i]))

    def to_dict(self) -> dict[str, object]:
        def num(x: float) -> float | None:
            return None if not math.isfinite(x) else float(x)

        def matrix(mat: np.ndarray) -> list[list[float | None]]:
            return [[num(v) for v in row] for row in mat.tolist()]

        rows = []
        for i in self.order():
            row: dict[str, object] = {
                "model": self.models[i],
                "rating": num(self.rating[i]),
                "ci_low": num(self.ci_low[i]),
                "ci_high": num(self.ci_high[i]),
                "rank": int(self.rank[i]),
                "rank_best": int(self.rank_best[i]),
                "rank_worst": int(self.rank_worst[i]),
                "win_rate": num(self.win_rate[i]),
                "predicted_win_rate": num(self.predicted_win_rate[i]),
                "n_battles": int(self.n_battles[i]),
                "elo_online": num(self.elo[i]),
            }
            if self.length_rating is not None:
                row["length_controlled_rating"] = num(self.length_rating[i])
            rows.append(row)
        return {
            "anchor": self.anchor,
            "settings": self.settings,
            "length_coef": self.length_coef,
            "models": rows,
            "matrix_models": list(self.models),
            "battle_counts": self.battle_counts.astype(int).tolist(),
            "win_fraction": matrix(self.win_fraction),
            "predicted_win_rate": matrix(self.predicted),
        }


def compute_ratings(
    battles: Battles,
    anchor: str | None = None,
    anchor_rating: float = 1000.0,
    scale: float = 400,
    base: float = 10,
    rounds: int = 1000,
    seed: int = 0,
    prior: float = 0.0,
    length_control: bool = False,
) -> Ratings:
    """Ratings, 95% bootstrap CIs, rank ranges, matrices, online Elo and (optionally) length control."""
    if rounds < 0:
        raise XrayBenchError(f"rounds must be >= 0, got {rounds}")
    m = len(battles.models)
    idx = _anchor_index(battles.models, anchor)
    factor = _factor(scale, base)
    theta = _fit_point(battles, idx, prior)
    rating = anchor_rating + factor * theta
    thetas, degenerate, unit = (
        bootstrap_thetas(battles, idx, theta, rounds, seed, prior)
        if rounds
        else (np.empty((0, m)), 0, "study" if battles.study is not None else "battle")
    )
    if len(thetas):
        low, high = np.percentile(anchor_rating + factor * thetas, [2.5, 97.5], axis=0)
    else:
        low = high = np.full(m, np.nan)
    rank, best, worst = rank_ranges(
        rating, np.where(np.isnan(low), rating, low), np.where(np.isnan(high), rating, high)
    )
    counts = battle_counts(battles)
    wins = pair_wins(battles)
    fraction = np.where(counts > 0, wins / np.maximum(counts, 1), np.nan)
    np.fill_diagonal(fraction, np.nan)
    predicted = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :])))
    np.fill_diagonal(predicted, np.nan)
    win_rate = np.nanmean(fraction, axis=1)  # every model met at least one opponent
    predicted_rate = np.nanmean(predicted, axis=1)
    length_rating = length_coef = None
    if length_control:
        lc_theta, length_coef = length_controlled(battles, idx, prior)
        length_rating = anchor_rating + factor * lc_theta
    settings: dict[str, object] = {
        "anchor_rating": anchor_rating,
        "scale": scale,
        "base": base,
        "prior": prior,
        "prior_statement": prior_statement(prior),
        "rounds": rounds,
        "rounds_used": int(len(thetas)),
        "rounds_degenerate": degenerate,
        "seed": seed,
        "bootstrap_unit": unit,
        "n_battles": len(battles),
        "n_studies": len(battles.study_ids) if battles.study_ids is not None else None,
        "elo_k": ELO_K,
        "win_rate": "mean over opponents of the observed win fraction (ties = half), as in the paper",
    }
    return Ratings(
        models=battles.models,
        rating=rating,
        ci_low=low,
        ci_high=high,
        rank=rank,
        rank_best=best,
        rank_worst=worst,
        win_rate=win_rate,
        predicted_win_rate=predicted_rate,
        n_battles=counts.sum(axis=1),
        battle_counts=counts,
        win_fraction=fraction,
        predicted=predicted,
        elo=online_elo(battles, initial=anchor_rating, scale=scale, base=base),
        anchor=battles.models[idx],
        settings=settings,
        length_rating=length_rating,
        length_coef=length_coef,
    )
