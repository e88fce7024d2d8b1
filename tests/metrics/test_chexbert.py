"""CheXbert: loading the chexbert.pth layout, batching, label decoding and the scores, on a tiny random model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xraybench.errors import DataFormatError, XrayBenchError

torch = pytest.importorskip("torch", reason="CheXbert needs torch (the 'hf' extra)")
pytest.importorskip("transformers", reason="CheXbert needs transformers (the 'hf' extra)")

from xraybench.metrics import METRICS  # noqa: E402
from xraybench.metrics.chexbert import (  # noqa: E402
    CHECKPOINT_ENV,
    CLASS_VALUES,
    TOKENIZER_ENV,
    ChexbertMetric,
    load_labeler,
    prepare,
)
from xraybench.metrics.chexpert import CHEXPERT_LABELS  # noqa: E402
from xraybench.metrics.clinical import LABEL_SETS, positive_matrix  # noqa: E402
from xraybench.records import Prediction, Sample  # noqa: E402
from xraybench.testing.tiny_bert import build_tiny_bert, build_tiny_chexbert  # noqa: E402

REPORTS = [
    "No pleural effusion or pneumothorax.",
    "Mild cardiomegaly.\n\n  Small   left effusion.",
    "",
    "the heart " * 100,  # longer than the tiny model's 128 positions: cut to 127 tokens + [SEP]
    "Patchy opacity in the right lower lobe may represent atelectasis or consolidation.",
    "Pulmonary edema is present.",
    "The lungs are clear.",
    "An endotracheal tube terminates above the carina. Fracture of a left rib.",
    "pneumonia cannot be excluded",
    "Stable enlarged cardiomediastinum.",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("chexbert")
    bert = build_tiny_bert(root / "bert-base-uncased")
    return build_tiny_chexbert(root / "chexbert.pth", bert), bert


def test_checkpoint_layout_loads(tiny: tuple[Path, Path]) -> None:
    checkpoint, bert = tiny
    state = torch.load(checkpoint, weights_only=True)["model_state_dict"]
    assert "module.bert.embeddings.position_ids" in state and "module.linear_heads.13.bias" in state
    labeler = load_labeler(str(checkpoint), str(bert), device="cpu")
    loaded = labeler.bert.state_dict()
    for key in ("embeddings.word_embeddings.weight", "encoder.layer.2.output.dense.weight", "pooler.dense.bias"):
        assert torch.equal(loaded[key], state[f"module.bert.{key}"])
    assert [tuple(b.shape) for _, b in labeler.heads] == [(4,)] * 13 + [(2,)]


def test_encoding_follows_chexbert(tiny: tuple[Path, Path]) -> None:
    labeler = load_labeler(str(tiny[0]), str(tiny[1]), device="cpu")
    tok = labeler.tokenizer
    assert prepare("  Mild\n\ncardiomegaly.   Small  effusion ") == "Mild cardiomegaly. Small effusion"
    assert labeler.encode("") == labeler.encode("  \n ") == [tok.cls_token_id, tok.sep_token_id]
    ids = labeler.encode("Mild\ncardiomegaly.")
    assert tok.convert_ids_to_tokens(ids) == ["[CLS]", "mild", "cardiomegaly", ".", "[SEP]"]
    long = labeler.encode("the heart " * 100)
    assert len(long) == 128 and long[-1] == tok.sep_token_id and long[-2] != tok.sep_token_id


def test_batched_labels_equal_one_by_one(tiny: tuple[Path, Path]) -> None:
    batched = load_labeler(str(tiny[0]), str(tiny[1]), device="cpu", batch_size=4)
    together = batched.logits(REPORTS)
    alone = [batched.logits([r])[0] for r in REPORTS]
    for row_a, row_b in zip(together, alone, strict=True):
        for a, b in zip(row_a, row_b, strict=True):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-5)
    labels = batched.label(REPORTS)
    assert labels == [batched.label([r])[0] for r in REPORTS]
    assert len({tuple(row) for row in labels}) > 3, "the tiny model should tell reports apart"
    assert all(len(row) == 14 and set(row) <= {1, 0, -1, None} for row in labels)


def test_label_decoding(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    # heads with zero weights and a one-hot bias predict a chosen class whatever the report
    state = torch.load(tiny[0], weights_only=True)
    chosen = [i % 4 for i in range(13)] + [1]
    for i, cls in enumerate(chosen):
        weight = state["model_state_dict"][f"module.linear_heads.{i}.weight"]
        state["model_state_dict"][f"module.linear_heads.{i}.weight"] = torch.zeros_like(weight)
        bias = torch.full((weight.shape[0],), -5.0)
        bias[cls] = 5.0
        state["model_state_dict"][f"module.linear_heads.{i}.bias"] = bias
    fixed = tmp_path / "fixed.pth"
    torch.save(state, fixed)
    labels = load_labeler(str(fixed), str(tiny[1]), device="cpu").label(["No effusion.", ""])
    expected = [CLASS_VALUES[c] for c in chosen]
    assert expected[:4] == [None, 1, 0, -1] and expected[13] == 1
    assert labels == [expected, expected]


def test_metric_end_to_end_matches_sklearn(tiny: tuple[Path, Path]) -> None:
    sklearn = pytest.importorskip("sklearn.metrics", reason="scikit-learn (dev extra) is the reference")
    assert METRICS.get("chexbert") is ChexbertMetric
    preds, refs = REPORTS, REPORTS[3:] + REPORTS[:3]
    samples = [Sample(str(i), "report", "fixture", "test", "", r) for i, r in enumerate(refs)]
    predictions = [Prediction(str(i), "report", "m", p, p) for i, p in enumerate(preds)]
    for uncertain_as in ("positive", "negative"):
        metric = ChexbertMetric(str(tiny[0]), str(tiny[1]), uncertain_as=uncertain_as, device="cpu", progress=False)
        scores = metric.score(samples, predictions)
        assert len(scores) == 12 and all(n.startswith("chexbert_") for n in scores)
        pred_m = positive_matrix(metric.labeler.label(preds), uncertain_as)
        ref_m = positive_matrix(metric.labeler.label(refs), uncertain_as)
        for set_name, cols in LABEL_SETS.items():
            for average in ("micro", "macro"):
                expected = sklearn.precision_recall_fscore_support(
                    ref_m[:, list(cols)], pred_m[:, list(cols)], average=average, zero_division=0
                )
                for stat, value in zip(("precision", "recall", "f1"), expected[:3], strict=True):
                    got = scores[f"chexbert_{average}_{stat}_{set_name}"]
                    assert got.value == pytest.approx(float(value), abs=1e-12)
                    assert got.details["labeler"] == "CheXbert" and got.details["uncertain_as"] == uncertain_as
        assert scores["chexbert_micro_f1_14"].on(np.arange(len(samples))) == scores["chexbert_micro_f1_14"].value


def test_environment_variables_locate_the_weights(tiny: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CHECKPOINT_ENV, str(tiny[0]))
    monkeypatch.setenv(TOKENIZER_ENV, str(tiny[1]))
    assert len(load_labeler(device="cpu").label(["No effusion."])[0]) == len(CHEXPERT_LABELS)


def test_missing_or_bad_weights_raise_clear_errors(
    tiny: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CHECKPOINT_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    with pytest.raises(XrayBenchError, match=CHECKPOINT_ENV):
        ChexbertMetric(checkpoint=str(tmp_path / "absent.pth"))
    state = torch.load(tiny[0], weights_only=True)
    del state["model_state_dict"]["module.linear_heads.13.weight"]
    broken = tmp_path / "broken.pth"
    torch.save(state, broken)
    with pytest.raises(DataFormatError, match=r"broken\.pth.*linear_heads\.13 \(No Finding\) with 2 outputs"):
        load_labeler(str(broken), str(tiny[1]))
    junk = tmp_path / "junk.pth"
    junk.write_text("not a checkpoint")
    with pytest.raises(DataFormatError, match="junk.pth: not a readable torch checkpoint"):
        load_labeler(str(junk), str(tiny[1]))


@pytest.mark.weights
@pytest.mark.skipif(not os.environ.get(CHECKPOINT_ENV), reason=f"real CheXbert weights: set {CHECKPOINT_ENV}")
def test_real_chexbert_labels_obvious_reports() -> None:
    try:
        labeler = load_labeler()
    except XrayBenchError as exc:
        pytest.skip(f"real CheXbert tokenizer not available: {exc}")
    labels = labeler.label(["No acute cardiopulmonary process.", "Large right pleural effusion. No pneumothorax."])
    index = {name: i for i, name in enumerate(CHEXPERT_LABELS)}
    assert labels[0][index["No Finding"]] == 1
    assert labels[1][index["Pleural Effusion"]] == 1 and labels[1][index["Pneumothorax"]] == 0


def test_module_import_stays_light() -> None:
    code = "import sys, xraybench.metrics.chexbert; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
