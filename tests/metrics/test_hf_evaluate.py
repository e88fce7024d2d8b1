"""Our metrics load through `evaluate.load(<local file>)`, offline, with the values of `score_texts`."""

from __future__ import annotations

import pytest

from xraybench.metrics.api import score_texts
from xraybench.metrics.hf_evaluate import module_path

evaluate = pytest.importorskip("evaluate", reason="the evaluate library is not installed (dev extra)")

HYPS = ["the heart is normal in size . no effusion .", "small left pleural effusion .", ""]
REFS = ["heart size is normal . there is no pleural effusion .", "left pleural effusion is small .", "lungs clear ."]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_EVALUATE_OFFLINE", "1")
    monkeypatch.setenv("HF_MODULES_CACHE", str(tmp_path / "modules"))


def test_report_module_equals_score_texts() -> None:
    module = evaluate.load(module_path("xraybench_report"))
    got = module.compute(
        predictions=HYPS, references=REFS, metrics=["bleu", "rouge_l", "cider", "chexpert"], tokenizer="raw"
    )
    want = score_texts(HYPS, [[r] for r in REFS], ["bleu", "rouge_l", "cider", "chexpert"], tokenizer="raw")
    assert got["tokenizer"] == "raw"
    for name, scores in want.items():
        assert got[name] == pytest.approx(scores.value, abs=1e-12), name


def test_answer_score_module() -> None:
    from xraybench.metrics.answer_score import answer_score

    module = evaluate.load(module_path("xraybench_answer_score"))
    preds, refs = ["yes", "left", "effusion|cardiomegaly"], ["Yes", "right", "cardiomegaly|effusion"]
    got = module.compute(predictions=preds, references=refs, variant="paper")
    want = sum(answer_score(p, r, variant="paper") for p, r in zip(preds, refs, strict=True)) / 3
    assert got == {"answer_score": pytest.approx(want), "variant": "paper"}
