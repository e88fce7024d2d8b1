"""Turn a task name into its samples: resolve the data root, load, sample (seeded), fingerprint."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import random
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xraybench.config import DataSources, shared_option, typed_option, unknown_option
from xraybench.datasets import DATASETS, get_dataset, is_credentialed
from xraybench.errors import XrayBenchError
from xraybench.records import Sample
from xraybench.tasks import Task, get_task


def data_source_option(help: str | None = None) -> Any:
    """The `--data-root` / `--data-option` field of `xraybench.config.DataSources` for a config that declares it
    itself; a new config inherits `DataSources` instead."""
    return shared_option(DataSources, "data_roots", help=help)


class DataRoots(dict[str, str]):
    """Dataset name -> data root, plus `options`: dataset name -> loader options from `--data-option`.

    A dict so that every caller that reads roots keeps working; `load_task` also applies `options`.
    """

    def __init__(self, roots: dict[str, str] | None = None, options: dict[str, dict[str, Any]] | None = None):
        super().__init__(roots or {})
        self.options: dict[str, dict[str, Any]] = options or {}


def loader_options(dataset: str) -> dict[str, inspect.Parameter]:
    """The options a dataset's loader accepts (its keyword parameters besides root, task and split)."""
    params = inspect.signature(get_dataset(dataset).load).parameters
    return {n: p for n, p in params.items() if n not in ("root", "task", "split") and p.kind is p.KEYWORD_ONLY}


def loader_annotations(dataset: str) -> dict[str, Any]:
    """Option name -> the type the dataset's loader declares for it (`typing.get_type_hints`), so `--data-option`
    values are typed as `--model-arg` and `--metric-arg` values are (`xraybench.config.typed_option`). An option
    without a resolvable annotation (a plugin's) is typed by its default, text when the default is None."""
    load = get_dataset(dataset).load
    try:
        hints = typing.get_type_hints(load)
    except Exception:  # noqa: BLE001 - a plugin's annotations may name what cannot be imported here
        hints = {}
    out: dict[str, Any] = {}
    for name, param in loader_options(dataset).items():
        fallback = type(param.default) if param.default not in (None, inspect.Parameter.empty) else str
        out[name] = hints.get(name, fallback)
    return out


@dataclass
class TaskData:
    task: Task
    samples: list[Sample]
    population: int  # samples available before limit/size sampling
    dropped: dict[str, int] = field(default_factory=dict)
    fingerprint: str = ""
    notes: list[str] = field(default_factory=list)  # what the loader says a reader of the scores must know


def parse_data_roots(items: list[str] | None) -> DataRoots:
    """`["mimic_cxr=/data/mimic", "mimic_cxr.reports_root=/data/reports", ...]` -> roots and loader options.

    `NAME=PATH` sets a data root, `NAME.KEY=VALUE` a loader option (`--data-option`); names must be known
    datasets and keys options of that dataset's loader ("did you mean" for both).
    """
    roots = DataRoots()
    for item in items or []:
        left, sep, value = item.partition("=")
        name, dot, key = left.strip().partition(".")
        if not sep or not name or not value or (dot and not key):
            raise XrayBenchError(
                "expected --data-root NAME=PATH (e.g. mimic_cxr=/data/mimic-cxr-jpg) or --data-option "
                f"NAME.KEY=VALUE (e.g. mimic_cxr.reports_root=/data/reports), got {item!r}"
            )
        DATASETS.entry(name)  # unknown names get "did you mean"
        if not dot:
            roots[name] = value
            continue
        known = loader_annotations(name)
        given = f"--data-option {name}.{key}={value}"
        if key not in known:
            raise unknown_option(key, sorted(known), given=given, owner=f"the {name} dataset")
        label = f"the {name} dataset's option {key!r}"
        roots.options.setdefault(name, {})[key] = typed_option(value, known[key], given=given, label=label)
    return roots


def resolve_root(dataset: str, data_roots: dict[str, str]) -> Path | None:
    if dataset in data_roots:
        root = Path(data_roots[dataset]).expanduser()
    elif os.environ.get(f"XRAYBENCH_DATA_{dataset.upper()}"):
        root = Path(os.environ[f"XRAYBENCH_DATA_{dataset.upper()}"]).expanduser()
    elif not get_dataset(dataset).needs_root:  # generated on the fly, no user data needed
        return None
    else:
        help_line = get_dataset(dataset).description
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
    dataset = get_dataset(task.dataset)
    extra = getattr(data_roots, "options", {}).get(task.dataset, {})
    fixed = sorted(set(extra) & set(task.options))
    if fixed:  # e.g. `section`: the task is what decides it, another value would be another task
        raise XrayBenchError(
            f"--data-option {task.dataset}.{fixed[0]} cannot be set: task {name} fixes it to "
            f"{task.options[fixed[0]]!r} (choose another task instead)"
        )
    result = dataset.load(root, task=task.name, split=split or task.split, **task.options, **extra)
    seen: set[str] = set()
    for sample in result.samples:
        if not sample.credentialed and is_credentialed(sample):  # the dataset's rule, whatever its loader wrote
            sample.credentialed = True
        if sample.id in seen:
            raise XrayBenchError(f"task {name}: the {task.dataset} loader produced id {sample.id!r} twice")
        seen.add(sample.id)
    chosen = seeded_subset(result.samples, limit, seed)
    return TaskData(task, chosen, len(result.samples), dict(result.dropped), fingerprint(chosen), list(result.notes))
