"""GREEN against RadEval's `GREEN` (radeval 2.2.1, dev extra): prompt, generation and parsing.

- Parsing and the score: assessments written in GREEN's output format (letters and numbered markers, "No ..."
  blocks, missing sub-categories, several matched-findings lines) give the same score and the same significant
  error counts per category as RadEval's `compute_green` / `compute_error_count`; an assessment without one of the
  format's blocks, which RadEval scores 0, is a marked failure here (NaN, `green_failed` = 1, the reason kept).
- End to end: one tiny random Llama (GREEN-radllama2-7b's architecture, `xraybench.testing.tiny_llama`) loaded by
  both; on real IU X-ray report pairs read in place from `../shared/data/iu_xray/`, the cleaned model outputs are
  identical, and so are the outcomes (random weights write no GREEN assessment: RadEval scores each 0, ours marks
  each failed).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fixtures_green import ASSESSMENTS, radeval_parser
from fixtures_lexical import IU_REPORTS, iu_report_pairs

from xraybench.lazy import require
from xraybench.metrics.green import (
    INSTRUCTION,
    assessment_failure,
    clean_response,
    green_score,
    make_prompt,
    matched_findings,
    scores_from_assessments,
    significant_errors,
)


def _radeval(module: str) -> Any:
    """A RadEval module, imported without the nltk download radeval's import makes (`xraybench.lazy.require`)."""
    if importlib.util.find_spec("radeval") is None:
        pytest.skip("radeval (dev extra) is the reference")
    return require(module, "dev", "the GREEN reference")


@pytest.fixture(scope="module")
def radeval_green() -> object:
    return _radeval("radeval.metrics.green_score.green")


def test_parsing_and_score_equal_radeval(radeval_green: object) -> None:
    parser = radeval_parser(radeval_green)
    for text in ASSESSMENTS:
        assert green_score(text) == pytest.approx(parser.compute_green(text), abs=0), text
        assert [*significant_errors(text), matched_findings(text)] == parser.compute_error_count(text), text
    assert [green_score(t) for t in ASSESSMENTS[:3]] == pytest.approx([3 / 7, 1.0, 1 / 4])
    ids = [f"s{i}" for i in range(len(ASSESSMENTS))]
    scores = scores_from_assessments(ASSESSMENTS, ids, "m")
    failed = [assessment_failure(t) is not None for t in ASSESSMENTS]
    assert failed == [False, False, False, False, True, False, False]
    assert parser.compute_green(ASSESSMENTS[4]) == 0, "RadEval scores the off-format answer 0; we mark it"
    assert list(scores["green_failed"].per_sample) == [float(f) for f in failed]
    assert list(scores["green"].per_sample[~np.array(failed)]) == pytest.approx(
        [parser.compute_green(t) for t, f in zip(ASSESSMENTS, failed, strict=True) if not f], abs=0
    )
    assert np.isnan(scores["green"].per_sample[4]) and np.isnan(scores["green_errors_a"].per_sample[4])
    assert scores["green"].value == pytest.approx(np.mean([3 / 7, 1.0, 1 / 4, 0.0, 0.0, 2 / 3]))
    assert scores["green"].details["n"] == 6 and "s4" in scores["green"].details["failures"]
    assert "[Clinically Significant Errors]:" in scores["green"].details["failures"]["s4"]
    assert list(scores["green_errors_b"].per_sample[~np.array(failed)]) == [1, 0, 0, 0, 2, 0]
    assert list(scores["green_errors_c"].per_sample[~np.array(failed)]) == [0, 0, 1, 0, 0, 0]
    assert list(scores["green_matched_findings"].per_sample[~np.array(failed)]) == [3, 2, 1, 0, 0, 2]


def test_prompt_and_cleaning_equal_radeval(radeval_green: object) -> None:
    utils = _radeval("radeval.metrics.green_score.utils")
    long = "word " * 400
    for ref, cand in [("No effusion.", "Small effusion."), (long, "  spaced\n\ntext  "), ("", "")]:
        assert make_prompt(ref, cand) == utils.make_prompt(ref, cand)
    for text in [
        "<|user|>\nprompt [Explanation]:\n    <Explanation>\n<|assistant|>\n[Explanation]:\nok\n\n[Matched Findings]:\n1. x",
        "<|user|>\nprompt<|assistant|>\nno marker here</s>",
        "[Explanation]: a [Explanation]: b<unk>",
        "plain",
    ]:
        assert clean_response(text) == utils.clean_responses(text)


torch = pytest.importorskip("torch", reason="GREEN needs torch (the 'hf' extra)")
transformers = pytest.importorskip("transformers", reason="GREEN needs transformers (the 'hf' extra)")


def test_prompts_are_encoded_with_bos_and_eos_as_green_encodes_them(tmp_path: Path) -> None:
    """GREEN's prompts are BOS + text + EOS. transformers 5 drops BOS when a tokenizer is loaded with `add_eos_token`
    alone (RadEval's call): the metric keeps it, and a tokenizer that encodes otherwise is refused, not used."""
    from xraybench.errors import XrayBenchError
    from xraybench.metrics.green import GreenMetric, _check_special_tokens
    from xraybench.testing.tiny_llama import build_tiny_llama

    model = build_tiny_llama(tmp_path / "green", [INSTRUCTION], seed=2)
    tok = GreenMetric(model=str(model), device="cpu", progress=False).tokenizer
    ids = tok(tok.apply_chat_template([{"from": "human", "value": "Heart size normal."}], tokenize=False)).input_ids
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    eos_only = transformers.AutoTokenizer.from_pretrained(model, add_eos_token=True, use_fast=True)
    if eos_only("finding").input_ids[:1] != [eos_only.bos_token_id]:  # transformers 5: RadEval's load drops BOS
        with pytest.raises(XrayBenchError, match="expected BOS \\+ text \\+ EOS"):
            _check_special_tokens(eos_only, True, model, transformers.__version__)


@pytest.mark.skipif(not IU_REPORTS.is_file(), reason=f"real IU X-ray reports not found at {IU_REPORTS}")
def test_end_to_end_equals_radeval_on_a_random_llama(radeval_green: object, tmp_path: Path) -> None:
    from xraybench.metrics import METRICS
    from xraybench.metrics.green import GreenMetric, load_tokenizer
    from xraybench.records import Prediction, Sample
    from xraybench.testing.tiny_llama import build_tiny_llama

    hyps, refs = iu_report_pairs(8, seed=5)
    refs = [r[0] for r in refs]
    model = build_tiny_llama(tmp_path / "green", [INSTRUCTION, *hyps, *refs], seed=2)
    max_length = 700  # prompts are ~500 tokens: up to ~200 generated, as GREEN's 2048 would allow but faster

    reference = radeval_green.GREEN(model_name=str(model), cpu=True)
    reference.max_length = max_length
    # RadEval loads the tokenizer with `add_eos_token=True` alone, which on transformers 5 drops the BOS that GREEN's
    # own tokenizer (and transformers 4) adds: give it the tokenizer as GREEN encodes (BOS + text + EOS), RadEval's way
    reference.tokenizer = load_tokenizer(model)
    mean, _, expected_scores, table = reference(refs, hyps)

    assert METRICS.get("green") is GreenMetric
    metric = GreenMetric(model=str(model), device="cpu", max_length=max_length, progress=False)
    texts = metric.assess(refs, hyps)
    assert texts == list(table["green_analysis"])
    assert any(len(t) > 50 for t in texts), "the model should have generated text"
    samples = [Sample(str(i), "report", "iu_xray", "test", "", r) for i, r in enumerate(refs)]
    predictions = [Prediction(str(i), "report", "m", h, h) for i, h in enumerate(hyps)]
    scores = metric.score(samples, predictions)
    for i, text in enumerate(texts):
        if assessment_failure(text) is None:
            assert scores["green"].per_sample[i] == expected_scores[i]
            for letter, column in zip("abcdef", reference.sub_categories, strict=True):
                assert scores[f"green_errors_{letter}"].per_sample[i] == table[column][i]
            assert scores["green_matched_findings"].per_sample[i] == table["Matched Findings"][i]
        else:  # RadEval's silent 0, marked here
            assert expected_scores[i] == 0 and table["Matched Findings"][i] == 0
            assert np.isnan(scores["green"].per_sample[i]) and scores["green_failed"].per_sample[i] == 1
            assert str(i) in scores["green"].details["failures"]
