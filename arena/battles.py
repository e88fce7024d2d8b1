"""Pairwise battles as columnar arrays, read from CSV or JSONL files.

A battle file has one battle per row/line with `model_a`, `model_b` and `winner` in {`model_a`, `model_b`,
`tie`, `tie (bothbad)`} (the last as FastChat exports write it); optional `study_id` (the bootstrap resamples
studies when present) and optional `length_a`, `length_b` (report lengths, for length-controlled ratings),
`style_a`, `style_b` (JSON only: objects of style counts such as `{"tokens": 42, "headers": 2}`, for
style-controlled ratings, `arena.style`) and `weight` (a positive weight per battle, e.g. the inverse of the
probability with which a randomised sampler chose the pair, as in lmarena's Arena-Rank). Optional columns are
all-or-none: a file where only some rows carry them is rejected, since a silently partial column would bias the
bootstrap or the covariate model. A `.json` file holding one JSON array is read as FastChat's clean-battle export:
its `conv_metadata` style counts (`sum_assistant_a_tokens`, `header_count_a`, ...) become `style_a` / `style_b`.

One battle has one shape, `BattleRecord`: an arena export row, a battle-file line (with its `schema_version`) and a
ratings input row; `battles_of` is the one conversion from judged battles to the columnar `Battles` the ratings
fit, used by every command that rates an arena (leaderboard, submit, audit, demo, adaptive schedule).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from xraybench.errors import DataFormatError
from xraybench.schema import SCHEMA_KEY, check_schema

# FastChat / Chatbot Arena exports also write "tie (bothbad)" (both answers bad): a tie for the ratings.
WINNERS = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}
REQUIRED = ("model_a", "model_b", "winner")
BATTLE_SCHEMA_VERSION = 1  # the `schema_version` of each battle we write (`xraybench.schema`)


@dataclass(frozen=True)
class Battles:
    """Battles as arrays over `models` (sorted names): `a`, `b` index models, `score` is model a's result.

    `score` is 1 (a won), 0.5 (tie) or 0 (b won); `study` indexes `study_ids` (None when the source had no
    study ids); `length_a` / `length_b` are None when the source had no lengths; `style_a` / `style_b` are
    (n, k) style counts named by `style_names` (None without them); `weight` the per-battle weights (None: all 1).
    """

    models: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    score: np.ndarray
    study: np.ndarray | None = None
    study_ids: tuple[str, ...] | None = None
    length_a: np.ndarray | None = None
    length_b: np.ndarray | None = None
    style_names: tuple[str, ...] | None = None
    style_a: np.ndarray | None = None
    style_b: np.ndarray | None = None
    weight: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.a.shape[0])

    @property
    def has_lengths(self) -> bool:
        return self.length_a is not None and self.length_b is not None

    @property
    def has_style(self) -> bool:
        return self.style_names is not None and self.style_a is not None and self.style_b is not None


@dataclass(frozen=True)
class BattleRecord:
    """One judged battle in model orientation: the one shape of an arena export row, a battle-file line and a
    ratings input row (`battles_of` is the one conversion to `Battles`).

    `winner` is one of `WINNERS`; `study_id` groups battles for the bootstrap; `length_a` / `length_b` are the
    two reports' lengths in words (for length-controlled ratings). The rest says where a judged battle came
    from: the 5-level `verdict`, `task`, `judge`, shown `order` (xy / yx / both), `source` (judge / identical)
    and `judge_config` (`arena.judging.config_label`); None when the source did not say."""

    model_a: str
    model_b: str
    winner: str
    study_id: str | None = None
    length_a: float | None = None
    length_b: float | None = None
    verdict: str | None = None
    task: str | None = None
    judge: str | None = None
    order: str | None = None
    source: str | None = None
    judge_config: str | None = None
    style_a: dict[str, float] | None = None
    style_b: dict[str, float] | None = None
    weight: float | None = None

    @property
    def score(self) -> float:
        """Model a's result: 1 won, 0.5 tie, 0 lost."""
        return WINNERS[self.winner]

    def to_json(self) -> dict[str, Any]:
        """The JSON line of a battle file (fields the source did not give are left out)."""
        out: dict[str, Any] = {SCHEMA_KEY: BATTLE_SCHEMA_VERSION}
        out.update((f.name, v) for f in fields(self) if (v := getattr(self, f.name)) is not None)
        return out

    @classmethod
    def from_json(cls, rec: Mapping[str, object], where: str | Path = "<battles>", line: int = 0) -> BattleRecord:
        """Validate one battle object; errors name `where` and the line and say what was expected."""
        where = Path(where)
        if not isinstance(rec, Mapping):
            raise DataFormatError(where, f"expected an object with {', '.join(REQUIRED)}", line=line)
        check_schema(dict(rec), BATTLE_SCHEMA_VERSION, where, "a battle", line=line)
        missing = [k for k in REQUIRED if _blank(rec.get(k))]
        if missing:
            raise DataFormatError(where, f"missing {', '.join(missing)} (expected {', '.join(REQUIRED)})", line=line)
        model_a, model_b, winner = str(rec["model_a"]).strip(), str(rec["model_b"]).strip(), str(rec["winner"]).strip()
        if winner not in WINNERS:
            raise DataFormatError(where, f"winner must be one of {', '.join(WINNERS)}, got {winner!r}", line=line)
        if model_a == model_b:
            raise DataFormatError(where, f"a model cannot battle itself ({model_a!r})", line=line)
        lengths = rec.get("length_a"), rec.get("length_b")
        with_length = not all(_blank(v) for v in lengths)
        extra = {k: None if _blank(rec.get(k)) else str(rec[k]).strip() for k in _TEXT_FIELDS}
        style_a, style_b = _styles(rec, where, line)
        weight = None if _blank(rec.get("weight")) else _length(rec.get("weight"), where, line, "weight")
        return cls(
            model_a, model_b, winner,
            length_a=_length(lengths[0], where, line, "length_a") if with_length else None,
            length_b=_length(lengths[1], where, line, "length_b") if with_length else None,
            style_a=style_a, style_b=style_b, weight=weight,
            **extra,
        )  # fmt: skip


_TEXT_FIELDS = ("study_id", "verdict", "task", "judge", "order", "source", "judge_config")


def _styles(rec: Mapping[str, object], where: Path, line: int) -> tuple[dict[str, float] | None, ...]:
    """`style_a` / `style_b` objects of counts, or a FastChat `conv_metadata`; (None, None) when there are none."""
    from arena.style import fastchat_counts

    style_a, style_b = rec.get("style_a"), rec.get("style_b")
    if style_a is None and style_b is None:
        meta = rec.get("conv_metadata")
        if not isinstance(meta, Mapping):
            return None, None
        try:
            return fastchat_counts(meta) or (None, None)
        except ValueError as exc:
            raise DataFormatError(where, str(exc), line=line) from None
    out = []
    for key, value in (("style_a", style_a), ("style_b", style_b)):
        if not isinstance(value, Mapping) or not value:
            raise DataFormatError(where, f"'{key}' must be an object of style counts, got {value!r}", line=line)
        counts = {}
        for name, count in value.items():
            if isinstance(count, bool) or not isinstance(count, int | float) or not count >= 0:
                raise DataFormatError(where, f"'{key}.{name}' must be a non-negative count, got {count!r}", line=line)
            counts[str(name)] = float(count)
        out.append(counts)
    if set(out[0]) != set(out[1]):
        raise DataFormatError(where, f"style_a has {sorted(out[0])} but style_b has {sorted(out[1])}", line=line)
    return out[0], out[1]


def report_length(text: str) -> int:
    """A report's length for length-controlled ratings: its words (at least 1, so the log ratio is defined)."""
    return max(1, len(text.split()))


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


def battles_of(rows: Iterable[BattleRecord | Mapping[str, object]], source: str | Path = "<battles>") -> Battles:
    """The one conversion from judged battles (an arena export's rows, `BattleRecord`s) to the ratings' input.

    Lengths (and style counts) are kept when every battle has them (an arena judged before lengths were planned
    has none on its identical-report ties; its battles are then rated without lengths rather than refused)."""
    records = [r if isinstance(r, BattleRecord) else BattleRecord.from_json(r, source, i) for i, r in
               enumerate(rows, start=1)]  # fmt: skip
    if not all(r.length_a is not None for r in records):
        records = [replace(r, length_a=None, length_b=None) for r in records]
    styled = next((r.style_a for r in records if r.style_a is not None), None)
    if styled is not None and all(r.style_a is None for r in records if r.source != "identical"):
        styled = None
    if styled is not None:
        # a tie between identical reports planned before style counts were (no call, no stored text): its two
        # reports have equal counts, and the fit uses only their difference, which is 0 whatever they are
        zeros = dict.fromkeys(styled, 0.0)
        records = [replace(r, style_a=zeros, style_b=zeros) if r.style_a is None and r.source == "identical" else r
                   for r in records]  # fmt: skip
    if not all(r.style_a is not None and set(r.style_a) == set(records[0].style_a or ()) for r in records):
        records = [replace(r, style_a=None, style_b=None) for r in records]
    return _arrays(records, source)


_OPTIONAL_COLUMNS: tuple[tuple[str, str, Callable[[BattleRecord], bool]], ...] = (
    ("study_id", "one", lambda r: r.study_id is not None),
    ("length_a and length_b", "them", lambda r: r.length_a is not None),
    ("style_a and style_b", "them", lambda r: r.style_a is not None),
    ("weight", "one", lambda r: r.weight is not None),
)


def from_records(records: Iterable[tuple[int, Mapping[str, object]]], source: str | Path = "<battles>") -> Battles:
    """Validate (line, record) pairs of a battle file and build `Battles`; errors name `source` and the line.
    Optional columns are all-or-none here: a file where only some rows carry them is refused."""
    where = Path(source)
    parsed: list[BattleRecord] = []
    first_line = 0
    for line, rec in records:
        battle = BattleRecord.from_json(rec, where, line)
        if parsed:  # optional columns: on every battle or none
            for column, pronoun, has in _OPTIONAL_COLUMNS:
                if has(battle) != has(parsed[0]):
                    raise DataFormatError(
                        where,
                        f"{column} must be given on every battle or none (line {first_line} "
                        f"{'has' if has(parsed[0]) else 'lacks'} {pronoun})",
                        line=line,
                    )
            if battle.style_a is not None and set(battle.style_a) != set(parsed[0].style_a or ()):
                raise DataFormatError(
                    where, f"style counts {sorted(battle.style_a)} differ from line {first_line}'s "
                    f"{sorted(parsed[0].style_a or ())} (every battle needs the same style features)", line=line,
                )  # fmt: skip
        else:
            first_line = line
        parsed.append(battle)
    return _arrays(parsed, where)


def _arrays(rows: list[BattleRecord], source: str | Path) -> Battles:
    """Columnar `Battles` of validated records (study ids and lengths all-or-none)."""
    if not rows:
        raise DataFormatError(Path(source), "no battles found (expected rows with model_a, model_b, winner)")
    models = tuple(sorted({r.model_a for r in rows} | {r.model_b for r in rows}))
    index = {m: i for i, m in enumerate(models)}
    a = np.fromiter((index[r.model_a] for r in rows), dtype=np.int64, count=len(rows))
    b = np.fromiter((index[r.model_b] for r in rows), dtype=np.int64, count=len(rows))
    score = np.fromiter((r.score for r in rows), dtype=np.float64, count=len(rows))
    study_arr = study_ids = None
    if rows[0].study_id is not None:
        uniques, inverse = np.unique(
            np.array([r.study_id for r in rows], dtype=object).astype(str), return_inverse=True
        )
        study_arr, study_ids = inverse.astype(np.int64), tuple(str(s) for s in uniques)
    length_a = length_b = None
    if rows[0].length_a is not None:
        length_a = np.array([r.length_a for r in rows], dtype=np.float64)
        length_b = np.array([r.length_b for r in rows], dtype=np.float64)
    style_names = style_a = style_b = weight = None
    if rows[0].style_a is not None:
        style_names = tuple(sorted(rows[0].style_a))
        style_a = np.array([[r.style_a[k] for k in style_names] for r in rows], dtype=np.float64)  # type: ignore[index]
        style_b = np.array([[r.style_b[k] for k in style_names] for r in rows], dtype=np.float64)  # type: ignore[index]
    if rows[0].weight is not None:
        weight = np.array([r.weight for r in rows], dtype=np.float64)
    return Battles(models, a, b, score, study_arr, study_ids, length_a, length_b, style_names, style_a, style_b, weight)


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


def _json_array_records(path: Path) -> Iterable[tuple[int, Mapping[str, object]]]:
    """(position from 1, record) of a JSON file holding one array of battles (FastChat's clean-battle export)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFormatError(
            path, f"invalid JSON ({exc.msg}); expected an array of battle objects", line=exc.lineno
        ) from None
    if not isinstance(data, list):
        raise DataFormatError(path, f"expected an array of battle objects, got a JSON {type(data).__name__}")
    yield from enumerate(data, start=1)


def _starts_with(path: Path, char: str) -> bool:
    with path.open(encoding="utf-8") as fh:
        return fh.read(4096).lstrip().startswith(char)


def battle_records(path: str | Path) -> Iterable[tuple[int, Mapping[str, object]]]:
    """(line, record) of a `.csv` or `.jsonl` battle file (other suffixes: JSONL if the first character is `{`);
    a `.json` file holding one array gives (position in the array, record)."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(path, "battle file not found")
    suffix = path.suffix.lower()
    if suffix == ".json" and _starts_with(path, "["):
        return _json_array_records(path)
    if suffix not in (".csv", ".jsonl", ".json", ".ndjson"):
        with path.open(encoding="utf-8") as fh:
            suffix = ".jsonl" if fh.read(4096).lstrip().startswith("{") else ".csv"
    return _csv_records(path) if suffix == ".csv" else _jsonl_records(path)


def read_battles(path: str | Path) -> Battles:
    """Read a `.csv` or `.jsonl` battle file (other suffixes: JSONL if the first character is `{`)."""
    return from_records(battle_records(path), path)
