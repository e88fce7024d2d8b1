"""`xraybench run` with an API model goes through the judges' engine: the same governance check, hard budget cap,
rate limit and cost ledger (real HTTP against the fault server; MIMIC-CXR in its PhysioNet layout with invented
report texts, since the credentialed data can never be in the repo or on a test machine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from xraybench.cli import main
from xraybench.cli.run import print_results
from xraybench.runner import FAILURES_FILE, PREDICTIONS_FILE, RESULTS_FILE, RunConfig, run
from xraybench.taskdata import load_task
from xraybench.testing.openai_server import OpenAIServer

STUDIES = {  # study id -> (subject id, report)
    "50000001": ("10000001", "FINDINGS: Clear lungs.\n\nIMPRESSION: Normal study.\n"),
    "50000002": ("10000002", "FINDINGS: Small left effusion.\nIMPRESSION: Effusion.\n"),
    "50000003": ("10000002", "FINDINGS: Mild edema.\nIMPRESSION: Edema.\n"),
}


def _mimic(root: Path) -> Path:
    """A three-study MIMIC-CXR test split with one small image per study."""
    rows = [(f"d{study}", study, subject) for study, (subject, _) in STUDIES.items()]
    root.mkdir(parents=True)
    (root / "mimic-cxr-2.0.0-split.csv").write_text(
        "dicom_id,study_id,subject_id,split\n" + "".join(f"{d},{st},{su},test\n" for d, st, su in rows)
    )
    (root / "mimic-cxr-2.0.0-metadata.csv").write_text(
        "dicom_id,subject_id,study_id,ViewPosition\n" + "".join(f"{d},{su},{st},PA\n" for d, st, su in rows)
    )
    for dicom, study, subject in rows:
        folder = root / "files" / f"p{subject[:2]}" / f"p{subject}"
        (folder / f"s{study}").mkdir(parents=True)
        (folder / f"s{study}.txt").write_text(STUDIES[study][1])
        Image.new("L", (32, 32), color=80).save(folder / f"s{study}" / f"{dicom}.jpg")
    return root


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def _remote(server: OpenAIServer) -> str:
    # "127.1" reaches the server (the resolver reads it as 127.0.0.1) but is not a name governance knows as local
    return server.base_url.replace("127.0.0.1", "127.1")


def _mimic_argv(root: Path, out: Path, api_base: str, *extra: str) -> list[str]:
    return [
        "run", "--model", "openai:tiny-test-model", "--tasks", "mimic_cxr_findings", "--data-root",
        f"mimic_cxr={root}", "--out", str(out), "--api-base", api_base, "--bootstrap-rounds", "0", "--no-progress",
        *extra,
    ]  # fmt: skip


def test_run_refuses_credentialed_reports_to_a_remote_endpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drift: `run` sent MIMIC-CXR reports to any --api-base; judges refused. Now `run` refuses too, before
    any request, naming the task and the provider, and leaves no run behind that would block the corrected rerun."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    root, out = _mimic(tmp_path / "mimic"), tmp_path / "run"
    with OpenAIServer() as server:
        code = main(_mimic_argv(root, out, _remote(server)))
        assert server.requests == []  # nothing reached the server, not even one probe
    err = capsys.readouterr().err
    assert code != 0
    assert "mimic_cxr_findings" in err and "openai" in err and "--allow-provider openai" in err, err
    assert "Traceback" not in err
    assert not (out / PREDICTIONS_FILE).exists() and not (out / "run.json").exists()


def test_allowed_provider_runs_and_every_prediction_carries_its_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --allow-provider the same run goes through; the ledger prices each answer at --price-per-1k-tokens
    and results.json adds up tokens and USD over the predictions."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    root, out = _mimic(tmp_path / "mimic"), tmp_path / "run"
    with OpenAIServer() as server:
        argv = _mimic_argv(root, out, _remote(server), "--allow-provider", "openai", "--price-per-1k-tokens", "2.0")
        code = main(argv)
        n_requests = len(server.chat_requests())
    printed = capsys.readouterr()
    assert code == 0, printed.err
    preds = _lines(out / PREDICTIONS_FILE)
    assert len(preds) == n_requests == len(STUDIES)
    for pred in preds:
        assert pred["prompt_tokens"] > 0 and pred["completion_tokens"] > 0
        assert pred["cost_usd"] == pytest.approx((pred["prompt_tokens"] + pred["completion_tokens"]) * 2.0 / 1000)
    usage = json.loads((out / RESULTS_FILE).read_text())["usage"]
    assert usage["prompt_tokens"] == sum(p["prompt_tokens"] for p in preds)
    assert usage["completion_tokens"] == sum(p["completion_tokens"] for p in preds)
    assert usage["cost_usd"] == pytest.approx(sum(p["cost_usd"] for p in preds))
    assert usage["cost_known"] is True
    total = sum(p["prompt_tokens"] for p in preds)
    assert f"usage: {total} prompt + " in printed.out and f"${usage['cost_usd']:.4f}" in printed.out


def _long_reply(body: dict) -> str:
    return " ".join(["clear"] * 200)  # every answer costs about as much as a request's worst case


def _demo_config(out: Path, base_url: str, **kw: object) -> RunConfig:
    values = {
        "model": "openai:m", "tasks": ["demo_vqa"], "out": str(out), "api_base": base_url, "max_concurrency": 1,
        "max_attempts": 1, "bootstrap_rounds": 0, "progress": False, "max_tokens": 200,
        "price_per_1k_tokens": 1.0,
    }  # fmt: skip
    return RunConfig(**{**values, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_budget_cap_stops_the_run_cleanly_and_a_rerun_resumes(
    tmp_path: Path, concurrency: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """No request starts that could take the run's spend past --budget-usd; the run stops with what it has, marks
    nothing failed, says it stopped on the budget; a rerun with the same cap spends nothing more, one with a
    larger cap asks only the rest."""
    n_items = len(load_task("demo_vqa").samples)
    cap = 1.5  # a worst case is ~0.6 USD (400 image tokens + the prompt + 200 answer tokens), an answer ~0.2
    with OpenAIServer(reply_fn=_long_reply) as server:
        first = run(_demo_config(tmp_path / "run", server.base_url, budget_usd=cap, max_concurrency=concurrency))
        asked = len(server.chat_requests())
        preds = _lines(tmp_path / "run" / PREDICTIONS_FILE)
        assert 0 < len(preds) == asked < n_items
        assert _lines(tmp_path / "run" / FAILURES_FILE) == []  # not asked is not failed
        assert first["status"] == "incomplete"
        assert first["stopped"]["reason"] == "budget" and first["stopped"]["budget_usd"] == cap
        assert first["usage"]["cost_usd"] == pytest.approx(sum(p["cost_usd"] for p in preds))
        assert first["usage"]["cost_usd"] <= cap
        print_results(first)
        assert f"stopped on --budget-usd {cap:g}" in capsys.readouterr().out
        # the cap is the run's: rerun with the same cap and what its answers cost counts against it, so the whole
        # run stays under the cap (one at a time, the first run stopped on its real spend: nothing more is asked)
        again = run(_demo_config(tmp_path / "run", server.base_url, budget_usd=cap, max_concurrency=concurrency))
        assert again["stopped"]["reason"] == "budget" and again["usage"]["cost_usd"] <= cap
        assert again["usage"]["cost_usd"] == pytest.approx(
            sum(p["cost_usd"] for p in _lines(tmp_path / "run" / PREDICTIONS_FILE))
        )
        if concurrency == 1:
            assert len(server.chat_requests()) == asked
        second = run(_demo_config(tmp_path / "run", server.base_url, budget_usd=100.0, max_concurrency=concurrency))
        assert len(server.chat_requests()) == n_items  # the rest only: no answered item asked again
    assert second["status"] == "complete" and "stopped" not in second
    assert len(_lines(tmp_path / "run" / PREDICTIONS_FILE)) == n_items


def test_budget_without_a_price_is_refused_before_any_request(tmp_path: Path) -> None:
    from xraybench.errors import XrayBenchError

    with OpenAIServer() as server:
        with pytest.raises(XrayBenchError, match="--budget-usd needs a price.*--price-per-1k-tokens"):
            run(_demo_config(tmp_path / "run", server.base_url, budget_usd=1.0, price_per_1k_tokens=None,
                             model="openai:no-such-priced-model"))  # fmt: skip
        assert server.requests == []


def test_rpm_spaces_the_requests_of_a_run(tmp_path: Path) -> None:
    """--rpm 300: request starts at least 0.2 s apart, with 4 calls in flight (a lower bound, not a speed)."""
    with OpenAIServer() as server:
        run(_demo_config(tmp_path / "run", server.base_url, rpm=300.0, max_concurrency=4, limit=4))
        starts = sorted(r.received_at for r in server.chat_requests())
    assert len(starts) == 4
    assert all(b - a >= 0.2 * 0.9 for a, b in zip(starts, starts[1:], strict=False)), starts


def test_one_meter_caps_a_judge_and_a_model_under_test_together(tmp_path: Path, sample_image: Path) -> None:
    """The two stacks are one request path: a judge's `CallRunner` and an `openai:` model asking through one
    `Meter` share its ledger and its budget cap, priced alike."""
    from xraybench.callstore import CallStore
    from xraybench.generate import GenerateConfig
    from xraybench.llm.calls import CallRunner, LLMCall
    from xraybench.llm.client import LLMClient
    from xraybench.llm.meter import BudgetExhausted, Meter
    from xraybench.models.base import ModelContext
    from xraybench.models.openai_compat import OpenAIModel
    from xraybench.records import Sample

    sample = Sample("s1", "demo", "demo", "test", "Findings?", "clear", image_paths=[str(sample_image)])
    with OpenAIServer() as server:
        meter = Meter(budget_usd=2.0)
        model = OpenAIModel("m", {"api_base": server.base_url}, ModelContext(), GenerateConfig(max_tokens=100))
        model.client.price_per_1k_tokens = 1.0
        model.meter = meter
        judge = LLMClient("openai/judge", api_base=server.base_url, price_per_1k_tokens=1.0, max_tokens=100)
        identity = {"kind": "judge", "q": "which is better?"}
        call = LLMCall(CallStore.key_of(**identity), identity, [{"role": "user", "content": "which?"}], str)
        with CallStore(tmp_path / "calls.sqlite") as store:
            report = CallRunner(judge, store, meter=meter).run([call])
            answer = model.generate([sample], ["Findings?"])[0]
            stored = store.get(call.key)
        assert report.n_ok == 1 and stored is not None
        assert meter.ledger.n_requests == 2 == len(server.chat_requests())
        assert answer.cost_usd == pytest.approx((answer.prompt_tokens + answer.completion_tokens) / 1000)
        assert meter.ledger.cost_usd == pytest.approx(stored.cost_usd + answer.cost_usd)
        # what is left of the shared cap cannot take another worst case (400 image tokens + 100 answer tokens)
        meter.budget.spent = 2.0 - 0.3
        with pytest.raises(BudgetExhausted):
            model.generate([sample], ["Findings?"])
        assert len(server.chat_requests()) == 2  # nothing sent


@pytest.fixture()
def sample_image(tmp_path: Path) -> Path:
    path = tmp_path / "cxr.png"
    Image.new("L", (40, 30), color=90).save(path)
    return path


def test_predictions_keep_cost_and_old_lines_without_it_still_load() -> None:
    """`cost_usd` is written only when known, so local models' lines and files written before it look as before."""
    from xraybench.records import Generation, Prediction
    from xraybench.runner import to_prediction

    sample = load_task("demo_vqa").samples[0]
    priced = to_prediction(sample, "m", Generation("yes", prompt_tokens=10, completion_tokens=2, cost_usd=0.012))
    line = priced.to_json()
    assert line["cost_usd"] == 0.012 and Prediction.from_json(line) == priced
    free = to_prediction(sample, "m", Generation("yes"))
    assert "cost_usd" not in free.to_json()
    old = {k: v for k, v in line.items() if k != "cost_usd"}  # a line of a run folder written before the ledger
    assert Prediction.from_json(old).cost_usd is None


def test_paid_call_options_are_refused_for_a_model_that_makes_no_paid_calls(tmp_path: Path) -> None:
    from xraybench.errors import XrayBenchError

    config = RunConfig(model="baseline:normal", tasks=["demo_findings"], out=str(tmp_path / "run"), progress=False,
                       bootstrap_rounds=0, budget_usd=1.0, rpm=60.0)  # fmt: skip
    with pytest.raises(XrayBenchError, match="--budget-usd, --rpm apply to models behind an API"):
        run(config)
    assert not (tmp_path / "run" / "run.json").exists()


@pytest.mark.usefixtures("needs_litellm")
def test_a_litellm_model_is_held_to_the_same_governance(monkeypatch: pytest.MonkeyPatch) -> None:
    """`litellm:anthropic/...` is a third-party provider like any other: credentialed samples are refused before
    any call unless the provider is allowed."""
    from xraybench.errors import XrayBenchError
    from xraybench.llm.meter import attach_meter
    from xraybench.models.litellm_model import LiteLLMModel
    from xraybench.records import Sample

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    model = LiteLLMModel("anthropic/claude-3-5-haiku-20241022")
    secret = [Sample("s1", "mimic_cxr_impression", "mimic_cxr", "test", "p", "ref", credentialed=True)]
    with pytest.raises(XrayBenchError, match=r"task\(s\) mimic_cxr_impression .*--allow-provider anthropic"):
        attach_meter(model, secret)
    assert attach_meter(model, secret, allow_provider=["anthropic"]) is model.meter
