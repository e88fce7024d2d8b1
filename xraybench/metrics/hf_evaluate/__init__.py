"""Our metrics as Hugging Face `evaluate` modules, loaded from local files (no hub access):

    import evaluate
    from xraybench.metrics.hf_evaluate import module_path
    report = evaluate.load(module_path("xraybench_report"))
    report.compute(predictions=[...], references=[...], metrics=["bleu", "rouge_l"], tokenizer="coco")

The module files import `evaluate` themselves; nothing here does, so the core stays light.
"""

from __future__ import annotations

from pathlib import Path

from xraybench.errors import XrayBenchError

MODULES = ("xraybench_report", "xraybench_answer_score")


def module_path(name: str) -> str:
    if name not in MODULES:
        raise XrayBenchError(f"unknown evaluate module {name!r}; choose one of {', '.join(MODULES)}")
    return str(Path(__file__).parent / name / f"{name}.py")
