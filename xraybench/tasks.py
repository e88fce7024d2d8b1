"""Named tasks and suites: which dataset, split, options, prompt and metrics each task uses."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from xraybench.errors import XrayBenchError
from xraybench.records import TaskKind

# the ChestX-ray14 labels the demo draws (kept here so listing tasks imports no dataset code)
DEMO_LABELS = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion", "Nodule", "Pneumothorax")
# CheXpert v1.0's 13 observations besides "No Finding", in its CSV order (the loader reads these columns)
CHEXPERT_LABELS = (
    "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema", "Consolidation",
    "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other", "Fracture", "Support Devices",
)  # fmt: skip
REPORT_METRICS = ("bleu", "meteor", "rouge_l", "cider", "chexpert")
VQA_METRICS = ("vqa", "answer_score")
CLASSIFICATION_METRICS = ("classification", "grounding")


@dataclass(frozen=True)
class Task:
    name: str
    kind: TaskKind
    dataset: str
    split: str
    metrics: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    version: str = "1"
    metric_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # per metric family


@dataclass(frozen=True)
class Suite:
    """Tasks scored together; `sizes` caps a task at a seeded sample of that many items (the paper's)."""

    name: str
    tasks: tuple[str, ...]
    sizes: dict[str, int] = field(default_factory=dict)
    description: str = ""


def _report(name: str, dataset: str, section: str, split: str = "test") -> Task:
    return Task(
        name,
        "report",
        dataset,
        split,
        REPORT_METRICS,
        {"section": section},
        f"{dataset} {section} section generation ({split} split)",
    )


TASKS: dict[str, Task] = {
    t.name: t
    for t in [
        _report("mimic_cxr_findings", "mimic_cxr", "findings"),
        _report("mimic_cxr_impression", "mimic_cxr", "impression"),
        _report("iu_xray_findings", "iu_xray", "findings"),
        _report("iu_xray_impression", "iu_xray", "impression"),
        _report("chexpert_plus_findings", "chexpert_plus", "findings", split="valid"),
        _report("chexpert_plus_impression", "chexpert_plus", "impression", split="valid"),
        Task("ext_vqa", "vqa", "ext_vqa", "test", VQA_METRICS, {}, "MIMIC-Ext-MIMIC-CXR-VQA test"),
        Task("cxr_vqa", "vqa", "cxr_vqa", "test", VQA_METRICS, {}, "Medical-CXR-VQA test"),
        Task(
            "vqa_rad_chest",
            "vqa",
            "vqa_rad",
            "test",
            VQA_METRICS,
            {"organ": "CHEST"},
            "VQA-RAD official test (free-form + paraphrased), chest images",
        ),
        Task(
            "slake_xray",
            "vqa",
            "slake",
            "test",
            VQA_METRICS,
            {"modality": "X-Ray", "lang": "en"},
            "SLAKE 1.0 test, English, X-ray images",
        ),
        Task(
            "cxr14",
            "classification",
            "cxr14",
            "test",
            CLASSIFICATION_METRICS,
            {},
            "NIH ChestX-ray14 official test list, 14-label finding classification",
        ),
        Task(
            "chexpert_valid",
            "classification",
            "chexpert",
            "valid",
            CLASSIFICATION_METRICS,
            {},
            "CheXpert v1.0 validation images (radiologist consensus), 13-finding classification",
            metric_options={"classification": {"labels": CHEXPERT_LABELS}},
        ),
        _report("demo_findings", "demo", "findings"),
        _report("demo_impression", "demo", "impression"),
        Task("demo_vqa", "vqa", "demo", "test", VQA_METRICS, {"part": "vqa"}, "synthetic demo VQA"),
        Task(
            "demo_classification",
            "classification",
            "demo",
            "test",
            CLASSIFICATION_METRICS,
            {"part": "classification"},
            "synthetic demo finding classification with boxes",
            metric_options={"classification": {"labels": DEMO_LABELS}},
        ),
    ]
}

SUITES: dict[str, Suite] = {
    s.name: s
    for s in [
        Suite(
            "xraybench",
            (
                "mimic_cxr_findings",
                "mimic_cxr_impression",
                "iu_xray_findings",
                "iu_xray_impression",
                "ext_vqa",
                "cxr_vqa",
            ),
            {"ext_vqa": 5000, "cxr_vqa": 4666},
            "the paper's XrayBench: MIMIC-CXR + OPEN-I reports, two MIMIC VQA sets (5,000 / 4,666 sampled)",
        ),
        Suite(
            "demo",
            ("demo_findings", "demo_impression", "demo_vqa", "demo_classification"),
            {},
            "the bundled synthetic demo suite (runs anywhere, no data needed)",
        ),
    ]
}


def _unknown(kind: str, name: str, known: list[str]) -> XrayBenchError:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return XrayBenchError(f"unknown {kind} {name!r}.{hint} Known: {', '.join(sorted(known))}")


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise _unknown("task", name, list(TASKS) + list(SUITES))
    return TASKS[name]


def expand(names: list[str]) -> tuple[list[str], dict[str, int], list[str]]:
    """Expand suite names into tasks. Returns (task names, per-task size caps, suite names)."""
    tasks: list[str] = []
    sizes: dict[str, int] = {}
    suites: list[str] = []
    for name in names:
        if name in SUITES:
            suite = SUITES[name]
            suites.append(name)
            sizes.update(suite.sizes)
            tasks.extend(t for t in suite.tasks if t not in tasks)
        else:
            get_task(name)
            if name not in tasks:
                tasks.append(name)
    return tasks, sizes, suites
