"""The dataset-loader interface: read an official on-disk layout into `Sample` records."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from xraybench.records import Sample


@dataclass
class LoadResult:
    """Samples of one task plus counts of what was dropped and why (reported in results.json)."""

    samples: list[Sample]
    dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n


class Loader(Protocol):
    """Reads `root` (the user's copy of a dataset) for one task.

    `split` is the dataset split ("train", "validation", "test"); `options` are the task's own
    options (section, subset filter, ...). Raises `DataFormatError` naming file and line on bad input.
    """

    def __call__(self, root: Path, *, task: str, split: str, **options: Any) -> LoadResult: ...
