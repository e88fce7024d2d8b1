"""`review create/link/serve` and ports: links name the port the study is served on; a busy port is a clear
error, not an OSError traceback."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from xraybench.cli import main
from xraybench.review.study import open_study


def _create(tmp_path: Path, runs: tuple[Path, Path], *extra: str) -> list[str]:
    argv = ["review", "create", "--name", "ports", "--runs", str(runs[0]), str(runs[1]), "--task", "demo_findings",
            "--cases", "2", "--reviewers", "ann", "--root", str(tmp_path / "rv"), *extra]  # fmt: skip
    assert main(argv) == 0
    return argv


def test_links_follow_port(tmp_path: Path, runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _create(tmp_path, runs, "--port", "9123")
    out = capsys.readouterr().out
    [token] = re.findall(r"^  ann: http://127\.0\.0\.1:9123/r/([A-Za-z0-9_-]+)$", out, re.M)
    assert open_study(tmp_path / "rv", "ports").reviewer_for_token(token) == "ann"
    assert "xraybench review serve --name ports" in out and "--port 9123" in out
    relink = ["review", "link", "--name", "ports", "--root", str(tmp_path / "rv"), "--reviewer", "ann"]
    assert main([*relink, "--port", "9123"]) == 0
    assert re.search(r"^ann: http://127\.0\.0\.1:9123/r/", capsys.readouterr().out, re.M)


def test_serve_on_a_busy_port_is_a_clear_error(
    tmp_path: Path, runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _create(tmp_path, runs)
    capsys.readouterr()
    with socket.socket() as holder:  # another process already listens there
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code = main(["review", "serve", "--name", "ports", "--root", str(tmp_path / "rv"), "--port", str(port)])
    assert code == 1
    err = capsys.readouterr().err
    assert f"cannot serve on 127.0.0.1:{port}: Address already in use" in err and "--port N" in err
