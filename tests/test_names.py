"""Names that become paths (arena, model, study, reviewer) pass one check: nothing is written outside the
folder the name is joined to (`arena judge --name ../../x` wrote its store outside `arenas/`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xraybench.cli import main
from xraybench.errors import XrayBenchError
from xraybench.names import check_name, name_path
from xraybench.review.study import study_file
from xraybench.taskdata import load_task

TASK = "demo_findings"
BAD = ["", ".", "..", "../../x", "a/b", "a\\b", "/abs", "-opt", ".hidden", "x" * 65, "a b", "a\nb", "ok\n", "a\x00b",
       "arena:1", "é"]  # fmt: skip


@pytest.mark.parametrize("name", BAD)
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(XrayBenchError, match="is not allowed: use 1-64 characters"):
        check_name(name, "arena name")


def test_safe_names_and_paths() -> None:
    assert check_name("Qwen2.5-VL_7b+r1") == "Qwen2.5-VL_7b+r1"
    assert name_path("arenas", "demo", "judgments.sqlite") == Path("arenas/demo/judgments.sqlite")
    for not_a_name in (None, 5, ["a"]):
        with pytest.raises(XrayBenchError, match="not allowed"):
            check_name(not_a_name)
    with pytest.raises(XrayBenchError, match="would leave"):
        name_path("arenas", "demo", "../../etc")
    with pytest.raises(XrayBenchError, match="study name '../up'"):
        study_file("studies", "../up")


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_cli_refuses_names_that_would_leave_arenas_and_leaderboards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    samples = load_task(TASK).samples
    specs = []
    for name in ("m1", "m2"):
        path = work / f"{name}.jsonl"
        path.write_text("".join(json.dumps({"id": s.id, "prediction": s.reference}) + "\n" for s in samples))
        specs.append(f"{name}={path}")
    before = _files(tmp_path)
    judge = ["arena", "judge", "--task", TASK, "--judge", "metric:clinical", "--predictions", *specs]
    assert main([*judge, "--name", "../../x"]) == 1
    assert "arena name '../../x' is not allowed" in capsys.readouterr().err
    submit = ["submit", "--name", "m3", "--predictions", specs[0].split("=", 1)[1], "--no-progress"]
    assert main([*submit, "--arena", "../../x"]) == 1
    assert "arena name '../../x' is not allowed" in capsys.readouterr().err
    assert main([*submit, "--arena", "x", "--name", "../../m"]) == 1
    assert "model name '../../m' is not allowed" in capsys.readouterr().err
    assert main(["arena", "leaderboard", "--name", "../../x", "--store", str(work / "s.sqlite")]) == 1
    assert _files(tmp_path) == before  # nothing written anywhere, least of all in tmp_path/x
    assert main([*judge, "--name", "fine"]) == 0  # the same command with a plain name works
    assert (work / "arenas" / "fine" / "judgments.sqlite").is_file()
