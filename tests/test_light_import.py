"""`import xraybench` and every core module must stay light: no torch, transformers, vllm or litellm."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "vllm", "litellm")
CORE_MODULES = (
    "xraybench",
    "xraybench.records",
    "xraybench.tasks",
    "xraybench.taskdata",
    "xraybench.runner",
    "xraybench.results",
    "xraybench.parsing",
    "xraybench.metrics",
    "xraybench.models",
    "xraybench.datasets",
    "xraybench.cli",
    "xraybench.models.predictions",
    "xraybench.models.baselines",
    "xraybench.datasets.demo",
)


def test_core_imports_no_heavy_package() -> None:
    code = (
        "import importlib, sys\n"
        f"for m in {CORE_MODULES!r}: importlib.import_module(m)\n"
        f"print(' '.join(sorted(set({HEAVY!r}) & set(sys.modules))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported: {out.stdout}"
