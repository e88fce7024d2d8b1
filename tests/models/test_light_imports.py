"""Importing the adapter modules must not import torch, transformers, vllm or litellm (they load on use)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "vllm", "litellm")
MODULES = (
    "xraybench.models.hf",
    "xraybench.models.vllm",
    "xraybench.models.litellm_model",
    "xraybench.models.openai_compat",
    "xraybench.models.images",
    "xraybench.retry",
    "xraybench.testing.openai_server",
    "xraybench.testing.tiny_qwen_vl",
)


def test_adapter_modules_import_light() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {MODULES!r}: importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
