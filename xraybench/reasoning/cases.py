"""A run folder's samples joined with its finished predictions, found by id (renderer, reasoning scores)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from xraybench.errors import XrayBenchError
from xraybench.records import Prediction, Sample


@dataclass
class RunCases:
    """A run's samples with their predictions, found by id (and task when an id is in several tasks).

    `cases` holds the samples that have a finished prediction; `samples` every sample of each task, in order.
    """

    template: str
    model: str
    cases: dict[tuple[str, str], tuple[Sample, Prediction]]
    samples: dict[str, list[Sample]]
    image_size: int | None = None  # the run's --image-size: with the template, the space of unrecorded boxes

    def find(self, sample_id: str, task: str | None = None) -> tuple[Sample, Prediction]:
        hits = [key for key in self.cases if key[1] == sample_id and (task is None or key[0] == task)]
        if not hits:
            where = f" in task {task}" if task else ""
            raise XrayBenchError(f"no prediction for id {sample_id!r}{where} in this run")
        if len(hits) > 1:
            raise XrayBenchError(f"id {sample_id!r} is in tasks {', '.join(sorted(t for t, _ in hits))}: pass --task")
        return self.cases[hits[0]]

    def pick(self, n: int, seed: int, task: str | None = None) -> list[tuple[Sample, Prediction]]:
        """A seeded sample of `n` cases with images (boxed cases first), in run order."""
        keys = [k for k, (s, _) in self.cases.items() if s.image_paths and (task is None or k[0] == task)]
        boxed = [k for k in keys if self.cases[k][1].boxes]
        pool = boxed if len(boxed) >= n else keys
        chosen = set(random.Random(seed).sample(pool, min(n, len(pool))))
        return [self.cases[k] for k in keys if k in chosen]


def load_run_cases(run: str | Path) -> RunCases:
    """The run's samples (loaded as the run loaded them) joined with its finished predictions."""
    from xraybench.compare import load_run
    from xraybench.runner import load_tasks

    config, folder = load_run(run)
    done = folder.load_predictions()
    cases: dict[tuple[str, str], tuple[Sample, Prediction]] = {}
    samples: dict[str, list[Sample]] = {}
    for td in load_tasks(config)[0]:
        samples[td.task.name] = td.samples
        for sample in td.samples:
            pred = done.get((sample.task, sample.id))
            if pred is not None:
                cases[(sample.task, sample.id)] = (sample, pred)
    return RunCases(config.template, config.model, cases, samples, config.image_size)
