"""The review server under a connection flood (real sockets): idle, half-sent and dripping connections are
timed out and bounded, and a reviewer's request is answered within 2 s while the flood runs and right after it
is released at once (the threaded server gave each connection a thread without a timeout: 2,000 held
connections left it unresponsive for about a minute)."""

from __future__ import annotations

import contextlib
import json
import resource
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from xraybench.review.server import ReviewServer, make_server
from xraybench.review.study import CreateConfig, create_study, open_study

FLOOD = 1500
DEADLINE_S = 2.0  # a functional limit: a reviewer clicking must get an answer


@pytest.fixture
def served(tmp_path: Path, runs: tuple[Path, Path]) -> Iterator[tuple[ReviewServer, str]]:
    cfg = CreateConfig(
        name="flood", task="demo_findings", cases=2, reviewers=["a"], seed=0, runs=[str(r) for r in runs],
        root=str(tmp_path / "reviews"),
    )  # fmt: skip
    _, tokens = create_study(cfg)
    server = make_server(open_study(tmp_path / "reviews", "flood"), port=0, quiet=True, max_pending=256,
                         header_timeout_s=3.0, io_timeout_s=2.0, request_timeout_s=4.0)  # fmt: skip
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, tokens["a"]
    server.shutdown()
    server.server_close()


def _raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"the flood needs {need} open files; this machine allows {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def _timed_get(server: ReviewServer, path: str) -> tuple[float, int, bytes]:
    host, port = server.server_address[:2]
    start = time.monotonic()
    with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=10) as resp:
        body = resp.read()
        return time.monotonic() - start, resp.status, body


def _connect(server: ReviewServer, first_bytes: bytes) -> socket.socket:
    sock = socket.create_connection(server.server_address[:2], timeout=10)
    if first_bytes:
        sock.sendall(first_bytes)
    return sock


def test_reviewer_is_answered_within_2s_during_and_after_a_flood(served: tuple[ReviewServer, str]) -> None:
    server, token = served
    _raise_fd_limit(2 * FLOOD + 512)
    kinds = [b"", b"GET /r/", b"POST /r/x/api/answer HTTP/1.1\r\nContent-Length: 60000\r\n"]
    flood: list[socket.socket] = []
    try:
        for i in range(FLOOD):
            with contextlib.suppress(OSError):  # connections the server dropped to make room may refuse
                flood.append(_connect(server, kinds[i % len(kinds)]))
        for _ in range(3):
            elapsed, status, body = _timed_get(server, f"/r/{token}/api/state")
            assert status == 200 and json.loads(body)["total"] == 2
            assert elapsed < DEADLINE_S
    finally:
        for sock in flood:  # released at once
            sock.close()
    elapsed, status, _ = _timed_get(server, f"/r/{token}/api/state")
    assert status == 200 and elapsed < DEADLINE_S


def test_idle_and_dripping_connections_are_closed_by_the_server(served: tuple[ReviewServer, str]) -> None:
    server, token = served
    idle = _connect(server, b"")
    head_drip = _connect(server, b"GET /r/")
    body = json.dumps({"position": 0, "dimension": "overall", "choice": "left"}).encode()
    body_drip = _connect(
        server,
        f"POST /r/{token}/api/answer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"X-CSRF-Token: {server.csrf_token('a')}\r\nContent-Length: {len(body)}\r\n\r\n".encode(),
    )
    start = time.monotonic()
    closed: dict[str, float] = {}

    def drip(name: str, sock: socket.socket, data: bytes) -> None:
        """One byte per second, until the server hangs up (recv gives b'' or the send fails)."""
        sock.settimeout(1.0)
        for i in range(60):
            try:
                if data and i < len(data):
                    sock.sendall(data[i : i + 1])
                if sock.recv(4096) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        closed[name] = time.monotonic() - start

    threads = [
        threading.Thread(target=drip, args=("idle", idle, b"")),
        threading.Thread(target=drip, args=("head_drip", head_drip, b"a" * 60)),
        threading.Thread(target=drip, args=("body_drip", body_drip, body)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    for sock in (idle, head_drip, body_drip):
        sock.close()
    # header_timeout_s=3 for the first two, request_timeout_s=4 for the body drip (60 s of drip otherwise)
    assert set(closed) == {"idle", "head_drip", "body_drip"}
    assert max(closed.values()) < 20, closed
    assert closed["body_drip"] >= 3.5  # a valid request: its body was read until the deadline cut it
    assert server.store.answers() == []  # the dripped answer was never taken as complete
