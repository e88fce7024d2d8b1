"""The one predictions reader: every hostile or mistaken file gets a message naming file:line, in every command
that reads predictions (validate, run, arena judge, submit), never a traceback and never a silent coercion."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from xraybench.cli import main
from xraybench.errors import DataFormatError
from xraybench.models.predictions import read_prediction_file
from xraybench.taskdata import load_task

TASK = "demo_findings"


def _good_rows() -> list[str]:
    return [json.dumps({"id": s.id, "prediction": s.reference}) for s in load_task(TASK).samples]


def _first_id() -> str:
    return load_task(TASK).samples[0].id


# name -> (file bytes, the line the message must name, words it must contain)
HOSTILE: dict[str, tuple[Callable[[], bytes], int, str]] = {
    "invalid_utf8": (lambda: ("\n".join(_good_rows()[:3]) + '\n{"id": "x", "prediction": "').encode() + b"\xff\xfe\"}\n",
                     4, "not UTF-8"),
    "deep_nesting": (lambda: ("\n".join(_good_rows()[:2]) + "\n" + "[" * 100_000 + "]" * 100_000 + "\n").encode(),
                     3, "nested too deeply"),
    "huge_int_id": (lambda: ("\n".join(_good_rows()[:2]) + '\n{"id": ' + "9" * 5000 + ', "prediction": "x"}\n').encode(),
                    3, "5000 digits"),
    "lone_surrogate": (lambda: ("\n".join(_good_rows()[:1]) + '\n{"id": "a", "prediction": "bad \\ud800 text"}\n').encode(),
                       2, "lone surrogate U+D800"),
    "null_id": (lambda: (_good_rows()[0] + '\n{"id": null, "prediction": "x"}\n').encode(), 2, "found null"),
    "bool_id": (lambda: (_good_rows()[0] + '\n{"id": true, "prediction": "x"}\n').encode(), 2, "boolean"),
    "nan_id": (lambda: (_good_rows()[0] + '\n{"id": NaN, "prediction": "x"}\n').encode(), 2, "number nan"),
    "float_id": (lambda: (_good_rows()[0] + '\n{"id": 1.5, "prediction": "x"}\n').encode(), 2, "number 1.5"),
    "list_id": (lambda: (_good_rows()[0] + '\n{"id": ["a"], "prediction": "x"}\n').encode(), 2, "JSON array"),
    "conflict": (lambda: ("\n".join(_good_rows()) + "\n" + json.dumps({"id": _first_id(), "prediction": "other"})
                          + "\n").encode(), 17, "first on line 1, a different text"),
    "other_field_names": (lambda: "".join(json.dumps({"id": s.id, "report": "x"}) + "\n"
                                          for s in load_task(TASK).samples).encode(), 1, 'rename "report"'),
    "one_line_wrong_keys": (lambda: b'{"id": "a", "report": "x"}\n', 1, 'found the field(s) "id", "report"'),
    "repeated_key": (lambda: (_good_rows()[0] + '\n{"id": "a", "prediction": "x", "prediction": "y"}\n').encode(),
                     2, "appears twice"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_reader_names_the_line_and_the_problem(tmp_path: Path, case: str) -> None:
    make, line, words = HOSTILE[case]
    path = tmp_path / f"{case}.jsonl"
    path.write_bytes(make())
    report = read_prediction_file(path)
    first = report.malformed[0]
    assert first.startswith(f"{path}:{line}: "), first
    assert words in first


WHOLE_FILE: dict[str, tuple[bytes, str]] = {
    "csv": (b"id,report\ndemo-test-000,No effusion.\n", "found CSV/TSV text (first line: 'id,report')"),
    "plain_text": (b"No effusion.\nNormal heart.\n", "found plain text"),
    "json_array": (b'[{"id": "a", "prediction": "x"}]\n', "found one JSON array"),
    "empty": (b"\n  \n", "the file is empty: no predictions"),
    "empty_object": (b"{}\n", "holds no predictions"),
    "non_utf8_rexrank": (b'{"s1": {"model_prediction": "x"},\n "s2": {"model_prediction": "\xff"}}', "not UTF-8"),
}


@pytest.mark.parametrize("case", sorted(WHOLE_FILE))
def test_whole_file_problems_say_what_was_found_and_expected(tmp_path: Path, case: str) -> None:
    data, words = WHOLE_FILE[case]
    path = tmp_path / f"{case}.txt"
    path.write_bytes(data)
    with pytest.raises(DataFormatError) as info:
        read_prediction_file(path)
    message = str(info.value)
    assert message.startswith(str(path)) and words in message
    if case not in ("non_utf8_rexrank",):
        assert '"id" (string or integer) and "prediction" (string)' in message  # the accepted fields
        assert '{"id": "s1", "prediction": ' in message  # and a one-line example


def test_rexrank_one_line_and_wrong_record_keys(tmp_path: Path) -> None:
    path = tmp_path / "rex.json"
    path.write_text(json.dumps({"s1": {"model_prediction": "x"}, "s2": {"report": "y"}}))
    report = read_prediction_file(path)
    assert report.format == "rexrank" and [r.id for r in report.rows] == ["s1"]
    assert report.malformed == [f'{path} (record s2): found "report"; expected {{"model_prediction": "report text"}}']


def test_ids_keep_their_integer_form_and_bom_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": 7, "prediction": "x"}\r\n{"id": "8", "prediction": "y"}\r\n')
    report = read_prediction_file(path)
    assert not report.problems and [(r.id, r.text, r.line) for r in report.rows] == [("7", "x", 1), ("8", "y", 2)]


def _submit_arena(tmp_path: Path) -> list[str]:
    """An arena of two models judged offline (metric:clinical) in tmp_path; returns the submit command."""
    samples = load_task(TASK).samples
    specs = []
    for name, make in (("a", lambda r: r), ("b", lambda r: r.split(".")[0] + ".")):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps({"id": s.id, "prediction": make(s.reference)}) + "\n" for s in samples))
        specs.append(f"{name}={path}")
    judge = ["arena", "judge", "--name", "demo", "--task", TASK, "--judge", "metric:clinical"]
    assert main([*judge, "--predictions", *specs]) == 0
    return ["submit", "--name", "new", "--arena", "demo", "--no-progress", "--skip-metrics", "meteor"]


@pytest.mark.parametrize(
    "case", ["invalid_utf8", "deep_nesting", "huge_int_id", "lone_surrogate", "conflict", "nan_id"]
)
def test_every_command_refuses_with_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    monkeypatch.chdir(tmp_path)
    make, line, words = HOSTILE[case]
    bad = tmp_path / f"{case}.jsonl"
    bad.write_bytes(make())
    submit = _submit_arena(tmp_path)
    good = tmp_path / "a.jsonl"
    capsys.readouterr()
    commands = {
        "validate": ["validate", "--model", f"predictions:{bad}", "--tasks", TASK],
        "run": ["run", "--model", f"predictions:{bad}", "--tasks", TASK, "--out", str(tmp_path / "run"), "--no-progress"],
        "arena judge": ["arena", "judge", "--name", "j", "--task", TASK, "--judge", "metric:clinical",
                        "--predictions", f"good={good}", f"bad={bad}"],
        "submit": [*submit, "--predictions", str(bad)],
    }  # fmt: skip
    for command, argv in commands.items():
        assert main(argv) == 1, command
        captured = capsys.readouterr()
        text = captured.out + captured.err
        assert f"{bad}:{line}: " in text and words in text, (command, text)
        assert "Traceback" not in text


def test_refused_run_leaves_nothing_that_blocks_the_corrected_rerun(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(_good_rows()[:-1]) + '\n{"id": 3.5, "prediction": "x"}\n')
    out = tmp_path / "run"
    argv = [
        "run",
        "--model",
        f"predictions:{bad}",
        "--tasks",
        TASK,
        "--out",
        str(out),
        "--no-progress",
        "--skip-metrics",
        "meteor",
    ]
    assert main(argv) == 1
    assert f"{bad}:16: " in capsys.readouterr().err
    assert not (out / "run.json").exists()
    fixed = tmp_path / "fixed.jsonl"  # the corrected file, under another name
    fixed.write_text("\n".join(_good_rows()) + "\n")
    argv[2] = f"predictions:{fixed}"
    assert main(argv) == 0
    assert json.loads((out / "results.json").read_text())["status"] == "complete"


def test_a_changed_file_under_the_same_name_is_not_resumed_as_the_old_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    preds = tmp_path / "preds.jsonl"
    preds.write_text("\n".join(_good_rows()) + "\n")
    out = tmp_path / "run"
    argv = ["run", "--model", f"predictions:{preds}", "--tasks", TASK, "--out", str(out), "--no-progress",
            "--skip-metrics", "meteor,cider,chexpert", "--bootstrap-rounds", "0"]  # fmt: skip
    assert main(argv) == 0
    assert main(argv) == 0  # the same file: resumed (nothing to do)
    capsys.readouterr()
    rows = [json.dumps({"id": s.id, "prediction": "Normal chest."}) for s in load_task(TASK).samples]
    preds.write_text("\n".join(rows) + "\n")  # corrected outputs, same file name
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "holds a run with a different configuration (model_fingerprint:" in err


def test_a_broken_first_row_does_not_hide_the_others(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text("{oops\n" + "\n".join(_good_rows()[:3]) + "\n")
    report = read_prediction_file(path)
    assert report.malformed[0].startswith(f"{path}:1: invalid JSON") and len(report.rows) == 3
    pretty = tmp_path / "rex.json"  # one document over many lines, broken: its own line is named
    pretty.write_text('{\n "s1": {\n  "model_prediction": "x"\n },\n "s2": \n}\n')
    with pytest.raises(DataFormatError, match=r"rex.json:6: invalid JSON"):
        read_prediction_file(pretty)
