"""RadGraph F1: the reward arithmetic against the `radgraph` package, the adapter's wiring, and the skip path.

With a randomly initialised RadGraph model in the package's layout (`xraybench.testing.tiny_radgraph`: the real
DyGIE++ config over a narrow BERT; the real-size model is what benchmarks/model_metrics times): our metric and the
package's `F1RadGraph` give identical per-pair simple / partial / complete values on real IU X-ray reports, and
RadCliQ's RadGraph input equals CXR-Report-Metric's `radgraph_combined` of the package's own annotations.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures_lexical import IU_REPORTS, iu_report_pairs, iu_texts

from xraybench.errors import XrayBenchError
from xraybench.metrics import METRICS
from xraybench.metrics._local_models import hub_offline
from xraybench.metrics.radgraph import LEVELS, MODEL_ENV, RadGraphMetric, rewards, score_annotations
from xraybench.records import Prediction, Sample


@pytest.fixture(autouse=True)
def package_on_transformers5(request: pytest.FixtureRequest) -> Iterator[None]:
    """The reference package, called directly here, needs on transformers 5 what the metric gives it inside its calls
    (`transformers5_compat`); the test of that block itself runs without it."""
    if "transformers5_compat" in request.node.name or importlib.util.find_spec("transformers") is None:
        yield
        return
    from xraybench.metrics.radgraph import transformers5_compat

    with transformers5_compat():
        yield


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
    hyps = ["left pleural effusion", "", "normal heart", " \n ", "pleural effusion"]  # whitespace: as empty
    refs = ["pleural effusion", "normal heart", "normal heart", "normal heart", ""]
    samples = [Sample(str(i), "report", "fixture", "test", "", r) for i, r in enumerate(refs)]
    predictions = [Prediction(str(i), "report", "m", h, h) for i, h in enumerate(hyps)]
    scores = metric.score(samples, predictions)
    assert list(scores["radgraph_f1_simple"].per_sample) == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert scores["radgraph_f1_complete"].value == pytest.approx(2 / 5)
    assert scores["radgraph_f1_simple"].details == {"level": "simple", "model_type": "radgraph"}
    # a report the model returns nothing for (the package printed its error and skipped it) is not a silent 0
    predictions[3] = Prediction("3", "report", "m", "unannotatable", "unannotatable")
    with pytest.raises(XrayBenchError, match=r"no annotation for report \d+ of \d+ \('unannotatable'\); items: 3$"):
        metric.score(samples, predictions)


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


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """The package runs one report per forward pass: many tiny ops, which torch's thread pool only slows down."""
    torch = pytest.importorskip("torch", reason="RadGraph needs torch (the 'hf' extra)")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def random_radgraph(tmp_path_factory: pytest.TempPathFactory, one_thread: None) -> Path:
    """A random RadGraph in the package's layout: narrow BERT (WordPiece trained on IU reports), real DyGIE++ heads."""
    pytest.importorskip("radgraph", reason="the radgraph package (radgraph extra) runs the model")
    pytest.importorskip("transformers", reason="RadGraph needs transformers (the 'hf' extra)")
    if not IU_REPORTS.is_file():
        pytest.skip(f"real IU X-ray reports not found at {IU_REPORTS}")
    from xraybench.testing.tiny_radgraph import build_radgraph, build_wordpiece_bert

    root = tmp_path_factory.mktemp("radgraph")
    encoder = build_wordpiece_bert(root / "encoder", iu_texts(), layers=2, hidden=32, heads=2, intermediate=64,
                                   vocab_size=3000)  # fmt: skip
    calibration, _ = iu_report_pairs(6, seed=99)
    return build_radgraph(root / "model", encoder, calibration)


def real_pairs() -> tuple[list[str], list[str]]:
    """Real IU pairs, plus the cases that matter: identical texts, shared sentences, an empty side."""
    hyps, refs = iu_report_pairs(10, seed=3)
    refs = [r[0] for r in refs]
    hyps[1] = refs[1]  # identical
    hyps[2] = " ".join(refs[2].split(". ")[:2])  # the reference's first sentences
    hyps[4], refs[5] = "", ""
    return hyps, refs


def test_random_model_has_the_package_layout(random_radgraph: Path) -> None:
    import radgraph

    from xraybench.testing.tiny_radgraph import ENTITY_LABELS, RELATION_LABELS, radgraph_config

    folder = random_radgraph / "radgraph"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "vocabulary", "weights.th"]
    vocabulary = folder / "vocabulary"
    assert sorted(p.name for p in vocabulary.iterdir() if not p.name.startswith(".")) == [
        "non_padded_namespaces.txt", "radgraph__ner_labels.txt", "radgraph__relation_labels.txt",
    ]  # fmt: skip
    config = json.loads((folder / "config.json").read_text())
    encoder = config["model"]["embedder"]["token_embedders"]["bert"]["model_name"]
    assert config == radgraph_config(encoder)
    # the package's loader builds DyGIE from this config and loads weights.th strictly
    model = radgraph.RadGraph(model_type="radgraph", model_cache_dir=str(random_radgraph), cuda=-1)
    annotations = model(real_pairs()[1][:4])
    entities = [e for a in annotations.values() for e in a["entities"].values()]
    assert entities and {e["label"] for e in entities} <= set(ENTITY_LABELS)
    relations = [r for e in entities for r in e["relations"]]
    assert relations and {r[0] for r in relations} <= set(RELATION_LABELS)


def test_random_model_equals_f1radgraph_on_real_reports(random_radgraph: Path) -> None:
    import radgraph

    hyps, refs = real_pairs()
    metric = RadGraphMetric(model_dir=str(random_radgraph), device="cpu", chunk_size=5, progress=False)
    ours = metric.score(
        [Sample(str(i), "report", "iu_xray", "test", "", r) for i, r in enumerate(refs)],
        [Prediction(str(i), "report", "m", h, h) for i, h in enumerate(hyps)],
    )
    with hub_offline("RadGraph F1"):
        scorer = radgraph.F1RadGraph(
            reward_level="all", model_type="radgraph", model_cache_dir=str(random_radgraph), cuda=-1
        )
    mean, expected, _, _ = scorer(refs=refs, hyps=hyps)
    for k, level in enumerate(("simple", "partial", "complete")):
        values = ours[f"radgraph_f1_{level}"]
        assert list(values.per_sample) == pytest.approx(expected[k], abs=1e-12)
        assert values.value == pytest.approx(mean[k], abs=1e-12)
    simple, complete = expected[0], expected[2]
    assert simple[1] == 1.0 and simple[4] == simple[5] == 0.0  # identical texts; an empty side
    assert sum(0 < v < 1 for v in simple) >= 3, "the random model should give partial overlaps on real pairs"
    assert simple != complete, "relations should change some values"
    # a blank answer: the package's reader fails on it (F1RadGraph crashes); ours scores the pair 0
    blank = metric.score(
        [Sample("b", "report", "iu_xray", "test", "", refs[0])], [Prediction("b", "report", "m", " \n", " \n")]
    )
    assert [blank[f"radgraph_f1_{level}"].per_sample[0] for level in LEVELS] == [0.0, 0.0, 0.0]
    with pytest.raises(AssertionError):
        radgraph.RadGraph(model_type="radgraph", model_cache_dir=str(random_radgraph), cuda=-1)([" \n"])


def test_radcliq_radgraph_input_equals_the_package_annotations(random_radgraph: Path, tmp_path: Path) -> None:
    import radgraph

    from xraybench.metrics.radcliq import RadCliqMetric, radgraph_combined
    from xraybench.testing.tiny_bert import build_tiny_bert, build_tiny_chexbert

    bert = build_tiny_bert(tmp_path / "bert", max_length=512)
    baseline = tmp_path / "baseline.tsv"
    baseline.write_text("LAYER,P,R,F\n" + "".join(f"{i},0.5,0.5,0.5\n" for i in range(4)))
    metric = RadCliqMetric(
        checkpoint=str(build_tiny_chexbert(tmp_path / "chexbert.pth", bert)), tokenizer=str(bert),
        radgraph_dir=str(random_radgraph), bertscore_model=str(bert), bertscore_num_layers=2,
        bertscore_baseline=str(baseline), device="cpu", progress=False,
    )  # fmt: skip
    hyps, refs = real_pairs()
    ours = metric.components(hyps, refs)[:, 0]
    package = radgraph.RadGraph(model_type="radgraph", model_cache_dir=str(random_radgraph), cuda=-1)

    def annotate(text: str) -> dict[str, Any] | None:  # each report alone, as CXR-Report-Metric runs DyGIE
        return package([text])["0"] if text.strip() else None

    expected = [radgraph_combined(annotate(h), annotate(r)) for h, r in zip(hyps, refs, strict=True)]
    assert list(ours) == pytest.approx(expected, abs=1e-12)
    assert expected[1] >= 0.5 and sum(0 < v < 1 for v in expected) >= 3  # identical: entity F1 1


def test_metric_loads_the_package_model_in_a_fresh_process(random_radgraph: Path) -> None:
    """The package's AllenNLP code calls tokenizer methods transformers 5 removed; the metric alone must cope
    (in this process the builder already did), so it runs in a fresh interpreter."""
    code = (
        "import sys; from xraybench.metrics.radgraph import RadGraphMetric;"
        "m = RadGraphMetric(model_dir=sys.argv[1], device='cpu', progress=False);"
        "print(len(m.annotate(sys.argv[2:])[0]['entities']) > 0)"
    )
    report = real_pairs()[1][0]
    out = subprocess.run([sys.executable, "-c", code, str(random_radgraph), report], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "True"


def test_transformers5_compat_is_what_transformers_4_did(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers", reason="needs transformers (the 'hf' extra)")
    from xraybench.metrics.radgraph import transformers5_compat
    from xraybench.testing.tiny_bert import build_tiny_bert

    tok = transformers.AutoTokenizer.from_pretrained(build_tiny_bert(tmp_path / "bert"))
    had = {name: hasattr(tok, name) for name in ("encode_plus", "build_inputs_with_special_tokens")}
    with transformers5_compat():
        cls, sep = tok.cls_token_id, tok.sep_token_id
        assert tok.build_inputs_with_special_tokens([7, 8]) == [cls, 7, 8, sep]
        assert tok.build_inputs_with_special_tokens([7], [9, 10]) == [cls, 7, sep, 9, 10, sep]
        one = tok.encode_plus("pleural effusion", add_special_tokens=True, return_token_type_ids=True)
        assert one["input_ids"] == tok("pleural effusion")["input_ids"] == tok.encode("pleural effusion")
        pair = tok.encode_plus("a", "b", add_special_tokens=True, return_token_type_ids=True)
        assert pair["token_type_ids"] == [0, 0, 0, 1, 1]
        with pytest.raises(TypeError, match="one text or one pair"):  # transformers 4 read a list as tokens
            tok.encode_plus(["pleural", "effusion"])
    # outside the block the process's tokenizers are as transformers made them (f1chexbert, hasattr checks)
    assert {name: hasattr(tok, name) for name in had} == had


@pytest.mark.slow
def test_real_size_random_model_equals_f1radgraph(tmp_path: Path, one_thread: None) -> None:
    """At RadGraph's real size (BERT-base encoder, as benchmarks/model_metrics times it): same values as F1RadGraph."""
    radgraph = pytest.importorskip("radgraph", reason="the radgraph package (radgraph extra) runs the model")
    if not IU_REPORTS.is_file():
        pytest.skip(f"real IU X-ray reports not found at {IU_REPORTS}")
    from xraybench.testing.tiny_radgraph import build_radgraph, build_wordpiece_bert

    calibration, _ = iu_report_pairs(4, seed=99)
    model_dir = build_radgraph(tmp_path / "model", build_wordpiece_bert(tmp_path / "bert", iu_texts()), calibration)
    hyps, refs = real_pairs()
    hyps, refs = hyps[:4], refs[:4]
    metric = RadGraphMetric(model_dir=str(model_dir), device="cpu", progress=False)
    ours = metric.score(
        [Sample(str(i), "report", "iu_xray", "test", "", r) for i, r in enumerate(refs)],
        [Prediction(str(i), "report", "m", h, h) for i, h in enumerate(hyps)],
    )
    scorer = radgraph.F1RadGraph(reward_level="all", model_type="radgraph", model_cache_dir=str(model_dir), cuda=-1)
    _, expected, _, _ = scorer(refs=refs, hyps=hyps)
    for k, level in enumerate(LEVELS):
        assert list(ours[f"radgraph_f1_{level}"].per_sample) == pytest.approx(expected[k], abs=1e-12)
    assert expected[0][1] == 1.0 and any(0 < v < 1 for v in expected[0])
