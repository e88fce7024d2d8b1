"""Turn a task name into its samples: resolve the data root, load, sample (seeded), fingerprint."""

from __future__ import annotations

import hashlib
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from xraybench.datasets import LOADERS
from xraybench.errors import XrayBenchError
from xraybench.records import Sample
from xraybench.tasks import Task, get_task

ROOTLESS_DATASETS = {"demo"}  # generated on the fly, no user data needed


@dataclass
class TaskData:
    task: Task
    samples: list[Sample]
    population: int  # samples available before limit/size sampling
    dropped: dict[str, int] = field(default_factory=dict)
    fingerprint: str = ""


def parse_data_roots(items: list[str] | None) -> dict[str, str]:
    """`["mimic_cxr=/data/mimic", ...]` -> {"mimic_cxr": "/data/mimic"}; names must be known datasets."""
    roots: dict[str, str] = {}
    for item in items or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise XrayBenchError(f"--data-root expects NAME=PATH (e.g. mimic_cxr=/data/mimic-cxr-jpg), got {item!r}")
        LOADERS.entry(name)  # unknown names get "did you mean"
        roots[name] = path
    return roots


def resolve_root(dataset: str, data_roots: dict[str, str]) -> Path | None:
    if dataset in data_roots:
        root = Path(data_roots[dataset]).expanduser()
    elif os.environ.get(f"XRAYBENCH_DATA_{dataset.upper()}"):
        root = Path(os.environ[f"XRAYBENCH_DATA_{dataset.upper()}"]).expanduser()
    elif dataset in ROOTLESS_DATASETS:
        return None
    else:
        help_line = LOADERS.entry(dataset).help
        raise XrayBenchError(
            f"dataset {dataset!r} ({help_line}) has no data root: pass --data-root {dataset}=PATH "
            f"or set XRAYBENCH_DATA_{dataset.upper()}"
        )
    if not root.exists():
        raise XrayBenchError(f"data root for {dataset!r} does not exist: {root}")
    return root


def fingerprint(samples: list[Sample]) -> str:
    """Hash of what is scored (ids, prompts, references), so runs on different data never mix."""
    digest = hashlib.sha256()
    for s in samples:
        digest.update(json.dumps([s.id, s.prompt, s.reference, s.references], ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


def seeded_subset(samples: list[Sample], n: int | None, seed: int) -> list[Sample]:
    """A seeded sample of `n` items, returned in the loader's order (stable across runs)."""
    if n is None or n >= len(samples):
        return samples
    keep = set(random.Random(seed).sample(range(len(samples)), n))
    return [s for i, s in enumerate(samples) if i in keep]


def load_task(
    name: str,
    data_roots: dict[str, str] | None = None,
    *,
    split: str | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> TaskData:
    task = get_task(name)
    root = resolve_root(task.dataset, data_roots or {})
    loader = LOADERS.get(task.dataset)
    result = loader(root, task=task.name, split=split or task.split, **task.options)
    seen: set[str] = set()
    for sample in result.samples:
        if sample.id in seen:
            raise XrayBenchError(f"task {name}: the {task.dataset} loader produced id {sample.id!r} twice")
        seen.add(sample.id)
    chosen = seeded_subset(result.samples, limit, seed)
    return TaskData(task, chosen, len(result.samples), dict(result.dropped), fingerprint(chosen))
