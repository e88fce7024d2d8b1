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

Sandwich (robust) CIs, beside the bootstrap: Var(theta) = H^-1 B H^-1 with H the information (the negative
Hessian of log L, prior included) and B the covariance of the score summed per resampling unit (studies, else
battles), times U / (U - 1) (a cluster-robust, Liang–Zeger estimator; lmarena's Arena-Rank computes the same
sandwich per battle). 95% intervals are rating ± 1.96 standard errors, relative to the anchor like the bootstrap's.
They need no refits, stay valid when the judge's verdicts on a study are correlated, and do not assume the
Bradley–Terry model is exactly right.

Weights: a battle file's optional `weight` column multiplies each battle's log-likelihood term (and its score in
the sandwich), as Arena-Rank's per-observation weights do; with weights 1 / P(pair sampled) from a randomised
sampler this is the inverse-propensity-weighted fit. Our adaptive schedule chooses pairs deterministically from
the battles judged so far, so it has no propensities to invert; benchmarks/README.md ("arena rating bias") shows
by simulation that the unweighted fit is unbiased for it and that its 95% intervals cover the true strengths.

Contextual Bradley–Terry (`contextual_fit`): logit P(a beats b) = theta_a - theta_b + x' gamma with per-battle
covariates x, fitted jointly by the same Newton iteration per battle; with `prior > 0` each coefficient also gets
a N(0, 1 / prior) prior (a ridge penalty), so a covariate that separates the outcomes keeps a finite coefficient. Length control uses x = log(len_a / len_b);
style control (`style_controlled`, Chatbot Arena / FastChat / Arena-Hard-Auto v2) uses the normalised
differences of `arena.style`: tokens, section headers, list items and bold spans.

Separability (`separability`): the share of model pairs whose 95% intervals do not overlap (Arena-Hard-Auto's
"separability with confidence"); `rank_agreement` gives Kendall's tau-b and Spearman's rho between two rankings.
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


def _weights(battles: Battles) -> np.ndarray:
    """Each battle's weight in the likelihood: the file's `weight` column, else 1."""
    return np.ones(len(battles)) if battles.weight is None else battles.weight


def pair_wins(battles: Battles) -> np.ndarray:
    """W[i, j]: (weighted) wins of model i over model j plus half of their ties."""
    m = len(battles.models)
    w = _weights(battles)
    wins = np.bincount(battles.a * m + battles.b, weights=battles.score * w, minlength=m * m)
    wins += np.bincount(battles.b * m + battles.a, weights=(1.0 - battles.score) * w, minlength=m * m)
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
    elif battles.weight is not None:  # weighted battles are not interchangeable: each is its own unit
        unit, n_units, mult, name = np.arange(n), n, None, "battle"
    else:
        key = (fwd * 3 + np.rint(battles.score * 2).astype(np.int64)).astype(np.int64)
        _, first, unit, mult = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
        n_units, name = len(first), "battle"
    k = len(cells)
    w = _weights(battles)
    unit_wins = np.bincount(unit * k + col_fwd, weights=battles.score * w, minlength=n_units * k)
    unit_wins += np.bincount(unit * k + col_rev, weights=(1.0 - battles.score) * w, minlength=n_units * k)
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


def _units(battles: Battles) -> tuple[np.ndarray, int]:
    """Each battle's resampling unit (its study, else itself) and the number of units."""
    if battles.study is not None:
        return battles.study, len(battles.study_ids or ())
    return np.arange(len(battles)), len(battles)


def _group_sum(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Per round, the sum of `values` (R, n) over the rows of each group (n,): (R, n_groups), one bincount."""
    rounds = values.shape[0]
    index = (np.arange(rounds)[:, None] * n_groups + group[None, :]).ravel()
    return np.bincount(index, values.ravel(), rounds * n_groups).reshape(rounds, n_groups)


@dataclass
class _Design:
    """A contextual fit's rows: the battles, then (with a prior) one virtual tie per model pair at x = 0.

    Parameters are the m strengths, then the k coefficients; the anchor's strength stays 0 (`keep` are the
    free ones). Everything is batched over rounds (each with its own row weights), and sums over battles are
    bincounts, so a round costs O(battles x features)."""

    m: int
    anchor: int
    a: np.ndarray
    b: np.ndarray
    x: np.ndarray  # (rows, k)
    s: np.ndarray
    w: np.ndarray
    n_real: int  # the first n_real rows are battles
    ridge: float = 0.0  # Gaussian prior N(0, 1 / ridge) on each coefficient (the fit's `prior`)

    @classmethod
    def of(cls, battles: Battles, x: np.ndarray, anchor: int, prior: float) -> _Design:
        if prior < 0:
            raise XrayBenchError(f"prior must be >= 0, got {prior}")
        m, k = len(battles.models), x.shape[1]
        va, vb = np.triu_indices(m, k=1) if prior > 0 else (np.zeros(0, np.int64), np.zeros(0, np.int64))
        return cls(
            m, anchor, np.concatenate([battles.a, va]), np.concatenate([battles.b, vb]),
            np.concatenate([x, np.zeros((len(va), k))]),
            np.concatenate([battles.score, np.full(len(va), 0.5)]),
            np.concatenate([_weights(battles), np.full(len(va), prior)]),  # a virtual pair weighs `prior`
            len(battles), prior,
        )  # fmt: skip

    @property
    def keep(self) -> np.ndarray:
        return np.append(np.flatnonzero(np.arange(self.m) != self.anchor), np.arange(self.m, self.m + self.x.shape[1]))

    def eta(self, params: np.ndarray) -> np.ndarray:
        """Linear predictor per round (R, rows) of parameters (R, m + k)."""
        return params[:, self.a] - params[:, self.b] + params[:, self.m :] @ self.x.T

    def loglik(self, params: np.ndarray, eta: np.ndarray, w: np.ndarray) -> np.ndarray:
        """log L (with the coefficients' prior) per round, from the parameters (R, m + k), their linear predictor
        `eta` and the row weights `w` (both (R, rows))."""
        # s * log p + (1 - s) * log(1 - p) = -(softplus(-eta) + (1 - s) * eta)
        ll = -(w * (np.logaddexp(0.0, -eta) + (1.0 - self.s) * eta)).sum(axis=1)
        return ll - 0.5 * self.ridge * (params[:, self.m :] ** 2).sum(axis=1)

    def information(self, params: np.ndarray, eta: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per round, at parameters (R, m + k) with linear predictor `eta` (R, rows): the score of log L
        (R, m + k) and the information, -Hessian (R, m + k, m + k), the coefficients' prior included."""
        m, k, rounds = self.m, self.x.shape[1], eta.shape[0]
        prob = 1.0 / (1.0 + np.exp(-eta))
        resid, q = w * (self.s - prob), w * prob * (1.0 - prob)
        grad = np.empty((rounds, m + k))
        grad[:, :m] = _group_sum(resid, self.a, m) - _group_sum(resid, self.b, m)
        grad[:, m:] = resid @ self.x
        pair = _group_sum(q, self.a * m + self.b, m * m).reshape(rounds, m, m)
        info = np.empty((rounds, m + k, m + k))
        info[:, :m, :m] = -(pair + np.swapaxes(pair, 1, 2))
        diag = np.arange(m)
        info[:, diag, diag] = pair.sum(axis=1) + pair.sum(axis=2)
        for f in range(k):
            qx = q * self.x[:, f]
            cross = _group_sum(qx, self.a, m) - _group_sum(qx, self.b, m)
            info[:, :m, m + f] = cross
            info[:, m + f, :m] = cross
        info[:, m:, m:] = np.swapaxes(q[:, :, None] * self.x, 1, 2) @ self.x
        if self.ridge:
            grad[:, m:] -= self.ridge * params[:, m:]
            info[:, np.arange(m, m + k), np.arange(m, m + k)] += self.ridge
        return grad, info


CONTEXTUAL_CHUNK = 64  # bootstrap rounds fitted together (memory: rounds x battles)
MAX_STRENGTH = 50.0  # natural units (~8,700 Elo points): a fit beyond this is drifting to infinity


def _solve_batch(design: _Design, w: np.ndarray, params0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximise log L for each round's row weights `w` (R, rows) by Newton's method with step halving, from
    `params0` (R, m + k), the anchor's strength held at 0. Returns (parameters (R, m + k), converged (R,)); a
    round with a singular information or a fit drifting to infinity is not converged."""
    rounds = params0.shape[0]
    keep = design.keep
    params = np.array(params0, dtype=np.float64, copy=True)
    params[:, design.anchor] = 0.0
    ok = np.ones(rounds, dtype=bool)
    done = np.zeros(rounds, dtype=bool)
    eta = design.eta(params)
    ll = design.loglik(params, eta, w)
    for _ in range(MAX_ITER):
        idx = np.flatnonzero(ok & ~done)
        if not len(idx):
            break
        grad, info = design.information(params[idx], eta[idx], w[idx])
        sub, rhs = info[:, keep][:, :, keep], grad[:, keep]
        step = np.zeros((len(idx), params.shape[1]))
        try:
            step[:, keep] = np.linalg.solve(sub, rhs[..., None])[..., 0]
        except np.linalg.LinAlgError:  # find the singular rounds one by one
            for n, r in enumerate(idx):
                try:
                    step[n, keep] = np.linalg.solve(sub[n], rhs[n])
                except np.linalg.LinAlgError:
                    ok[r] = False
        t = np.ones(len(idx))
        cand = params[idx] + step
        cand_eta = design.eta(cand)
        cand_ll = design.loglik(cand, cand_eta, w[idx])
        for _ in range(60):
            worse = cand_ll < ll[idx] - 1e-12 * np.abs(ll[idx])
            if not worse.any():
                break
            t[worse] *= 0.5
            cand[worse] = params[idx[worse]] + t[worse, None] * step[worse]
            cand_eta[worse] = design.eta(cand[worse])
            cand_ll[worse] = design.loglik(cand[worse], cand_eta[worse], w[idx[worse]])
        moved = np.abs(t[:, None] * step).max(axis=1)
        params[idx], eta[idx], ll[idx] = cand, cand_eta, cand_ll
        done[idx[moved <= RTOL * np.maximum(1.0, np.abs(cand).max(axis=1))]] = True
    finite = np.isfinite(params).all(axis=1) & (np.abs(params).max(axis=1) <= MAX_STRENGTH)
    return params, ok & done & finite


def _solve(design: _Design) -> np.ndarray:
    """The point fit's parameters. Raises np.linalg.LinAlgError when there is no finite maximum."""
    params, converged = _solve_batch(design, design.w[None], np.zeros((1, design.m + design.x.shape[1])))
    if not converged[0]:
        raise np.linalg.LinAlgError("no finite maximum")
    return params[0]


def contextual_fit(battles: Battles, x: np.ndarray, anchor: int, prior: float = 0.0) -> np.ndarray:
    """Bradley–Terry with per-battle covariates x (n, k): logit P(a beats b) = theta_a - theta_b + x' gamma.

    Ties are half a win, the battles' weights apply, and `prior` adds the plain fit's virtual ties per pair (at
    x = 0) and a N(0, 1 / prior) prior on each coefficient (a ridge penalty, as FastChat's L2-regularised
    logistic regression and Arena-Rank's contextual fit have), which keeps a coefficient finite when a covariate
    separates the outcomes (one model always wins and always writes more). Returns (theta (natural units,
    theta[anchor] = 0), gamma) concatenated."""
    try:
        return _solve(_Design.of(battles, x, anchor, prior))
    except np.linalg.LinAlgError:
        raise XrayBenchError(
            "the covariate-controlled fit has no finite solution (a model never wins or never loses, or the "
            "covariates say nothing beyond the models); use a prior > 0 or collect more battles"
        ) from None


def sandwich_cov(battles: Battles, x: np.ndarray, anchor: int, params: np.ndarray, prior: float = 0.0) -> np.ndarray:
    """Robust covariance H^-1 B H^-1 of a (contextual) fit at `params` (module docstring); anchor row/column 0.

    B sums each battle's score over its resampling unit (study, else battle), centred, times U / (U - 1)."""
    design = _Design.of(battles, x, anchor, prior)
    m, k, n = design.m, x.shape[1], design.n_real
    eta = design.eta(params[None])
    _, info = design.information(params[None], eta, design.w[None])
    prob = 1.0 / (1.0 + np.exp(-eta[0, :n]))
    resid = design.w[:n] * (design.s[:n] - prob)
    unit, n_units = _units(battles)
    scores = np.zeros((n_units, m + k))
    scores[:, :m] = (
        _group_sum(resid[None], unit * m + battles.a, n_units * m) - _group_sum(resid[None], unit * m + battles.b,
                                                                                  n_units * m)
    ).reshape(n_units, m)  # fmt: skip
    for f in range(k):
        scores[:, m + f] = np.bincount(unit, resid * x[:, f], n_units)
    scores = scores[np.bincount(unit, minlength=n_units) > 0]
    centred = scores - scores.mean(axis=0)
    units = len(scores)
    meat = centred.T @ centred * (units / max(units - 1, 1))
    keep = design.keep
    bread = np.linalg.pinv(info[0][np.ix_(keep, keep)])
    cov = np.zeros((m + k, m + k))
    cov[np.ix_(keep, keep)] = bread @ meat[np.ix_(keep, keep)] @ bread
    return cov


Z95 = 1.959963984540054  # the 97.5% normal quantile


def contextual_bootstrap(
    battles: Battles, x: np.ndarray, anchor: int, params: np.ndarray, rounds: int, seed: int, prior: float = 0.0
) -> tuple[np.ndarray, int]:
    """Contextual fits of `rounds` resamples of the units (studies, else battles): (params per usable round,
    degenerate count). A resample is the battles reweighted by how often their unit was drawn; the rounds are
    fitted together in chunks, each starting from the point estimate."""
    design = _Design.of(battles, x, anchor, prior)
    unit, n_units = _units(battles)
    mult = np.ones(n_units, dtype=np.int64)
    rng = np.random.default_rng(seed)
    kept: list[np.ndarray] = []
    degenerate = 0
    for start in range(0, rounds, BOOTSTRAP_CHUNK):
        size = min(BOOTSTRAP_CHUNK, rounds - start)
        counts = _resample(rng, mult, n_units, mult / n_units, size)  # the plain bootstrap's draws
        for lo in range(0, size, CONTEXTUAL_CHUNK):
            chunk = counts[lo : lo + CONTEXTUAL_CHUNK]
            w = np.repeat(design.w[None], len(chunk), axis=0)
            w[:, : design.n_real] *= chunk[:, unit]
            fitted, converged = _solve_batch(design, w, np.repeat(params[None], len(chunk), axis=0))
            degenerate += int((~converged).sum())
            kept.append(fitted[converged])
    thetas = np.concatenate(kept) if kept else np.empty((0, len(params)))
    return thetas, degenerate


def length_controlled(battles: Battles, anchor: int, prior: float = 0.0) -> tuple[np.ndarray, float]:
    """Bradley–Terry with a length covariate: logit P(a beats b) = theta_a - theta_b + gamma * log(len_a/len_b).

    Ties are half a win as in the plain fit, and `prior` adds the same virtual ties per pair as the plain fit
    (between reports of equal length), so a model that never wins has a finite length-controlled rating too.
    Returns (theta at equal lengths, gamma); a positive gamma means the judge favours longer reports.
    """
    if not battles.has_lengths:
        raise XrayBenchError("length control needs length_a and length_b on every battle")
    x = (np.log(battles.length_a) - np.log(battles.length_b))[:, None]  # type: ignore[arg-type]
    m = len(battles.models)
    try:
        params = _solve(_Design.of(battles, x, anchor, prior))
    except np.linalg.LinAlgError:
        raise XrayBenchError(
            "the length-controlled fit has no finite solution (a model never wins or never loses, or the "
            "lengths say nothing beyond the models); use a prior > 0 or collect more battles"
        ) from None
    return params[:m], float(params[m])


@dataclass
class StyleControl:
    """Style-controlled ratings (arrays in `Ratings.models` order) and the fitted style coefficients.

    `coef` is the log-odds change per root-mean-square normalised difference of each feature (`arena.style`);
    positive: the judge favours the report with more of it. `scale` is that root mean square. Bootstrap
    intervals are NaN when no rounds were run."""

    features: tuple[str, ...]
    dropped: tuple[str, ...]
    scale: np.ndarray
    rating: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    sandwich_low: np.ndarray
    sandwich_high: np.ndarray
    coef: np.ndarray
    coef_low: np.ndarray
    coef_high: np.ndarray
    coef_sandwich_low: np.ndarray
    coef_sandwich_high: np.ndarray
    rounds_used: int
    rounds_degenerate: int

    def coefficients(self) -> list[dict[str, object]]:
        def num(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None

        return [
            {"feature": f, "coef": num(self.coef[i]), "ci_low": num(self.coef_low[i]),
             "ci_high": num(self.coef_high[i]), "sandwich_ci_low": num(self.coef_sandwich_low[i]),
             "sandwich_ci_high": num(self.coef_sandwich_high[i]), "feature_rms": num(self.scale[i])}
            for i, f in enumerate(self.features)
        ]  # fmt: skip


def style_controlled(
    battles: Battles, anchor: int, *, prior: float = 0.0, rounds: int = 0, seed: int = 0,
    anchor_rating: float = 1000.0, factor: float = 400 / math.log(10),
) -> StyleControl:  # fmt: skip
    """Style-controlled Bradley–Terry (module docstring) with bootstrap and sandwich 95% intervals."""
    from arena.style import style_design

    if not battles.has_style:
        raise XrayBenchError(
            "style control needs style_a and style_b counts on every battle (an arena store's export has them; a "
            "FastChat clean-battle .json gives them through conv_metadata)"
        )
    x, names, dropped, scale = style_design(battles.style_names, battles.style_a, battles.style_b)  # type: ignore[arg-type]
    if not names:
        raise XrayBenchError(
            f"style control: no style feature varies between the reports of a battle ({', '.join(dropped)} are the "
            "same on both sides of every battle)"
        )
    m = len(battles.models)
    params = contextual_fit(battles, x, anchor, prior)
    cov = sandwich_cov(battles, x, anchor, params, prior)
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    boot, degenerate = (
        contextual_bootstrap(battles, x, anchor, params, rounds, seed, prior) if rounds else (np.empty((0, 0)), 0)
    )
    if len(boot):
        low, high = np.percentile(boot, [2.5, 97.5], axis=0)
    else:
        low = high = np.full(len(params), np.nan)
    return StyleControl(
        features=names, dropped=dropped, scale=scale,
        rating=anchor_rating + factor * params[:m], ci_low=anchor_rating + factor * low[:m],
        ci_high=anchor_rating + factor * high[:m],
        sandwich_low=anchor_rating + factor * (params[:m] - Z95 * se[:m]),
        sandwich_high=anchor_rating + factor * (params[:m] + Z95 * se[:m]),
        coef=params[m:], coef_low=low[m:], coef_high=high[m:],
        coef_sandwich_low=params[m:] - Z95 * se[m:], coef_sandwich_high=params[m:] + Z95 * se[m:],
        rounds_used=len(boot), rounds_degenerate=degenerate,
    )  # fmt: skip


def separability(low: np.ndarray, high: np.ndarray) -> float | None:
    """Share of model pairs whose intervals do not overlap (None without intervals or with fewer than 2 models)."""
    if len(low) < 2 or not (np.isfinite(low).all() and np.isfinite(high).all()):
        return None
    i, j = np.triu_indices(len(low), 1)
    apart = (high[i] < low[j]) | (high[j] < low[i])
    return float(apart.mean())


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for v in np.unique(values):  # ties share their average rank
        same = values == v
        ranks[same] = ranks[same].mean()
    return ranks


def rank_agreement(first: dict[str, float], second: dict[str, float]) -> dict[str, object]:
    """Kendall's tau-b and Spearman's rho between two ratings over the models both have (None below 2 models)."""
    common = sorted(set(first) & set(second))
    out: dict[str, object] = {"n_models": len(common), "kendall_tau": None, "spearman": None}
    if len(common) < 2:
        return out
    x = np.array([first[mdl] for mdl in common], dtype=np.float64)
    y = np.array([second[mdl] for mdl in common], dtype=np.float64)
    i, j = np.triu_indices(len(common), 1)
    dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
    denom = math.sqrt(float((dx != 0).sum()) * float((dy != 0).sum()))
    out["kendall_tau"] = float((dx * dy).sum() / denom) if denom else None
    rx, ry = _average_ranks(x), _average_ranks(y)
    sx, sy = rx - rx.mean(), ry - ry.mean()
    norm = math.sqrt(float((sx**2).sum() * (sy**2).sum()))
    out["spearman"] = float((sx * sy).sum() / norm) if norm else None
    return out


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
    sandwich_low: np.ndarray | None = None
    sandwich_high: np.ndarray | None = None
    style: StyleControl | None = None

    def order(self) -> list[int]:
        """Model indices from best to worst rating."""
        return sorted(range(len(self.models)), key=lambda i: (-self.rating[i], self.models[i]))

    def quality(self) -> dict[str, object]:
        """Benchmark-quality figures: separability (share of model pairs whose 95% intervals do not overlap) under
        each kind of interval, and the agreement of the style-controlled ranking with the raw one."""
        out: dict[str, object] = {
            "n_models": len(self.models),
            "separability": separability(self.ci_low, self.ci_high),
            "separability_sandwich": None
            if self.sandwich_low is None
            else separability(self.sandwich_low, self.sandwich_high),  # type: ignore[arg-type]
        }
        if self.style is not None:
            out["separability_style"] = separability(self.style.ci_low, self.style.ci_high)
            out["separability_style_sandwich"] = separability(self.style.sandwich_low, self.style.sandwich_high)
            out["style_vs_raw"] = rank_agreement(
                dict(zip(self.models, self.rating.tolist(), strict=True)),
                dict(zip(self.models, self.style.rating.tolist(), strict=True)),
            )
        return out

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
            if self.sandwich_low is not None and self.sandwich_high is not None:
                row["sandwich_ci_low"] = num(self.sandwich_low[i])
                row["sandwich_ci_high"] = num(self.sandwich_high[i])
            if self.length_rating is not None:
                row["length_controlled_rating"] = num(self.length_rating[i])
            if self.style is not None:
                row["style_controlled_rating"] = num(self.style.rating[i])
                row["style_ci_low"] = num(self.style.ci_low[i])
                row["style_ci_high"] = num(self.style.ci_high[i])
                row["style_sandwich_ci_low"] = num(self.style.sandwich_low[i])
                row["style_sandwich_ci_high"] = num(self.style.sandwich_high[i])
            rows.append(row)
        style = None
        if self.style is not None:
            style = {
                "features": list(self.style.features),
                "dropped": list(self.style.dropped),
                "coefficients": self.style.coefficients(),
                "rounds_used": self.style.rounds_used,
                "rounds_degenerate": self.style.rounds_degenerate,
            }
        return {
            "anchor": self.anchor,
            "settings": self.settings,
            "length_coef": self.length_coef,
            "style_control": style,
            "quality": self.quality(),
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
    style_control: bool = False,
) -> Ratings:
    """Ratings, 95% bootstrap and sandwich CIs, rank ranges, matrices, online Elo and (optionally) length and style
    control (`style_control` needs style counts on the battles)."""
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
    se = np.sqrt(np.maximum(np.diag(sandwich_cov(battles, np.zeros((len(battles), 0)), idx, theta, prior)), 0.0))
    style = (
        style_controlled(
            battles, idx, prior=prior, rounds=rounds, seed=seed, anchor_rating=anchor_rating, factor=factor
        )
        if style_control
        else None
    )
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
        "weighted": battles.weight is not None,
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
        sandwich_low=rating - factor * Z95 * se,
        sandwich_high=rating + factor * Z95 * se,
        style=style,
    )
