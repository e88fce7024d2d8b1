"""SembScore: registration, the cosine on a tiny random CheXbert, per-sample values and the corpus mean.

Its equality with CXR-Report-Metric's formula on the reference network is in test_chexbert_reference.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xraybench.metrics.semb import cosine_rows

torch = pytest.importorskip("torch", reason="SembScore needs torch (the 'hf' extra)")
pytest.importorskip("transformers", reason="SembScore needs transformers (the 'hf' extra)")

from xraybench.metrics import METRICS, metric_spec  # noqa: E402
from xraybench.metrics.semb import SembScoreMetric  # noqa: E402
from xraybench.records import Prediction, Sample  # noqa: E402
from xraybench.testing.tiny_bert import build_tiny_bert, build_tiny_chexbert  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("semb")
    bert = build_tiny_bert(root / "bert")
    return build_tiny_chexbert(root / "chexbert.pth", bert), bert


def test_cosine_rows() -> None:
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    b = np.array([[0.0, 2.0], [2.0, 2.0], [1.0, 0.0]])
    assert cosine_rows(a, b).tolist() == pytest.approx([0.0, 1.0, 0.0])


def test_registered_for_report_tasks() -> None:
    assert METRICS.get("semb_score") is SembScoreMetric
    spec = metric_spec("semb_score")
    assert spec.kinds == ("report",) and spec.headline == ("semb_score",) and spec.higher_is_better


def test_scores_per_sample_and_mean(tiny: tuple[Path, Path]) -> None:
    refs = ["No pleural effusion.", "Mild cardiomegaly.", "The lungs are clear.", "Mild cardiomegaly."]
    hyps = ["No pleural effusion.", "Pulmonary edema is present.", "", "Mild cardiomegaly."]
    samples = [Sample(str(i), "report", "fixture", "test", "", r) for i, r in enumerate(refs)]
    predictions = [Prediction(str(i), "report", "m", h, h) for i, h in enumerate(hyps)]
    metric = SembScoreMetric(str(tiny[0]), str(tiny[1]), device="cpu", progress=False)
    scores = metric.score(samples, predictions)["semb_score"]
    vectors = metric.labeler.embeddings(hyps + refs)
    expected = [float(torch.nn.functional.cosine_similarity(vectors[i], vectors[4 + i], dim=0)) for i in range(4)]
    np.testing.assert_allclose(scores.per_sample, expected, atol=1e-6)
    assert scores.per_sample[0] == pytest.approx(1.0) and scores.per_sample[3] == pytest.approx(1.0)
    assert scores.per_sample[1] < 0.999 and scores.per_sample[2] < 0.999
    assert scores.value == pytest.approx(float(np.mean(expected)))
    assert scores.on(np.array([1, 1])) == pytest.approx(expected[1])
