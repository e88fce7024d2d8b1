"""Synthetic models of known quality and the Kendall-tau order recovery."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from arena.battles import from_records
from arena.mutator import labels_of
from arena.synthetic import kendall_tau, order_recovery, synthetic_model, synthetic_models, write_predictions
from xraybench.errors import XrayBenchError
from xraybench.taskdata import load_task

TASK = "demo_findings"


@pytest.fixture(scope="module")
def samples() -> list:
    return load_task(TASK).samples


def test_error_rate_is_controlled_and_correct_answers_are_shared(samples: list) -> None:
    good, bad = synthetic_models(samples, (1.0, 0.5), seed=1)
    assert good.name == "synthetic_q100" and good.errors == {}
    assert bad.error_rate == pytest.approx(0.5)
    for sample in samples:
        if sample.id in bad.errors:
            assert bad.texts[sample.id] != good.texts[sample.id]
        else:
            assert bad.texts[sample.id] == good.texts[sample.id]  # both right: the same text, a tie for free
        assert labels_of(good.texts[sample.id]) == labels_of(sample.reference)
    assert synthetic_model(samples, 0.5, seed=1) == bad  # deterministic


def test_only_the_requested_error_types(samples: list) -> None:
    model = synthetic_model(samples, 0.0, kinds=("false_finding",))
    assert {e["kind"] for e in model.errors.values()} == {"false_finding"} and model.error_rate == 1.0
    with pytest.raises(XrayBenchError, match="error types must be among"):
        synthetic_model(samples, 0.5, kinds=("paraphrase",))
    with pytest.raises(XrayBenchError, match=r"quality must be in \[0, 1\]"):
        synthetic_model(samples, 1.5)


def test_prediction_file_round_trip(samples: list, tmp_path: Path) -> None:
    from xraybench.models.predictions import read_prediction_file

    model = synthetic_model(samples, 0.7)
    path = write_predictions(model, tmp_path / "m.jsonl")
    rows = read_prediction_file(path).rows
    assert {r.id: r.text for r in rows} == model.texts
    assert json.loads(path.read_text().splitlines()[0]).keys() == {"id", "prediction"}


def test_kendall_tau_matches_scipy() -> None:
    from scipy.stats import kendalltau

    rng = np.random.default_rng(0)
    for _ in range(20):
        x, y = rng.integers(0, 4, 7).astype(float), rng.normal(size=7)
        ours, ref = kendall_tau(x, y), kendalltau(x, y).statistic
        assert (np.isnan(ours) and np.isnan(ref)) or ours == pytest.approx(ref)
    assert kendall_tau([1, 2, 3], [3, 2, 1]) == -1.0


def test_order_recovery_on_simulated_battles() -> None:
    rng = np.random.default_rng(0)
    quality = {"m1": 0.9, "m2": 0.6, "m3": 0.3}
    strength = {"m1": 1.5, "m2": 0.5, "m3": -1.0}
    records = []
    for study in range(60):
        for a, b in itertools.combinations(sorted(quality), 2):
            p = 1 / (1 + np.exp(-(strength[a] - strength[b])))
            winner = "model_a" if rng.random() < p else "model_b"
            records.append((len(records) + 1, {"model_a": a, "model_b": b, "winner": winner, "study_id": str(study)}))
    result = order_recovery(from_records(records), quality, rounds=200, seed=0)
    assert result["kendall_tau"] == 1.0 and result["recovered_order"] == ["m1", "m2", "m3"]
    assert result["rounds_used"] == 200 and -1.0 <= result["ci_low"] <= result["ci_high"] == 1.0
