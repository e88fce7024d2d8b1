"""Shared readers for the loaders: CSV and JSON with line/record numbers in every error.

Real copies of public datasets carry small quirks (stray whitespace around column names and JSON
keys, gzip-compressed CSVs, answers stored as lists). These helpers absorb the unambiguous ones in
one place so that each loader stays a short description of its layout.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import json
import re
import zlib
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


def finding_prompt(labels: Sequence[str], no_finding: str = "No Finding") -> str:
    """The instruction of a finding-classification task over `labels` (ChestX-ray14, CheXpert)."""
    return (
        "Which of the following findings are present in this chest X-ray: " + ", ".join(labels) + "? "
        f"Answer with the names of the findings that are present, separated by '|', or '{no_finding}' if none is."
    )


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


def local_path(base: Path, name: str, source: Path, *, line: int | None = None, record: str | None = None) -> str:
    """`base / name` as an absolute path string (images are not opened here). A name no file system can
    hold (a NUL byte, a lone surrogate) is a `DataFormatError` naming the `source` file and line/record."""
    try:
        return str((base / name).resolve())
    except (ValueError, OSError) as exc:  # UnicodeEncodeError is a ValueError
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise DataFormatError(source, f"unusable file name {shown!r} ({exc})", line=line, record=record) from None


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


# Why these limits: real layouts nest JSON at most ~6 levels deep; anything far deeper is corruption and
# would overflow the interpreter's stack in whatever code walks it next (repr, json.dumps, a loader).
MAX_JSON_DEPTH = 64
# What a damaged or hostile file can raise while it is read: a broken gzip stream, a file that vanished,
# a CSV quirk, an integer longer than Python converts (ValueError), nesting past the stack (RecursionError).
_READ_ERRORS = (OSError, EOFError, zlib.error, csv.Error, ValueError, RecursionError)


def _reason(exc: BaseException) -> str:
    """A one-line reason for a read failure (the raw exception text can be the whole bad line)."""
    if isinstance(exc, RecursionError):
        return "nested too deeply to read"
    text = str(exc)
    return f"{type(exc).__name__}: {text[:200]}{'...' if len(text) > 200 else ''}"


def _not_utf8(path: Path, exc: UnicodeDecodeError, line: int, column: int) -> DataFormatError:
    """The error for undecodable bytes: file, line and the byte's column (counted in bytes)."""
    byte = exc.object[exc.start]
    return DataFormatError(path, f"not valid UTF-8: byte 0x{byte:02x} at column {column}", line=line)


_BLOCK = 1 << 20  # bytes decoded at once; blocks end at a newline byte, never inside a UTF-8 sequence


def _text_blocks(path: Path) -> Iterator[str]:
    """The decoded text of a UTF-8 file (or its `.gz`; a leading BOM is dropped) in blocks of whole lines.

    Every way the bytes can be unreadable (not UTF-8, a broken gzip stream, a read error) is a
    `DataFormatError` naming the file and the line (lines counted by \\n).
    """
    opener = gzip.open if path.suffix == ".gz" else open
    line = 1
    try:
        with opener(path, "rb") as handle:
            block = handle.read(_BLOCK)
            if block.startswith(codecs.BOM_UTF8):
                block = block[len(codecs.BOM_UTF8) :]
            while block:
                if not block.endswith(b"\n"):
                    block += handle.readline()
                try:
                    text = block.decode("utf-8")
                except UnicodeDecodeError as exc:
                    start = block.rfind(b"\n", 0, exc.start) + 1
                    raise _not_utf8(path, exc, line + block.count(b"\n", 0, exc.start), exc.start - start + 1) from None
                line += block.count(b"\n")
                yield text
                block = handle.read(_BLOCK)
    except _READ_ERRORS as exc:
        raise DataFormatError(path, f"unreadable file: {_reason(exc)}", line=line) from exc


def _text_lines(path: Path) -> Iterator[str]:
    """Lines with their endings, split at \\n, \\r\\n or \\r as text mode with `newline=""` does."""
    return itertools.chain.from_iterable(io.StringIO(text, newline="") for text in _text_blocks(path))


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield `(line, text without its ending)` of a UTF-8 text file (see `_text_blocks` for errors)."""
    for number, text in enumerate(_text_lines(path), start=1):
        yield number, text.rstrip("\r\n")


def _lone_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _unsafe(data: Any, strings: bool) -> bool:
    """Fast check for `_bad_value` (no locations): containers nested MAX_JSON_DEPTH deep, or, when
    `strings`, a lone surrogate in a string or key. Walks one nesting level at a time with comprehensions,
    so clean data costs one type test per value (~0.8 s for 200k MIMIC-Ext-VQA records)."""
    level = [data]
    for _ in range(MAX_JSON_DEPTH):
        if strings:
            for container in level:
                values = container.values() if type(container) is dict else container
                if any(type(v) is str and _lone_surrogate(v) for v in values):
                    return True
                if type(container) is dict and any(type(k) is str and _lone_surrogate(k) for k in container):
                    return True
        level = [
            v
            for container in level
            for v in (container.values() if type(container) is dict else container)
            if type(v) is dict or type(v) is list
        ]
        if not level:
            return False
    return True


def _bad_value(data: Any) -> tuple[str, str] | None:
    """(location, problem) of the first value a loader cannot use safely: nesting deeper than
    MAX_JSON_DEPTH, or a string with a lone surrogate (a `\\udXXX` escape that is no character: it
    cannot be written to a file, a terminal or a file name). None when the data is clean. Slow (it
    builds every location); run only after `_unsafe` found something."""
    stack: list[tuple[Any, int, str]] = [(data, 0, "")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, str):
            if _lone_surrogate(value):
                return where or "top level", "a string holds a lone surrogate (\\udXXX escape), not text"
            continue
        if depth >= MAX_JSON_DEPTH:
            return where or "top level", f"values nested more than {MAX_JSON_DEPTH} levels deep"
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str):
                stack.append((key, depth, f"{where}.<key>"))
            if isinstance(item, (str, dict, list)):
                stack.append((item, depth + 1, f"{where}[{key!r}]"))
    return None


def check_values(
    data: Any, path: Path, *, line: int | None = None, record: str | None = None, strings: bool = True
) -> Any:
    """`data` if every nested value is safe to use (see `_bad_value`), else a `DataFormatError`.
    `strings=False` skips the surrogate test (the caller knows the source text has no `\\ud` escape)."""
    if isinstance(data, str):
        data_unsafe = strings and _lone_surrogate(data)
    else:
        data_unsafe = isinstance(data, (dict, list)) and _unsafe(data, strings)
    if data_unsafe:
        where, what = _bad_value(data) or ("", "")
        where = where if len(where) <= 120 else where[:117] + "..."
        raise DataFormatError(path, f"{what} (at {where})", line=line, record=record)
    return data


def read_csv(path: Path, required: Sequence[str] = ()) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield `(line, row)` with whitespace-stripped keys and values; `line` is where the row starts.

    Raises `DataFormatError` (file and line) for a missing required column or a row with more
    non-empty fields than the header names (trailing empty fields are tolerated: some official
    files end every row with a comma), and for bytes that are not UTF-8 (see `read_lines`).
    """
    line = 1
    try:
        reader = csv.reader(_text_lines(path))
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
            row = dict(zip(header, map(str.strip, fields), strict=False))
            row.pop("", None)  # unnamed columns (trailing commas) are not data
            yield start, row
    except csv.Error as exc:
        raise DataFormatError(path, f"unreadable CSV: {_reason(exc)}", line=line) from exc


def load_json(path: Path) -> Any:
    """Parse a JSON file; a syntax error names its line and column. The parsed data is checked with
    `check_values` (depth, lone surrogates), so loaders only ever see values they can print and store."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except _READ_ERRORS as exc:
        raise DataFormatError(path, f"unreadable JSON file: {_reason(exc)}") from exc
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        raise _not_utf8(path, exc, raw.count(b"\n", 0, exc.start) + 1, exc.start - line_start + 1) from None
    del raw
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, f"invalid JSON ({exc.msg}, column {exc.colno})", line=exc.lineno) from exc
    except (ValueError, RecursionError) as exc:
        raise DataFormatError(path, f"unreadable JSON: {_reason(exc)}") from exc
    # a lone surrogate can only come from a \\udXXX escape (strict UTF-8 decoding refuses encoded ones)
    return check_values(data, path, strings="\\ud" in text or "\\uD" in text)


def read_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield `(line, object)` for each non-blank line of a JSON Lines file (checked as `load_json`'s)."""
    for number, raw in read_lines(path):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataFormatError(path, f"invalid JSON line ({exc.msg}, column {exc.colno})", line=number) from exc
        except (ValueError, RecursionError) as exc:
            raise DataFormatError(path, f"unreadable JSON line: {_reason(exc)}", line=number) from exc
        yield number, check_values(value, path, line=number)


def strip_keys(record: object, path: Path, record_id: str) -> dict[str, Any]:
    """A JSON object with whitespace-stripped keys; anything else is a format error, and so are two keys
    that are one once stripped ("report" and "report "): which value is meant is not knowable."""
    if not isinstance(record, dict):
        raise DataFormatError(path, f"expected a JSON object, got {type(record).__name__}", record=record_id)
    stripped = {str(k).strip(): v for k, v in record.items()}
    if len(stripped) != len(record):
        seen: dict[str, str] = {}
        for key in record:
            if (name := str(key).strip()) in seen:
                raise DataFormatError(
                    path, f"keys {seen[name]!r} and {key!r} are the same once stripped", record=record_id
                )
            seen[name] = key
    return stripped


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


_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def object_key_lines(source: Path | str) -> dict[str, int]:
    """The line on which each top-level key of a JSON object document starts (a file path, or its text).

    For error messages about one record of a big keyed document (ReXrank's test files and submissions):
    called only once something is wrong, so clean files are parsed once. A document that is not one object,
    or that stops parsing, gives the keys found so far (an error then names the record without its line).
    """
    if isinstance(source, Path):
        try:
            text = source.read_bytes().decode("utf-8-sig", "replace")
        except OSError:
            return {}
    else:
        text = source.removeprefix("\ufeff")
    decoder = json.JSONDecoder()
    out: dict[str, int] = {}
    pos = _JSON_SPACE.match(text, 0).end()  # type: ignore[union-attr]
    if text[pos : pos + 1] != "{":
        return out
    pos, line, counted = _JSON_SPACE.match(text, pos + 1).end(), 1, 0  # type: ignore[union-attr]
    try:
        while pos < len(text) and text[pos] == '"':
            key, end = decoder.raw_decode(text, pos)
            line += text.count("\n", counted, pos)
            counted = pos
            out.setdefault(key, line)
            pos = _JSON_SPACE.match(text, end).end()  # type: ignore[union-attr]
            if text[pos : pos + 1] != ":":
                break
            _, end = decoder.raw_decode(text, _JSON_SPACE.match(text, pos + 1).end())  # type: ignore[union-attr]
            pos = _JSON_SPACE.match(text, end).end()  # type: ignore[union-attr]
            if text[pos : pos + 1] != ",":
                break
            pos = _JSON_SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
    except (ValueError, RecursionError):
        pass
    return out
