"""Shared readers for the loaders: CSV and JSON with line/record numbers in every error.

Real copies of public datasets carry small quirks (stray whitespace around column names and JSON
keys, gzip-compressed CSVs, answers stored as lists). These helpers absorb the unambiguous ones in
one place so that each loader stays a short description of its layout.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from xraybench.errors import DataFormatError

REPORT_PROMPTS = {
    "findings": "Write the FINDINGS section of the radiology report for this chest X-ray.",
    "impression": "Write the IMPRESSION section of the radiology report for this chest X-ray.",
}

_WS = re.compile(r"\s+")


def clean_text(value: object) -> str:
    """Collapse runs of whitespace (report files wrap lines at ~80 columns) and strip the ends."""
    if value is None:
        return ""
    return _WS.sub(" ", str(value)).strip()


def report_prompt(section: str) -> str:
    """The instruction for a report-generation task; raises for sections we do not score."""
    if section not in REPORT_PROMPTS:
        raise DataFormatError(
            "<task options>", f"unknown report section {section!r}; expected one of {sorted(REPORT_PROMPTS)}"
        )
    return REPORT_PROMPTS[section]


def join_answers(value: object) -> str:
    """An answer as one string: lists become their sorted items joined with '|' (order-free sets)."""
    if isinstance(value, (list, tuple)):
        items = sorted({clean_text(v) for v in value if clean_text(v)})
        return "|".join(items)
    return clean_text(value)


def normalise_split(split: str, aliases: dict[str, str], path: str | Path = "<task options>") -> str:
    """Map a user-facing split name to the dataset's own spelling (e.g. 'validation' -> 'validate')."""
    key = split.strip().lower()
    if key not in aliases:
        raise DataFormatError(path, f"unknown split {split!r}; this dataset has {sorted(set(aliases.values()))}")
    return aliases[key]


def find_file(root: Path, names: Sequence[str], what: str, *, subdirs: Sequence[str] = ()) -> Path:
    """Return the first of `names` (or its `.gz`) found in `root` or one of `subdirs` of it."""
    for base in [root, *(root / s for s in subdirs)]:
        for name in names:
            for candidate in (base / name, base / f"{name}.gz"):
                if candidate.is_file():
                    return candidate
    looked = ", ".join(names)
    raise DataFormatError(root, f"cannot find {what}: expected one of {looked} (or .gz) in this folder")


def optional_file(root: Path, names: Sequence[str], *, subdirs: Sequence[str] = ()) -> Path | None:
    try:
        return find_file(root, names, "", subdirs=subdirs)
    except DataFormatError:
        return None


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def read_csv(path: Path, required: Sequence[str] = ()) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield `(line, row)` with whitespace-stripped keys and values; `line` is where the row starts.

    Raises `DataFormatError` (file and line) for a missing required column or a row with more
    non-empty fields than the header names (trailing empty fields are tolerated: some official
    files end every row with a comma).
    """
    try:
        with _open_text(path) as handle:
            reader = csv.reader(handle)
            try:
                header = [h.strip() for h in next(reader)]
            except StopIteration:
                raise DataFormatError(path, "empty file; expected a CSV header line", line=1) from None
            missing = [c for c in required if c not in header]
            if missing:
                raise DataFormatError(path, f"missing column(s) {missing}; header has {header}", line=1)
            line = reader.line_num + 1
            for fields in reader:
                start, line = line, reader.line_num + 1
                if not any(f.strip() for f in fields):
                    continue
                if len(fields) > len(header) and any(f.strip() for f in fields[len(header) :]):
                    raise DataFormatError(
                        path, f"row has {len(fields)} fields but the header names {len(header)}", line=start
                    )
                if len(fields) < len(header) and any(c in required for c in header[len(fields) :]):
                    raise DataFormatError(
                        path, f"row has {len(fields)} fields, expected {len(header)} ({header})", line=start
                    )
                yield start, {h: f.strip() for h, f in zip(header, fields, strict=False) if h}
    except (UnicodeDecodeError, csv.Error, OSError, EOFError) as exc:
        raise DataFormatError(path, f"unreadable CSV: {exc}") from exc


def load_json(path: Path) -> Any:
    """Parse a JSON file; a syntax error names its line and column."""
    try:
        with _open_text(path) as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, f"invalid JSON ({exc.msg}, column {exc.colno})", line=exc.lineno) from exc
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise DataFormatError(path, f"unreadable JSON file: {exc}") from exc


def read_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield `(line, object)` for each non-blank line of a JSON Lines file."""
    with _open_text(path) as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                yield number, json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DataFormatError(path, f"invalid JSON line ({exc.msg})", line=number) from exc


def strip_keys(record: object, path: Path, record_id: str) -> dict[str, Any]:
    """A JSON object with whitespace-stripped keys; anything else is a format error."""
    if not isinstance(record, dict):
        raise DataFormatError(path, f"expected a JSON object, got {type(record).__name__}", record=record_id)
    return {str(k).strip(): v for k, v in record.items()}


def expect_list(data: object, path: Path, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise DataFormatError(path, f"expected a JSON list of {what}, got {type(data).__name__}")
    return data


def field(record: dict[str, Any], key: str, path: Path, record_id: str, types: type | tuple[type, ...] = str) -> Any:
    """A required field of a JSON record, type-checked; errors name the record and the key."""
    if key not in record:
        raise DataFormatError(path, f"missing key {key!r}; record has {sorted(record)}", record=record_id)
    value = record[key]
    if not isinstance(value, types) or isinstance(value, bool) and bool not in _as_tuple(types):
        names = "/".join(t.__name__ for t in _as_tuple(types))
        raise DataFormatError(path, f"key {key!r} should be {names}, got {type(value).__name__}", record=record_id)
    return value


def _as_tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)
