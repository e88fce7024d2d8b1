"""Shared CSV/JSON readers: quirks accepted, errors naming file and line."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from xraybench.datasets.common import clean_text, field, join_answers, load_json, normalise_split, read_csv
from xraybench.errors import DataFormatError


def test_read_csv_strips_keys_and_reports_start_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('\ufeff id , text \n1,"two\nlines"\n\n2, plain \n', encoding="utf-8")
    assert list(read_csv(path, required=("id", "text"))) == [
        (2, {"id": "1", "text": "two\nlines"}),
        (5, {"id": "2", "text": "plain"}),
    ]


def test_read_csv_gzip_and_trailing_empty_columns(tmp_path: Path) -> None:
    path = tmp_path / "a.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("a,b,\n1,2,,,\n")
    assert list(read_csv(path)) == [(2, {"a": "1", "b": "2"})]


def test_read_csv_errors(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(DataFormatError, match=r"a.csv:3: row has 3 fields but the header names 2"):
        list(read_csv(path))
    path.write_text("a,b\n1\n")
    with pytest.raises(DataFormatError, match=r"a.csv:2: row has 1 fields, expected 2"):
        list(read_csv(path, required=("a", "b")))
    path.write_text("")
    with pytest.raises(DataFormatError, match=r"a.csv:1: empty file"):
        list(read_csv(path))
    path.write_bytes(b"a,b\n\xff\xfe,1\n")
    with pytest.raises(DataFormatError, match=r"a.csv:2: not valid UTF-8: byte 0xff at column 1"):
        list(read_csv(path))


def test_load_json_error_line(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('[\n  {"a": 1},\n  {"a": }\n]')
    with pytest.raises(DataFormatError, match=r"x.json:3: invalid JSON"):
        load_json(path)


def test_field_types(tmp_path: Path) -> None:
    record = {"n": True, "s": "x"}
    with pytest.raises(DataFormatError, match=r"\(record #4\): key 'n' should be int, got bool"):
        field(record, "n", tmp_path, "#4", int)
    assert field(record, "s", tmp_path, "#4") == "x"


def test_small_helpers() -> None:
    assert clean_text("  a\n  b\t c ") == "a b c" and clean_text(None) == ""
    assert join_answers(["b", " a ", "", "a"]) == "a|b" and join_answers(" x ") == "x"
    assert normalise_split("Validation", {"validation": "validate"}) == "validate"
    with pytest.raises(DataFormatError, match="unknown split 'dev'"):
        normalise_split("dev", {"test": "test"})
