"""`predictions:FILE` — score outputs produced elsewhere, and the one reader of prediction files.

Every command that takes a predictions file (`run`, `validate`, `submit`, `arena judge --predictions`) reads it
here, so the format is detected once and every problem gets the same message naming file and line.

Accepted layouts:
- JSONL, one object per line: `{"id": ..., "prediction": ...}` (optional `"task"` to hold several tasks);
- ReXrank-style JSON: `{study_id: {"model_prediction": ...}, ...}`.
Anything else (CSV, plain text, a JSON array, other field names) is refused with what was found and what was
expected. Rows are checked for types (an id is a string or an integer, never null/true/1.5/[...]), valid Unicode
(no invalid UTF-8, no lone surrogates), bounded nesting and integer size, and conflicts (two rows for one id).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xraybench.datasets.common import object_key_lines
from xraybench.errors import DataFormatError, XrayBenchError
from xraybench.generate import GenerateConfig
from xraybench.models.base import ModelArgs, ModelContext, build_options
from xraybench.records import Generation, Sample

ID_FIELD, TEXT_FIELD, TASK_FIELD, REXRANK_FIELD = "id", "prediction", "task", "model_prediction"
EXAMPLE = '{"id": "s1", "prediction": "No acute cardiopulmonary process."}'
EXPECTED_ROW = (
    f'an object with "{ID_FIELD}" (string or integer) and "{TEXT_FIELD}" (string), optionally "{TASK_FIELD}", '
    f"e.g. {EXAMPLE}"
)
EXPECTED = (
    f'JSONL, one {EXPECTED_ROW.removeprefix("an ")} per line; or ReXrank JSON {{"s1": {{"{REXRANK_FIELD}": "..."}}}}'
)

# Field names other tools use for the two fields we need: named in the message so a rename is one step.
ID_ALIASES = ("study_id", "sample_id", "image_id", "uid", "key", "idx")
TEXT_ALIASES = ("report", "text", "output", "generated", "generation", "response", "answer", "hyp", "hypothesis",
                "pred", "model_prediction", "findings", "impression")  # fmt: skip
MAX_INT_DIGITS = 64  # an integer id longer than this is a mistake, and Python refuses > 4300 digits anyway
SHOWN = 40  # characters of a bad value quoted in a message
JSONL_PROBE_LINES = 5  # lines looked at to tell JSONL from one JSON document spread over lines


@dataclass
class PredictionRow:
    id: str
    text: str
    task: str | None
    line: int | None  # 1-based line in a JSONL file; None for ReXrank JSON
    record: str | None = None  # the ReXrank key
    fields: dict[str, Any] = field(default_factory=dict)  # the whole object (submission checks its other keys)

    def where(self, path: str | Path) -> str:
        return _where(path, self.line, self.record)


def _where(path: str | Path, line: int | None, record: str | None) -> str:
    if line is not None and record is not None:  # a record of a ReXrank file: where it starts, and its key
        return f"{path}:{line} (record {record})"
    return f"{path}:{line}" if line is not None else f"{path} (record {record})"


@dataclass
class PredictionFileReport:
    """Every well-formed row and a "file:line: what is wrong" message for every other one (never stops early)."""

    path: str
    format: str = "jsonl"  # jsonl | rexrank
    sha256: str = ""  # of the file's bytes
    rows: list[PredictionRow] = field(default_factory=list)
    problems: list[tuple[int | None, str | None, str]] = field(default_factory=list)  # (line, record, what)

    def problem(self, line: int | None, record: str | None, message: str) -> None:
        self.problems.append((line, record, message))

    @property
    def malformed(self) -> list[str]:
        """Each problem as "file:line: what is wrong" (or "file (record KEY): ...")."""
        return [f"{_where(self.path, line, record)}: {message}" for line, record, message in self.problems]

    def refuse_if_malformed(self, hint: str = "run `xraybench validate` for the full list") -> None:
        if self.malformed:
            more = f" (and {len(self.malformed) - 1} more)" if len(self.malformed) > 1 else ""
            raise XrayBenchError(f"{self.malformed[0]}{more}; {hint}")


class _TooBig(ValueError):
    pass


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _TooBig(f"an integer with {digits} digits (at most {MAX_INT_DIGITS} accepted)")
    return int(text)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN else text[:SHOWN] + "...'"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, float):
        return f"the number {value!r}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, str):
        return f"the string {_shown(value)}"
    return f"a JSON {'array' if isinstance(value, list) else 'object'} {_shown(value)}"


def _bad_unicode(text: str) -> str | None:
    """Why a decoded string cannot be written back as UTF-8 (a lone surrogate from a `\\udXXX` escape)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"a lone surrogate U+{ord(text[exc.start]):04X} at character {exc.start + 1}"
    return None


def _row_problem(obj: Any) -> str | None:
    """What is wrong with one parsed row (None: a usable row)."""
    if not isinstance(obj, dict):
        return f"found {_json_type(obj)}; expected {EXPECTED_ROW}"
    if ID_FIELD not in obj or TEXT_FIELD not in obj:
        found = ", ".join(f'"{k}"' for k in list(obj)[:10]) or "none"
        hints = [f'"{a}" to "{ID_FIELD}"' for a in ID_ALIASES if a in obj and ID_FIELD not in obj]
        hints += [f'"{a}" to "{TEXT_FIELD}"' for a in TEXT_ALIASES if a in obj and TEXT_FIELD not in obj]
        hint = f" (rename {' and '.join(hints[:2])})" if hints else ""
        return f"found the field(s) {found}; expected {EXPECTED_ROW}{hint}"
    sid, text, task = obj[ID_FIELD], obj[TEXT_FIELD], obj.get(TASK_FIELD)
    if isinstance(sid, bool) or not isinstance(sid, str | int):
        return f'"{ID_FIELD}" must be a string or an integer, found {_json_type(sid)}'
    if isinstance(sid, str) and not sid.strip():
        return f'"{ID_FIELD}" is empty'
    if not isinstance(text, str):
        return f'"{TEXT_FIELD}" must be a string, found {_json_type(text)}'
    if task is not None and not isinstance(task, str):
        return f'"{TASK_FIELD}" must be a string, found {_json_type(task)}'
    for name, value in ((ID_FIELD, sid), (TEXT_FIELD, text), (TASK_FIELD, task)):
        bad = _bad_unicode(value) if isinstance(value, str) else None
        if bad:
            return f'"{name}" holds {bad}: not valid Unicode text'
    return None


class _DuplicateKey(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:  # json.loads would silently keep the last: which one did the user mean?
            raise _DuplicateKey(f"the key {_shown(key)} appears twice in one object (one value per key)")
        out[key] = value
    return out


def _decode_row_line(raw: bytes) -> Any:
    """One JSONL line's object; `ValueError` with a readable reason on bad UTF-8, JSON, depth or integers."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start + 1} of the line); save it as UTF-8"
        ) from None
    try:
        return loads_checked(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None


def read_prediction_file(path: str | Path) -> PredictionFileReport:
    """Detect the file's format, read every well-formed row and describe every malformed one.

    Raises `XrayBenchError` / `DataFormatError` only for problems of the whole file (missing, empty, not a
    prediction format at all, a ReXrank JSON that does not parse); row problems are listed in `malformed`.
    """
    if "\x00" in str(path):
        raise XrayBenchError(f"predictions file name {str(path)!r} contains a NUL byte")
    path = Path(path)
    if not path.exists():
        raise XrayBenchError(f"predictions file not found: {path}")
    if path.is_dir():
        raise XrayBenchError(f"{path} is a folder; expected a predictions file: {EXPECTED}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise XrayBenchError(f"cannot read predictions file {path}: {exc.strerror or exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark (Windows editors) is not content
    if not data.strip():
        raise DataFormatError(path, f"the file is empty: no predictions to score; expected {EXPECTED}")
    report = PredictionFileReport(str(path), sha256=digest)
    first = data.lstrip()[:1]
    if first == b"[":
        raise DataFormatError(
            path, f"found one JSON array; expected {EXPECTED} (to convert: jq -c '.[]' {path.name})", line=1
        )
    if first != b"{":
        _refuse_other(path, data)
    whole = _whole_document(path, data)
    if whole is not None and _is_rexrank(whole):
        report.format = "rexrank"
        _rexrank_rows(path, whole, report, data)
    elif whole is not None:  # one object (possibly spread over several lines): a JSONL file with one row
        _add_row(path, report, whole, line=_first_line(data), seen={})
    else:
        seen: dict[tuple[str | None, str], PredictionRow] = {}
        for lineno, raw in enumerate(data.split(b"\n"), start=1):
            if not raw.strip():
                continue
            try:
                obj = _decode_row_line(raw.rstrip(b"\r"))
            except ValueError as exc:
                report.problem(lineno, None, str(exc))
                continue
            _add_row(path, report, obj, line=lineno, seen=seen)
    if not report.rows and not report.problems:
        raise DataFormatError(path, f"holds no predictions (an empty object); expected {EXPECTED}")
    return report


def _first_line(data: bytes) -> int:
    return data[: len(data) - len(data.lstrip())].count(b"\n") + 1


def _whole_document(path: Path, data: bytes) -> Any:
    """The file parsed as one JSON document, or None when it is JSONL (several documents, one per line)."""
    lines = [line for line in data.strip().split(b"\n") if line.strip()]
    if len(lines) == 1 and not _parses_as_rexrank(lines[0]):
        return _one_line(lines[0])
    # JSONL when one of its first lines is an object on its own (a pretty-printed document has no such line),
    # so a broken first row is that row's problem and the others are still read
    jsonl = any(_parses(line) for line in lines[:JSONL_PROBE_LINES])
    try:
        return loads_checked(data.decode("utf-8"))
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" or jsonl:
            return None
        raise DataFormatError(path, f"invalid JSON ({exc.msg} at column {exc.colno}); expected {EXPECTED}",
                              line=exc.lineno) from None  # fmt: skip
    except UnicodeDecodeError as exc:
        if jsonl:
            return None
        line = data[: exc.start].count(b"\n") + 1
        raise DataFormatError(path, f"not UTF-8 text ({exc.reason}); save it as UTF-8", line=line) from None
    except ValueError as exc:
        if jsonl:
            return None
        raise DataFormatError(path, str(exc), line=1) from None


def loads_checked(text: str) -> Any:
    """`json.loads` that fails with `ValueError` (a readable message) on deep nesting, huge integers and repeated
    keys instead of `RecursionError`, Python's int-conversion limit or silently keeping the last value."""
    try:
        return json.loads(text, parse_int=_parse_int, object_pairs_hook=_pairs)
    except json.JSONDecodeError:
        raise
    except (_TooBig, _DuplicateKey) as exc:
        raise ValueError(str(exc)) from None
    except RecursionError:
        raise ValueError("nested too deeply (more levels than Python's recursion limit)") from None


def _one_line(line: bytes) -> Any:
    """A one-line file is read as JSONL (so its problem is a row problem), unless it is ReXrank JSON."""
    try:
        obj = _decode_row_line(line.rstrip(b"\r"))
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _parses_as_rexrank(line: bytes) -> bool:
    try:
        return _is_rexrank(_decode_row_line(line.rstrip(b"\r")))
    except ValueError:
        return False


def _parses(line: bytes) -> bool:
    try:
        return isinstance(_decode_row_line(line.rstrip(b"\r")), dict)
    except ValueError:
        return False


def _is_rexrank(obj: Any) -> bool:
    """ReXrank JSON maps study ids to objects; a prediction row maps field names to strings/numbers. A keyed
    document with some study objects is ReXrank JSON whose other records are its problems."""
    return (
        isinstance(obj, dict)
        and ID_FIELD not in obj
        and TEXT_FIELD not in obj
        and (not obj or any(isinstance(v, dict) for v in obj.values()))
    )


def _refuse_other(path: Path, data: bytes) -> None:
    head = data.lstrip().split(b"\n", 1)[0][:80].decode("utf-8", "replace").rstrip("\r")
    if "," in head or "\t" in head:
        found = f"CSV/TSV text (first line: {head!r})"
    else:
        found = f"plain text (first line: {head!r}); for one report per line use `xraybench score --hyps FILE`"
    raise DataFormatError(path, f"found {found}; expected {EXPECTED}", line=_first_line(data))


def _rexrank_rows(path: Path, data: dict[str, Any], report: PredictionFileReport, raw: bytes = b"") -> None:
    """Rows of a ReXrank submission (the test JSON plus `model_prediction` per study). Its other fields are the
    test set's own (bare `NaN` tokens for missing sections are fine there); a record without a usable
    `model_prediction` (a NaN or null where the model failed, a number, no such key) is a problem naming the
    line where the record starts in a multi-line file, and its study id."""
    lines: dict[str, int] | None = None

    def line_of(study_id: str) -> int | None:  # found on the first problem only (a second parse of the file)
        nonlocal lines
        if lines is None:
            text = raw.decode("utf-8", "replace")
            lines = object_key_lines(text) if text.strip().count("\n") else {}  # one line: no line to name
        return lines.get(study_id)

    for study_id, value in data.items():
        if not isinstance(value, dict):
            report.problem(line_of(study_id), _shown(study_id),
                           f'found {_json_type(value)}; expected {{"{REXRANK_FIELD}": "report text", ...}}')  # fmt: skip
            continue
        text = value.get(REXRANK_FIELD)
        if not isinstance(text, str):
            found = ", ".join(f'"{k}"' for k in list(value)[:10]) or "no fields"
            got = f"found {found}" if REXRANK_FIELD not in value else f"found {_json_type(text)}"
            report.problem(line_of(study_id), study_id, f'{got}; expected {{"{REXRANK_FIELD}": "report text"}}')
            continue
        bad = _bad_unicode(study_id) or _bad_unicode(text)
        if bad:
            report.problem(line_of(study_id), _shown(study_id), f"holds {bad}: not valid Unicode text")
            continue
        task = value.get(TASK_FIELD) if isinstance(value.get(TASK_FIELD), str) else None
        report.rows.append(PredictionRow(study_id, text, task, None, study_id, {ID_FIELD: study_id, **value}))


def _add_row(
    path: Path, report: PredictionFileReport, obj: Any, *, line: int, seen: dict[tuple[str | None, str], PredictionRow]
) -> None:
    problem = _row_problem(obj)
    if problem:
        report.problem(line, None, problem)
        return
    task = obj.get(TASK_FIELD) or None
    row = PredictionRow(str(obj[ID_FIELD]), obj[TEXT_FIELD], task, line, None, obj)
    first = seen.get((row.task, row.id))
    if first is not None:
        same = "the same text" if first.text == row.text else "a different text"
        report.problem(
            line,
            None,
            f"a second prediction for id {_shown(row.id)} (first on line {first.line}, {same}); "
            "expected one row per id",
        )
        return
    seen[(row.task, row.id)] = row
    report.rows.append(row)


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

    Options = ModelArgs  # its one option is its display name (`--name`)
    batch_size = 256
    concurrency = 1

    def __init__(
        self,
        arg: str,
        options: ModelArgs | Mapping[str, Any] | None = None,
        context: ModelContext | None = None,
        generate: GenerateConfig | None = None,
    ):
        opts = build_options(ModelArgs, options, spec=f"predictions:{arg}")
        if not arg:
            raise XrayBenchError(f"predictions: needs a file, e.g. predictions:outputs.jsonl ({EXPECTED})")
        report = read_prediction_file(arg)
        report.refuse_if_malformed()
        self.name = opts.name or f"predictions:{Path(arg).name}"
        self.fingerprint = report.sha256  # the run's identity: a changed file is not resumed as the old one
        self._by_key: dict[tuple[str | None, str], str] = {(row.task, row.id): row.text for row in report.rows}

    def generate(self, samples: list[Sample], prompts: list[str]) -> list[Generation]:
        out = []
        for sample in samples:
            text = self._by_key.get((sample.task, sample.id), self._by_key.get((None, sample.id)))
            if text is None:
                out.append(Generation("", error=f"no prediction for id {sample.id!r} in {self.name}"))
            else:
                out.append(Generation(text))
        return out
