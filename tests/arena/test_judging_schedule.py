"""`arena judge --schedule full|adaptive [--new-model NAME]` against the real local OpenAI-compatible server."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arena.judges import Judge
from arena.judging import load_field, plan_battles, read_plan
from xraybench.callstore import CallStore
from xraybench.cli import main
from xraybench.testing.openai_server import OpenAIServer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydantic chatter while litellm imports
TASK = "demo_findings"
JUDGE = "openai/tiny-test-model"
N_STUDIES = 16
STUDIES = ("--studies", str(N_STUDIES))
_BLOCK = re.compile(r"§§§ BEGIN (.+?) §§§\n(.*?)\n§§§ END \1 §§§", re.S)


def _overlap(text: str, reference: str) -> float:
    words, ref = set(text.lower().split()), set(reference.lower().split())
    return len(words & ref) / max(1, len(words | ref))


def _answer(level: str) -> str:
    return f'```json\n{{"errors_a": [], "errors_b": [], "verdict": "{level}"}}\n```'


def fair_judge(body: dict[str, Any]) -> str:
    """The candidate closer to the reference (word overlap) wins; the reference itself wins strongly."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    found = dict(_BLOCK.findall(user))
    ref, a, b = found["REFERENCE REPORT"], found["CANDIDATE A"], found["CANDIDATE B"]
    sa, sb = _overlap(a, ref), _overlap(b, ref)
    if abs(sa - sb) < 1e-9:
        return _answer("tie")
    if sa > sb:
        return _answer("A>>B" if a == ref else "A>B")
    return _answer("B>>A" if b == ref else "B>A")


def _sentences(text: str, n: int) -> str:
    return " ".join([s.strip() + "." for s in text.split(".") if s.strip()][:n])


MAKERS = {  # every report but the reference names its study, so no two studies share a prompt
    "perfect": lambda ref, sid: ref,
    "good": lambda ref, sid: f"{_sentences(ref, 2)} Otherwise unremarkable examination {sid}.",
    "fair": lambda ref, sid: f"{_sentences(ref, 1)} Otherwise unremarkable examination {sid}.",
    "bad": lambda ref, sid: f"Limited portable view obtained {sid}.",
}


@pytest.fixture()
def models(tmp_path: Path) -> dict[str, str]:
    """Four invented models of clearly graded quality on the demo task: NAME=FILE specs by name."""
    from xraybench.taskdata import load_task

    samples = load_task(TASK).samples
    specs = {}
    for name, make in MAKERS.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text(
            "".join(json.dumps({"id": s.id, "prediction": make(s.reference, s.id)}) + "\n" for s in samples)
        )
        specs[name] = f"{name}={path}"
    return specs


@pytest.fixture()
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(reply_fn=fair_judge) as srv:
        yield srv


def run_judge(
    capsys: pytest.CaptureFixture[str], store: Path, server: OpenAIServer, specs: list[str], *extra: str
) -> dict[str, Any]:
    """One `arena judge` run through the CLI; its JSON report."""
    capsys.readouterr()
    args = ["arena", "judge", "--name", "t", "--store", str(store), "--task", TASK, "--judge", JUDGE,
            "--api-base", server.base_url, "--max-concurrency", "8", "--json", "--predictions", *specs, *extra]  # fmt: skip
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def n_full_calls(specs: list[str], cli_judge: Judge) -> int:
    """Distinct judgments of the full matrix (both orders; identical reports need no call)."""
    fld = load_field(TASK, predictions=specs)
    battles = plan_battles(fld, cli_judge)
    return len({b.key for b in battles if not b.identical})


def test_adaptive_stops_early_on_a_separated_field_and_a_rerun_pays_nothing(
    litellm_ready: None, models: dict[str, str], server: OpenAIServer, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], cli_judge: Judge,
) -> None:  # fmt: skip
    specs = list(models.values())
    store = tmp_path / "j.sqlite"
    first = run_judge(capsys, store, server, specs, "--schedule", "adaptive", "--batch-size", "6")
    n_calls = len(server.chat_requests())
    full = n_full_calls(specs, cli_judge)
    assert first["schedule"] == "adaptive" and first["stop_reason"] == "scheduler done"
    assert first["n_failed"] == 0 and first["n_requests"] == n_calls == first["n_ok"]
    assert 0 < n_calls < 0.6 * full, (n_calls, full)
    # the ratings read from the store put the models in their true order
    board = tmp_path / "board"
    assert main(["arena", "leaderboard", "--name", "t", "--store", str(store), "--out", str(board),
                 "--rounds", "50", "--prior", "1"]) == 0  # fmt: skip
    rows = json.loads((board / "leaderboard.json").read_text())["models"]
    order = [r["model"] for r in sorted(rows, key=lambda r: -r["rating"])]
    assert order == ["perfect", "good", "fair", "bad"]
    # a rerun continues from the store: the scheduler is already done, so no call is made
    again = run_judge(capsys, store, server, specs, "--schedule", "adaptive", "--batch-size", "6")
    assert again["n_requests"] == 0 and again["stop_reason"] == "scheduler done" and again["n_rounds"] == 0
    assert len(server.chat_requests()) == n_calls
    # the full matrix afterwards reuses every adaptive judgment (same keys) and asks only for the rest
    rest = run_judge(capsys, store, server, specs)
    assert rest["n_done_before"] == n_calls and rest["n_requests"] == full - n_calls
    with CallStore(store) as opened:
        assert opened.totals().n_ok == full


@pytest.mark.parametrize("schedule", ["full", "adaptive"])
def test_new_model_meets_only_the_field(
    schedule: str, litellm_ready: None, models: dict[str, str], server: OpenAIServer, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], cli_judge: Judge
) -> None:  # fmt: skip
    store = tmp_path / "j.sqlite"
    field_specs = [models["perfect"], models["fair"], models["bad"]]
    run_judge(capsys, store, server, field_specs, *STUDIES)
    n_field = len(server.chat_requests())
    n_entries = len(read_plan(store.with_suffix(".plan.jsonl")))
    report = run_judge(
        capsys, store, server, [*field_specs, models["good"]], *STUDIES, "--schedule", schedule,
        "--new-model", "good",
    )  # fmt: skip
    new_entries = read_plan(store.with_suffix(".plan.jsonl"))[n_entries:]
    assert new_entries and all("good" in (e["model_x"], e["model_y"]) for e in new_entries)
    n_new = len(server.chat_requests()) - n_field
    assert report["n_requests"] == n_new == len({e["key"] for e in new_entries if not e["identical"]})
    assert report["n_done_before"] == 0  # nothing of the field was asked again
    fld = load_field(TASK, predictions=[*field_specs, models["good"]])
    everything = {b.key for b in plan_battles(fld, cli_judge, studies=N_STUDIES)
                  if not b.identical and "good" in (b.model_x, b.model_y)}  # fmt: skip
    if schedule == "full":
        assert n_new == len(everything)
    else:
        assert 0 < n_new < len(everything) and report["stop_reason"] == "scheduler done"
    again = run_judge(
        capsys, store, server, [*field_specs, models["good"]], *STUDIES, "--schedule", schedule,
        "--new-model", "good",
    )  # fmt: skip
    assert again["n_requests"] == 0


def test_adaptive_finishes_what_a_stopped_run_planned(
    litellm_ready: None, models: dict[str, str], server: OpenAIServer, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """A run stopped by the budget leaves planned comparisons; the rerun judges those before proposing more."""
    specs = list(models.values())
    store = tmp_path / "j.sqlite"
    capsys.readouterr()
    args = ["arena", "judge", "--name", "t", "--store", str(store), "--task", TASK, "--judge", JUDGE,
            "--api-base", server.base_url, "--json", "--predictions", *specs, "--schedule", "adaptive",
            "--batch-size", "6", "--price-per-1k-tokens", "1.0"]  # fmt: skip
    assert main([*args, "--budget-usd", "5"]) == 0
    stopped = json.loads(capsys.readouterr().out)
    assert stopped["stop_reason"] == "budget" and stopped["n_budget_stopped"] > 0
    assert main([*args, "--budget-usd", "1000", "--raise-budget"]) == 0  # the budget is the arena's: raise it
    resumed = json.loads(capsys.readouterr().out)
    assert resumed["stop_reason"] == "scheduler done"
    keys = [r.body["messages"][1]["content"] for r in server.chat_requests()]
    assert len(keys) == len(set(keys))  # no judgment was asked twice across the two runs
    with CallStore(store) as opened:
        planned = {e["key"] for e in read_plan(store.with_suffix(".plan.jsonl")) if not e["identical"]}
        assert opened.pending(planned) == []  # everything planned is judged


def test_adaptive_keeps_the_pool_busy_while_a_batch_is_in_flight(
    litellm_ready: None, models: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], cli_judge: Judge
) -> None:
    """Batches of 2 comparisons (4 calls), 8 concurrent calls: with --max-in-flight 6 the next batches are
    proposed while earlier ones are still being judged (the server sees more than one batch's calls at once),
    with 0 each round waits; either way nothing is asked twice and the run ends separated."""
    lock, busy, peak = threading.Lock(), [0], [0]

    def slow_fair_judge(body: dict[str, Any]) -> str:
        with lock:
            busy[0] += 1
            peak[0] = max(peak[0], busy[0])
        time.sleep(0.05)
        with lock:
            busy[0] -= 1
        return fair_judge(body)

    specs = list(models.values())
    with OpenAIServer(reply_fn=slow_fair_judge) as server:
        peaks = {}
        for in_flight in ("0", "6"):
            store = tmp_path / f"in-flight-{in_flight}.sqlite"
            report = run_judge(
                capsys, store, server, specs, "--schedule", "adaptive", "--batch-size", "2", "--max-in-flight", in_flight
            )  # fmt: skip
            prompts = [r.body["messages"][1]["content"] for r in server.chat_requests()[-report["n_requests"] :]]
            assert report["stop_reason"] == "scheduler done" and report["n_failed"] == 0
            assert len(prompts) == len(set(prompts)) == report["n_requests"] < n_full_calls(specs, cli_judge)
            peaks[in_flight], peak[0] = peak[0], 0
    assert peaks["0"] <= 4, "a round of 2 comparisons is 4 calls: with --max-in-flight 0 the runner waits for it"
    assert peaks["6"] > 4, f"at most {peaks['6']} calls at once: the runner waited for each batch"


def test_adaptive_stops_when_only_failed_comparisons_are_left_and_a_rerun_retries_them(
    litellm_ready: None, models: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    specs, store = list(models.values()), tmp_path / "j.sqlite"
    studies = ("--studies", "3")
    with OpenAIServer(reply_fn=lambda body: "I cannot decide.") as broken:  # never a verdict, not even re-asked
        capsys.readouterr()
        args = ["arena", "judge", "--name", "t", "--store", str(store), "--task", TASK, "--judge", JUDGE,
                "--api-base", broken.base_url, "--json", "--predictions", *specs, *studies, "--schedule", "adaptive",
                "--batch-size", "4"]  # fmt: skip
        assert main(args) == 1  # failures make the exit status non-zero
        failed = json.loads(capsys.readouterr().out)
        prompts = [r.body["messages"][1]["content"] for r in broken.chat_requests()]
    assert failed["stop_reason"] == "only failed comparisons left (retried on the next run)"
    assert failed["n_ok"] == 0 and failed["n_failed"] == len(set(prompts)) > 0
    assert max(prompts.count(p) for p in prompts) <= 2  # asked once and re-asked once, never proposed again
    with OpenAIServer(reply_fn=fair_judge) as server:
        again = run_judge(capsys, store, server, specs, *studies, "--schedule", "adaptive", "--batch-size", "4")
    assert again["n_failed"] == 0 and again["n_ok"] > 0
    assert again["stop_reason"] == "scheduler done"
