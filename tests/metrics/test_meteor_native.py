"""The native METEOR port gives the jar's segment statistics exactly (every fixture set of test_meteor)."""

from __future__ import annotations

import random
import subprocess

import numpy as np
import pytest
from test_meteor import FIXTURES, _reference_scores, needs_java, reference_meteor  # noqa: F401 - fixture

from xraybench.metrics import meteor as meteor_mod
from xraybench.metrics.meteor import MeteorMetric, find_jar, parse_stats, sanitize, shared_jar, shared_native
from xraybench.metrics.meteor_native.normalize import java_hash, java_tokens, java_trim, normalize_line

pytest.importorskip("pycocoevalcap", reason="the native port reads its resources from pycocoevalcap's meteor-1.5.jar")
pytest.importorskip("snowballstemmer", reason="the native port needs snowballstemmer (the [meteor] extra)")

TRICKY = [
    "U.S.-based Mr. Smith , No. 5 and pp. 12 ... e.g. this ; i.e. that",
    "“quoted” ‘single’ `tick' '' double -- dash – en — em",
    "don't can't 1990's o'clock rock'n'roll 'tis l'été",
    "1,000,000 3.5 .5 5. a,b 1,b a,1 ..... DOTMULTI. x...y",
    "CAPS. Then lower. and 4.5 CM.",
    "naïve café µm ß İstanbul ΣΑΣ ǅ ц ᴀ \u00a0nbsp\u2009thin\u3000ideo 😀 𝐀",
]


def _fuzz(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    pieces = list("aAbZ09 .,'`-–—‘’“”\"...;:!?()[]/%$#&*+=<>|~^_") + ["U.S.", "Mr.", "No.", "1,0", "3.5", "é", "ø"]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 20))) for _ in range(n)]


@pytest.mark.java
@needs_java
@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_statistics_equal_the_jar(name: str) -> None:
    hyps, refs = FIXTURES[name]
    expected = parse_stats(shared_jar().stats(hyps, refs))
    np.testing.assert_array_equal(shared_native().stats(hyps, refs), expected)


@pytest.mark.java
@needs_java
def test_normaliser_equals_the_jar_token_by_token() -> None:
    texts = [java_trim(sanitize(t)) for t in [*TRICKY, *_fuzz(1500, seed=4)]]
    for hyps, refs in FIXTURES.values():
        texts += [java_trim(sanitize(t)) for t in [*hyps, *(r for rs in refs for r in rs)]]
    out = subprocess.run(
        ["java", "-cp", str(find_jar()), "edu.cmu.meteor.util.Normalizer", "en", "true"],
        input="".join(t + "\n" for t in texts),
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
    ).stdout.split("\n")
    prefixes = shared_native().prefixes
    for text, expected in zip(texts, out, strict=False):
        assert java_tokens(normalize_line(text, prefixes)) == java_tokens(expected.lower()), text


@pytest.mark.java
@needs_java
def test_metric_equals_pycocoevalcap_on_every_fixture(reference_meteor) -> None:  # noqa: F811
    hyps = [h for name in sorted(FIXTURES) for h in FIXTURES[name][0]]
    refs = [r for name in sorted(FIXTURES) for r in FIXTURES[name][1]]
    expected_corpus, expected_segments = _reference_scores(reference_meteor, hyps, refs)
    scores = MeteorMetric(tokenizer="raw", backend="native").score_texts(hyps, refs)
    assert abs(scores.value - expected_corpus) <= 1e-4
    np.testing.assert_allclose(scores.per_sample, expected_segments, atol=1e-4, rtol=0)


def test_native_needs_no_java(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meteor_mod.shutil, "which", lambda _: None)
    metric = MeteorMetric(tokenizer="raw")
    assert metric.backend == "native"
    scores = metric.score_texts(["the heart is normal .", ""], [["heart size is normal ."], ["no effusion"]])
    assert scores.details["backend"] == "native"
    assert 0.0 < scores.per_sample[0] < 1.0 and scores.per_sample[1] == 0.0


def test_known_values_of_the_jar() -> None:
    """Spot values taken from the jar: its (Snowball 2.x) stems, its hash keys and its best-reference pick."""
    native = shared_native()
    stem = native.lexicon._stem
    assert [stem(w) for w in ["adding", "cardiologist", "organization", "university", "vying"]] == [
        "ad",
        "cardiologist",
        "organ",
        "univers",
        "vy",
    ]
    assert java_hash("hello") == 99162322 and java_hash("polygenelubricants") == -(2**31)
    assert java_trim("\x01 a b \x1f") == "a b"
    stats = native.stats(["lungs are clear"], [["heart normal", "the lungs are clear"]])
    assert stats[0, :4].tolist() == [3, 4, 1, 2]  # the second reference scores higher and is kept


def test_jar_backends_still_need_java(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meteor_mod.shutil, "which", lambda _: None)
    for backend in ("jar", "jar-filtered"):
        with pytest.raises(meteor_mod.XrayBenchError, match="Java"):
            MeteorMetric(backend=backend)


def test_forked_workers_give_the_same_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    from pathlib import Path

    from xraybench.metrics import meteor_native
    from xraybench.metrics.meteor_native import NativeMeteor

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "meteor"))
    from reports import report_pairs

    pairs = report_pairs(300, seed=5)
    hyps, refs = [h for _, h in pairs], [[r] for r, _ in pairs]
    monkeypatch.setenv("XRAYBENCH_METEOR_WORKERS", "1")
    sequential = NativeMeteor(find_jar()).stats(hyps, refs)
    monkeypatch.setenv("XRAYBENCH_METEOR_WORKERS", "2")
    monkeypatch.setattr(meteor_native, "PARALLEL_MIN_PAIRS", 50)
    parallel = NativeMeteor(find_jar()).stats(hyps, refs)
    np.testing.assert_array_equal(parallel, sequential)


def test_compiled_aligner_is_built() -> None:
    """CI builds the C aligner (setup.py); a missing build must not go unnoticed as a 10x slowdown."""
    import os

    from xraybench.metrics.meteor_native import aligner

    if os.environ.get("XRAYBENCH_ALLOW_PURE_PYTHON") == "1":
        pytest.skip("XRAYBENCH_ALLOW_PURE_PYTHON=1: the Python beam search is accepted")
    assert aligner._align is not None, "xraybench/metrics/meteor_native/_align.c was not built: pip install -e ."


def test_compiled_and_python_aligners_agree() -> None:
    """The C and Python aligners give the same statistics on realistic, fuzzed, long and identical pairs."""
    import sys
    from pathlib import Path

    from xraybench.metrics.meteor_native import aligner
    from xraybench.metrics.meteor_native.aligner import Paraphrases, align_stats, align_stats_py

    if aligner._align is None:
        pytest.skip("the C aligner is not built")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "meteor"))
    from reports import report_pairs

    pairs = report_pairs(400, seed=11)
    texts = [(h, r) for r, h in pairs]
    fuzz = _fuzz(200, seed=3)
    texts += list(zip(fuzz[:100], fuzz[100:], strict=True)) + [(t, t[::-1]) for t in TRICKY]
    texts += [(h, h) for _, h in pairs[:20]] + [
        (" ".join(h for _, h in pairs[i : i + 12]), " ".join(r for r, _ in pairs[i + 1 : i + 13])) for i in (0, 50)
    ]
    for name in sorted(FIXTURES):
        hyps, refs = FIXTURES[name]
        texts += [(h, r) for h, rs in zip(hyps, refs, strict=True) for r in rs]
    native = shared_native()
    words = [(native.words(h), native.words(r)) for h, r in texts]
    vocab = {w for t, r in words for w in (*t, *r)}
    for word in vocab:
        native.lexicon.add(word)
    para = Paraphrases.of(native.paraphrases.lookup([w for pair in words for w in pair]))
    n_differ = 0
    for test, ref in words:
        c = align_stats(test, ref, native.lexicon, para)
        py = align_stats_py(test, ref, native.lexicon, para)
        n_differ += not np.array_equal(c, py)
    assert n_differ == 0, f"{n_differ} of {len(words)} pairs differ"
