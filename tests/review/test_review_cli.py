"""`xraybench review` from the command line: create prints one working link per reviewer, link reissues one,
results and export run on a study with answers, and the package stays light and layered."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from xraybench.cli import main
from xraybench.review.server import is_loopback
from xraybench.review.study import open_study


def create_argv(tmp_path: Path, runs: tuple[Path, Path], reviewers: str) -> list[str]:
    """`review create` for the study "cli" over the two runs' first 3 cases."""
    return [
        "review", "create", "--name", "cli", "--runs", str(runs[0]), str(runs[1]), "--task", "demo_findings",
        "--cases", "3", "--reviewers", reviewers, "--root", str(tmp_path / "rv"),
    ]  # fmt: skip


def create(tmp_path: Path, runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    code = main([*create_argv(tmp_path, runs, "ann,bob"), "--url", "http://127.0.0.1:9000"])
    assert code == 0
    out = capsys.readouterr().out
    return dict(re.findall(r"^  (\w+): http://127\.0\.0\.1:9000/r/([A-Za-z0-9_-]+)$", out, re.M))


def test_create_prints_working_links_and_link_reissues(
    tmp_path: Path, runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    links = create(tmp_path, runs, capsys)
    store = open_study(tmp_path / "rv", "cli")
    assert set(links) == {"ann", "bob"} and all(store.reviewer_for_token(t) == r for r, t in links.items())
    assert main(["review", "link", "--name", "cli", "--root", str(tmp_path / "rv"), "--reviewer", "bob"]) == 0
    [new] = re.findall(r"/r/([A-Za-z0-9_-]+)", capsys.readouterr().out)
    assert store.reviewer_for_token(new) == "bob" and store.reviewer_for_token(links["bob"]) is None
    assert main(create_argv(tmp_path, runs, "x")) == 1
    assert "already exists" in capsys.readouterr().err


def test_results_and_export(tmp_path: Path, runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    create(tmp_path, runs, capsys)
    store = open_study(tmp_path / "rv", "cli")
    for a in store.assignments():
        for dim in ("relevance", "correctness", "completeness", "grounded", "overall"):
            store.save_answer(a.reviewer, a.case_id, dim, "left" if a.left_slot == "A" else "right")  # A always
    store.save_comment("ann", store.assignments("ann")[0].case_id, 'says "hi", with a comma')
    assert main(["review", "results", "--name", "cli", "--root", str(tmp_path / "rv"), "--rounds", "100"]) == 0
    out = capsys.readouterr().out
    assert "model A: **model-alpha**" in out.replace("Model A", "model A")
    assert "| Overall preference | 1.000 [1.000, 1.000] | 0.000 [0.000, 0.000] |" in out
    folder = tmp_path / "rv" / "cli" / "results"
    assert {p.name for p in folder.iterdir()} >= {"results.md", "results.csv", "results.json", "results.png"}
    assert json.loads((folder / "results.json").read_text())["schema_version"] == 1  # every JSON we write (issue 16)
    target = tmp_path / "raw.csv"
    assert main(["review", "export", "--name", "cli", "--root", str(tmp_path / "rv"), "--out", str(target)]) == 0
    with target.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * 3 * 5 + 1
    assert {r["winner_model"] for r in rows if r["dimension"] != "comment"} == {"model-alpha"}
    assert [r["comment"] for r in rows if r["dimension"] == "comment"] == ['says "hi", with a comma']


def test_missing_study_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", "results", "--name", "nope", "--root", str(tmp_path)]) == 1
    assert "no study" in capsys.readouterr().err


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def test_review_modules_stay_light_and_layered() -> None:
    code = (
        "import sys, xraybench.review.server, xraybench.review.export, xraybench.cli.review\n"
        "print(' '.join(m for m in ('torch', 'transformers', 'litellm', 'arena', 'medix_train', 'matplotlib') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
