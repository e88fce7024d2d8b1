from __future__ import annotations

import json
from pathlib import Path

import pytest

from xraybench.errors import DataFormatError, XrayBenchError
from xraybench.models.predictions import PredictionsFile, read_prediction_file, validate_rows
from xraybench.records import Sample


def _sample(i: str, task: str = "t") -> Sample:
    return Sample(i, task, "d", "test", "p", "ref")


def test_jsonl_lookup_and_missing_ids(tmp_path: Path) -> None:
    f = tmp_path / "p.jsonl"
    f.write_text('{"id": "a", "prediction": "A"}\n\n{"id": "b", "prediction": "B", "task": "t"}\n')
    model = PredictionsFile(str(f))
    gens = model.generate([_sample("a"), _sample("b"), _sample("c")], ["", "", ""])
    assert [g.text for g in gens] == ["A", "B", ""]
    assert gens[2].error is not None and "'c'" in gens[2].error


def test_rexrank_json(tmp_path: Path) -> None:
    f = tmp_path / "rex.json"
    f.write_text(json.dumps({"s1": {"model_prediction": "no effusion"}, "s2": {"model_prediction": "x"}}))
    assert [g.text for g in PredictionsFile(str(f)).generate([_sample("s2")], [""])] == ["x"]


def test_malformed_lines_are_all_reported_with_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "p.jsonl"
    f.write_text('{"id": "a", "prediction": "A"}\n{"id": "b"}\nnot json\n{"id": "a", "prediction": "again"}\n')
    report = read_prediction_file(f)
    assert report.malformed[0].startswith(f'{f}:2: found the field(s) "id"; expected an object with "id"')
    assert report.malformed[1].startswith(f"{f}:3: invalid JSON")
    assert report.malformed[2].startswith(f"{f}:4: a second prediction for id 'a' (first on line 1")
    with pytest.raises(XrayBenchError, match=r"p.jsonl:2: .* \(and 2 more\)"):
        PredictionsFile(str(f))
    res = validate_rows(report.rows, "t", [_sample("a"), _sample("z")])
    assert res.missing == ["z"] and res.covered == 1 and not res.ok


def test_duplicate_id_refused(tmp_path: Path) -> None:
    f = tmp_path / "p.jsonl"
    f.write_text('{"id": "a", "prediction": "A"}\n{"id": "a", "prediction": "B"}\n')
    with pytest.raises(
        XrayBenchError, match=r"p.jsonl:2: a second prediction for id 'a' \(first on line 1, a different text\)"
    ):
        PredictionsFile(str(f))


def test_broken_rexrank_json_names_line(tmp_path: Path) -> None:
    f = tmp_path / "rex.json"
    f.write_text('{"s1": {"model_prediction": "x"},\n "s2": }')
    with pytest.raises(DataFormatError, match=r"rex.json:2: invalid JSON"):
        read_prediction_file(f)
