"""Named tasks and suites: which dataset, split, options, prompt and metrics each task uses.

A task is declared by its dataset, next to the loader (`Dataset.tasks` in `xraybench/datasets/<name>.py`),
or by a plugin (`task.NAME` entry point); this module derives `TASKS` from those registrations and keeps
the suites, which group tasks from several datasets.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from xraybench.errors import XrayBenchError
from xraybench.records import TaskKind
from xraybench.registry import BUILTIN, PluginError, Registry, instance_of

REPORT_METRICS = ("bleu", "meteor", "rouge_l", "cider", "chexpert")
VQA_METRICS = ("vqa", "answer_score")
CLASSIFICATION_METRICS = ("classification", "grounding")
GROUNDING_METRICS = ("phrase_grounding", "grounding")  # boxes of the answer, then of the reasoning


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


def report_tasks(dataset: str, split: str = "test") -> tuple[Task, Task]:
    """A report dataset's two tasks, `<dataset>_findings` and `<dataset>_impression`, scored separately."""
    return tuple(  # type: ignore[return-value]
        Task(
            f"{dataset}_{section}",
            "report",
            dataset,
            split,
            REPORT_METRICS,
            {"section": section},
            f"{dataset} {section} section generation ({split} split)",
        )
        for section in ("findings", "impression")
    )


_DERIVED: set[str] = set()  # the task names `_dataset_tasks` registered (rebuilt when the datasets change)


def vqa_task(name: str, dataset: str, description: str, **options: Any) -> Task:
    """A VQA task on the test split; `options` are the loader's (a subset filter such as organ or language)."""
    return Task(name, "vqa", dataset, "test", VQA_METRICS, options, description)


def _dataset_tasks(registry: Registry[Task]) -> None:
    """Register the tasks every dataset declares next to its loader (built-ins first, then plugins)."""
    from xraybench.datasets import DATASETS

    for name in _DERIVED:
        registry.unregister(name)
    _DERIVED.clear()
    for dataset_name in DATASETS.in_order():
        dataset = DATASETS.get(dataset_name)
        origin = DATASETS.entry(dataset_name).origin
        for task in dataset.tasks:
            where = "" if origin == BUILTIN else f" ({origin})"
            if task.dataset != dataset_name:
                raise PluginError(f"dataset {dataset_name!r}{where} declares task {task.name!r} of {task.dataset!r}")
            registry.register(task.name, task, help=task.description, origin=origin)
            _DERIVED.add(task.name)


def _datasets_generation() -> int:
    from xraybench.datasets import DATASETS

    return DATASETS.generation


# Every task: those the datasets declare (`Dataset.tasks`) and any a plugin adds on its own (`task.NAME`).
TASK_REGISTRY: Registry[Task] = Registry(
    "task", plugin_kind="task", check=instance_of(Task), populate=_dataset_tasks, populate_key=_datasets_generation
)


class _TaskView(Mapping[str, Task]):
    """`TASKS`: the task registry read as a mapping, in registration order (a hand-kept dict before)."""

    def __getitem__(self, name: str) -> Task:
        return TASK_REGISTRY.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(TASK_REGISTRY.in_order())

    def __len__(self) -> int:
        return len(TASK_REGISTRY.in_order())

    def __contains__(self, name: object) -> bool:
        return name in TASK_REGISTRY


TASKS: Mapping[str, Task] = _TaskView()

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
    if name not in TASK_REGISTRY:
        raise _unknown("task", name, list(TASKS) + list(SUITES))
    return TASK_REGISTRY.get(name)


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
