"""Credentialed samples never go to a remote provider unless the user allows it."""

from __future__ import annotations

import pytest

from xraybench.errors import XrayBenchError
from xraybench.llm.client import LLMClient, is_local
from xraybench.llm.governance import check_governance
from xraybench.records import Sample

pytestmark = pytest.mark.usefixtures("litellm_ready")


def test_credentialed_data_is_refused_for_remote_providers() -> None:
    sample = Sample("s1", "mimic_findings", "mimic_cxr", "test", "p", "ref", credentialed=True)
    remote = LLMClient("openai/gpt-4o-mini")
    with pytest.raises(
        XrayBenchError, match=r"refusing to judge: .*credentialed dataset\(s\) mimic_cxr.*--allow-provider openai"
    ):
        check_governance([sample], remote)
    with pytest.raises(XrayBenchError, match="refusing to distill"):
        check_governance([sample], remote, action="distill")
    check_governance([sample], remote, allow=["openai"])
    check_governance([sample], remote, allow=["openai/gpt-4o-mini"])
    check_governance([sample], LLMClient("openai/m", api_base="http://127.0.0.1:9/v1"))
    check_governance([Sample("s2", "t", "iu_xray", "test", "p", "ref")], remote)


def test_is_local() -> None:
    assert is_local("http://127.0.0.1:8000/v1") and is_local("http://localhost/v1") and is_local("http://[::1]:1/v1")
    assert not is_local(None) and not is_local("https://api.openai.com/v1")
    assert not is_local("http://judge.example.org/v1")


def test_engine_modules_import_no_heavy_package() -> None:
    import subprocess
    import sys

    code = (
        "import sys, xraybench.llm.client, xraybench.llm.calls, xraybench.llm.governance\n"
        "print(' '.join(m for m in ('litellm', 'torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize(
    ("api_base", "local"),
    [("http://0.0.0.0:8000/v1", True), ("http://[::1]:8000/v1", True), ("http://10.0.0.5:8000/v1", False)],
)
def test_models_under_test_and_judges_agree_on_what_is_local(api_base: str, local: bool) -> None:
    """One answer for "does report text leave this machine" (it once differed on 0.0.0.0 between the two stacks)."""
    from xraybench.models import openai_compat

    assert is_local(api_base) is local
    assert openai_compat.is_local is is_local
