"""Synthetic "models" of known quality, and how well an arena recovers their order (Kendall tau with CIs).

Why: an arena's ranking is only trustworthy if it recovers a ranking we know. A synthetic model with quality q
answers each study with the reference report, paraphrased (a correct report that is not a verbatim copy), except
on a seeded share 1 - q of the studies, where one clinical error from `arena.mutator` is injected first. The
correct answers are the same text for every model (one fixed paraphrase per study), so two models that are both
right on a study tie without a judge call; only their errors differ. The true order is the order of q.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from arena.battles import Battles
from arena.mutator import CLINICAL_TYPES, NothingToMutate, mutate
from xraybench.errors import XrayBenchError
from xraybench.records import Sample

DEFAULT_QUALITIES = (1.0, 0.85, 0.7, 0.55, 0.4)
PARAPHRASE_SEED = 0  # the same paraphrase of a study for every model


@dataclass(frozen=True)
class SyntheticModel:
    """`texts[study_id]` is the model's report; `errors[study_id]` the injected error type and what it changed."""

    name: str
    quality: float
    texts: dict[str, str]
    errors: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def error_rate(self) -> float:
        """The share of studies that really got an error (below 1 - quality when a study offered none)."""
        return len(self.errors) / len(self.texts) if self.texts else 0.0


def model_name(quality: float) -> str:
    return f"synthetic_q{round(quality * 100):03d}"


def correct_text(reference: str) -> str:
    """A correct report: the reference paraphrased (the reference itself when no rewrite applies)."""
    try:
        return mutate(reference, "paraphrase", PARAPHRASE_SEED).text
    except NothingToMutate:
        return reference


def synthetic_model(
    samples: Sequence[Sample], quality: float, *, seed: int = 0, kinds: Sequence[str] = CLINICAL_TYPES,
    name: str | None = None,
) -> SyntheticModel:  # fmt: skip
    """A model that is right on a seeded share `quality` of `samples` and has one error of `kinds` elsewhere."""
    if not 0.0 <= quality <= 1.0:
        raise XrayBenchError(f"a synthetic model's quality must be in [0, 1], got {quality}")
    unknown = sorted(set(kinds) - set(CLINICAL_TYPES))
    if unknown or not kinds:
        raise XrayBenchError(f"error types must be among {', '.join(CLINICAL_TYPES)}, got {list(kinds)}")
    name = name or model_name(quality)
    rng = random.Random(f"{name}:{seed}")
    ids = sorted(s.id for s in samples)
    wrong = set(rng.sample(ids, round((1.0 - quality) * len(ids))))
    texts: dict[str, str] = {}
    errors: dict[str, dict[str, str]] = {}
    for sample in sorted(samples, key=lambda s: s.id):
        reference = sample.reference or ""
        texts[sample.id] = correct_text(reference)
        if sample.id not in wrong:
            continue
        order = list(kinds)
        rng.shuffle(order)
        for kind in order:
            try:
                mutation = mutate(reference, kind, rng.randrange(1 << 30))
            except NothingToMutate:
                continue
            texts[sample.id] = correct_text(mutation.text)
            errors[sample.id] = {"kind": kind, "change": mutation.change}
            break
    return SyntheticModel(name, quality, texts, errors)


def synthetic_models(
    samples: Sequence[Sample], qualities: Iterable[float] = DEFAULT_QUALITIES, *, seed: int = 0,
    kinds: Sequence[str] = CLINICAL_TYPES,
) -> list[SyntheticModel]:  # fmt: skip
    models = [synthetic_model(samples, q, seed=seed, kinds=kinds) for q in qualities]
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise XrayBenchError(f"two synthetic models would share a name: {names} (use distinct qualities)")
    return models


def write_predictions(model: SyntheticModel, path: str | Path, task: str | None = None) -> Path:
    """The model's reports as a prediction file (`{"id", "prediction"}` per line) for `arena judge --predictions`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"id": sid, "prediction": text, **({"task": task} if task else {})} for sid, text in model.texts.items()]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b between two scorings of the same items (ties in either count as neither)."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.shape != b.shape or a.size < 2:
        raise XrayBenchError("Kendall tau needs two scorings of the same at least two items")
    i, j = np.triu_indices(a.size, k=1)
    da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    n_a, n_b = np.count_nonzero(da), np.count_nonzero(db)
    if n_a == 0 or n_b == 0:
        return float("nan")
    return float(np.sum(da * db) / np.sqrt(n_a * n_b))


def order_recovery(
    battles: Battles, qualities: Mapping[str, float], *, rounds: int = 1000, seed: int = 0, prior: float = 0.5
) -> dict[str, Any]:
    """Kendall tau between the known qualities and the Bradley-Terry ratings of those models, with a 95% CI.

    The CI resamples studies (as the arena's rating CIs do) and refits; a small `prior` (virtual ties) keeps every
    resample's ratings finite, so no round is dropped because a model happened to win all its battles.
    """
    from arena.ratings import bootstrap_thetas, bradley_terry

    names = [m for m in battles.models if m in qualities]
    if len(names) < 2:
        raise XrayBenchError(f"order recovery needs at least two synthetic models in the battles, got {names}")
    truth = [qualities[m] for m in names]
    point = bradley_terry(battles, anchor=names[0], prior=prior)
    tau = kendall_tau(truth, [point[m] for m in names])
    index = [battles.models.index(m) for m in names]
    low = high = None
    used = 0
    if rounds:
        anchor = battles.models.index(names[0])
        theta0 = np.zeros(len(battles.models))
        thetas, _, _ = bootstrap_thetas(battles, anchor, theta0, rounds, seed, prior)
        taus = [kendall_tau(truth, row[index]) for row in thetas]
        taus = [t for t in taus if np.isfinite(t)]
        used = len(taus)
        if taus:
            low, high = (float(v) for v in np.percentile(taus, [2.5, 97.5]))
    return {
        "kendall_tau": tau, "ci_low": low, "ci_high": high, "rounds": rounds, "rounds_used": used, "prior": prior,
        "true_order": sorted(names, key=lambda m: -qualities[m]),
        "recovered_order": sorted(names, key=lambda m: -point[m]),
        "ratings": {m: point[m] for m in names},
    }  # fmt: skip
