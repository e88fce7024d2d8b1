"""Our CheXbert labeler and scores against the `f1chexbert` package, on the same random `chexbert.pth`.

No CheXbert weights can be had here, so both sides load one randomly initialised checkpoint in the public
`chexbert.pth` layout (DataParallel keys, 13 four-class heads and No Finding's two; `build_tiny_chexbert`) with a
tiny BERT standing in for bert-base-uncased, and label real IU X-ray reports read in place from
`../shared/data/iu_xray/indiana_reports.csv`. f1chexbert runs unmodified in a subprocess
(`reference_models.run_f1chexbert`). Asserted: the 14 labels of every report are equal, the [CLS] embeddings
(SembScore's input) agree to float precision, and our `chexbert_*` micro/macro P/R/F1 over 5 and 14 observations
equal f1chexbert's classification reports (its "rrg" mode counts uncertain as positive).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures_lexical import IU_REPORTS, iu_report_pairs, iu_texts

torch = pytest.importorskip("torch", reason="CheXbert needs torch (the 'hf' extra)")
pytest.importorskip("transformers", reason="CheXbert needs transformers (the 'hf' extra)")
pytest.importorskip("f1chexbert", reason="the f1chexbert package (dev extra) is the reference")
pytest.importorskip("pandas", reason="f1chexbert needs pandas")
pytest.importorskip("appdirs", reason="f1chexbert needs appdirs")

from reference_models import run_f1chexbert  # noqa: E402

from xraybench.metrics.chexbert import ChexbertMetric, load_labeler  # noqa: E402
from xraybench.records import Prediction, Sample  # noqa: E402
from xraybench.testing.tiny_bert import build_tiny_bert, build_tiny_chexbert  # noqa: E402

pytestmark = pytest.mark.skipif(not IU_REPORTS.is_file(), reason=f"real IU X-ray reports not found at {IU_REPORTS}")
N_TEXTS = 80
N_PAIRS = 60


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("chexbert-ref")
    # 512 positions, as bert-base-uncased: f1chexbert cuts reports at 512 tokens whatever the config says
    bert = build_tiny_bert(root / "bert", max_length=512)
    checkpoint = build_tiny_chexbert(root / "chexbert.pth", bert, seed=3)
    texts = iu_texts()
    step = max(1, len(texts) // N_TEXTS)
    reports = texts[::step][:N_TEXTS] + ["", "   \n ", " ".join(texts[:60])]  # empty, blank, over 512 tokens
    hyps, refs = iu_report_pairs(N_PAIRS, seed=7)
    refs = [r[0] for r in refs]
    out = run_f1chexbert(root / "run", checkpoint, bert, reports, hyps, refs)
    return {"checkpoint": checkpoint, "bert": bert, "reports": reports, "hyps": hyps, "refs": refs, "out": out}


def test_labels_equal_f1chexbert_on_real_reports(reference: dict) -> None:
    labeler = load_labeler(str(reference["checkpoint"]), str(reference["bert"]), device="cpu", batch_size=16)
    ours = labeler.label(reference["reports"])
    theirs = [[None if v == "" else v for v in row] for row in reference["out"]["labels"]]
    assert len({tuple(r) for r in ours}) > 20, "the random model should label the reports differently"
    assert ours == theirs


def test_cls_embeddings_equal_the_reference_network(reference: dict) -> None:
    labeler = load_labeler(str(reference["checkpoint"]), str(reference["bert"]), device="cpu", batch_size=16)
    ours = np.stack([e.numpy() for e in labeler.embeddings(reference["reports"])])
    theirs = np.asarray(reference["out"]["embeddings"], dtype=np.float32)
    assert ours.shape == theirs.shape == (len(reference["reports"]), 32)
    np.testing.assert_allclose(ours, theirs, atol=2e-5, rtol=1e-5)


def test_scores_equal_f1chexbert_classification_reports(reference: dict) -> None:
    hyps, refs = reference["hyps"], reference["refs"]
    samples = [Sample(str(i), "report", "iu_xray", "test", "", r) for i, r in enumerate(refs)]
    predictions = [Prediction(str(i), "report", "m", h, h) for i, h in enumerate(hyps)]
    metric = ChexbertMetric(
        str(reference["checkpoint"]), str(reference["bert"]), uncertain_as="positive", device="cpu", progress=False
    )
    scores = metric.score(samples, predictions)
    for size, report in (("14", reference["out"]["report_14"]), ("5", reference["out"]["report_5"])):
        for average in ("micro", "macro"):
            for stat, key in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
                expected = report[f"{average} avg"][key]
                assert scores[f"chexbert_{average}_{stat}_{size}"].value == pytest.approx(expected, abs=1e-12), (
                    f"chexbert_{average}_{stat}_{size}"
                )
    assert 0 < scores["chexbert_micro_f1_14"].value < 1, "a degenerate score would not test the averaging"


def test_reference_runner_would_catch_a_different_checkpoint(reference: dict, tmp_path: Path) -> None:
    """The check has teeth: another random checkpoint labels the same reports differently."""
    other = build_tiny_chexbert(tmp_path / "other.pth", reference["bert"], seed=4)
    labeler = load_labeler(str(other), str(reference["bert"]), device="cpu")
    theirs = [[None if v == "" else v for v in row] for row in reference["out"]["labels"]]
    assert labeler.label(reference["reports"]) != theirs


def test_semb_score_equals_the_cxr_report_metric_formula(reference: dict) -> None:
    """SembScore per pair = CXR-Report-Metric's `(label * pred).sum() / (norm(label) * norm(pred))` on the
    reference network's [CLS] embeddings; pairs of real reports (each report against the next one), and
    a report against itself."""
    from xraybench.metrics.semb import SembScoreMetric

    reports, embeddings = reference["reports"], np.asarray(reference["out"]["embeddings"], dtype=np.float32)
    hyp_idx = list(range(len(reports) - 1)) + [5]
    ref_idx = list(range(1, len(reports))) + [5]
    expected = [
        float((embeddings[r] * embeddings[h]).sum() / (np.linalg.norm(embeddings[r]) * np.linalg.norm(embeddings[h])))
        for h, r in zip(hyp_idx, ref_idx, strict=True)
    ]
    samples = [Sample(str(i), "report", "iu_xray", "test", "", reports[r]) for i, r in enumerate(ref_idx)]
    predictions = [Prediction(str(i), "report", "m", reports[h], reports[h]) for i, h in enumerate(hyp_idx)]
    metric = SembScoreMetric(str(reference["checkpoint"]), str(reference["bert"]), device="cpu", progress=False)
    got = metric.score(samples, predictions)["semb_score"]
    np.testing.assert_allclose(got.per_sample, expected, atol=1e-5)
    assert got.per_sample[-1] == pytest.approx(1.0, abs=1e-6)
    assert got.value == pytest.approx(float(np.mean(expected)), abs=1e-5)
    assert np.ptp(got.per_sample[:-1]) > 0.05, "the random model should tell report pairs apart"
