"""METEOR equals pycocoevalcap's `Meteor` (meteor-1.5.jar) to 1e-4, per segment and for the corpus."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from xraybench.errors import XrayBenchError
from xraybench.metrics import meteor as meteor_mod
from xraybench.metrics.meteor import (
    MeteorMetric,
    corpus_meteor,
    meteor_from_stats,
    parse_stats,
    sanitize,
    shared_jar,
)
from xraybench.records import Prediction, Sample

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks" / "meteor"))
from reports import report_pairs  # noqa: E402

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="METEOR needs a Java runtime ('java' not on PATH)")

LONG = " ".join(["the lungs are clear without focal consolidation , effusion or pneumothorax ."] * 60)
FIXTURES: dict[str, tuple[list[str], list[list[str]]]] = {
    "realistic": (
        [h for _, h in report_pairs(150, seed=7)],
        [[r] for r, _ in report_pairs(150, seed=7)],
    ),
    "empty_hypotheses": (
        ["", "no acute disease", "", " "],
        [["the heart is normal ."], ["no acute cardiopulmonary process ."], [""], ["lungs are clear"]],
    ),
    "one_word": (
        ["normal", "effusion", "clear", "the", "pneumothorax"],
        [["normal"], ["no effusion"], ["lungs clear ."], ["the"], ["pneumonia"]],
    ),
    "unicode": (
        ["cœur de taille normale — pas d'épanchement", "größe normal", "肺 清晰", "naïve café 10 µm"],
        [["cœur normal , pas d'épanchement pleural"], ["herzgröße normal"], ["肺 是 清晰 的"], ["naive cafe 10 um"]],
    ),
    "numbers_punctuation": (
        [
            "ett tip 4.5 cm above the carina ; ng tube in stomach .",
            "nodule 1.2cm ( rul ) , stable since 03/14/2019 !",
            "heart : normal ... lungs : clear ?",
            "t7-t8 compression , 20 % loss of height",
        ],
        [
            ["endotracheal tube tip 5 cm above the carina . ng tube in the stomach ."],
            ["1.2 cm nodule in the rul , unchanged from 03/14/2019 ."],
            ["heart normal . lungs clear ."],
            ["20 % loss of height of t7 vertebral body"],
        ],
    ),
    "very_long": (
        [LONG, LONG[: len(LONG) // 2]],
        [[LONG.replace("clear", "clean")], [LONG]],
    ),
    "multiple_references": (
        ["the heart size is normal .", "small left effusion", "no pneumothorax"],
        [
            ["heart size normal .", "the heart is normal in size .", "normal cardiac silhouette"],
            ["no effusion", "small left pleural effusion .", "trace left fluid"],
            ["lungs are clear", "pneumothorax resolved"],
        ],
    ),
}


@pytest.fixture(scope="module")
def reference_meteor():
    pytest.importorskip("pycocoevalcap", reason="pycocoevalcap (the [dev] extra) is the reference")
    from pycocoevalcap.meteor.meteor import Meteor

    scorer = Meteor()
    yield scorer
    del scorer


def _reference_scores(scorer, hyps: list[str], refs: list[list[str]]) -> tuple[float, np.ndarray]:
    corpus, segments = scorer.compute_score(
        {i: list(r) for i, r in enumerate(refs)}, {i: [h] for i, h in enumerate(hyps)}
    )
    return corpus, np.asarray(segments)


@pytest.mark.java
@needs_java
@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_equals_pycocoevalcap(name: str, reference_meteor) -> None:
    hyps, refs = FIXTURES[name]
    expected_corpus, expected_segments = _reference_scores(reference_meteor, hyps, refs)
    jar = shared_jar()
    lines = jar.stats(hyps, refs)
    segments, corpus = jar.evaluate(lines)
    assert abs(corpus - expected_corpus) <= 1e-4
    np.testing.assert_allclose(segments, expected_segments, atol=1e-4, rtol=0)
    # our reimplementation of the jar's formula on summed statistics gives the same corpus value
    stats = parse_stats(lines)
    assert abs(corpus_meteor(stats) - corpus) <= 1e-12
    np.testing.assert_allclose(meteor_from_stats(stats), segments, atol=1e-12, rtol=0)


@pytest.mark.java
@needs_java
def test_filtered_paraphrase_table_gives_the_jar_values_on_every_fixture(reference_meteor) -> None:
    hyps = [h for name in sorted(FIXTURES) for h in FIXTURES[name][0]]
    refs = [r for name in sorted(FIXTURES) for r in FIXTURES[name][1]]
    expected_corpus, expected_segments = _reference_scores(reference_meteor, hyps, refs)
    scores = MeteorMetric(tokenizer="raw", backend="jar-filtered").score_texts(hyps, refs)
    assert abs(scores.value - expected_corpus) <= 1e-4
    np.testing.assert_allclose(scores.per_sample, expected_segments, atol=1e-4, rtol=0)


@pytest.mark.java
@needs_java
def test_filtered_equals_full_jar_on_thousands_of_generated_pairs() -> None:
    pairs = report_pairs(3000, seed=99)
    hyps, refs = [h for _, h in pairs], [[r] for r, _ in pairs]
    full = MeteorMetric(tokenizer="coco", backend="jar").score_texts(hyps, refs)
    filtered = MeteorMetric(tokenizer="coco", backend="jar-filtered").score_texts(hyps, refs)
    assert filtered.details["backend"] == "jar-filtered"
    assert filtered.value == full.value
    np.testing.assert_array_equal(filtered.per_sample, full.per_sample)


@pytest.mark.java
@needs_java
def test_metric_with_coco_tokenizer_equals_pycocoevalcap_pipeline(reference_meteor) -> None:
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    pairs = report_pairs(80, seed=11) + [("Heart: normal (unchanged).", ""), ("No acute disease!", "NO ACUTE DISEASE.")]
    ptb = PTBTokenizer()
    gts = ptb.tokenize({i: [{"caption": r}] for i, (r, _) in enumerate(pairs)})
    res = ptb.tokenize({i: [{"caption": h}] for i, (_, h) in enumerate(pairs)})
    expected_corpus, expected_segments = reference_meteor.compute_score(gts, res)
    scores = MeteorMetric(tokenizer="coco", backend="jar").score_texts([h for _, h in pairs], [[r] for r, _ in pairs])
    assert abs(scores.value - expected_corpus) <= 1e-4
    np.testing.assert_allclose(scores.per_sample, expected_segments, atol=1e-4, rtol=0)


@pytest.mark.java
@needs_java
def test_aggregate_of_resample_equals_jar_eval() -> None:
    pairs = report_pairs(60, seed=3)
    metric = MeteorMetric(tokenizer="raw", backend="jar")
    scores = metric.score_texts([h for _, h in pairs], [[r] for r, _ in pairs])
    assert scores.on(np.arange(60)) == pytest.approx(scores.value, abs=1e-12)
    rng = np.random.default_rng(0)
    jar = shared_jar()
    lines = jar.stats([h.lower() for _, h in pairs], [[r.lower()] for r, _ in pairs])
    for _ in range(3):
        idx = rng.integers(0, 60, size=60)
        _, expected = jar.evaluate([lines[i] for i in idx])
        assert abs(corpus_meteor(parse_stats(lines)[idx]) - expected) <= 1e-12


@pytest.mark.java
@needs_java
def test_metric_on_samples_and_sanitising() -> None:
    samples = [
        Sample("a", "report", "demo", "test", "p", "The heart is normal.", references=["Normal heart size."]),
        Sample("b", "report", "demo", "test", "p", "No effusion."),
        Sample("c", "report", "demo", "test", "p", "Lungs are clear."),
    ]
    preds = [
        Prediction("a", "report", "m", "raw", "Heart size is normal."),
        Prediction("b", "report", "m", "raw", ""),
        Prediction("c", "report", "m", "raw", "Lungs\nare ||| clear."),
    ]
    result = MeteorMetric(tokenizer="raw", backend="jar").score(samples, preds)["meteor"]
    assert result.per_sample.shape == (3,)
    assert result.per_sample[1] == 0.0
    assert result.per_sample[2] > 0.9  # the line break and the separator were sanitised, not fatal
    assert result.details["backend"] == "jar" and result.details["tokenizer"] == "raw"
    assert 0.0 < result.value < 1.0


@pytest.mark.java
@needs_java
def test_jar_restarts_after_the_process_dies() -> None:
    jar = shared_jar()
    first = jar.stats(["no effusion"], [["no pleural effusion"]])
    assert jar._proc is not None
    jar._proc.kill()
    jar._proc.wait()
    assert jar.stats(["no effusion"], [["no pleural effusion"]]) == first


def test_sanitize_removes_separators_and_line_breaks() -> None:
    assert sanitize("a ||| b\nc\r\nd") == "a b c d"


def test_formula_handles_empty_statistics() -> None:
    assert meteor_from_stats(np.zeros(meteor_mod.N_STATS)) == 0.0


def test_without_java_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meteor_mod.shutil, "which", lambda _: None)
    with pytest.raises(XrayBenchError, match="Java"):
        meteor_mod.MeteorJar()
    with pytest.raises(XrayBenchError, match="Java"):
        MeteorMetric(backend="jar-filtered")


def test_without_pycocoevalcap_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda _: None)
    with pytest.raises(XrayBenchError, match=r"xraybench\[meteor\]"):
        meteor_mod.find_jar()


def test_unknown_backend() -> None:
    with pytest.raises(XrayBenchError, match="backend"):
        MeteorMetric(backend="perl")


def test_paraphrase_subset_keeps_exactly_the_usable_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    from xraybench.metrics.meteor_paraphrase import ParaphraseIndex

    monkeypatch.setenv("XRAYBENCH_CACHE", str(tmp_path / "cache"))
    table = tmp_path / "para.gz"
    rows = ["0.5", "lungs clear", "lung fields clear", "0.1", "heart", "cardiac silhouette", "0.25", "don't", "do not"]
    table.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    index = ParaphraseIndex(table)
    assert index.select(["The LUNGS are clear", "lung fields clear"]).tolist() == [0]
    # the jar's normaliser turns a curly apostrophe into ' and splits "don't"; substrings cover both
    assert index.select(["don\u2019t", "do not"]).tolist() == [2]
    out = tmp_path / "subset.gz"
    index.write(index.select(["heart cardiac silhouette lungs clear lung fields"]), out)
    assert gzip.decompress(out.read_bytes()).decode().split("\n")[:-1] == rows[:6]
