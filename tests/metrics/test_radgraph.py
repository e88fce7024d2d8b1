"""RadGraph F1: the reward arithmetic against the `radgraph` package, the adapter's wiring, and the skip path."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from xraybench.errors import XrayBenchError
from xraybench.metrics import METRICS
from xraybench.metrics._local_models import hub_offline
from xraybench.metrics.radgraph import MODEL_ENV, RadGraphMetric, rewards, score_annotations
from xraybench.records import Prediction, Sample

TOKENS = ["effusion", "Effusion", "pleural", "left", "heart", "size", "normal", "opacity", "Opacity", "lobe"]
LABELS = ["ANAT-DP", "OBS-DP", "OBS-DA", "OBS-U"]
RELATIONS = ["modify", "located_at", "suggestive_of"]


def entity(tokens: str, label: str, relations: list[list[str]] | None = None) -> dict[str, Any]:
    return {"tokens": tokens, "label": label, "start_ix": 0, "end_ix": 0, "relations": relations or []}


def random_annotation(rng: random.Random) -> dict[str, Any]:
    """Small vocabularies so hypothesis and reference share items often (the interesting cases)."""
    n = rng.choice([0, 1, 2, 3, 4, 6])
    entities = {}
    for i in range(1, n + 1):
        relations = [[rng.choice(RELATIONS), str(rng.randint(1, n))] for _ in range(rng.choice([0, 0, 1, 2]))]
        tokens = " ".join(rng.sample(TOKENS[:5], 2)) if rng.random() < 0.2 else rng.choice(TOKENS[:5])
        entities[str(i)] = entity(tokens, rng.choice(LABELS[:2]), relations)
    return {"text": "", "entities": entities, "data_source": None, "data_split": "inference"}


def test_hand_computed_rewards() -> None:
    hyp = {
        "entities": {
            "1": entity("effusion", "OBS-DP", [["located_at", "2"]]),
            "2": entity("pleural", "ANAT-DP"),
            "3": entity("heart", "ANAT-DP"),
        }
    }
    ref = {"entities": {"1": entity("Effusion", "OBS-DP", [["located_at", "2"]]), "2": entity("pleural", "ANAT-DP")}}
    simple, partial, complete = rewards(hyp, ref)
    # simple: hyp {effusion, pleural, heart}, ref {Effusion, pleural}: 1 shared -> P 1/3, R 1/2
    assert simple == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    # partial: (effusion, True) vs (Effusion, True) differ in case -> again only pleural shared
    assert partial == pytest.approx(simple)
    # complete: relation items are lowercased -> (effusion, OBS-DP, located_at, pleural) and pleural shared
    assert complete == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    assert rewards({"entities": {}}, ref) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("seed", range(40))
def test_rewards_match_the_radgraph_package(seed: int) -> None:
    package_rewards = pytest.importorskip(
        "radgraph.rewards", reason="the radgraph package (dev extra) is the reference"
    )
    rng = random.Random(seed)
    for _ in range(10):
        hyp, ref = random_annotation(rng), random_annotation(rng)
        expected = package_rewards.compute_reward(hyp, ref, "all")
        assert rewards(hyp, ref) == pytest.approx(expected, abs=1e-12)


def test_score_annotations_means_and_empty_pairs() -> None:
    ann = {"entities": {"1": entity("effusion", "OBS-DP")}}
    scores = score_annotations([ann, None, ann], [ann, ann, {"entities": {}}])
    assert sorted(scores) == ["radgraph_f1_complete", "radgraph_f1_partial", "radgraph_f1_simple"]
    assert list(scores["radgraph_f1_simple"].per_sample) == [1.0, 0.0, 0.0]
    assert scores["radgraph_f1_partial"].value == pytest.approx(1 / 3)


def test_bad_annotation_is_reported() -> None:
    with pytest.raises(XrayBenchError, match="'entities' dict"):
        rewards({"ents": {}}, {"entities": {}})
    broken = {"entities": {"1": entity("effusion", "OBS-DP", [["modify", "9"]])}}
    with pytest.raises(XrayBenchError, match="unknown entity '9'"):
        rewards(broken, broken)


def test_missing_model_is_skipped_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("radgraph", reason="without the radgraph package the metric needs the 'radgraph' extra")
    import radgraph

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("RadGraph must not be constructed (it would download) when no model is present")

    monkeypatch.setattr(radgraph, "RadGraph", no_download)
    monkeypatch.delenv(MODEL_ENV, raising=False)
    with pytest.raises(XrayBenchError, match=f"`model_dir`.*{MODEL_ENV}"):
        RadGraphMetric(model_dir=str(tmp_path))
    monkeypatch.setenv(MODEL_ENV, str(tmp_path / "elsewhere"))
    with pytest.raises(XrayBenchError, match="no radgraph model"):
        RadGraphMetric()


def test_adapter_wiring_with_a_stand_in_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty reports, duplicates, chunking and key mapping, with the package's model replaced by a lookup."""
    pytest.importorskip("radgraph", reason="the adapter imports the radgraph package")
    import radgraph

    known = {
        "left pleural effusion": {
            "entities": {"1": entity("effusion", "OBS-DP", [["located_at", "2"]]), "2": entity("pleural", "ANAT-DP")}
        },
        "pleural effusion": {
            "entities": {"1": entity("effusion", "OBS-DP", [["located_at", "2"]]), "2": entity("pleural", "ANAT-DP")}
        },
        "normal heart": {"entities": {"1": entity("heart", "ANAT-DP"), "2": entity("normal", "OBS-DA")}},
    }
    calls: list[dict[str, Any]] = []

    class StandIn:
        def __init__(self, **kwargs: Any) -> None:
            calls.append(kwargs)

        def __call__(self, reports: list[str]) -> dict[str, Any]:
            return {str(i): known[r] for i, r in enumerate(reports) if r in known}

    monkeypatch.setattr(radgraph, "RadGraph", StandIn)
    (tmp_path / "radgraph").mkdir()
    (tmp_path / "radgraph" / "weights.th").write_bytes(b"")
    (tmp_path / "radgraph" / "config.json").write_text("{}")
    assert METRICS.get("radgraph") is RadGraphMetric
    metric = RadGraphMetric(model_dir=str(tmp_path / "radgraph"), device="cpu", chunk_size=2, progress=False)
    assert calls == [{"model_type": "radgraph", "model_cache_dir": str(tmp_path), "cuda": -1}]
    hyps = ["left pleural effusion", "", "normal heart", "unannotatable", "pleural effusion"]
    refs = ["pleural effusion", "normal heart", "normal heart", "normal heart", ""]
    samples = [Sample(str(i), "report", "fixture", "test", "", r) for i, r in enumerate(refs)]
    predictions = [Prediction(str(i), "report", "m", h, h) for i, h in enumerate(hyps)]
    scores = metric.score(samples, predictions)
    assert list(scores["radgraph_f1_simple"].per_sample) == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert scores["radgraph_f1_complete"].value == pytest.approx(2 / 5)
    assert scores["radgraph_f1_simple"].details == {"level": "simple", "model_type": "radgraph"}


@pytest.mark.weights
@pytest.mark.skipif(not os.environ.get(MODEL_ENV), reason=f"real RadGraph model: set {MODEL_ENV}")
def test_real_model_equals_f1radgraph() -> None:
    radgraph = pytest.importorskip("radgraph", reason="needs the radgraph package")
    hyps = ["Small left pleural effusion. Heart size is normal.", "No pneumothorax.", ""]
    refs = ["Left pleural effusion is small. Normal heart size.", "There is no pneumothorax.", "Clear lungs."]
    metric = RadGraphMetric(device="cpu", progress=False)
    ours = metric.score(
        [Sample(str(i), "report", "f", "t", "", r) for i, r in enumerate(refs)],
        [Prediction(str(i), "report", "m", h, h) for i, h in enumerate(hyps)],
    )
    with hub_offline("RadGraph F1"):
        scorer = radgraph.F1RadGraph(
            reward_level="all", model_type="radgraph", model_cache_dir=str(metric.model_dir), cuda=-1
        )
    _, expected, _, _ = scorer(refs=refs, hyps=hyps)
    for k, level in enumerate(("simple", "partial", "complete")):
        assert list(ours[f"radgraph_f1_{level}"].per_sample) == pytest.approx(expected[k], abs=1e-12)


def test_module_import_stays_light() -> None:
    code = "import sys, xraybench.metrics.radgraph; print('torch' in sys.modules, 'radgraph' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_hub_offline_is_scoped() -> None:
    constants = pytest.importorskip("huggingface_hub.constants", reason="needs huggingface_hub (the 'hf' extra)")
    before = constants.is_offline_mode()
    with hub_offline("RadGraph F1"):
        assert constants.is_offline_mode() is True
    assert constants.is_offline_mode() == before
