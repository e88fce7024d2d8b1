"""The adaptive arena schedule.

`AdaptiveScheduler` spends judgments where they most reduce rank uncertainty and stops when the ranking is
separated. A judging runner calls it in a loop, re-reading its battles after each batch:

    scheduler = AdaptiveScheduler(models, studies, seed=0)
    battles = None
    while not scheduler.done(battles):
        for model_a, model_b, study in scheduler.propose(battles):
            ...  # judge, store; battles = the store's battles so far

How it chooses. First a minimal spanning set: a spanning tree of model pairs (seeded order, pairs that
already have `explore` battles count as edges) with `explore` studies each, so the comparison graph is
connected and the Bradley–Terry fit is defined. Then, from the fit (with `prior` virtual ties per pair),
the Fisher information of the strengths gives their covariance S (the Laplace approximation). For every
pair of models (i, j) the current ordering is uncertain with probability w_ij = Phi(-|d_ij| / sd_ij) (d the
fitted strength difference, sd its standard error): the sum of w over all pairs is the expected number of
discordant pairs, i.e. of Kendall tau's errors, and it is dominated by pairs adjacent in the ranking whose
intervals overlap. Each pair's weight is w_ij^2: squaring concentrates the judgments on the orderings that
are genuinely undecided (in the simulation benchmark it needed ~30% fewer judgments than w_ij itself; a
fourth power was no better). One more comparison of pair (k, l), with expected information q = p_kl (1 - p_kl), lowers
Var(d_ij) by q (c_ij' S u_kl)^2 / (1 + q u_kl' S u_kl) (a rank-one update; u_kl = e_k - e_l). A batch is
chosen greedily: the pair with the largest sum over (i, j) of w_ij^2 * (relative variance reduction of d_ij),
then S is updated as if that comparison had been made (so the next pick sees its effect, which spreads a
batch over pairs), and so on. A pair's information shrinks as its battles accumulate, so thinly compared
pairs are preferred at equal uncertainty. Each pair gets a study it has not been judged on (least-used
studies first, seeded tie-break), so no (pair, study) is ever repeated, and a seeded coin decides which
model is `model_a`. Alternatives measured on held-out simulation seeds and not adopted (benchmarks/README.md,
"arena schedule"): an evenly spread burn-in of 2 studies per pair before the adaptive choice, weight w_ij,
weight w_ij^4, and choosing the study least used by the pair's two models: none needed fewer judgments.

When it stops. `done` is true when the budget is spent, when no unjudged (pair, study) is left, or when
the ranking is separated: for every two models adjacent in the current ranking, the 95% interval of their
rating difference from a bootstrap over studies (`arena.ratings.bootstrap_thetas`, the leaderboard's
resampling) excludes zero; gaps below one standard error of the Laplace approximation (which ignores
the correlation of a study's battles, so it is narrower than the bootstrap) fail without a bootstrap, which
keeps the test cheap while the ranking is still far from separated. Intervals of differences are used rather than overlap of the anchored per-model
intervals because they do not depend on which model is the anchor.

Everything is a function of the battles passed in and the seed: the same battles give the same proposal.

"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from arena.battles import Battles
from arena.ratings import bootstrap_thetas, bradley_terry, pair_wins
from arena.schedule import Comparison, _unique, new_model_schedule
from xraybench.errors import XrayBenchError

FACTOR = 400 / math.log(10)  # rating points per natural log-odds unit (bradley_terry's defaults)
PRESCREEN_Z = 1.0  # adjacent gaps under this many Laplace standard errors skip the bootstrap: not separated


def _phi_upper(z: np.ndarray) -> np.ndarray:
    """P(N(0, 1) > z), elementwise."""
    return np.array([0.5 * math.erfc(v / math.sqrt(2.0)) for v in z.ravel().tolist()]).reshape(z.shape)


class AdaptiveScheduler:
    """Proposes batches of comparisons that most reduce rank uncertainty; see the module docstring.

    `budget` caps the number of battles (default: the full matrix over the allowed pairs); `pairs`
    restricts which model pairs may be judged (default: all); `focus` names the models whose ranks are to
    be resolved (default: all): only orderings involving one of them count as uncertain, and the stopping
    test looks only at adjacent pairs that include one (`for_new_model` sets both); `explore` is the number of studies per pair of the spanning set; `prior` the virtual ties per pair
    that keep the fit finite; `rounds` the bootstrap rounds of the stopping test.
    """

    def __init__(
        self,
        models: Sequence[str],
        studies: Sequence[str],
        seed: int = 0,
        batch_size: int = 16,
        budget: int | None = None,
        pairs: Sequence[tuple[str, str]] | None = None,
        focus: Sequence[str] | None = None,
        explore: int = 2,
        prior: float = 1.0,
        rounds: int = 500,
    ) -> None:
        self.models = tuple(sorted(_unique(models, "models")))
        self.studies = _unique(studies, "studies")
        if len(self.models) < 2:
            raise XrayBenchError(f"an arena needs at least two models, got {len(self.models)}")
        if not self.studies:
            raise XrayBenchError("an arena needs at least one study")
        if batch_size < 1 or explore < 1 or rounds < 1 or prior <= 0:
            raise XrayBenchError(
                f"need batch_size >= 1, explore >= 1, rounds >= 1 and prior > 0 (got {batch_size}, {explore}, "
                f"{rounds}, {prior})"
            )
        self.seed, self.batch_size, self.explore, self.prior, self.rounds = seed, batch_size, explore, prior, rounds
        self._index = {name: i for i, name in enumerate(self.models)}
        self._study_index = {name: i for i, name in enumerate(self.studies)}
        m = len(self.models)
        if pairs is None:
            allowed = [(i, j) for i in range(m) for j in range(i + 1, m)]
        else:
            allowed = sorted({tuple(sorted((self._model(a), self._model(b)))) for a, b in pairs})
            if any(i == j for i, j in allowed):
                raise XrayBenchError("a model cannot be paired with itself")
        if not allowed:
            raise XrayBenchError("no model pairs to judge")
        self.pairs: list[tuple[int, int]] = allowed  # type: ignore[assignment]
        focus_idx = range(m) if focus is None else [self._model(name) for name in focus]
        self._focus = np.zeros(m, dtype=bool)
        self._focus[list(focus_idx)] = True
        self.budget = len(self.pairs) * len(self.studies) if budget is None else budget
        rng = np.random.default_rng(seed)
        self._tree_order = [self.pairs[k] for k in rng.permutation(len(self.pairs))]
        self._study_rank = np.argsort(rng.permutation(len(self.studies)))  # seeded tie-break among studies

    @classmethod
    def for_new_model(
        cls, new: str, field: Sequence[str], studies: Sequence[str], **options: object
    ) -> AdaptiveScheduler:
        """A new model judged only against the existing field, until its own rank is resolved."""
        pairs = [(new, opponent) for _, opponent, _ in new_model_schedule(new, field, studies[:1])]
        return cls([new, *field], studies, pairs=pairs, focus=[new], **options)  # type: ignore[arg-type]

    def _model(self, name: str) -> int:
        if name not in self._index:
            raise XrayBenchError(f"model {name!r} is not in this arena (models: {', '.join(self.models)})")
        return self._index[name]

    def _remap(self, battles: Battles | None) -> Battles | None:
        """The battles over this scheduler's models and studies (every model present, in `self.models` order)."""
        if battles is None or len(battles) == 0:
            return None
        if battles.study is None or battles.study_ids is None:
            raise XrayBenchError("adaptive scheduling needs a study_id on every battle")
        model_map = np.array([self._model(name) for name in battles.models], dtype=np.int64)
        unknown = [s for s in battles.study_ids if s not in self._study_index]
        if unknown:
            raise XrayBenchError(f"battles name studies outside this arena: {', '.join(unknown[:5])}")
        study_map = np.array([self._study_index[s] for s in battles.study_ids], dtype=np.int64)
        return Battles(
            self.models,
            model_map[battles.a],
            model_map[battles.b],
            battles.score,
            study_map[battles.study],
            self.studies,
        )

    def _n_spent(self, battles: Battles | None) -> int:
        """Battles that count against the budget: those on this scheduler's pairs (a field's own battles don't)."""
        if battles is None:
            return 0
        if len(self.pairs) == len(self.models) * (len(self.models) - 1) // 2:
            return len(battles)
        allowed = set(self.pairs)
        lo, hi = np.minimum(battles.a, battles.b), np.maximum(battles.a, battles.b)
        return sum((i, j) in allowed for i, j in zip(lo.tolist(), hi.tolist(), strict=True))

    def _used(self, battles: Battles | None) -> tuple[np.ndarray, np.ndarray]:
        """taken[k, s]: allowed pair k was judged on study s; and how often each study was used overall.

        Arrays rather than per-pair sets: this runs on every `propose`/`done` over all battles so far.
        """
        taken = np.zeros((len(self.pairs), len(self.studies)), dtype=bool)
        if battles is None:
            return taken, np.zeros(len(self.studies), dtype=np.int64)
        k = self._pair_of()[battles.a, battles.b]
        mine = k >= 0
        taken[k[mine], battles.study[mine]] = True  # type: ignore[index]
        return taken, np.bincount(battles.study, minlength=len(self.studies))  # type: ignore[arg-type]

    def _pair_of(self) -> np.ndarray:
        """pair_of[i, j]: the index of allowed pair (i, j) in `self.pairs` (either order), -1 if not allowed."""
        m = len(self.models)
        pair_of = np.full((m, m), -1, dtype=np.int64)
        for k, (i, j) in enumerate(self.pairs):
            pair_of[i, j] = pair_of[j, i] = k
        return pair_of

    def _in_flight(self, pending: Sequence[Comparison]) -> tuple[np.ndarray, np.ndarray]:
        """The allowed-pair index and study index of every pending comparison (others: not this scheduler's)."""
        if not pending:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        unknown = sorted({s for _, _, s in pending if s not in self._study_index})
        if unknown:
            raise XrayBenchError(f"pending comparisons name studies outside this arena: {', '.join(unknown[:5])}")
        pair_of = self._pair_of()
        k = np.array([pair_of[self._model(a), self._model(b)] for a, b, _ in pending], dtype=np.int64)
        study = np.array([self._study_index[s] for _, _, s in pending], dtype=np.int64)
        mine = k >= 0
        _, first = np.unique(k[mine] * len(self.studies) + study[mine], return_index=True)  # each (pair, study) once
        first.sort()
        return k[mine][first], study[mine][first]

    def _spanning_needs(
        self, battles: Battles | None, taken: np.ndarray, in_flight: np.ndarray | None = None
    ) -> list[tuple[int, int]]:
        """Pairs of a minimal spanning set, each repeated by the studies it still lacks (empty: connected).

        `in_flight` (allowed-pair indices of pending comparisons) counts as judged: it is on its way.
        """
        m = len(self.models)
        parent = list(range(m))

        def root(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        counts = np.zeros((m, m), dtype=np.int64)
        if battles is not None:
            np.add.at(counts, (battles.a, battles.b), 1)
        if in_flight is not None and len(in_flight):
            pairs = np.array(self.pairs, dtype=np.int64)[in_flight]
            np.add.at(counts, (pairs[:, 0], pairs[:, 1]), 1)
        counts += counts.T
        for i, j in zip(*np.nonzero(np.triu(counts >= self.explore)), strict=True):
            parent[root(int(i))] = root(int(j))
        pair_id = {pair: k for k, pair in enumerate(self.pairs)}
        needs: list[tuple[int, int]] = []
        for i, j in self._tree_order:
            if root(i) != root(j):
                parent[root(i)] = root(j)
                missing = min(self.explore - int(counts[i, j]), int((~taken[pair_id[(i, j)]]).sum()))
                needs += [(i, j)] * missing
        if len({root(x) for x in range(m)}) > 1:
            raise XrayBenchError(
                "the allowed pairs cannot connect all models (add pairs or battles linking "
                f"{', '.join(self.models[x] for x in range(m) if root(x) != root(0))} to the rest)"
            )
        return needs

    def _fit(self, battles: Battles | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Strengths (natural units, model 0 at 0), their Laplace covariance and the win probabilities.

        Without battles (everything proposed so far still in flight) it is the prior alone: equal strengths.
        """
        m = len(self.models)
        if battles is None:
            theta, wins = np.zeros(m), (self.prior / 2.0) * (1.0 - np.eye(m))
        else:
            ratings = bradley_terry(battles, prior=self.prior)
            theta = (np.array([ratings[name] for name in self.models]) - 1000.0) / FACTOR
            wins = pair_wins(battles) + (self.prior / 2.0) * (1.0 - np.eye(m))
        p = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :])))
        weight = (wins + wins.T) * p * p.T
        info = np.diag(weight.sum(axis=1)) - weight
        cov = np.zeros_like(info)
        cov[1:, 1:] = np.linalg.inv(info[1:, 1:])
        return theta, cov, p

    def _target_weight(self, z: np.ndarray) -> np.ndarray:
        """How much resolving an ordering now matters, from its |difference| / standard error."""
        return _phi_upper(z) ** 2

    def _adaptive_pairs(
        self, battles: Battles | None, capacity: np.ndarray, k: int, in_flight: np.ndarray | None = None
    ) -> list[tuple[int, int]]:
        """Greedy batch of pairs by weighted relative variance reduction (module docstring).

        The pairs of `in_flight` (pending comparisons) are taken as earlier picks of the same greedy: the
        covariance is updated as if they had been judged, so the batch complements them.
        """
        theta, cov, p = self._fit(battles)
        m = len(self.models)
        ti, tj = np.triu_indices(m, 1)
        diff = np.abs(theta[ti] - theta[tj])
        var = cov[ti, ti] + cov[tj, tj] - 2 * cov[ti, tj]
        weight = self._target_weight(diff / np.sqrt(np.maximum(var, 1e-300))) * (self._focus[ti] | self._focus[tj])
        ck, cl = np.array([a for a, _ in self.pairs]), np.array([b for _, b in self.pairs])
        q = p[ck, cl] * p[cl, ck]
        for best in () if in_flight is None else in_flight.tolist():
            u = cov[:, ck[best]] - cov[:, cl[best]]
            cov = cov - q[best] * np.outer(u, u) / (1.0 + q[best] * (u[ck[best]] - u[cl[best]]))
        capacity = capacity.copy()
        chosen: list[tuple[int, int]] = []
        for _ in range(k):
            open_ = np.flatnonzero(capacity > 0)
            if not len(open_):
                break
            g = cov[:, ck[open_]] - cov[:, cl[open_]]  # S u for each open candidate, (m, n_open)
            along = g[ck[open_], np.arange(len(open_))] - g[cl[open_], np.arange(len(open_))]  # u' S u
            cross = g[ti] - g[tj]  # c' S u, (n_targets, n_open)
            shrink = q[open_] / (1.0 + q[open_] * along)
            var = cov[ti, ti] + cov[tj, tj] - 2 * cov[ti, tj]
            gain = (weight[:, None] * cross**2 / np.maximum(var, 1e-300)[:, None]).sum(axis=0) * shrink
            best = int(open_[int(np.argmax(gain))])
            chosen.append(self.pairs[best])
            capacity[best] -= 1
            u = cov[:, ck[best]] - cov[:, cl[best]]
            cov = cov - q[best] * np.outer(u, u) / (1.0 + q[best] * (u[ck[best]] - u[cl[best]]))
        return chosen

    def propose(
        self, battles: Battles | None, k: int | None = None, pending: Sequence[Comparison] = ()
    ) -> list[Comparison]:
        """Up to `k` (default `batch_size`) new comparisons given the battles so far; [] when nothing is left.

        `pending`: comparisons proposed earlier whose judgments are not in `battles` yet (in flight, or failed
        in this run). They count against the budget, are never proposed again, and the choice treats them as
        made, so a runner can propose the next batch while the last one is still being judged.
        Never repeats a (pair, study) already in `battles`, `pending` or the batch; never exceeds the budget.
        """
        remapped = self._remap(battles)
        in_flight, in_flight_study = self._in_flight(pending)
        taken, study_use = self._used(remapped)
        fresh = ~taken[in_flight, in_flight_study]  # a pending comparison already judged counts once
        in_flight, in_flight_study = in_flight[fresh], in_flight_study[fresh]
        n_done = self._n_spent(remapped) + len(in_flight)
        k = min(self.batch_size if k is None else k, self.budget - n_done)
        if k <= 0:
            return []
        taken[in_flight, in_flight_study] = True
        np.add.at(study_use, in_flight_study, 1)
        capacity = (~taken).sum(axis=1)
        needs = self._spanning_needs(remapped, taken, in_flight)
        # the spanning set first, then the adaptive choice
        chosen = needs[:k] if needs else self._adaptive_pairs(remapped, capacity, k, in_flight)
        rng = np.random.default_rng([self.seed, n_done])
        pair_id = {pair: idx for idx, pair in enumerate(self.pairs)}
        out: list[Comparison] = []
        for i, j in chosen:
            row = taken[pair_id[(i, j)]]
            free = np.flatnonzero(~row)
            study = int(free[np.lexsort((self._study_rank[free], study_use[free]))[0]])
            row[study] = True
            study_use[study] += 1
            a, b = (i, j) if rng.random() < 0.5 else (j, i)
            out.append((self.models[a], self.models[b], self.studies[study]))
        return out

    def separated(self, battles: Battles | None) -> bool:
        """Is every adjacent pair of the current ranking apart (bootstrap 95% interval of the difference > 0)?"""
        remapped = self._remap(battles)
        if remapped is None:
            return False
        taken, _ = self._used(remapped)
        if self._spanning_needs(remapped, taken):
            return False
        theta, cov, _ = self._fit(remapped)
        order = np.argsort(-theta, kind="stable")
        better, worse = order[:-1], order[1:]
        keep = self._focus[better] | self._focus[worse]
        better, worse = better[keep], worse[keep]
        sd = np.sqrt(cov[better, better] + cov[worse, worse] - 2 * cov[better, worse])
        if (theta[better] - theta[worse] < PRESCREEN_Z * sd).any():
            return False  # clearly overlapping already under the (narrower) independent-battles approximation
        thetas, _, _ = bootstrap_thetas(remapped, 0, theta, self.rounds, self.seed, self.prior)
        gaps = thetas[:, better] - thetas[:, worse]
        return bool((np.percentile(gaps, 2.5, axis=0) > 0).all())

    def done(self, battles: Battles | None) -> bool:
        """True when the budget is spent, every allowed (pair, study) is judged, or the ranking is separated."""
        remapped = self._remap(battles)
        n_done = self._n_spent(remapped)
        if n_done >= self.budget:
            return True
        taken, _ = self._used(remapped)
        if taken.all():
            return True
        return self.separated(battles)
