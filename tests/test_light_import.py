"""`import xraybench` and every core module must stay light: no torch, transformers, vllm or litellm."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "vllm", "litellm")
# also kept out of `import xraybench`: the packages of optional extras (matplotlib: [arena]; pyarrow, pandas,
# huggingface_hub: [hf]; scipy, sklearn, nltk: metrics that load them on use) and httpx, which xraybench.llm
# promises to import on the first HTTP call
ALSO_HEAVY = ("matplotlib", "pyarrow", "pandas", "huggingface_hub", "scipy", "sklearn", "nltk", "httpx")
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
    "xraybench.api",
    "xraybench.config",
    "xraybench.registry",
    "xraybench.prompts",
    "xraybench.llm",
)


def test_core_imports_no_heavy_package() -> None:
    code = (
        "import importlib, sys\n"
        f"for m in {CORE_MODULES!r}: importlib.import_module(m)\n"
        f"print(' '.join(sorted(set({HEAVY + ALSO_HEAVY!r}) & {{m.split('.')[0] for m in sys.modules}})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported: {out.stdout}"
