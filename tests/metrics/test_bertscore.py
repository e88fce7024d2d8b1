"""BERTScore against the `bert-score` package (|delta| <= 1e-6) on a tiny random BERT built offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xraybench.errors import XrayBenchError

torch = pytest.importorskip("torch", reason="BERTScore needs torch (the 'hf' extra)")
pytest.importorskip("transformers", reason="BERTScore needs transformers (the 'hf' extra)")

from xraybench.metrics import METRICS  # noqa: E402
from xraybench.metrics.api import score_texts  # noqa: E402
from xraybench.metrics.bertscore import LAYERS_ENV, MODEL_ENV, BertScoreMetric, read_baseline  # noqa: E402
from xraybench.records import Prediction, Sample  # noqa: E402
from xraybench.testing.tiny_bert import build_tiny_bert, build_tiny_roberta  # noqa: E402

CANDIDATES = [
    "The heart size is normal. The lungs are clear.",
    "No pleural effusion or pneumothorax.",
    "mild cardiomegaly",
    "Opacity in the right lower lobe, 3.5 cm; pneumonia cannot be excluded!",
    "Ödem — résumé of findings: naïve café",  # accents, dash: WordPiece strips accents / [UNK]
    "effusion",
    "the heart " * 90,  # longer than the tiny model's 128 tokens: truncated
    "No pleural effusion or pneumothorax.",  # duplicate text
]
REFERENCES = [
    "Heart size normal. Lungs clear.",
    "There is no pleural effusion. No pneumothorax.",
    "The heart is mildly enlarged.",
    "Right lower lobe consolidation concerning for pneumonia.",
    "edema",
    "small left pleural effusion",
    "the lungs " * 70,
    "Stable appearance of the chest.",
]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("bert") / "tiny-bert")


def reference_scores(cands: list[str], refs: list, model: Path, layers: int, **kwargs: object) -> np.ndarray:
    bert_score = pytest.importorskip("bert_score", reason="bert-score (dev extra) is the reference implementation")
    p, r, f = bert_score.score(cands, refs, model_type=str(model), num_layers=layers, device="cpu", **kwargs)
    return torch.stack([p, r, f], dim=1).numpy().astype(np.float64)


@pytest.mark.parametrize("layers", [0, 2, 3])
@pytest.mark.parametrize("idf", [False, True])
def test_single_reference_matches_bert_score(tiny_bert: Path, layers: int, idf: bool) -> None:
    metric = BertScoreMetric(model=str(tiny_bert), num_layers=layers, idf=idf, batch_size=3, device="cpu")
    ours = metric.compute(CANDIDATES, [[r] for r in REFERENCES])
    expected = reference_scores(CANDIDATES, REFERENCES, tiny_bert, layers, idf=idf)
    np.testing.assert_allclose(ours, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("idf", [False, True])
def test_multiple_references_take_the_best_of_each_statistic(tiny_bert: Path, idf: bool) -> None:
    refs = [[r, "the lungs are clear", REFERENCES[(i + 3) % len(REFERENCES)]] for i, r in enumerate(REFERENCES)]
    metric = BertScoreMetric(model=str(tiny_bert), num_layers=2, idf=idf, device="cpu")
    ours = metric.compute(CANDIDATES, refs)
    np.testing.assert_allclose(ours, reference_scores(CANDIDATES, refs, tiny_bert, 2, idf=idf), atol=1e-6, rtol=0)


@pytest.mark.parametrize("idf", [False, True])
def test_roberta_matches_bert_score_with_its_prefix_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, idf: bool
) -> None:
    """RoBERTa (bert-score's default family) encodes with a prefix space, as bert-score does.

    bert-score passes `add_prefix_space=True` to `encode`, which transformers 5 ignores; the reference is
    run with that call restored (the text prefixed by a space, what transformers 4 did with it).
    """
    bert_utils = pytest.importorskip("bert_score.utils", reason="bert-score (dev extra) is the reference")

    def encode_with_prefix_space(tokenizer: object, sent: str) -> list[int]:
        sent = sent.strip()
        return tokenizer.encode(  # type: ignore[attr-defined]
            " " + sent if sent else sent,
            max_length=tokenizer.model_max_length,
            truncation=True,  # type: ignore[attr-defined]
        )

    monkeypatch.setattr(bert_utils, "sent_encode", encode_with_prefix_space)
    roberta = build_tiny_roberta(tmp_path / "tiny-roberta")
    metric = BertScoreMetric(model=str(roberta), num_layers=2, idf=idf, batch_size=3, device="cpu")
    ours = metric.compute(CANDIDATES, [[r] for r in REFERENCES])
    expected = reference_scores(CANDIDATES, REFERENCES, roberta, 2, idf=idf)
    np.testing.assert_allclose(ours, expected, atol=1e-6, rtol=0)
    ids = metric.scorer.encode("The heart")
    assert metric.scorer.tokenizer.convert_ids_to_tokens(ids)[1].startswith("Ġ")


def test_baseline_rescaling_matches_bert_score(tiny_bert: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.tsv"
    rows = [f"{layer},{0.3 + 0.1 * layer},{0.25 + 0.1 * layer},{0.2 + 0.1 * layer}" for layer in range(4)]
    baseline.write_text("LAYER,P,R,F\n" + "\n".join(rows) + "\n")
    metric = BertScoreMetric(model=str(tiny_bert), num_layers=2, baseline=str(baseline), device="cpu")
    ours = metric.compute(CANDIDATES, [[r] for r in REFERENCES])
    expected = reference_scores(
        CANDIDATES, REFERENCES, tiny_bert, 2, rescale_with_baseline=True, baseline_path=str(baseline), lang="en"
    )
    np.testing.assert_allclose(ours, expected, atol=1e-6, rtol=0)
    assert read_baseline(baseline, 2) == pytest.approx((0.5, 0.45, 0.4))


def test_empty_texts_score_zero(tiny_bert: Path) -> None:
    # bert-score 0.3.13 cannot encode "" under transformers 5, so its documented rule is checked directly:
    # a text of special tokens only gets P = R = F = 0.
    metric = BertScoreMetric(model=str(tiny_bert), num_layers=2, device="cpu")
    out = metric.compute(["", "   ", "the heart", "the heart"], [["the heart"], ["lungs"], [""], ["  \n"]])
    assert np.all(out == 0.0)


def test_batching_does_not_change_scores(tiny_bert: Path) -> None:
    refs = [[r] for r in REFERENCES]
    one = BertScoreMetric(model=str(tiny_bert), num_layers=3, batch_size=1, device="cpu").compute(CANDIDATES, refs)
    many = BertScoreMetric(model=str(tiny_bert), num_layers=3, batch_size=64, device="cpu").compute(CANDIDATES, refs)
    np.testing.assert_allclose(one, many, atol=1e-6, rtol=0)


def test_through_the_registry_and_score_texts(tiny_bert: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert METRICS.get("bertscore") is BertScoreMetric
    monkeypatch.setenv(MODEL_ENV, str(tiny_bert))
    scores = score_texts(
        CANDIDATES[:3], [[r] for r in REFERENCES[:3]], ["bertscore"], options={"bertscore": {"num_layers": 2}}
    )
    assert sorted(scores) == ["bertscore_f1", "bertscore_precision", "bertscore_recall"]
    f1 = scores["bertscore_f1"]
    assert f1.per_sample.shape == (3,) and f1.value == pytest.approx(float(f1.per_sample.mean()))
    assert f1.details == {"model": str(tiny_bert), "num_layers": 2, "idf": False, "rescaled_with": None}


def test_missing_weights_name_the_option_and_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(MODEL_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(XrayBenchError, match=MODEL_ENV) as err:
        BertScoreMetric(model="xraybench-tests/no-such-model", num_layers=2)
    assert "`model`" in str(err.value) and "nothing is downloaded" in str(err.value)
    with pytest.raises(XrayBenchError, match="does not exist"):
        BertScoreMetric(model=str(tmp_path / "absent"), num_layers=2)


def test_unknown_model_needs_num_layers(tiny_bert: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LAYERS_ENV, raising=False)
    with pytest.raises(XrayBenchError, match=f"`num_layers`.*{LAYERS_ENV}"):
        BertScoreMetric(model=str(tiny_bert))
    monkeypatch.setenv(LAYERS_ENV, "1")
    assert BertScoreMetric(model=str(tiny_bert)).num_layers == 1
    with pytest.raises(XrayBenchError, match="between 0 and 3"):
        BertScoreMetric(model=str(tiny_bert), num_layers=4)


def test_bad_baseline_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("layer;p;r;f\n")
    with pytest.raises(XrayBenchError, match="bad.tsv:1"):
        read_baseline(bad, 0)


def test_module_import_stays_light() -> None:
    code = "import sys, xraybench.metrics.bertscore; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_runner_skips_model_metrics_without_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from xraybench.results import compute_scores
    from xraybench.runner import RunConfig
    from xraybench.taskdata import TaskData
    from xraybench.tasks import Task

    for env in (MODEL_ENV, "XRAYBENCH_CHEXBERT_CHECKPOINT", "XRAYBENCH_RADGRAPH_DIR"):
        monkeypatch.setenv(env, str(tmp_path / "absent"))
    task = Task("t", "report", "fixture", "test", ("bleu", "bertscore", "chexbert", "radgraph"))
    samples = [Sample("0", "t", "fixture", "test", "", "the heart is normal")]
    preds = [Prediction("0", "t", "m", "heart normal", "heart normal")]
    config = RunConfig(model="predictions:x", tasks=["t"], out=str(tmp_path / "run"))
    scores, skipped = compute_scores(TaskData(task, samples, 1), preds, config)
    assert "bleu_1" in scores and sorted(skipped) == ["bertscore", "chexbert", "radgraph"]
    assert MODEL_ENV in skipped["bertscore"] and "XRAYBENCH_CHEXBERT_CHECKPOINT" in skipped["chexbert"]
