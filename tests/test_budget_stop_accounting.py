"""A run stopped by `--budget-usd`: the items it never asked are not model failures.

results.json says the run stopped on the budget and counts asked, failed and never-asked items apart; the metrics
are over the answered items only (a never-asked item is no wrong answer); the printed summary says "not asked";
a rerun with a larger budget asks exactly the never-asked items (real HTTP against the fault server).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from xraybench.cli.run import print_results
from xraybench.records import Prediction
from xraybench.results import compute_scores, incomplete_note
from xraybench.runner import FAILURES_FILE, PREDICTIONS_FILE, RESULTS_FILE, RunConfig, run
from xraybench.taskdata import load_task
from xraybench.testing.openai_server import Fault, OpenAIServer

pytestmark = pytest.mark.usefixtures("litellm_ready")


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def _config(out: Path, base_url: str, **kw: object) -> RunConfig:
    values = {
        "model": "openai:m", "tasks": ["demo_vqa"], "out": str(out), "api_base": base_url, "max_concurrency": 1,
        "max_attempts": 1, "bootstrap_rounds": 0, "progress": False, "max_tokens": 200, "price_per_1k_tokens": 1.0,
    }  # fmt: skip
    return RunConfig(**{**values, **kw})  # type: ignore[arg-type]


def _yes(body: dict) -> str:
    return "yes"  # right for some items, wrong for others: the accuracy depends on which items count


def test_budget_stop_counts_never_asked_apart_and_scores_only_the_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    td = load_task("demo_vqa")
    n_items, out = len(td.samples), tmp_path / "run"
    with OpenAIServer(reply_fn=_yes, fault_plan=[Fault.server_error(500)]) as server:  # the first item fails
        first = run(_config(out, server.base_url, budget_usd=1.5))
        n_requests = len(server.chat_requests())
    answered = {p["id"] for p in _lines(out / PREDICTIONS_FILE)}
    failed = {f["id"] for f in _lines(out / FAILURES_FILE)}
    assert len(failed) == 1 and answered and len(answered) + len(failed) == n_requests < n_items
    n_not_asked = n_items - n_requests

    assert first == json.loads((out / RESULTS_FILE).read_text())
    assert first["status"] == "incomplete" and first["stopped"]["reason"] == "budget"
    task = first["tasks"]["demo_vqa"]
    assert (task["n"], task["n_scored"], task["n_asked"]) == (n_items, len(answered), n_requests)
    assert (task["n_failed"], task["n_not_asked"]) == (1, n_not_asked)  # was: n_failed counted every missing item
    assert (first["n_failed"], first["n_not_asked"]) == (1, n_not_asked)

    # the metrics are the answered items' own, not the never-asked ones scored as wrong (empty) answers
    done = {p.id: p for p in map(Prediction.from_json, _lines(out / PREDICTIONS_FILE))}
    kept = [s for s in td.samples if s.id in answered]
    config = _config(out, "http://127.0.0.1:9/v1")
    own, _ = compute_scores(replace(td, samples=kept), [done[s.id] for s in kept], config)
    as_wrong = [done.get(s.id) or Prediction(id=s.id, task=s.task, model="m", raw="", answer="") for s in td.samples]
    diluted, _ = compute_scores(td, as_wrong, config)
    for name, value in task["metrics"].items():
        expected = None if math.isnan(own[name].value) else pytest.approx(own[name].value)  # NaN is written null
        assert value["value"] == expected, name
    assert task["metrics"]["vqa_accuracy"]["value"] != pytest.approx(diluted["vqa_accuracy"].value)

    note = incomplete_note(first)
    assert note == (
        f"incomplete: 1 of {n_items} items of the run failed and {n_not_asked} were never asked; "
        f"its metrics are over the {len(answered)} completed items only"
    )
    print_results(first)
    printed = " ".join(capsys.readouterr().out.split())
    assert f"{n_items} (1 failed, {n_not_asked} not asked)" in printed, printed
    assert "stopped on --budget-usd 1.5" in printed and f"{n_not_asked + 1} failed" not in printed
    assert "raise --budget-usd and rerun to ask the rest" in printed


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_larger_budget_asks_exactly_the_never_asked_items(tmp_path: Path, concurrency: int) -> None:
    n_items, out = len(load_task("demo_vqa").samples), tmp_path / "run"
    with OpenAIServer(reply_fn=_yes) as server:
        first = run(_config(out, server.base_url, budget_usd=1.5, max_concurrency=concurrency))
        before = [p["id"] for p in _lines(out / PREDICTIONS_FILE)]
        n_first = len(server.chat_requests())
        assert first["n_not_asked"] == n_items - len(before) > 0 and first["n_failed"] == 0
        assert first["tasks"]["demo_vqa"]["n_asked"] == len(before) == n_first  # answers in flight were kept
        second = run(_config(out, server.base_url, budget_usd=100.0, max_concurrency=concurrency))
        n_second = len(server.chat_requests()) - n_first
    after = [p["id"] for p in _lines(out / PREDICTIONS_FILE)]
    assert n_second == first["n_not_asked"]  # one request per never-asked item, none for an answered one
    assert after[: len(before)] == before and len(set(after)) == len(after) == n_items
    assert second["status"] == "complete" and "stopped" not in second
    assert (second["n_failed"], second["n_not_asked"]) == (0, 0) and incomplete_note(second) is None


def test_compare_says_never_asked_not_failed(tmp_path: Path) -> None:
    """`xraybench compare` against a budget-stopped run pairs on the answered items and says the rest were never
    asked (it said "N failed in B")."""
    from xraybench.compare import compare_runs

    n_items = len(load_task("demo_vqa").samples)
    with OpenAIServer(reply_fn=_yes) as server:
        full = run(_config(tmp_path / "a", server.base_url, budget_usd=100.0))
        stopped = run(_config(tmp_path / "b", server.base_url, budget_usd=1.5))
    assert full["status"] == "complete" and stopped["n_not_asked"] > 0
    n_answered = n_items - stopped["n_not_asked"]
    rows = [r for r in compare_runs(tmp_path / "a", tmp_path / "b", rounds=0) if r["task"] == "demo_vqa"]
    assert rows and {r["note"] for r in rows} == {
        f"incomplete: paired on the {n_answered} of {n_items} items both runs completed "
        f"(0 failed and 0 never asked in A, 0 and {stopped['n_not_asked']} in B)"
    }
