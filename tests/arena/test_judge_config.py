"""`arena judge` as a Python API: one `JudgeConfig` drives `judge_arena` the way the CLI flags do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.api import JudgeConfig, judge_arena
from xraybench.callstore import CallStore
from xraybench.errors import XrayBenchError
from xraybench.taskdata import load_task

TASK = "demo_findings"


@pytest.fixture()
def specs(tmp_path: Path) -> list[str]:
    """Two invented models on the demo task: one writes the reference, one a wrong report."""
    samples = load_task(TASK).samples
    out = []
    for name, make in {"echo": lambda ref: ref, "wrong": lambda ref: "Large left pneumothorax."}.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps({"id": s.id, "prediction": make(s.reference)}) + "\n" for s in samples))
        out.append(f"{name}={path}")
    return out


def test_judge_arena_with_a_metric_judge_and_a_rerun(tmp_path: Path, specs: list[str]) -> None:
    store = tmp_path / "arena" / "judgments.sqlite"
    config = JudgeConfig("demo", TASK, "metric:clinical", predictions=specs, studies=3, store=str(store))
    report, path = judge_arena(config, progress=False)
    assert path == store and report.n_battles == 3 * 2 and report.n_failed == 0
    with CallStore(store) as calls:
        assert calls.totals().n_ok == report.n_ok > 0
    again, _ = judge_arena(config, progress=False)
    assert again.n_done_before == report.n_ok and again.n_ok == 0


def test_dry_run_judges_nothing(tmp_path: Path, specs: list[str]) -> None:
    store = tmp_path / "j.sqlite"
    config = JudgeConfig("demo", TASK, "metric:lexical", predictions=specs, store=str(store), dry_run=True)
    report, _ = judge_arena(config, progress=False)
    assert report.n_ok == 0 and report.estimate is not None


@pytest.mark.parametrize("sources", [{}, {"runs": ["r"], "predictions": ["a=f"]}], ids=["none", "both"])
def test_exactly_one_source(tmp_path: Path, sources: dict[str, list[str]]) -> None:
    config = JudgeConfig("demo", TASK, "metric:clinical", store=str(tmp_path / "j.sqlite"), **sources)
    with pytest.raises(XrayBenchError, match="exactly one of --runs or --predictions"):
        judge_arena(config)
    assert not (tmp_path / "j.sqlite").exists()


def test_remote_judge_on_credentialed_data_is_refused_before_any_store(tmp_path: Path, specs: list[str]) -> None:
    """The demo data are open, so the test marks them credentialed: a remote judge is refused before the store
    is created."""
    from arena import judging

    original = judging.load_field

    def credentialed_field(*args: object, **kw: object) -> judging.Field:
        fld = original(*args, **kw)  # type: ignore[arg-type]
        for sample in fld.samples.values():
            sample.credentialed = True
        return fld

    config = JudgeConfig("demo", TASK, "openai/judge", predictions=specs, api_base="https://api.example.com/v1",
                         store=str(tmp_path / "j.sqlite"))  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(judging, "load_field", credentialed_field)
        with pytest.raises(XrayBenchError, match="refusing to judge"):
            judge_arena(config)
    assert not (tmp_path / "j.sqlite").exists()
