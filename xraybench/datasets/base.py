"""The dataset-loader interface: read an official on-disk layout into `Sample` records."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from xraybench.records import Sample


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
