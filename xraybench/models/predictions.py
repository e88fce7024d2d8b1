"""`predictions:FILE` — score outputs produced elsewhere.

Accepted layouts:
- JSONL, one object per line: `{"id": ..., "prediction": ...}` (optional `"task"` to hold several tasks);
- ReXrank-style JSON: `{study_id: {"model_prediction": ...}, ...}`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from xraybench.errors import DataFormatError, XrayBenchError
from xraybench.models.base import ModelContext, ModelOptions
from xraybench.records import Generation, Sample


@dataclass
class PredictionRow:
    id: str
    text: str
    task: str | None
    line: int | None  # 1-based line in a JSONL file; None for ReXrank JSON


@dataclass
class PredictionFileReport:
    """What `xraybench validate` prints: problems found without scoring anything."""

    path: str
    rows: list[PredictionRow] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)  # "file:line: what is wrong"


def read_prediction_file(path: str | Path) -> PredictionFileReport:
    """Read every well-formed row and describe every malformed one (never stops at the first)."""
    path = Path(path)
    if not path.exists():
        raise XrayBenchError(f"predictions file not found: {path}")
    report = PredictionFileReport(str(path))
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("{") and not _looks_like_jsonl(stripped):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataFormatError(
                path, f"invalid JSON ({exc.msg}); expected JSONL or ReXrank-style JSON", line=exc.lineno
            ) from None
        for study_id, value in data.items():
            if isinstance(value, dict) and isinstance(value.get("model_prediction"), str):
                report.rows.append(PredictionRow(str(study_id), value["model_prediction"], None, None))
            else:
                report.malformed.append(f'{path} (record {study_id}): expected {{"model_prediction": str}}')
        return report
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            report.malformed.append(f"{path}:{lineno}: invalid JSON ({exc.msg})")
            continue
        if not isinstance(obj, dict) or "id" not in obj or not isinstance(obj.get("prediction"), str):
            report.malformed.append(f'{path}:{lineno}: expected an object with "id" and a string "prediction"')
            continue
        task = obj.get("task")
        report.rows.append(PredictionRow(str(obj["id"]), obj["prediction"], str(task) if task else None, lineno))
    return report


def _looks_like_jsonl(text: str) -> bool:
    first = text.split("\n", 1)[0].strip()
    try:
        obj = json.loads(first)
    except json.JSONDecodeError:
        return False
    return isinstance(obj, dict) and "id" in obj and "prediction" in obj


@dataclass
class ValidationResult:
    task: str
    n_samples: int
    covered: int
    missing: list[str]
    duplicates: list[str]
    unknown: list[str]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.duplicates or self.unknown)


def validate_rows(rows: list[PredictionRow], task: str, samples: list[Sample]) -> ValidationResult:
    rows = [r for r in rows if r.task in (None, task)]
    ids = {s.id for s in samples}
    counts = Counter(r.id for r in rows)
    return ValidationResult(
        task=task,
        n_samples=len(samples),
        covered=len(ids & counts.keys()),
        missing=sorted(ids - counts.keys()),
        duplicates=sorted(i for i, c in counts.items() if c > 1),
        unknown=sorted(counts.keys() - ids),
    )


class PredictionsFile:
    """A "model" that looks outputs up by sample id; refuses malformed or ambiguous files."""

    batch_size = 256
    concurrency = 1

    def __init__(self, arg: str, options: ModelOptions | None = None, context: ModelContext | None = None):
        if not arg:
            raise XrayBenchError("predictions: needs a file, e.g. predictions:outputs.jsonl")
        report = read_prediction_file(arg)
        if report.malformed:
            more = f" (and {len(report.malformed) - 1} more)" if len(report.malformed) > 1 else ""
            raise XrayBenchError(f"{report.malformed[0]}{more}; run `xraybench validate` for the full list")
        self.name = f"predictions:{Path(arg).name}"
        self._by_key: dict[tuple[str | None, str], str] = {}
        for row in report.rows:
            key = (row.task, row.id)
            if key in self._by_key:
                where = f"{arg}:{row.line}" if row.line else arg
                raise XrayBenchError(f"{where}: duplicate prediction for id {row.id!r}")
            self._by_key[key] = row.text

    def generate(self, samples: list[Sample], prompts: list[str]) -> list[Generation]:
        out = []
        for sample in samples:
            text = self._by_key.get((sample.task, sample.id), self._by_key.get((None, sample.id)))
            if text is None:
                out.append(Generation("", error=f"no prediction for id {sample.id!r} in {self.name}"))
            else:
                out.append(Generation(text))
        return out
