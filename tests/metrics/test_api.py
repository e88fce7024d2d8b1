"""`score_texts`: records, registry construction, shared tokenization and input errors."""

from __future__ import annotations

import pytest

from xraybench.errors import XrayBenchError
from xraybench.metrics import _lexical
from xraybench.metrics.api import build_records, score_texts


def test_scores_and_names() -> None:
    out = score_texts(
        ["No effusion.", ""], [["No pleural effusion.", "No effusion."], ["Normal."]], ["bleu", "rouge_l", "cider"]
    )
    assert set(out) == {"bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider"}
    assert all(s.details["tokenizer"] == "coco" for s in out.values())
    assert out["rouge_l"].per_sample[1] == 0.0


def test_texts_tokenized_once_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = _lexical.tokenize_batch

    def counting(texts: list[str], mode: str) -> list[list[str]]:
        calls.append(len(texts))
        return real(texts, mode)

    monkeypatch.setattr(_lexical, "tokenize_batch", counting)
    score_texts(["a b c", "d e"], [["a b"], ["d"]], ["bleu", "rouge_l", "cider"])
    assert calls == [2, 2]  # hypotheses once, references once, shared by the three metrics


def test_meteor_shares_the_token_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pycocoevalcap", reason="native METEOR reads its resources from pycocoevalcap's jar")
    calls: list[int] = []
    real = _lexical.tokenize_batch

    def counting(texts: list[str], mode: str) -> list[list[str]]:
        calls.append(len(texts))
        return real(texts, mode)

    monkeypatch.setattr(_lexical, "tokenize_batch", counting)
    monkeypatch.setattr("xraybench.metrics.meteor.tokenize_batch", counting)
    scores = score_texts(["the heart is normal", "d e"], [["heart normal"], ["d"]], ["bleu", "meteor"])
    assert calls == [2, 2]  # METEOR reuses the tokens BLEU asked for
    assert (
        scores["meteor"].value
        == score_texts(["the heart is normal", "d e"], [["heart normal"], ["d"]], ["meteor"])["meteor"].value
    )


def test_errors() -> None:
    with pytest.raises(XrayBenchError, match="one list per hypothesis"):
        score_texts(["a"], [], ["bleu"])
    with pytest.raises(XrayBenchError, match="is a string"):
        build_records(["a"], ["ref"])  # type: ignore[list-item]
    with pytest.raises(XrayBenchError, match="at least one reference"):
        score_texts(["a"], [[]], ["bleu"])
    with pytest.raises(XrayBenchError, match="unknown tokenizer mode"):
        score_texts(["a"], [["a"]], ["bleu"], tokenizer="ptb")
    with pytest.raises(XrayBenchError, match="unknown metric"):
        score_texts(["a"], [["a"]], ["blue"])
