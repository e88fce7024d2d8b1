"""The review server over HTTP: tokens, isolation between reviewers, CSRF checks, images, stored answers."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xraybench.review.server import ReviewServer, make_server
from xraybench.review.store import ReviewStore
from xraybench.review.study import CreateConfig, create_study, open_study

TOKEN_PATTERN_LEN = 43


class Client:
    def __init__(self, server: ReviewServer):
        host, port = server.server_address[:2]
        self.origin = f"http://{host}:{port}"

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        try:
            with urllib.request.urlopen(self.origin + path, timeout=10) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def post(self, path: str, body: Any, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.origin + path, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture
def study(tmp_path: Path, runs: tuple[Path, Path]) -> Iterator[tuple[ReviewStore, dict[str, str], Client]]:
    cfg = CreateConfig(
        name="web",
        task="demo_findings",
        cases=4,
        reviewers=["a", "b"],
        overlap="1",
        seed=0,
        runs=[str(r) for r in runs],
        root=str(tmp_path / "reviews"),
    )
    _, tokens = create_study(cfg)
    store = open_study(tmp_path / "reviews", "web")
    server = make_server(store, port=0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield store, tokens, Client(server)
    server.shutdown()
    server.server_close()


def csrf_of(page: bytes) -> str:
    text = page.decode()
    start = text.index('name="csrf-token" content="') + len('name="csrf-token" content="')
    return text[start : text.index('"', start)]


def headers(csrf: str, origin: str | None = None) -> dict[str, str]:
    out = {"Content-Type": "application/json", "X-CSRF-Token": csrf}
    if origin:
        out["Origin"] = origin
    return out


def test_unknown_tokens_and_paths_are_404(study: tuple[ReviewStore, dict[str, str], Client]) -> None:
    _, tokens, client = study
    for path in (
        "/",
        "/r/" + "x" * TOKEN_PATTERN_LEN,
        "/r/short",
        "/r/" + tokens["a"] + "/api/nothing",
        "/r/" + "y" * TOKEN_PATTERN_LEN + "/api/case/0",
        "/r/" + "y" * TOKEN_PATTERN_LEN + "/image/0",
    ):
        assert client.get(path)[0] == 404, path


def test_page_is_locked_down(study: tuple[ReviewStore, dict[str, str], Client]) -> None:
    _, tokens, client = study
    status, hdrs, body = client.get(f"/r/{tokens['a']}")
    assert status == 200 and hdrs["Content-Type"].startswith("text/html")
    assert (
        "script-src 'self'" in hdrs["Content-Security-Policy"]
        and "unsafe-inline" not in hdrs["Content-Security-Policy"]
    )
    assert hdrs["Referrer-Policy"] == "no-referrer" and hdrs["X-Content-Type-Options"] == "nosniff"
    assert b'<script src="/static/page.js"' in body and b"onerror" not in body
    assert b"Keyboard shortcuts" in body and len(csrf_of(body)) == 64
    assert client.get("/static/page.js")[0] == 200 and client.get("/static/page.css")[0] == 200


def test_a_reviewer_reaches_only_their_own_cases(study: tuple[ReviewStore, dict[str, str], Client]) -> None:
    store, tokens, client = study
    mine = {r: [a.case_id for a in store.assignments(r)] for r in ("a", "b")}
    assert mine["a"] and mine["b"] and not set(mine["a"]) & set(mine["b"])
    for reviewer in ("a", "b"):
        state = json.loads(client.get(f"/r/{tokens[reviewer]}/api/state")[2])
        assert state["total"] == len(mine[reviewer]) and state["reviewer"] == reviewer
        seen = [
            json.loads(client.get(f"/r/{tokens[reviewer]}/api/case/{i}")[2])["case_id"] for i in range(state["total"])
        ]
        assert seen == mine[reviewer]
        assert client.get(f"/r/{tokens[reviewer]}/api/case/{state['total']}")[0] == 404
        assert client.get(f"/r/{tokens[reviewer]}/image/{state['total']}")[0] == 404
    status, hdrs, png = client.get(f"/r/{tokens['a']}/image/0")
    assert status == 200 and hdrs["Content-Type"] == "image/png" and png.startswith(b"\x89PNG")


def test_answers_are_stored_and_private(tmp_path: Path, runs: tuple[Path, Path]) -> None:
    cfg = CreateConfig(
        name="both",
        task="demo_findings",
        cases=2,
        reviewers=["a", "b"],
        seed=0,
        runs=[str(r) for r in runs],
        root=str(tmp_path / "reviews"),
    )
    _, tokens = create_study(cfg)
    store = open_study(tmp_path / "reviews", "both")
    server = make_server(store, port=0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = Client(server)
        csrf = csrf_of(client.get(f"/r/{tokens['a']}")[2])
        case_a = json.loads(client.get(f"/r/{tokens['a']}/api/case/0")[2])
        status, reply = client.post(
            f"/r/{tokens['a']}/api/answer", {"position": 0, "dimension": "overall", "choice": "left"}, headers(csrf)
        )
        assert status == 200 and reply == {"saved": True, "complete": 0, "total": 2, "finished": False}
        client.post(f"/r/{tokens['a']}/api/answer", {"position": 0, "comment": "a's private note"}, headers(csrf))
        client.post(
            f"/r/{tokens['a']}/api/answer", {"position": 0, "dimension": "overall", "choice": "tie"}, headers(csrf)
        )
        [answer] = store.answers("a")
        assert (answer.case_id, answer.dimension, answer.choice) == (case_a["case_id"], "overall", "tie")
        assert answer.updated_at >= answer.created_at
        # b has the same case (overlap all) but sees none of a's answers or comment
        position_b = [x.case_id for x in store.assignments("b")].index(case_a["case_id"])
        case_b = json.loads(client.get(f"/r/{tokens['b']}/api/case/{position_b}")[2])
        assert case_b["answers"] == {} and case_b["comment"] == ""
        assert json.loads(client.get(f"/r/{tokens['a']}/api/case/0")[2])["comment"] == "a's private note"
        # a's CSRF token does not work for b
        assert (
            client.post(
                f"/r/{tokens['b']}/api/answer", {"position": 0, "dimension": "overall", "choice": "left"}, headers(csrf)
            )[0]
            == 403
        )
        assert store.answers("b") == []
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("body", "hdrs", "status"),
    [
        ({"position": 0, "dimension": "overall", "choice": "left"}, {"Content-Type": "application/json"}, 403),
        ({"position": 0, "dimension": "overall", "choice": "left"}, "text/plain", 403),
        ({"position": 0, "dimension": "overall", "choice": "left"}, "evil-origin", 403),
        ({"position": 0, "dimension": "vibes", "choice": "left"}, None, 400),
        ({"position": 0, "dimension": "overall", "choice": "A"}, None, 400),
        ({"position": "0", "dimension": "overall", "choice": "left"}, None, 400),
        ({"position": 99, "dimension": "overall", "choice": "left"}, None, 404),
        (b"not json", None, 400),
    ],
)
def test_bad_or_forged_posts_are_refused(
    study: tuple[ReviewStore, dict[str, str], Client], body: Any, hdrs: Any, status: int
) -> None:
    store, tokens, client = study
    csrf = csrf_of(client.get(f"/r/{tokens['a']}")[2])
    if hdrs is None:
        sent = headers(csrf)
    elif hdrs == "text/plain":
        sent = {**headers(csrf), "Content-Type": "text/plain"}
    elif hdrs == "evil-origin":
        sent = headers(csrf, origin="http://evil.example")
    else:
        sent = hdrs
    assert client.post(f"/r/{tokens['a']}/api/answer", body, sent)[0] == status
    assert store.answers() == []


def test_request_log_never_shows_tokens(
    study: tuple[ReviewStore, dict[str, str], Client], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    store, tokens, _ = study
    server = make_server(store, port=0, quiet=False)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        Client(server).get(f"/r/{tokens['a']}/api/state")
    finally:
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err
    assert "/r/<token>/api/state" in err and tokens["a"] not in err
