from __future__ import annotations

import json
from pathlib import Path

import pytest

from xraybench.errors import XrayBenchError
from xraybench.runner import FAILURES_FILE, PREDICTIONS_FILE, RunConfig, run
from xraybench.taskdata import load_task


def _config(out: Path, **kw: object) -> RunConfig:
    base = {
        "model": "baseline:normal",
        "tasks": ["demo_vqa", "demo_classification"],
        "out": str(out),
        "bootstrap_rounds": 50,
        "progress": False,
    }
    return RunConfig(**{**base, **kw})  # type: ignore[arg-type]


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_demo_run_writes_versioned_results(tmp_path: Path) -> None:
    results = run(_config(tmp_path / "run"))
    assert results["schema_version"] == 1 and results["status"] == "complete"
    vqa = results["tasks"]["demo_vqa"]
    assert vqa["n"] == len(load_task("demo_vqa").samples) and vqa["n_failed"] == 0
    acc = vqa["metrics"]["vqa_accuracy"]
    assert 0 <= acc["ci_low"] <= acc["value"] <= acc["ci_high"] <= 1
    assert set(vqa["categories"]) == {"presence", "location", "abnormality"}
    assert results["model"] == {"spec": "baseline:normal", "name": "baseline:normal"}
    assert results["dataset_fingerprints"]["demo_vqa"] == vqa["fingerprint"]
    for key in ("run_id", "template", "decoding", "packages", "git_sha", "timings", "created_at"):
        assert key in results
    on_disk = json.loads((tmp_path / "run" / "results.json").read_text())
    assert on_disk["tasks"]["demo_vqa"]["metrics"] == vqa["metrics"]


def test_rerun_resumes_without_new_calls_and_same_results(tmp_path: Path) -> None:
    first = run(_config(tmp_path / "run"))
    preds = tmp_path / "run" / PREDICTIONS_FILE
    n_lines = len(_lines(preds))
    second = run(_config(tmp_path / "run"))
    assert len(_lines(preds)) == n_lines
    assert second["resumed"] is True
    assert second["tasks"]["demo_vqa"]["metrics"] == first["tasks"]["demo_vqa"]["metrics"]


def test_torn_last_line_is_cut_and_redone(tmp_path: Path) -> None:
    first = run(_config(tmp_path / "run"))
    preds = tmp_path / "run" / PREDICTIONS_FILE
    lines = preds.read_text().splitlines(keepends=True)
    preds.write_text("".join(lines[:-2]) + lines[-2][: len(lines[-2]) // 2])  # killed mid-write
    second = run(_config(tmp_path / "run"))
    rows = _lines(preds)
    keys = [(r["task"], r["id"]) for r in rows]
    assert len(keys) == len(set(keys)) == len(lines)
    assert second["tasks"]["demo_classification"]["metrics"] == first["tasks"]["demo_classification"]["metrics"]


def test_different_configuration_is_refused(tmp_path: Path) -> None:
    run(_config(tmp_path / "run"))
    with pytest.raises(
        XrayBenchError,
        match=r"different configuration \(model: 'baseline:normal' -> "
        r"'baseline:retrieval'\)",
    ):
        run(_config(tmp_path / "run", model="baseline:retrieval"))


def test_non_empty_foreign_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("mine")
    with pytest.raises(XrayBenchError, match="not empty"):
        run(_config(tmp_path))


def test_missing_predictions_are_failures_and_counted(tmp_path: Path) -> None:
    samples = load_task("demo_classification").samples
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"id": s.id, "prediction": s.reference}) + "\n" for s in samples[:-3]))
    results = run(_config(tmp_path / "run", model=f"predictions:{preds}", tasks=["demo_classification"]))
    assert results["status"] == "incomplete"
    assert results["tasks"]["demo_classification"]["n_failed"] == 3
    assert len(_lines(tmp_path / "run" / FAILURES_FILE)) == 3


def test_retrieval_beats_normal_on_demo_classification(tmp_path: Path) -> None:
    normal = run(_config(tmp_path / "a", tasks=["demo_classification"]))
    retrieval = run(_config(tmp_path / "b", tasks=["demo_classification"], model="baseline:retrieval"))
    f1 = lambda r: r["tasks"]["demo_classification"]["metrics"]["cls_micro_f1"]["value"]  # noqa: E731
    assert f1(retrieval) > f1(normal)


def test_limit_samples_are_seeded(tmp_path: Path) -> None:
    a = run(_config(tmp_path / "a", tasks=["demo_vqa"], limit=10, seed=1))
    b = run(_config(tmp_path / "b", tasks=["demo_vqa"], limit=10, seed=1))
    c = run(_config(tmp_path / "c", tasks=["demo_vqa"], limit=10, seed=2))
    fp = lambda r: r["tasks"]["demo_vqa"]["fingerprint"]  # noqa: E731
    assert fp(a) == fp(b) != fp(c)
    assert a["tasks"]["demo_vqa"]["n"] == 10 and a["tasks"]["demo_vqa"]["population"] > 10


def test_a_model_that_always_fails_stops_the_run_and_resumes(tmp_path: Path) -> None:
    from xraybench.retry import ABORT_AFTER_FAILURES
    from xraybench.testing.openai_server import Fault, OpenAIServer

    # a 400 that no retry fixes but that is not fatal (a wrong key or model name is: see the test below)
    bad = [Fault("bad_request", status=400, message="image could not be decoded")] * (ABORT_AFTER_FAILURES + 2)
    config = _config(tmp_path / "run", model="openai:m", api_base="", tasks=["demo_vqa"], max_concurrency=1)
    with OpenAIServer(fault_plan=list(bad)) as server:
        config.api_base = server.base_url
        with pytest.raises(
            XrayBenchError, match=rf"last {ABORT_AFTER_FAILURES} batches all failed.*could not be decoded"
        ):
            run(config)
        assert len(server.chat_requests()) == ABORT_AFTER_FAILURES
        assert len(_lines(tmp_path / "run" / FAILURES_FILE)) == ABORT_AFTER_FAILURES
        server.fault_plan.clear()
        results = run(config)  # the cause is gone: the rerun resumes and finishes
    assert results["status"] == "complete"
    assert len(_lines(tmp_path / "run" / PREDICTIONS_FILE)) == results["tasks"]["demo_vqa"]["n"]


@pytest.mark.parametrize("fault", ["auth", "model_not_found"])
def test_a_fatal_error_stops_the_run_after_one_request_and_marks_nothing_failed(tmp_path: Path, fault: str) -> None:
    """A wrong key or model name (issue 16): one request, not one per slot of --max-concurrency, then the server's
    message; nothing is listed as failed, so the corrected rerun asks every item."""
    from xraybench.retry import FatalError
    from xraybench.testing.openai_server import Fault, OpenAIServer

    config = _config(tmp_path / "run", model="openai:m", api_base="", tasks=["demo_vqa"], limit=20, max_concurrency=8)
    with OpenAIServer(fault_plan=[getattr(Fault, fault)()] * 50) as server:
        config.api_base = server.base_url
        with pytest.raises(FatalError, match="not retried"):
            run(config)
        assert len(server.chat_requests()) == 1
        assert not (tmp_path / "run" / FAILURES_FILE).exists() or not _lines(tmp_path / "run" / FAILURES_FILE)
        server.fault_plan.clear()
        results = run(config)
    assert results["status"] == "complete" and results["tasks"]["demo_vqa"]["n_failed"] == 0


def test_per_sample_scores_are_kept(tmp_path: Path) -> None:
    from xraybench.results import PER_SAMPLE_FILE

    results = run(_config(tmp_path / "run", tasks=["demo_vqa"]))
    rows = _lines(tmp_path / "run" / PER_SAMPLE_FILE)
    assert [r["id"] for r in rows] == [s.id for s in load_task("demo_vqa").samples]
    accuracy = [r["vqa_accuracy"] for r in rows]
    assert sum(accuracy) / len(accuracy) == pytest.approx(
        results["tasks"]["demo_vqa"]["metrics"]["vqa_accuracy"]["value"]
    )


def test_extra_metrics_rescore_a_finished_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XRAYBENCH_BERTSCORE_MODEL", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    first = run(_config(tmp_path / "run", tasks=["demo_impression"], skip_metrics=["meteor"]))
    assert "bertscore" not in first["tasks"]["demo_impression"]["skipped_metrics"]
    again = run(
        _config(tmp_path / "run", tasks=["demo_impression"], skip_metrics=["meteor"], extra_metrics=["bertscore"])
    )
    task = again["tasks"]["demo_impression"]
    # without local weights the metric is skipped with the reason, and nothing else changes
    assert "XRAYBENCH_BERTSCORE_MODEL" in task["skipped_metrics"]["bertscore"]
    assert task["metrics"] == first["tasks"]["demo_impression"]["metrics"]
    with pytest.raises(XrayBenchError, match="Did you mean 'bertscore'"):
        run(_config(tmp_path / "run", tasks=["demo_impression"], extra_metrics=["bertscor"]))
