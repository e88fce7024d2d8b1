"""A toy report dataset: `reports.jsonl` under the data root, one {"id", "split", "findings"} per line."""

from __future__ import annotations

import json
from pathlib import Path

from xraybench.datasets.base import Dataset, LoadResult
from xraybench.errors import DataFormatError
from xraybench.records import Sample
from xraybench.tasks import Task


def load_toy_reports(root: Path, *, task: str, split: str, first: int | None = None) -> LoadResult:
    path = Path(root) / "reports.jsonl"
    result = LoadResult([])
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(path, f"not JSON ({exc.msg})", line=line_no) from None
        if row["split"] != split:
            result.drop("other split")
            continue
        prompt = "Write the findings section of the radiology report for this chest X-ray."
        result.samples.append(Sample(id=row["id"], task=task, dataset="toy_reports", split=split, prompt=prompt,
                                     reference=row["findings"]))  # fmt: skip
    if first is not None:
        result.samples = result.samples[:first]
    return result


DATASET = Dataset(
    "toy_reports",
    load_toy_reports,
    "toy findings reports from a plugin (reports.jsonl)",
    tasks=(Task("toy_reports_findings", "report", "toy_reports", "test", ("bleu", "rouge_l"), {}, "toy findings"),),
    credentialed=True,  # as if it were MIMIC-derived: governance and the trainer read this fact
    study_space="mimic",
)
# a task of its own entry point, on the same dataset
FIRST_TWO = Task(
    "toy_reports_first2", "report", "toy_reports", "test", ("bleu",), {"first": 2}, "the first two toy reports"
)
