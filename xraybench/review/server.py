"""The reviewer page and its JSON API, served by the standard library (no framework, no CDN, works offline).

Every request names a reviewer by the secret token in its path (`/r/TOKEN/...`); an unknown token is a 404,
and a token reaches only its own cases, images and answers. Writes need a same-origin JSON POST carrying the
page's CSRF token (an HMAC of the reviewer under the study's secret), so another site cannot post answers
even to a reviewer who has the page open. All case text reaches the page as JSON and is inserted with
`textContent`, and a strict Content-Security-Policy forbids inline scripts, so a hostile report cannot run
code. Tokens never reach the log (the request line is redacted) or other sites (`Referrer-Policy`).

Connections are bounded so that a flood of idle or dripping ones cannot starve reviewers: one selector
thread (`_HeaderGate`) holds every connection until its request headers have arrived (at most
`header_timeout_s`, at most `max_pending` connections: the oldest is dropped for a new one), and only then
hands it to one of `workers` threads, where every read and write has `io_timeout_s` and the whole request
`request_timeout_s`. A held connection costs a selector entry, not a thread (the threaded server gave each one
a thread with no timeout: 2,000 half-open connections left it unresponsive for a minute).

The limits (`ServerLimits`; the constants below are their defaults) are `review serve` options (`ServeConfig`) and
`make_server` keywords, checked together when a `ServerLimits` is made.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import hmac
import html
import io
import json
import logging
import re
import selectors
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from xraybench.config import option
from xraybench.errors import XrayBenchError
from xraybench.review import DEFAULT_PORT, DEFAULT_ROOT, DIMENSION_KEYS, DIMENSIONS
from xraybench.review.store import Assignment, ReviewStore, StudyDiskFull, StudyWriteError
from xraybench.review.study import IMAGE_TYPES

log = logging.getLogger(__name__)

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_HEADER = 64 * 1024  # bytes of request line + headers (http.server allows 100 lines of 64 KiB; a page needs ~1 KiB)
HEADER_TIMEOUT_S = 10.0
IO_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 30.0
MAX_PENDING = 1024
WORKERS = 16
MAX_BODY = 64 * 1024  # bytes of one answer's JSON (a comment of MAX_COMMENT characters fits: 3 bytes each at most)
MAX_COMMENT = 10_000
# a request for the page or an image is about 1 KiB of headers; a comment's JSON has about this much around its text
MIN_HEADER, COMMENT_OVERHEAD = 2 * 1024, 1024
_ROUTE = re.compile(r"^/r/([A-Za-z0-9_-]{16,128})(?:/(api/state|api/answer|api/case/\d+|image/\d+))?/?$")
_STATIC = {
    "/static/page.js": ("page.js", "text/javascript; charset=utf-8"),
    "/static/page.css": ("page.css", "text/css; charset=utf-8"),
}
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Resource-Policy": "same-origin",
}
SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("1 – 5", "pick the question (relevance … overall)"),
    ("A or ←", "left is better"),
    ("D or →", "right is better"),
    ("S or T", "tie"),
    ("N or J", "next case"),
    ("P or K", "previous case"),
    ("R", "show / hide the reference report"),
    ("B", "show / hide all boxes"),
    ("C", "write a comment (Esc leaves the box; it saves as you leave)"),
)


@dataclass
class ServeConfig:
    name: str = option(help="study name")
    root: str = option(DEFAULT_ROOT, help="folder holding the studies")
    host: str = option("127.0.0.1", help="address to bind; anything but localhost exposes the study to the network")
    port: int = option(DEFAULT_PORT, help="port to listen on (0 picks a free one)")
    quiet: bool = option(False, help="do not log requests")
    # the server's limits (see the module doc and docs/limits.md); the defaults are the constants above
    workers: int = option(WORKERS, help=f"threads answering requests whose headers are in (default {WORKERS})")
    max_pending: int = option(
        MAX_PENDING,
        help=f"connections held while their headers arrive; a new one past it drops the oldest (default {MAX_PENDING})",
    )
    header_timeout_s: float = option(
        HEADER_TIMEOUT_S, help=f"seconds a new connection may take to send its headers (default {HEADER_TIMEOUT_S:g})"
    )
    io_timeout_s: float = option(
        IO_TIMEOUT_S, help=f"seconds each read or write of a request may take (default {IO_TIMEOUT_S:g})"
    )
    request_timeout_s: float = option(
        REQUEST_TIMEOUT_S, help=f"seconds one whole request may take, drips included (default {REQUEST_TIMEOUT_S:g})"
    )
    max_header_bytes: int = option(
        MAX_HEADER, help=f"bytes of request line and headers; a larger request is dropped (default {MAX_HEADER})"
    )
    max_body_bytes: int = option(
        MAX_BODY, help=f"bytes of one answer's JSON body; a larger one is refused, 400 (default {MAX_BODY})"
    )
    max_comment_chars: int = option(
        MAX_COMMENT,
        help=f"characters of one comment; the page's comment box stops there, the server refuses more (default {MAX_COMMENT})",
    )

    def __post_init__(self) -> None:
        check_limits(**self.limits())

    def limits(self) -> dict[str, Any]:
        """The `make_server` keywords these options set."""
        return {name: getattr(self, name) for name in LIMITS}


@dataclass(frozen=True)
class ServerLimits:
    """The server's limits, the one home of their names and defaults (the constants above); refuses, when made,
    limits the server cannot work with, naming the option and the smallest value that works."""

    workers: int = WORKERS
    max_pending: int = MAX_PENDING
    header_timeout_s: float = HEADER_TIMEOUT_S
    io_timeout_s: float = IO_TIMEOUT_S
    request_timeout_s: float = REQUEST_TIMEOUT_S
    max_header_bytes: int = MAX_HEADER
    max_body_bytes: int = MAX_BODY
    max_comment_chars: int = MAX_COMMENT

    def __post_init__(self) -> None:
        problems = [
            f"--{name.replace('_', '-')} must be at least {least:g}, got {getattr(self, name):g}"
            for name, least in (("workers", 1), ("max_pending", 1), ("max_header_bytes", MIN_HEADER),
                                ("max_comment_chars", 1))
            if getattr(self, name) < least
        ]  # fmt: skip
        problems += [
            f"--{name.replace('_', '-')} must be positive, got {getattr(self, name):g}"
            for name in ("header_timeout_s", "io_timeout_s", "request_timeout_s")
            if not getattr(self, name) > 0
        ]
        # UTF-8: at most 3 bytes per character the page's box counts
        need = 3 * self.max_comment_chars + COMMENT_OVERHEAD
        if self.max_body_bytes < need:
            problems.append(
                f"--max-body-bytes {self.max_body_bytes} cannot carry a comment of --max-comment-chars "
                f"{self.max_comment_chars} characters (up to 3 bytes each, plus the JSON around it): give at least "
                f"{need}, or fewer characters"
            )
        if problems:
            raise XrayBenchError("review server limits: " + "; ".join(problems))


LIMITS = tuple(f.name for f in fields(ServerLimits))


def check_limits(**limits: Any) -> None:
    """Refuse limits (any of `LIMITS`, the rest at their defaults) the server cannot work with."""
    ServerLimits(**limits)


def _asset(name: str) -> str:
    return resources.files("xraybench.review").joinpath(name).read_text(encoding="utf-8")


@dataclass
class _Reviewer:
    name: str
    token: str
    assignments: list[Assignment]


class _PrefixedSocketReader(io.RawIOBase):
    """The bytes the gate already read (the headers, maybe the start of a body), then the socket."""

    def __init__(self, prefix: bytes, sock: socket.socket):
        self._prefix = memoryview(prefix)
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        return self._sock.recv_into(buffer)


class _HeaderGate:
    """One selector thread holding new connections until their headers are complete (see the module doc)."""

    def __init__(self, ready: Any, *, max_pending: int, header_timeout_s: float, max_header_bytes: int):
        self._ready = ready  # called with (sock, address, bytes read) once the headers are in
        self._max_pending, self._timeout, self._max_header = max_pending, header_timeout_s, max_header_bytes
        self._selector = selectors.DefaultSelector()
        self._pending: collections.OrderedDict[socket.socket, tuple[Any, float, bytearray]] = collections.OrderedDict()
        self._inbox: collections.deque[tuple[socket.socket, Any]] = collections.deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name="review-header-gate", daemon=True)
        self._thread.start()

    def add(self, sock: socket.socket, address: Any) -> None:
        self._inbox.append((sock, address))
        with contextlib.suppress(OSError):  # the wake-up pipe is full: the gate is awake anyway
            self._wake_w.send(b"\0")

    def close(self) -> None:
        self._closing = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        self._thread.join(timeout=5)
        for sock in list(self._pending):
            self._drop(sock)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def _drop(self, sock: socket.socket) -> None:
        self._pending.pop(sock, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)
        sock.close()

    def _loop(self) -> None:
        while not self._closing:
            try:
                for key, _ in self._selector.select(timeout=0.5):
                    if key.fileobj is self._wake_r:
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                        continue
                    self._read(key.fileobj)  # type: ignore[arg-type]
                self._admit()
                self._expire()
            except Exception:  # one bad connection must not stop the gate (and with it the whole server)
                log.exception("review server: the connection gate hit an error; it goes on")

    def _admit(self) -> None:
        while self._inbox:
            sock, address = self._inbox.popleft()
            while len(self._pending) >= self._max_pending:  # the oldest idle connection makes room
                oldest = next(iter(self._pending))
                log.info(
                    "review server: %d connections wait for their headers; dropping the oldest", len(self._pending)
                )
                self._drop(oldest)
            sock.setblocking(False)
            self._pending[sock] = (address, time.monotonic(), bytearray())
            self._selector.register(sock, selectors.EVENT_READ)

    def _read(self, sock: socket.socket) -> None:
        entry = self._pending.get(sock)
        if entry is None:
            return
        address, _, data = entry
        try:
            chunk = sock.recv(16 * 1024)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(sock)  # closed by the client
            return
        start = max(len(data) - 3, 0)  # only the new bytes (and 3 before them) are searched: a drip stays linear
        data += chunk
        ends = [i + len(blank) for blank in (b"\n\r\n", b"\n\n") if (i := data.find(blank, start)) >= 0]
        # the headers alone count against the limit: a POST's body often comes in the same packet as its headers
        if (min(ends) if ends else len(data)) > self._max_header:
            self._drop(sock)  # headers far larger than any page sends
            return
        if ends:
            self._pending.pop(sock)
            self._selector.unregister(sock)
            sock.setblocking(True)
            self._ready(sock, address, bytes(data))

    def _expire(self) -> None:
        cutoff = time.monotonic() - self._timeout
        while self._pending:
            sock, (_, since, _) = next(iter(self._pending.items()))
            if since > cutoff:
                break
            self._drop(sock)


class ReviewServer(HTTPServer):
    """The study's HTTP server; connections are gated and served by a bounded pool (see the module doc)."""

    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        store: ReviewStore,
        *,
        quiet: bool = False,
        **limits: Any,
    ):
        checked = ServerLimits(**limits)  # any of LIMITS; refuses limits the server cannot work with
        self.io_timeout_s, self.request_timeout_s = checked.io_timeout_s, checked.request_timeout_s
        self.max_body_bytes, self.max_comment_chars = checked.max_body_bytes, checked.max_comment_chars
        self.store = store
        self.quiet = quiet
        meta = store.meta()
        self.study_name = str(meta["name"])
        self.csrf_secret = bytes.fromhex(meta["csrf_secret"])
        self.page = _asset("page.html")
        self.assets = {path: (_asset(name).encode("utf-8"), kind) for path, (name, kind) in _STATIC.items()}
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self._pool = ThreadPoolExecutor(max_workers=checked.workers, thread_name_prefix="review-worker")
        self._gate = _HeaderGate(
            self._submit,
            max_pending=checked.max_pending,
            header_timeout_s=checked.header_timeout_s,
            max_header_bytes=checked.max_header_bytes,
        )

    def csrf_token(self, reviewer: str) -> str:
        return hmac.new(self.csrf_secret, reviewer.encode("utf-8"), hashlib.sha256).hexdigest()

    def process_request(self, request: Any, client_address: Any) -> None:
        """A new connection waits in the gate (no thread) until its headers are in."""
        self._gate.add(request, client_address)

    def _submit(self, sock: socket.socket, address: Any, head: bytes) -> None:
        self._pool.submit(self._serve, sock, address, head)

    def _serve(self, sock: socket.socket, address: Any, head: bytes) -> None:
        from xraybench.llm.transport import WATCHDOG

        armed = WATCHDOG.arm(sock, time.monotonic() + self.request_timeout_s)  # the whole request, drips included
        try:
            self.finish_request((sock, head), address)
        except (OSError, ValueError) as exc:  # timeouts, resets, a client gone mid-answer: nothing to tell it
            log.debug("review server: request from %s ended: %r", address, exc)
        except Exception:
            self.handle_error(sock, address)
        finally:
            armed.disarm()
            self.shutdown_request(sock)

    def server_close(self) -> None:
        super().server_close()
        # also called by the base __init__ when bind fails (a busy port): the gate and pool may not exist yet
        if hasattr(self, "_gate"):
            self._gate.close()
        if hasattr(self, "_pool"):
            self._pool.shutdown(wait=False, cancel_futures=True)


class _Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    server_version = "xraybench-review"
    sys_version = ""

    def setup(self) -> None:
        """The connection comes with the bytes the gate read; every read and write gets `io_timeout_s`."""
        sock, head = self.request
        self.request = sock
        self.timeout = self.server.io_timeout_s
        super().setup()
        self.rfile = io.BufferedReader(_PrefixedSocketReader(head, sock))

    # plumbing -------------------------------------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        if not self.server.quiet:
            sys.stderr.write(re.sub(r"/r/[^/\s]+", "/r/<token>", format % args) + "\n")

    def _send(self, status: int, body: bytes, content_type: str, *, cache: str = "no-store") -> None:
        self.send_response(status)
        for key, value in _HEADERS.items():
            self.send_header(key, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: dict[str, Any]) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _reviewer(self) -> tuple[_Reviewer, str | None] | None:
        """The reviewer named by the path's token and the rest of the route; None (after a 404) otherwise."""
        found = _ROUTE.match(self.path.split("?", 1)[0])
        name = self.server.store.reviewer_for_token(found.group(1)) if found else None
        if found is None or name is None:
            self._error(HTTPStatus.NOT_FOUND, "not found")
            return None
        return _Reviewer(name, found.group(1), self.server.store.assignments(name)), found.group(2)

    # routes ---------------------------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        if path in self.server.assets:
            body, kind = self.server.assets[path]
            self._send(HTTPStatus.OK, body, kind, cache="no-cache")
            return
        resolved = self._reviewer()
        if resolved is None:
            return
        reviewer, route = resolved
        if route is None:
            self._page(reviewer)
        elif route == "api/state":
            self._json(HTTPStatus.OK, self._state(reviewer))
        elif route.startswith("api/case/"):
            self._case(reviewer, int(route.rsplit("/", 1)[1]))
        elif route.startswith("image/"):
            self._image(reviewer, int(route.rsplit("/", 1)[1]))
        else:
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, "use POST")

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        resolved = self._reviewer()
        if resolved is None:
            return
        reviewer, route = resolved
        if route != "api/answer":
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, "only api/answer takes POST")
            return
        problem = self._forged(reviewer)
        if problem:
            self._error(HTTPStatus.FORBIDDEN, problem)
            return
        try:
            body = self._body()
            self._answer(reviewer, body)
        except (StudyDiskFull, StudyWriteError) as exc:
            # the operator's console names the file and what to do; the reviewer learns that this click was not
            # saved, that earlier ones are, and that clicking again works once the organiser has freed space (507)
            # or fixed the file (500)
            log.error("review server: %s (reviewer %s)", exc, reviewer.name)
            full = isinstance(exc, StudyDiskFull)
            status, problem, remedy = (
                (HTTPStatus.INSUFFICIENT_STORAGE, "'s disk is full", "freed space")
                if full
                else (HTTPStatus.INTERNAL_SERVER_ERROR, " could not write its study file", "fixed it")
            )
            self._error(
                status,
                f"the server{problem}, so this was not saved; every answer saved before is kept. Tell the "
                f"study's organiser, and click again once they have {remedy}",
            )
        except (ValueError, XrayBenchError) as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))

    def _forged(self, reviewer: _Reviewer) -> str | None:
        """Why this POST may not come from the reviewer's own page, or None."""
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return "expected Content-Type application/json"
        sent = self.headers.get("X-CSRF-Token", "")
        if not hmac.compare_digest(sent.encode(), self.server.csrf_token(reviewer.name).encode()):
            return "missing or wrong CSRF token: reload the page"
        origin = self.headers.get("Origin")
        if origin is not None and origin != f"http://{self.headers.get('Host', '')}":
            return f"cross-origin request from {origin}"
        if self.headers.get("Sec-Fetch-Site", "same-origin") != "same-origin":
            return "cross-site request"
        return None

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        limit = self.server.max_body_bytes
        if not 0 < length <= limit:
            raise ValueError(f"request body must be 1..{limit} bytes of JSON (review serve --max-body-bytes)")
        data = json.loads(self.rfile.read(length))
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data

    # views ----------------------------------------------------------------------------------------------------
    def _page(self, reviewer: _Reviewer) -> None:
        values = {
            "title": html.escape(f"Reader study {self.server.study_name}"),
            "csrf": html.escape(self.server.csrf_token(reviewer.name)),
            "base": html.escape(f"/r/{reviewer.token}"),
            "max_comment": str(self.server.max_comment_chars),
            "shortcuts": "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in SHORTCUTS),
        }
        page = re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], self.server.page)
        self._send(HTTPStatus.OK, page.encode("utf-8"), "text/html; charset=utf-8")

    def _progress(self, reviewer: _Reviewer) -> tuple[int, int | None, dict[str, dict[str, str]]]:
        """(cases with every question answered, first position not complete or None, answers by case)."""
        answers: dict[str, dict[str, str]] = {}
        for a in self.server.store.answers(reviewer.name):
            answers.setdefault(a.case_id, {})[a.dimension] = a.choice
        complete = [len(answers.get(a.case_id, {})) == len(DIMENSION_KEYS) for a in reviewer.assignments]
        first = next((i for i, done in enumerate(complete) if not done), None)
        return sum(complete), first, answers

    def _state(self, reviewer: _Reviewer) -> dict[str, Any]:
        complete, first, _ = self._progress(reviewer)
        return {
            "study": self.server.study_name,
            "reviewer": reviewer.name,
            "total": len(reviewer.assignments),
            "complete": complete,
            "start": first if first is not None else max(len(reviewer.assignments) - 1, 0),
            "finished": first is None,
            "dimensions": [{"key": k, "label": label, "question": q} for k, label, q in DIMENSIONS],
        }

    def _assignment(self, reviewer: _Reviewer, position: int) -> Assignment | None:
        if 0 <= position < len(reviewer.assignments):
            return reviewer.assignments[position]
        self._error(HTTPStatus.NOT_FOUND, "no such case")
        return None

    def _case(self, reviewer: _Reviewer, position: int) -> None:
        assignment = self._assignment(reviewer, position)
        if assignment is None:
            return
        case = self.server.store.case(assignment.case_id)
        right_slot = "B" if assignment.left_slot == "A" else "A"
        complete, _, answers = self._progress(reviewer)
        comment = self.server.store.comments(reviewer.name).get((reviewer.name, case.case_id), ("", 0.0))[0]
        self._json(
            HTTPStatus.OK,
            {
                "position": position,
                "total": len(reviewer.assignments),
                "complete": complete,
                "case_id": case.case_id,
                "prompt": case.prompt,
                "reference": case.reference,
                "image": f"/r/{reviewer.token}/image/{position}",
                "left": case.outputs[assignment.left_slot],
                "right": case.outputs[right_slot],
                "answers": answers.get(case.case_id, {}),
                "comment": comment,
            },
        )

    def _image(self, reviewer: _Reviewer, position: int) -> None:
        assignment = self._assignment(reviewer, position)
        if assignment is None:
            return
        path = Path(self.server.store.case(assignment.case_id).image_path)
        try:
            body = path.read_bytes()
        except OSError:
            self._error(HTTPStatus.NOT_FOUND, "the image file of this case is missing on the server")
            return
        self._send(
            HTTPStatus.OK,
            body,
            IMAGE_TYPES.get(path.suffix.lower(), "application/octet-stream"),
            cache="private, max-age=3600",
        )

    def _answer(self, reviewer: _Reviewer, body: dict[str, Any]) -> None:
        position = body.get("position")
        if not isinstance(position, int) or isinstance(position, bool):
            raise ValueError("expected an integer 'position'")
        assignment = self._assignment(reviewer, position)
        if assignment is None:
            return
        if "comment" in body:
            text = body["comment"]
            limit = self.server.max_comment_chars
            if not isinstance(text, str) or len(text) > limit:
                raise ValueError(
                    f"'comment' must be text of at most {limit} characters (review serve --max-comment-chars)"
                )
            self.server.store.save_comment(reviewer.name, assignment.case_id, text)
        else:
            dimension, choice = body.get("dimension"), body.get("choice")
            if not isinstance(dimension, str) or not isinstance(choice, str):
                raise ValueError("expected 'dimension' and 'choice' (or 'comment')")
            self.server.store.save_answer(reviewer.name, assignment.case_id, dimension, choice)
        complete, first, _ = self._progress(reviewer)
        self._json(
            HTTPStatus.OK,
            {"saved": True, "complete": complete, "total": len(reviewer.assignments), "finished": first is None},
        )


def make_server(
    store: ReviewStore, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = False, **limits: Any
) -> ReviewServer:
    """A bound, not yet serving server (port 0 picks a free port: read it from `server.server_address`);
    `limits`: any of `LIMITS` (`workers`, `max_pending`, `header_timeout_s`, `io_timeout_s`, `request_timeout_s`,
    `max_header_bytes`, `max_body_bytes`, `max_comment_chars`; `ServeConfig.limits()` gives them from the options)."""
    store.check()
    return ReviewServer((host, port), store, quiet=quiet, **limits)


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")
