"""The dataset-loader interface: read an official on-disk layout into `Sample` records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from xraybench.records import Sample
from xraybench.tasks import Task


@dataclass
class LoadResult:
    """Samples of one task plus counts of what was dropped and why, and notes a reader of the scores
    must see (e.g. a split that is not the official one); both go to results.json, notes also on screen."""

    samples: list[Sample]
    dropped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


class Loader(Protocol):
    """Reads `root` (the user's copy of a dataset) for one task.

    `split` is the dataset split ("train", "validation", "test"); `options` are the task's own
    options (section, subset filter, ...). Raises `DataFormatError` naming file and line on bad input.
    """

    def __call__(self, root: Path, *, task: str, split: str, **options: Any) -> LoadResult: ...


@dataclass(frozen=True)
class Dataset:
    """A dataset's loader with everything the rest of the package must know about it, kept in its own file.

    The module-level `DATASET = Dataset(...)` next to the loader is what the registration line in
    `xraybench/datasets/__init__.py` (or a plugin's entry point) names; `xraybench.tasks` derives the task
    list from `tasks`, governance reads `credentialed`, the trainer's leakage check `study_space`, and data
    roots `needs_root`.
    """

    name: str
    load: Loader
    description: str  # one line for `xraybench list datasets` and error messages
    tasks: tuple[Task, ...] = ()
    credentialed: bool = False  # its data use agreement forbids sending it to third-party services
    # for a dataset whose rows come from several sources, some credentialed (ReXrank's MIMIC-CXR and CheXpert Plus
    # test sets beside IU X-ray, the XrayBench export's MIMIC subsets beside OPEN-I): True for a credentialed
    # sample, from what the sample itself carries (task, metadata), so a record rebuilt elsewhere is judged alike.
    # Read through `xraybench.datasets.is_credentialed`, the one rule of the run, the judges and synthesis.
    credentialed_sample: Callable[[Sample], bool] | None = None
    # datasets drawn from the same studies share one space, so a study in one never leaks into another's split
    study_space: str = ""
    needs_root: bool = True  # False: generated on the fly, no --data-root needed

    @property
    def space(self) -> str:
        return self.study_space or self.name
