"""`review serve` takes the server's limits as options (defaults unchanged) and the running server obeys them:
a real `xraybench review serve` process, real HTTP."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_review_server import Client, csrf_of, headers  # the same HTTP client as the server tests

from xraybench.cli import main
from xraybench.errors import XrayBenchError
from xraybench.review import server as review_server
from xraybench.review.server import LIMITS, ServeConfig, check_limits
from xraybench.review.study import CreateConfig, create_study

DEFAULTS = {
    "workers": 16, "max_pending": 1024, "header_timeout_s": 10.0, "io_timeout_s": 10.0, "request_timeout_s": 30.0,
    "max_header_bytes": 65536, "max_body_bytes": 65536, "max_comment_chars": 10_000,
}  # fmt: skip


def test_the_options_default_to_the_limits_the_server_always_had(capsys: pytest.CaptureFixture[str]) -> None:
    assert ServeConfig(name="s").limits() == DEFAULTS
    # the server's own keyword defaults are the same constants (one home): a server made without options
    fields = {f.name: f.default for f in dataclasses.fields(ServeConfig) if f.name in LIMITS}
    assert fields == DEFAULTS
    assert (review_server.MAX_BODY, review_server.MAX_COMMENT, review_server.WORKERS) == (65536, 10_000, 16)
    with pytest.raises(SystemExit):
        main(["review", "serve", "--help"])
    help_text = capsys.readouterr().out
    for name in LIMITS:
        assert f"--{name.replace('_', '-')}" in help_text
    doc = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    for name in LIMITS:
        assert f"`--{name.replace('_', '-')}`" in doc, f"docs/cli.md does not list --{name.replace('_', '-')}"


def test_limits_the_server_cannot_work_with_are_refused_naming_the_option(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(XrayBenchError, match="--workers must be at least 1, got 0"):
        check_limits(workers=0)
    with pytest.raises(XrayBenchError, match="--io-timeout-s must be positive"):
        ServeConfig(name="s", io_timeout_s=0)
    argv = ["review", "serve", "--name", "s", "--root", str(tmp_path), "--max-body-bytes", "4000"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "--max-body-bytes 4000 cannot carry a comment of --max-comment-chars 10000" in err and "31024" in err
    assert "Traceback" not in err
    assert main([*argv, "--max-comment-chars", "900"]) == 1  # the limits fit now: the missing study is the error
    assert "no study at" in capsys.readouterr().err


class RemoteClient(Client):
    """The server tests' client, for a server in another process."""

    def __init__(self, origin: str):
        self.origin = origin


@pytest.fixture
def serve(tmp_path: Path, runs: tuple[Path, Path]) -> Iterator[tuple[Client, str]]:
    """A real `xraybench review serve` process with tightened limits; yields a client and a reviewer's token."""
    cfg = CreateConfig(
        name="lim", task="demo_findings", cases=2, reviewers=["a"], seed=0, runs=[str(r) for r in runs],
        root=str(tmp_path / "reviews"),
    )  # fmt: skip
    _, tokens = create_study(cfg)
    argv = [sys.executable, "-m", "xraybench", "review", "serve", "--name", "lim", "--root", str(tmp_path / "reviews"),
            "--port", "0", "--quiet", "--max-comment-chars", "500", "--max-body-bytes", "4096",
            "--max-header-bytes", "4096", "--header-timeout-s", "1"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "serving study 'lim' at http://127.0.0.1:PORT/r/<token> ..."
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found, (line, proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        yield RemoteClient(f"http://127.0.0.1:{found.group(1)}"), tokens["a"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_running_server_obeys_the_options(serve: tuple[Client, str]) -> None:
    client, token = serve
    base = f"/r/{token}"
    status, _, page = client.get(base)
    assert status == 200 and b'maxlength="500"' in page  # the comment box stops where the server does
    csrf = csrf_of(page)

    def post(body: object) -> tuple[int, dict]:
        return client.post(f"{base}/api/answer", body, headers(csrf))

    status, answer = post({"position": 0, "comment": "x" * 500})
    assert status == 200 and answer["saved"] is True
    status, answer = post({"position": 0, "comment": "x" * 501})
    assert status == 400 and "at most 500 characters" in answer["error"] and "--max-comment-chars" in answer["error"]
    status, answer = post(b'{"position": 0, "comment": "' + b"y" * 4100 + b'"}')
    assert status == 400 and "1..4096 bytes" in answer["error"] and "--max-body-bytes" in answer["error"]

    host, port = client.origin.removeprefix("http://").split(":")
    # a POST whose body arrives with its headers in one packet: only the headers count against
    # --max-header-bytes (4096 here; headers ~300 bytes, body 4,000: the gate used to drop it as "headers too large")
    body = json.dumps({"position": 1, "dimension": "overall", "choice": "tie", "pad": "p" * 3930}).encode()
    assert 3900 < len(body) <= 4096
    head = (f"POST {base}/api/answer HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"X-CSRF-Token: {csrf}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()  # fmt: skip
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + body)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.0 200") and b'"saved": true' in reply, reply[:300]
    # headers over --max-header-bytes: the connection is dropped unanswered (the default allows 64 KiB)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET {base} HTTP/1.1\r\nHost: {host}\r\nX-Pad: {'p' * 5000}\r\n\r\n".encode())
        assert sock.recv(1024) == b""
    # a connection that sends no headers is closed after --header-timeout-s 1 (the default waits 10 s)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        start = time.monotonic()
        assert sock.recv(1024) == b""
        assert time.monotonic() - start < 6
    assert client.get(base)[0] == 200  # and the server serves on
