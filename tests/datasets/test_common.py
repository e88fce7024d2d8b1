"""Shared CSV/JSON readers: quirks accepted, errors naming file and line."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from xraybench.datasets.common import (
    clean_text,
    field,
    join_answers,
    load_json,
    local_path,
    normalise_split,
    read_csv,
    read_jsonl,
    read_lines,
    strip_keys,
)
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


# --- hostile files: every failure is a DataFormatError naming the file (issue 19) -------------------


def test_json_integer_over_python_digit_limit(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('[{"idx": ' + "9" * 5000 + "}]")
    with pytest.raises(DataFormatError, match=r"x.json: unreadable JSON: ValueError: Exceeds the limit"):
        load_json(path)


def test_json_nesting_past_the_stack_and_past_the_depth_bound(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(DataFormatError, match=r"x.json: unreadable JSON: nested too deeply to read"):
        load_json(path)
    path.write_text('[{"a": ' + "[" * 100 + "]" * 100 + "}]")  # parses, but no layout nests like this
    with pytest.raises(DataFormatError, match=r"x.json: values nested more than 64 levels deep \(at \[0\]\['a'\]"):
        load_json(path)
    path.write_text('{"a": ' + "[" * 60 + "1" + "]" * 60 + "}")  # deep but within the bound
    assert load_json(path)["a"][0][0][0]


def test_lone_surrogate_escape_is_refused_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"test": [{"id": "a", "report": "ok \\ud800 no"}]}')
    with pytest.raises(DataFormatError, match=r"lone surrogate .* \(at \['test'\]\[0\]\['report'\]\)"):
        load_json(path)
    path.write_text('{"\\udfff": 1}')
    with pytest.raises(DataFormatError, match=r"lone surrogate .* \(at \.<key>\)"):
        load_json(path)
    path.write_text('{"a": "smile \\ud83d\\ude00"}')  # a surrogate pair is one character: fine
    assert load_json(path) == {"a": "smile \U0001f600"}


def test_bytes_that_are_not_utf8_name_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b'[\n  {"a": 1},\n  {"a": "\xff"}\n]')
    with pytest.raises(DataFormatError, match=r"x.json:3: not valid UTF-8: byte 0xff at column 10"):
        load_json(path)
    lines = tmp_path / "x.jsonl"
    lines.write_bytes(b'{"a": 1}\n\n{"a": "\xc3"}\n')
    with pytest.raises(DataFormatError, match=r"x.jsonl:3: not valid UTF-8: byte 0xc3"):
        list(read_jsonl(lines))
    listing = tmp_path / "list.txt"
    listing.write_bytes(b"00000001_000.png\n0000\xfe0002_000.png\n")
    with pytest.raises(DataFormatError, match=r"list.txt:2: not valid UTF-8: byte 0xfe at column 5"):
        list(read_lines(listing))


def test_jsonl_lines_are_checked_like_json_files(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{"a": ' + "1" * 4400 + "}\n")
    with pytest.raises(DataFormatError, match=r"x.jsonl:2: unreadable JSON line: ValueError"):
        list(read_jsonl(path))
    path.write_text('{"a": 1}\n{"a": "\\udc80"}\n')
    with pytest.raises(DataFormatError, match=r"x.jsonl:2: .*lone surrogate"):
        list(read_jsonl(path))


def test_broken_gzip_and_nul_paths(tmp_path: Path) -> None:
    path = tmp_path / "a.csv.gz"
    packed = gzip.compress(b"a,b\n" + b"".join(b"%d,%d\n" % (i, i * 7919 % 10007) for i in range(5000)))
    path.write_bytes(packed[: len(packed) // 2])  # a download cut short
    with pytest.raises(DataFormatError, match=r"a.csv.gz:\d+: unreadable file: EOFError"):
        list(read_csv(path))
    path.write_bytes(b"\x1f\x8b\x08\x00garbage-not-deflate")
    with pytest.raises(DataFormatError, match=r"a.csv.gz:1: unreadable file"):
        list(read_csv(path))
    with pytest.raises(DataFormatError, match=r"src.json \(record #3\): unusable file name 'a\\x00b.png'"):
        local_path(tmp_path, "a\x00b.png", tmp_path / "src.json", record="#3")
    assert local_path(tmp_path, "ok.png", tmp_path / "src.json") == str(tmp_path / "ok.png")


def test_csv_lines_split_as_in_text_mode(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b'id,text\r\n1,"two\r\nlines"\r\n2,old mac\r3,end\n')
    assert list(read_csv(path)) == [
        (2, {"id": "1", "text": "two\r\nlines"}),
        (4, {"id": "2", "text": "old mac"}),
        (5, {"id": "3", "text": "end"}),
    ]


def test_keys_that_collide_once_stripped_are_refused(tmp_path: Path) -> None:
    assert strip_keys({" id ": 1, "report": "x"}, tmp_path, "#0") == {"id": 1, "report": "x"}
    with pytest.raises(DataFormatError, match=r"\(record #2\): keys 'report' and 'report ' are the same once stripped"):
        strip_keys({"report": "a", "report ": "b"}, tmp_path, "#2")
