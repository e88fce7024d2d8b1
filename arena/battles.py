"""Pairwise battles as columnar arrays, read from CSV or JSONL files.

A battle file has one battle per row/line with `model_a`, `model_b` and `winner` in {`model_a`, `model_b`,
`tie`, `tie (bothbad)`} (the last as FastChat exports write it); optional `study_id` (the bootstrap resamples
studies when present) and optional `length_a`, `length_b` (report lengths, for length-controlled ratings).
Optional columns are all-or-none: a file where only some rows carry them is rejected, since a silently partial
column would bias the bootstrap or the length model.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xraybench.errors import DataFormatError

# FastChat / Chatbot Arena exports also write "tie (bothbad)" (both answers bad): a tie for the ratings.
WINNERS = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}
REQUIRED = ("model_a", "model_b", "winner")


@dataclass(frozen=True)
class Battles:
    """Battles as arrays over `models` (sorted names): `a`, `b` index models, `score` is model a's result.

    `score` is 1 (a won), 0.5 (tie) or 0 (b won); `study` indexes `study_ids` (None when the source had no
    study ids); `length_a` / `length_b` are None when the source had no lengths.
    """

    models: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    score: np.ndarray
    study: np.ndarray | None = None
    study_ids: tuple[str, ...] | None = None
    length_a: np.ndarray | None = None
    length_b: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.a.shape[0])

    @property
    def has_lengths(self) -> bool:
        return self.length_a is not None and self.length_b is not None


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _length(value: object, where: Path, line: int, key: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise DataFormatError(where, f"'{key}' must be a positive number, got {value!r}", line=line)
    return number


def from_records(records: Iterable[tuple[int, Mapping[str, object]]], source: str | Path = "<battles>") -> Battles:
    """Validate (line, record) pairs and build `Battles`; errors name `source` and the line."""
    where = Path(source)
    rows: list[tuple[str, str, float, str | None, float | None, float | None]] = []
    has_study: bool | None = None
    has_length: bool | None = None
    first_line = 0
    for line, rec in records:
        if not isinstance(rec, Mapping):
            raise DataFormatError(where, f"expected an object with {', '.join(REQUIRED)}", line=line)
        missing = [k for k in REQUIRED if _blank(rec.get(k))]
        if missing:
            raise DataFormatError(where, f"missing {', '.join(missing)} (expected {', '.join(REQUIRED)})", line=line)
        model_a, model_b, winner = str(rec["model_a"]).strip(), str(rec["model_b"]).strip(), str(rec["winner"]).strip()
        if winner not in WINNERS:
            raise DataFormatError(where, f"winner must be one of {', '.join(WINNERS)}, got {winner!r}", line=line)
        if model_a == model_b:
            raise DataFormatError(where, f"a model cannot battle itself ({model_a!r})", line=line)
        study = None if _blank(rec.get("study_id")) else str(rec["study_id"]).strip()
        lengths = [rec.get("length_a"), rec.get("length_b")]
        with_length = not all(_blank(v) for v in lengths)
        if has_study is None:
            has_study, has_length, first_line = study is not None, with_length, line
        if (study is not None) != has_study:
            raise DataFormatError(
                where,
                f"study_id must be given on every battle or none (line {first_line} "
                f"{'has' if has_study else 'lacks'} one)",
                line=line,
            )
        if with_length != has_length:
            raise DataFormatError(
                where,
                f"length_a and length_b must be given on every battle or none (line "
                f"{first_line} {'has' if has_length else 'lacks'} them)",
                line=line,
            )
        la = _length(lengths[0], where, line, "length_a") if with_length else None
        lb = _length(lengths[1], where, line, "length_b") if with_length else None
        rows.append((model_a, model_b, WINNERS[winner], study, la, lb))
    if not rows:
        raise DataFormatError(where, "no battles found (expected rows with model_a, model_b, winner)")
    models = tuple(sorted({r[0] for r in rows} | {r[1] for r in rows}))
    index = {m: i for i, m in enumerate(models)}
    a = np.fromiter((index[r[0]] for r in rows), dtype=np.int64, count=len(rows))
    b = np.fromiter((index[r[1]] for r in rows), dtype=np.int64, count=len(rows))
    score = np.fromiter((r[2] for r in rows), dtype=np.float64, count=len(rows))
    study_arr = study_ids = None
    if has_study:
        uniques, inverse = np.unique(np.array([r[3] for r in rows], dtype=object).astype(str), return_inverse=True)
        study_arr, study_ids = inverse.astype(np.int64), tuple(str(s) for s in uniques)
    length_a = length_b = None
    if has_length:
        length_a = np.array([r[4] for r in rows], dtype=np.float64)
        length_b = np.array([r[5] for r in rows], dtype=np.float64)
    return Battles(models, a, b, score, study_arr, study_ids, length_a, length_b)


def _jsonl_records(path: Path) -> Iterable[tuple[int, Mapping[str, object]]]:
    with path.open(encoding="utf-8") as fh:
        for line_no, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                yield line_no, json.loads(text)
            except json.JSONDecodeError as exc:
                raise DataFormatError(
                    path, f"invalid JSON ({exc.msg}); expected one battle object per line", line=line_no
                ) from exc


def _csv_records(path: Path) -> Iterable[tuple[int, Mapping[str, object]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [k for k in REQUIRED if k not in header]
        if missing:
            raise DataFormatError(
                path,
                f"CSV header lacks {', '.join(missing)} (expected columns "
                f"{', '.join(REQUIRED)}[, study_id, length_a, length_b])",
                line=1,
            )
        for rec in reader:
            if None in rec:
                raise DataFormatError(path, f"more fields than the {len(header)} header columns", line=reader.line_num)
            yield reader.line_num, rec


def battle_records(path: str | Path) -> Iterable[tuple[int, Mapping[str, object]]]:
    """(line, record) of a `.csv` or `.jsonl` battle file (other suffixes: JSONL if the first character is `{`)."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "battle file not found")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".json", ".ndjson"):
        with path.open(encoding="utf-8") as fh:
            suffix = ".jsonl" if fh.read(4096).lstrip().startswith("{") else ".csv"
    return _csv_records(path) if suffix == ".csv" else _jsonl_records(path)


def read_battles(path: str | Path) -> Battles:
    """Read a `.csv` or `.jsonl` battle file (other suffixes: JSONL if the first character is `{`)."""
    return from_records(battle_records(path), path)
