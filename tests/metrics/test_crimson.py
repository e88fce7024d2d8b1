"""CRIMSON against its authors' package, `crimson-score` (rajpurkarlab/CRIMSON, module `CRIMSON`, dev extra).

- Parsing and the score: evaluations written in CRIMSON's JSON output format give the scores computed here by hand
  from CRIMSON's weights, and the package's error counts per category; what the package cannot score or would score
  silently (not JSON, a JSON object without the CRIMSON fields, a matched finding without its `ref_id`, an empty
  answer) is a marked failure: NaN, `crimson_failed` = 1, the reason kept, the corpus mean over the others.
- End to end: one tiny random MedGemma-layout checkpoint (`xraybench.testing.tiny_gemma3`) run by the package's own
  `CRIMSONScore` and by our metric on real IU X-ray report pairs read in place from `../shared/data/iu_xray/`: the
  raw model outputs are identical, and so are the outcomes (random weights write no JSON: every pair fails in both,
  which our metric marks instead of scoring).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fixtures_lexical import IU_REPORTS, iu_report_pairs

pytest.importorskip("CRIMSON", reason="crimson-score is not installed (dev extra / crimson extra)")

from xraybench.errors import XrayBenchError  # noqa: E402
from xraybench.metrics.crimson import ERROR_COUNTS, build_prompt, score_response, score_responses  # noqa: E402


def _finding(fid: str, text: str, significance: str) -> dict[str, str]:
    return {"id": fid, "finding": text, "clinical_significance": significance}


# R1 urgent (1.0), R2 actionable (0.5); P1 matches R1 with one significant location error (0.5), P2 is a false
# non-actionable finding (0.25), R2 is missed.
#   N_G = 1.5; correct = 1.0 * 1.0 / (1.0 + 0.5) = 2/3; E_false = 0.25; S = (2/3 - 0.25) / 1.5 = 0.27777.. -> 0.2778
PARTIAL = {
    "reference_findings": [
        _finding("R1", "right pneumothorax", "urgent"),
        _finding("R2", "small left effusion", "actionable_not_urgent"),
    ],  # fmt: skip
    "predicted_findings": [
        _finding("P1", "left pneumothorax", "urgent"),
        _finding("P2", "calcified granuloma", "not_actionable_not_urgent"),
    ],  # fmt: skip
    "matched_findings": [{"ref_id": "R1", "pred_id": "P1"}],
    "errors": {
        "false_findings": ["P2"],
        "missing_findings": ["R2"],
        "attribute_errors": [{"ref_id": "R1", "pred_id": "P1", "error_types": ["location"], "severity": "significant"}],
    },
}
# one urgent reference finding, missed; two urgent false findings: S = (0 - 2) / 1 < 0, errors beyond correct = 2,
#   CRIMSON = -2 / (1 + 2) = -0.6667
WRONG = {
    "reference_findings": [_finding("R1", "pneumothorax", "urgent")],
    "predicted_findings": [_finding("P1", "large mass", "urgent"), _finding("P2", "rib fracture", "urgent")],
    "matched_findings": [],
    "errors": {"false_findings": ["P1", "P2"], "missing_findings": ["R1"], "attribute_errors": []},
}
# normal study, normal candidate: no abnormal finding on either side scores 1.0
NORMAL = {"reference_findings": [], "predicted_findings": [], "matched_findings": [],
          "errors": {"false_findings": [], "missing_findings": [], "attribute_errors": []}}  # fmt: skip
# a matched finding with a severity and a measurement error, both negligible (weight 0): full credit, S = 0.5 / 0.5
NEGLIGIBLE = {
    "reference_findings": [_finding("R1", "moderate cardiomegaly", "actionable_not_urgent")],
    "predicted_findings": [_finding("P1", "mild cardiomegaly", "actionable_not_urgent")],
    "matched_findings": [{"ref_id": "R1", "pred_id": "P1"}],
    "errors": {"false_findings": [], "missing_findings": [], "attribute_errors": [
        {"ref_id": "R1", "pred_id": "P1", "error_types": ["severity", "measurement"], "severity": "negligible"}]},
}  # fmt: skip


def test_hand_written_evaluations_give_the_hand_computed_scores_and_counts() -> None:
    expected = [(PARTIAL, 0.2778), (WRONG, -0.6667), (NORMAL, 1.0), (NEGLIGIBLE, 1.0)]
    for evaluation, score in expected:
        result, why = score_response(json.dumps(evaluation, indent=2))
        assert why is None and result is not None
        assert result["crimson_score"] == pytest.approx(score, abs=1e-9)
    partial, _ = score_response(json.dumps(PARTIAL))
    assert partial is not None
    assert {k: v for k, v in partial["error_counts"].items() if v} == {
        "false_findings": 1, "missing_findings": 1, "attribute_errors": 1, "location_errors": 1,
    }  # fmt: skip
    negligible, _ = score_response(json.dumps(NEGLIGIBLE))
    assert negligible is not None and negligible["error_counts"]["severity_errors"] == 1
    assert negligible["error_counts"]["measurement_errors"] == 1


def test_the_package_json_repairs_apply() -> None:
    # an invalid escape and curly quotes inside a value, as the package's parser repairs them
    text = json.dumps(WRONG).replace("large mass", "large \\_mass \u201cnew\u201d")
    result, why = score_response(text)
    assert why is None and result is not None and result["crimson_score"] == pytest.approx(-0.6667)


def test_unscoreable_answers_are_marked_failures_never_numbers() -> None:
    from CRIMSON.generate_score import CRIMSONScore

    incomplete = {"matched_findings": [], "errors": {}}
    # the package itself scores an object without the CRIMSON fields as a perfect report
    assert object.__new__(CRIMSONScore)._calculate_crimson(incomplete)["crimson_score"] == 1.0
    bad_match = json.loads(json.dumps(PARTIAL))
    del bad_match["matched_findings"][0]["ref_id"]
    cases = {
        "garbage": ("leftleft !!! FIN FIN", "not parseable as JSON"),
        "empty": ("  \n", "empty response"),
        "list": ("[1, 2]", "expected a JSON object, got list"),
        "incomplete": (json.dumps(incomplete), "JSON object without reference_findings, predicted_findings"),
        "errors_list": (json.dumps({**NORMAL, "errors": []}), "'errors' is a list"),
        "bad_match": (json.dumps(bad_match), "malformed CRIMSON fields (KeyError"),
    }
    for text, reason in cases.values():
        result, why = score_response(text)
        assert result is None and why is not None and reason in why

    ids = ["good1", *cases, "good2"]
    responses = [json.dumps(PARTIAL), *(t for t, _ in cases.values()), json.dumps(WRONG)]
    scores = score_responses(responses, ids, {3: "generation failed (RuntimeError: out of memory)"})
    crimson = scores["crimson"]
    assert crimson.value == pytest.approx((0.2778 - 0.6667) / 2)  # the mean over the two scored samples only
    assert np.isnan(crimson.per_sample[1:-1]).all() and crimson.details["failed"] == len(cases)
    assert crimson.details["failures"]["list"].startswith("generation failed (RuntimeError")  # index 3
    assert "not parseable as JSON" in crimson.details["failures"]["garbage"]
    assert list(scores["crimson_failed"].per_sample) == [0.0, *[1.0] * len(cases), 0.0]
    assert scores["crimson_failed"].value == pytest.approx(len(cases) / len(ids))
    assert list(scores["crimson_false_findings"].per_sample[[0, -1]]) == [1.0, 2.0]
    assert np.isnan(scores["crimson_missing_findings"].per_sample[1])
    assert scores["crimson_location_errors"].value == pytest.approx(0.5)
    assert set(scores) == {"crimson", "crimson_failed", *(f"crimson_{n}" for n in ERROR_COUNTS)}
    assert np.isnan(scores["crimson"].on([1, 2])) and scores["crimson"].on([0, 1]) == 0.2778  # resamples: same rule


def test_the_prompt_is_the_package_prompt_without_guidelines() -> None:
    from CRIMSON.generate_score import CRIMSONScore

    ref, hyp = "Heart size is normal. No effusion.", "Mild cardiomegaly."
    scorer = object.__new__(CRIMSONScore)
    scorer.api, scorer.model_name = "hf", CRIMSONScore.DEFAULT_HF_MODEL
    assert build_prompt(ref, hyp) == scorer._build_evaluation_prompt(ref, hyp)  # the fine-tuned model's prompt
    scorer.model_name = "a-general-llm"  # the package keeps the guidelines for any other model
    assert build_prompt(ref, hyp, guidelines=True) == scorer._build_evaluation_prompt(ref, hyp)
    assert len(build_prompt(ref, hyp, guidelines=True)) > len(build_prompt(ref, hyp))
    context = {"Clinical context": "Indication: chest pain. Comparison: none. Age: 82"}
    assert build_prompt(ref, hyp, guidelines=True, context=context) == scorer._build_evaluation_prompt(
        ref, hyp, patient_context=context
    )
    assert "Patient Context:\n    Clinical context: Indication: chest pain." in build_prompt(ref, hyp, context=context)


def test_missing_weights_name_the_fetch_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("transformers", reason="the [hf] extra is not installed")
    from xraybench.metrics.crimson import CrimsonMetric

    monkeypatch.delenv("XRAYBENCH_CRIMSON_MODEL", raising=False)
    with pytest.raises(XrayBenchError, match="does not exist; set the crimson option `model`"):
        CrimsonMetric(model=str(tmp_path / "nowhere"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(XrayBenchError, match="xraybench weights fetch crimson"):
        CrimsonMetric()


@pytest.fixture(scope="module")
def tiny_crimson(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers", reason="the [hf] extra is not installed")
    from xraybench.testing.tiny_gemma3 import build_tiny_gemma3

    # a short generation config of its own (the package then uses it, as it would a real checkpoint's)
    return build_tiny_gemma3(tmp_path_factory.mktemp("crimson") / "model", [build_prompt("", "")], max_new_tokens=12)


def test_a_model_without_chat_template_is_refused_before_scoring(tiny_crimson: Path, tmp_path: Path) -> None:
    import shutil

    from xraybench.metrics.crimson import CrimsonMetric

    plain = shutil.copytree(tiny_crimson, tmp_path / "plain")
    (plain / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((plain / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (plain / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(XrayBenchError, match="has no chat template"):
        CrimsonMetric(model=str(plain), progress=False)


def test_context_option_reads_the_sample_context(tiny_crimson: Path) -> None:
    from xraybench.metrics.crimson import CrimsonMetric
    from xraybench.records import Sample

    sample = Sample("1", "rexrank_iu_xray", "rexrank", "test", "", "ref", metadata={"context": "Indication: cough."})
    bare = Sample("2", "rexrank_iu_xray", "rexrank", "test", "", "ref")
    with_context = CrimsonMetric(model=str(tiny_crimson), context=True, progress=False)
    assert with_context._context(sample) == {"Clinical context": "Indication: cough."}
    assert with_context._context(bare) is None
    assert CrimsonMetric(model=str(tiny_crimson), progress=False)._context(sample) is None  # off by default


@pytest.mark.skipif(not IU_REPORTS.is_file(), reason=f"real IU X-ray reports not found at {IU_REPORTS}")
def test_same_outputs_as_the_package_on_real_iu_reports(tiny_crimson: Path) -> None:
    from CRIMSON.generate_score import CRIMSONScore

    from xraybench.metrics.api import build_records
    from xraybench.metrics.crimson import CrimsonMetric

    hyps, refs = iu_report_pairs(2, seed=7)
    references = [r[0] for r in refs]
    reference = CRIMSONScore(api="hf", model_name=str(tiny_crimson))
    prompts = [
        reference._build_evaluation_prompt(r, h, include_guidelines=False)
        for r, h in zip(references, hyps, strict=True)
    ]
    raw_reference = reference._chat_completion_batch(prompts)
    results_reference = reference.evaluate_batch(references, hyps, include_guidelines=False)

    ours = CrimsonMetric(model=str(tiny_crimson), progress=False)
    raw_ours, reasons = ours.generate([build_prompt(r, h) for r, h in zip(references, hyps, strict=True)])
    assert raw_ours == raw_reference and not reasons
    assert all(text for text in raw_ours)  # the tiny model did write something
    samples, predictions = build_records(hyps, refs)
    scores = ours.score(samples, predictions)
    for i, result in enumerate(results_reference):
        if result is None:  # the package: printed a warning, no score
            assert np.isnan(scores["crimson"].per_sample[i]) and scores["crimson_failed"].per_sample[i] == 1.0
            assert "not parseable as JSON" in scores["crimson"].details["failures"][samples[i].id]
        else:
            assert scores["crimson"].per_sample[i] == result["crimson_score"]
            for name in ERROR_COUNTS:
                assert scores[f"crimson_{name}"].per_sample[i] == result["error_counts"][name]
    generation = "checkpoint generation_config.json (do_sample=False, max_new_tokens=12)"
    assert scores["crimson"].details["generation"] == generation


def test_per_sample_rows_and_corpus_values_keep_failures_apart() -> None:
    """What scores.jsonl and results.json get: values per sample (null where failed), corpus means with CIs."""
    from xraybench.metrics.api import build_records
    from xraybench.results import per_sample_rows, summarise
    from xraybench.taskdata import TaskData
    from xraybench.tasks import get_task

    responses = [json.dumps(PARTIAL), "no JSON here", json.dumps(NORMAL), json.dumps(WRONG)]
    samples, _ = build_records(["h"] * 4, [["r"]] * 4)
    scores = score_responses(responses, [s.id for s in samples])
    rows = per_sample_rows(TaskData(get_task("iu_xray_findings"), samples, population=4), scores)
    assert [row["crimson"] for row in rows] == [0.2778, None, 1.0, -0.6667]
    assert [row["crimson_failed"] for row in rows] == [0.0, 1.0, 0.0, 0.0]
    assert [row["crimson_missing_findings"] for row in rows] == [1.0, None, 0.0, 1.0]
    summary = summarise(scores, rounds=200, seed=0)
    assert summary["crimson"]["value"] == pytest.approx((0.2778 + 1.0 - 0.6667) / 3)
    low, high = summary["crimson"]["ci_low"], summary["crimson"]["ci_high"]
    assert -0.6667 <= low < summary["crimson"]["value"] < high <= 1.0
    assert summary["crimson_failed"]["value"] == pytest.approx(0.25)


@pytest.mark.skipif(not IU_REPORTS.is_file(), reason=f"real IU X-ray reports not found at {IU_REPORTS}")
def test_run_writes_crimson_per_sample_and_marks_every_failure(tiny_crimson: Path, tmp_path: Path) -> None:
    """`xraybench run --extra-metrics crimson` on real IU reports: the tiny model writes no JSON, so every sample is a
    failure in scores.jsonl and results.json, with the reason, and no CRIMSON number is made up."""
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XRAYBENCH_CRIMSON", "HF_"))}
    env.update(XRAYBENCH_CRIMSON_MODEL=str(tiny_crimson), HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    argv = [sys.executable, "-m", "xraybench", "run", "--model", "baseline:normal", "--tasks", "iu_xray_findings",
            "--data-root", f"iu_xray={IU_REPORTS.parent}", "--limit", "2", "--extra-metrics", "crimson",
            "--skip-metrics", "meteor", "--bootstrap-rounds", "50", "--out", str(out)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    task = json.loads((out / "results.json").read_text())["tasks"]["iu_xray_findings"]
    assert "crimson" not in task["skipped_metrics"], task["skipped_metrics"]
    assert task["metrics"]["crimson"]["value"] is None
    assert task["metrics"]["crimson_failed"]["value"] == 1.0
    details = task["metric_details"]["crimson"]
    assert details["failed"] == 2 and all("not parseable as JSON" in why for why in details["failures"].values())
    rows = [json.loads(line) for line in (out / "scores.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r["crimson"] is None and r["crimson_failed"] == 1.0 for r in rows)
    assert all(r["crimson_false_findings"] is None for r in rows)
