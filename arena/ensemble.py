"""Judge ensembles: several judges on the same battles, a pooled rating and how far the judges agree.

`xraybench arena judge --judge A --judge B` judges every battle with each judge into the one store (a judgment's
key holds its judge, so each judge's verdicts are kept apart); `arena leaderboard --judge A --judge B` rates each
judge's battles on its own, pools them, and measures the judges' agreement on the 5-level verdicts.

Pooling: every pooled judge's battles enter one Bradley-Terry fit, each with weight 1/J (J pooled judges), so the
pooled fit maximises the judges' mean log-likelihood. Arena-Hard-Auto v2 pools an ensemble the same way
(`show_result.py --judge-names A B`: the judges' battles are concatenated into one table before the fit); the
weight 1/J keeps the prior's virtual ties as strong against J judges as against one, and the study bootstrap
resamples a study with all judges' verdicts on it, so J correlated verdicts on one battle do not narrow the CI as
J independent battles would.

Agreement (on battles with a judge verdict from at least two judges, in canonical model orientation; ties between
identical reports are not verdicts and are left out): per pair of judges the share of equal verdicts, Cohen's
kappa (5 nominal levels) and the quadratic-weighted kappa (Cohen 1968; the levels are ordered A>>B ... B>>A); over
all judges Fleiss' kappa (nominal) and Krippendorff's alpha with the ordinal metric (Krippendorff 2011), which
allows a judge's missing verdict. Each with a 95% percentile CI from a bootstrap over studies (a study's battles
stay together). The statistics are `xraybench.review.stats`'s, checked against scikit-learn, statsmodels and the
`krippendorff` package.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from arena.prompt import VERDICT_LEVELS
from xraybench.review.stats import alpha_from_coincidences, coincidences, kappa_from_table

POOLING = (
    "each pooled judge's battles in one Bradley-Terry fit with weight 1/J (J pooled judges), as Arena-Hard-Auto v2 "
    "pools its judge ensemble; CIs from the bootstrap over studies (all judges' verdicts on a study together)"
)


def battle_key(row: Mapping[str, Any]) -> tuple[str, str, str, str, str]:
    """One judged battle, whoever judged it: task, study, the two models (canonical order) and the shown order."""
    return (str(row.get("task")), str(row.get("study_id")), str(row["model_a"]), str(row["model_b"]),
            str(row.get("order")))  # fmt: skip


def pooled_rows(rows_by_judge: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Every judge's battle rows with weight 1/J (see `POOLING`)."""
    weight = 1.0 / len(rows_by_judge)
    return [{**row, "weight": weight} for rows in rows_by_judge.values() for row in rows]


@dataclass(frozen=True)
class VerdictTable:
    """The judges' 5-level verdicts on the battles at least two of them judged: `codes[i, j]` is judge j's level
    on battle i (index into `VERDICT_LEVELS`; -1: no verdict), `study[i]` indexes `studies`."""

    judges: tuple[str, ...]
    codes: np.ndarray
    study: np.ndarray
    studies: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.codes.shape[0])


def verdict_table(rows_by_judge: Mapping[str, Sequence[Mapping[str, Any]]]) -> VerdictTable:
    """Align the judges' verdicts by battle (`battle_key`); only the judges' own verdicts (`source` judge) count."""
    judges = tuple(rows_by_judge)
    by_key: dict[tuple[str, ...], list[int]] = {}
    for j, judge in enumerate(judges):
        for row in rows_by_judge[judge]:
            if row.get("source") != "judge" or row.get("verdict") not in VERDICT_LEVELS:
                continue
            codes = by_key.setdefault(battle_key(row), [-1] * len(judges))
            codes[j] = VERDICT_LEVELS.index(row["verdict"])  # a later configuration's verdict replaces an earlier
    keys = sorted(k for k, codes in by_key.items() if sum(c >= 0 for c in codes) >= 2)
    studies = tuple(sorted({k[0] + "\x00" + k[1] for k in keys}))
    index = {s: i for i, s in enumerate(studies)}
    codes = np.array([by_key[k] for k in keys], dtype=np.int64).reshape(len(keys), len(judges))
    study = np.array([index[k[0] + "\x00" + k[1]] for k in keys], dtype=np.int64)
    return VerdictTable(judges, codes, study, tuple(s.replace("\x00", "/") for s in studies))


# -- sufficient statistics per study, summed over a bootstrap resample ------------------------------------------

K = len(VERDICT_LEVELS)


def _per_study(values: np.ndarray, study: np.ndarray, n_studies: int) -> np.ndarray:
    """Sum the per-battle arrays `values` (n, ...) within each study -> (n_studies, ...)."""
    out = np.zeros((n_studies, *values.shape[1:]))
    np.add.at(out, study, values)
    return out


def _pair_tables(table: VerdictTable, a: int, b: int) -> tuple[np.ndarray, int]:
    """Per study, the K x K confusion counts of judges a and b on the battles both judged; and their number."""
    both = (table.codes[:, a] >= 0) & (table.codes[:, b] >= 0)
    cells = np.zeros((int(both.sum()), K * K))
    cells[np.arange(len(cells)), table.codes[both, a] * K + table.codes[both, b]] = 1
    return _per_study(cells, table.study[both], len(table.studies)).reshape(-1, K, K), int(both.sum())


def _item_counts(table: VerdictTable) -> np.ndarray:
    """(battles x levels) counts of the judges' verdicts."""
    counts = np.zeros((len(table), K))
    for j in range(len(table.judges)):
        given = table.codes[:, j] >= 0
        np.add.at(counts, (np.nonzero(given)[0], table.codes[given, j]), 1)
    return counts


def _fleiss_parts(counts: np.ndarray, study: np.ndarray, n_studies: int) -> np.ndarray:
    """Per study: [sum of per-battle agreement P_i, number of battles, level totals...] (Fleiss 1971)."""
    raters = counts.sum(axis=1)
    per_item = ((counts**2).sum(axis=1) - raters) / (raters * (raters - 1))
    return _per_study(np.column_stack([per_item, np.ones(len(counts)), counts]), study, n_studies)


def _fleiss(parts: np.ndarray) -> float:
    if parts[1] <= 0:
        return math.nan
    p = parts[2:] / parts[2:].sum()
    expected = float((p**2).sum())
    return math.nan if expected >= 1.0 else (float(parts[0] / parts[1]) - expected) / (1.0 - expected)


def _estimate(
    per_study: np.ndarray, stat: Callable[[np.ndarray], float], rounds: int, rng: np.random.Generator, n: int
) -> dict[str, Any]:
    """The statistic on all studies and its 95% percentile interval over `rounds` study resamples."""
    value = stat(per_study.sum(axis=0))
    low = high = None
    if rounds and len(per_study) > 1:
        draws = rng.integers(0, len(per_study), (rounds, len(per_study)))
        boot = np.array([stat(per_study[d].sum(axis=0)) for d in draws])
        boot = boot[np.isfinite(boot)]
        if len(boot):
            low, high = (float(v) for v in np.percentile(boot, [2.5, 97.5]))
    return {"value": value if math.isfinite(value) else None, "ci_low": low, "ci_high": high, "n": n}


def judge_agreement(
    rows_by_judge: Mapping[str, Sequence[Mapping[str, Any]]], *, rounds: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Inter-judge agreement on the 5-level verdicts with study-bootstrap CIs (module docstring)."""
    table = verdict_table(rows_by_judge)
    rng = np.random.default_rng(seed)
    n_studies = len(table.studies)
    pairs = []
    for a, b in itertools.combinations(range(len(table.judges)), 2):
        per_study, n = _pair_tables(table, a, b)
        per_study = per_study.reshape(n_studies, K * K)
        pairs.append({
            "judges": [table.judges[a], table.judges[b]],
            "exact_agreement": _estimate(
                per_study, lambda t: _share_equal(t.reshape(K, K)), rounds, rng, n),
            "cohen_kappa": _estimate(
                per_study, lambda t: kappa_from_table(t.reshape(K, K)), rounds, rng, n),
            "weighted_kappa": _estimate(
                per_study, lambda t: kappa_from_table(t.reshape(K, K), "quadratic"), rounds,
                rng, n),
        })  # fmt: skip
    counts = _item_counts(table)
    coin = np.zeros((n_studies, K * K))  # per study: Krippendorff's coincidences of its battles
    for s in range(n_studies):
        coin[s] = coincidences(counts[table.study == s]).ravel()
    n_items = len(table)
    return {
        "judges": list(table.judges),
        "n_battles": n_items,
        "n_studies": n_studies,
        "bootstrap_unit": "study",
        "rounds": rounds,
        "seed": seed,
        "levels": list(VERDICT_LEVELS),
        "pairs": pairs,
        "fleiss_kappa": _estimate(_fleiss_parts(counts, table.study, n_studies), _fleiss, rounds, rng, n_items),
        "krippendorff_alpha_ordinal": _estimate(
            coin, lambda o: alpha_from_coincidences(o.reshape(K, K), "ordinal"), rounds, rng, n_items
        ),
    }


def _share_equal(table: np.ndarray) -> float:
    total = table.sum()
    return math.nan if total <= 0 else float(np.trace(table) / total)
