"""The one LLM engine works without litellm (the `judge` extra): OpenAI-compatible servers (vLLM, SGLang, Ollama,
llama.cpp) go over direct HTTP, and a provider only litellm speaks fails at once naming the extra to install.

Every check runs in a subprocess whose `import litellm` fails as on a machine without the extra: a
`sitecustomize` first on PYTHONPATH swaps the standard path finder for one that does not see litellm (nor its
distribution metadata), whatever this environment has installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKER = '''"""Hide litellm as if the `judge` extra were not installed: find_spec gives None, import fails."""
import sys
from importlib.machinery import PathFinder


def _hidden(name):
    return name == "litellm" or name.startswith("litellm.")


class _PathFinderWithoutLitellm(PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        return None if _hidden(name) else super().find_spec(name, path, target)

    @classmethod
    def find_distributions(cls, *args, **kwargs):
        for dist in super().find_distributions(*args, **kwargs):
            if (dist.metadata["Name"] or "").lower() != "litellm":
                yield dist


sys.meta_path[:] = [_PathFinderWithoutLitellm if f is PathFinder else f for f in sys.meta_path]
'''
# The engine's tests: the LLM client, call runner, error classification and governance (tests/llm) and the API
# models under test against the local fault server (xraybench/testing/openai_server.py)
ENGINE_TESTS = (
    "tests/llm",
    "tests/models/test_openai_compat.py",
    "tests/models/test_run_hostile_endpoints.py",
    "tests/models/test_litellm.py",
    "tests/models/test_run_engine.py",  # `xraybench run` with an API model: governance, budget, rpm, ledger
)
JUDGE_EXTRA = "pip install 'xraybench[judge]'"


@pytest.fixture
def no_litellm(tmp_path: Path) -> dict[str, str]:
    """The environment of a subprocess in which `import litellm` fails."""
    block = tmp_path / "no_litellm"
    block.mkdir()
    (block / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(block), str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("PYTEST_ADDOPTS", None)
    return env


def _python(code: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_subprocess_cannot_import_litellm(no_litellm: dict[str, str]) -> None:
    out = _python("import importlib.util; print(importlib.util.find_spec('litellm')); import litellm", no_litellm)
    assert out.stdout.strip() == "None", out.stdout + out.stderr
    assert out.returncode != 0 and "No module named 'litellm'" in out.stderr, out.stderr


def test_the_engine_tests_pass_without_litellm(no_litellm: dict[str, str], tmp_path: Path) -> None:
    missing = [path for path in ENGINE_TESTS if not (ROOT / path).exists()]
    assert not missing, f"engine tests moved; update ENGINE_TESTS: {missing}"
    report = tmp_path / "engine.xml"
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *ENGINE_TESTS],
        cwd=ROOT,
        env=no_litellm,
        capture_output=True,
        text=True,
        timeout=580,
    )
    assert report.exists(), out.stdout[-4000:] + out.stderr[-4000:]
    cases = list(ET.parse(report).iter("testcase"))
    failed = [f"{c.get('classname')}::{c.get('name')}" for c in cases if c.find("failure") is not None]
    failed += [f"{c.get('classname')}::{c.get('name')}" for c in cases if c.find("error") is not None]
    assert out.returncode == 0 and not failed, f"failed without litellm: {failed}\n{out.stdout[-6000:]}"
    # the OpenAI-compatible adapter, run end to end against the fault server, needs no litellm: none of it skips
    compat = [c for c in cases if c.get("classname", "").endswith("test_openai_compat")]
    assert compat and all(c.find("skipped") is None for c in compat), "openai: adapter tests skipped without litellm"
    hostile = [c for c in cases if c.get("classname", "").endswith("test_run_hostile_endpoints")]
    assert hostile and all(c.find("skipped") is None for c in hostile), "API run tests skipped without litellm"
    # a `[direct…]` case (the direct HTTP path of a test run both ways) must run here, never be skipped
    direct = [c.get("name") for c in cases if "[direct" in (c.get("name") or "") and c.find("skipped") is not None]
    assert not direct, f"direct-path tests skipped without litellm: {direct}"
    # a test skipped here must be one that needs litellm itself, skipped with the extra's name
    reasons = {(c.find("skipped").get("message") or "") for c in cases if c.find("skipped") is not None}
    assert all("judge" in r or "shared dev data" in r for r in reasons), reasons


def test_a_judge_on_an_openai_compatible_server_needs_no_litellm(no_litellm: dict[str, str]) -> None:
    # the direct HTTP path of the one client: a judge or teacher on a local server answers, priced by the user
    code = (
        "import sys\n"
        "from xraybench.llm.client import LLMClient\n"
        "from xraybench.testing.openai_server import OpenAIServer\n"
        "with OpenAIServer(reply_fn=lambda body: 'A>B') as server:\n"
        "    client = LLMClient('openai/tiny-test-model', api_base=server.base_url, price_per_1k_tokens=1.0)\n"
        "    answer = client.complete([{'role': 'user', 'content': 'Which report is better?'}])\n"
        "    client.close()\n"
        "print(answer.text, answer.cost_usd > 0, 'litellm' in sys.modules)\n"
    )
    out = _python(code, no_litellm)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["A>B", "True", "False"]


def test_a_litellm_only_judge_names_the_judge_extra(no_litellm: dict[str, str]) -> None:
    code = (
        "from xraybench.errors import XrayBenchError\n"
        "from xraybench.llm.client import LLMClient\n"
        "try:\n"
        "    LLMClient('anthropic/claude-3-5-haiku-20241022')\n"
        "except XrayBenchError as exc:\n"
        "    print(exc)\n"
    )
    out = _python(code, no_litellm)
    assert out.returncode == 0 and JUDGE_EXTRA in out.stdout, out.stdout + out.stderr[-3000:]


def test_a_litellm_only_model_under_test_names_the_judge_extra(no_litellm: dict[str, str], tmp_path: Path) -> None:
    # the user's view: `xraybench run` with a litellm: model stops at once with one line naming the extra
    out = subprocess.run(
        [sys.executable, "-m", "xraybench", "run", "--model", "litellm:anthropic/claude-3-5-haiku-20241022"]
        + ["--tasks", "demo_vqa", "--out", str(tmp_path / "run"), "--limit", "2"],
        cwd=ROOT,
        env=no_litellm,
        capture_output=True,
        text=True,
        timeout=300,
    )
    text = out.stdout + out.stderr
    assert out.returncode != 0 and JUDGE_EXTRA in text and "Traceback" not in text, text[-3000:]
