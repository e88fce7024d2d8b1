"""One HTTP transport for every OpenAI-compatible request: a wall-clock deadline and a size cap per answer.

`HTTPTransport.post(payload)` sends one POST to `{api_base}/chat/completions` over this thread's keep-alive
`http.client` connection (through the proxy the environment names) and returns the status, `Retry-After` and
body. It is shared by the `openai:` adapter (models under test) and `LLMClient`'s direct path (judges,
teachers), so both get the same limits:

- `timeout_s` is a deadline for the whole request (connect, proxy tunnel, TLS handshake, send, headers, body),
  not a per-read timeout: a server that drips one byte every two seconds is cut off at `timeout_s` like one
  that says nothing. One watchdog thread shuts down the socket of a request past its deadline, which wakes the
  blocked read; the request is armed before its connection is opened, and a new connection's TCP connect and
  TLS handshake get only the time left (a proxy that answers `CONNECT` late or byte by byte, then a stalled
  handshake, cannot stretch the request past `timeout_s`). Name resolution is the one step outside it.
- The body is read at most `max_answer_bytes` (see `xraybench.llm.completion.max_answer_bytes`): a larger
  answer is refused (`AnswerTooLarge`) as soon as its `Content-Length` or its running size says so, and is
  never held in memory whole.

Errors: `TransientError` for timeouts and dropped connections (worth retrying), `AnswerTooLarge` (not
retried: asking again pays for another huge answer). HTTP statuses are the caller's to sort.
"""

from __future__ import annotations

import base64
import contextlib
import heapq
import http.client
import itertools
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from xraybench.errors import TransientError, XrayBenchError
from xraybench.llm.completion import AnswerTooLarge, max_answer_bytes, too_large

# this machine: no report text leaves it (0.0.0.0 as a destination reaches the local host on Linux)
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})


def is_local(api_base: str | None) -> bool:
    """True when `api_base` points at this machine, so no report text leaves it."""
    return api_base is not None and (urlparse(api_base).hostname or "") in LOCAL_HOSTS


READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class HTTPAnswer:
    """One HTTP answer: status, the `Retry-After` header (raw) and the whole body (at most the cap)."""

    status: int
    retry_after: str | None
    body: bytes
    latency_s: float


class _Armed:
    """One request's deadline: the watchdog shuts its socket down if it is still armed at the deadline.

    Armed before the connection exists (`sock` None), it is handed each socket the request goes through: the
    raw TCP socket (proxy tunnel), then the TLS socket (handshake and answer).
    """

    __slots__ = ("sock", "deadline", "active", "fired", "lock")

    def __init__(self, sock: socket.socket | None, deadline: float):
        self.sock, self.deadline, self.active, self.fired = sock, deadline, True, False
        self.lock = threading.Lock()

    def left(self) -> float:
        """Seconds to the deadline; `TimeoutError` when none are left (a connect step must not start)."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the deadline passed while connecting")
        return left

    def watch(self, sock: socket.socket) -> None:
        """Watch `sock` from now on; shut it down at once if the deadline has already passed."""
        with self.lock:
            self.sock = sock
            if not self.fired:
                return
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def disarm(self) -> None:
        with self.lock:
            self.active = False

    def fire(self) -> None:
        with self.lock:
            if not self.active:
                return
            self.active, self.fired = False, True
            if self.sock is not None:
                with contextlib.suppress(OSError):  # already closed: nothing is blocked on it
                    self.sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in recv/send on it


class _DeadlineConnection(http.client.HTTPConnection):
    """`connect()` under the request's deadline: the TCP connect gets the time left, and the new socket is
    watched before the proxy tunnel is read (a `CONNECT` answer dripped byte by byte is cut off at the deadline).
    `armed` is set by `HTTPTransport.post` before each request."""

    armed: _Armed | None = None

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._create_connection = self._create_watched  # http.client's hook for the TCP connect

    def _create_watched(self, address: tuple[str, int], timeout: Any, source_address: Any = None) -> socket.socket:
        armed = self.armed
        if armed is None:  # connected outside `post` (never here): http.client's own per-read timeout
            return socket.create_connection(address, timeout, source_address)
        sock = socket.create_connection(address, armed.left(), source_address)
        sock.settimeout(self.timeout)  # per read after connecting; the watchdog holds the whole deadline
        armed.watch(sock)
        return sock


class _DeadlineHTTPSConnection(_DeadlineConnection, http.client.HTTPSConnection):
    """As `_DeadlineConnection`, and the TLS handshake gets only the time left: OpenSSL's handshake wait is
    bounded by the socket timeout (a fresh `timeout_s` in http.client, after a connect and tunnel that may
    have used most of the deadline), and the watchdog watches the TLS socket during the handshake."""

    _context: Any  # http.client's SSL context
    _tunnel_host: str | None

    def connect(self) -> None:
        armed = self.armed
        if armed is None:
            super().connect()
            return
        http.client.HTTPConnection.connect(self)  # TCP connect and proxy tunnel, watched
        server_hostname = self._tunnel_host or self.host
        # wrap without I/O first, so that the watchdog holds the TLS socket before the handshake starts
        sock = self._context.wrap_socket(self.sock, server_hostname=server_hostname, do_handshake_on_connect=False)
        self.sock = sock
        armed.watch(sock)
        sock.settimeout(armed.left())
        sock.do_handshake()
        sock.settimeout(self.timeout)


class _Watchdog:
    """One daemon thread for all requests of the process: a heap of deadlines, earliest first.

    Why not a per-read socket timeout: it restarts at every byte, so a drip keeps a request alive forever.
    Why not a timer thread per request: that costs a thread start per call; arming here is a heap push.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Armed]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def arm(self, sock: socket.socket | None, deadline: float) -> _Armed:
        armed = _Armed(sock, deadline)
        with self._cond:
            if self._thread is None or self._pid != os.getpid():  # a forked child has no watchdog thread
                self._heap, self._pid = [], os.getpid()
                self._thread = threading.Thread(target=self._loop, name="http-deadline", daemon=True)
                self._thread.start()
            seq = next(self._seq)
            if seq % 1024 == 0:  # finished requests wait in the heap until their deadline: drop them now and then
                self._heap = [entry for entry in self._heap if entry[2].active]
                heapq.heapify(self._heap)
            heapq.heappush(self._heap, (deadline, seq, armed))
            if self._heap[0][2] is armed:
                self._cond.notify()
        return armed

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if not self._heap:
                        self._cond.wait()
                        continue
                    deadline, _, armed = self._heap[0]
                    if not armed.active:
                        heapq.heappop(self._heap)
                        continue
                    wait = deadline - time.monotonic()
                    if wait <= 0:
                        heapq.heappop(self._heap)
                        break
                    self._cond.wait(wait)
            armed.fire()


WATCHDOG = _Watchdog()


class HTTPTransport:
    """POSTs JSON to `{api_base}/chat/completions`, one keep-alive connection per thread (a thread has one
    request in flight at a time); `timeout_s` is each request's wall-clock deadline."""

    def __init__(
        self,
        api_base: str,
        *,
        headers: dict[str, str],
        timeout_s: float,
        max_answer_bytes: int | None = None,
    ):
        url = urlparse(api_base)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise XrayBenchError(f"--api-base {api_base!r}: expected an http:// or https:// URL")
        if not timeout_s > 0:
            raise XrayBenchError(f"--timeout-s must be positive, got {timeout_s}")
        self.timeout_s = float(timeout_s)
        self.max_answer_bytes = _max_bytes(max_answer_bytes)
        self._https = url.scheme == "https"
        self._host, self._port = url.hostname, url.port or (443 if self._https else 80)
        self.url = f"{api_base.rstrip('/')}/chat/completions"
        self._target = f"{url.path.rstrip('/')}/chat/completions"
        self._headers = {"Content-Type": "application/json", "Accept": "application/json", **headers}
        self.proxy = proxy_for(url.scheme, self._host)
        self._tunnel_headers: dict[str, str] = {}
        if self.proxy is not None and self.proxy.username:
            auth = f"{unquote(self.proxy.username)}:{unquote(self.proxy.password or '')}"
            proxy_auth = {"Proxy-Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}
            if self._https:
                self._tunnel_headers = proxy_auth
            else:
                self._headers.update(proxy_auth)
        if self.proxy is not None and not self._https:
            self._target = self.url  # a plain-HTTP proxy takes the absolute URL
        self._tls: Any = None
        if self._https:
            import httpx

            # certifi's CA bundle, as httpx-based clients verify; loaded once, not per thread (tens of ms)
            self._tls = httpx.create_ssl_context()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections: list[_DeadlineConnection] = []

    def post_json(self, body: dict[str, Any]) -> HTTPAnswer:
        return self.post(json.dumps(body, ensure_ascii=False).encode("utf-8"))

    def post(self, payload: bytes) -> HTTPAnswer:
        """One POST within the deadline; the body is read up to the size cap."""
        start = time.monotonic()
        deadline = start + self.timeout_s
        conn = self._connection()
        # armed before connecting: a new connection's connect, tunnel and handshake count against the deadline
        armed = conn.armed = WATCHDOG.arm(conn.sock, deadline)
        try:
            if conn.sock is None:
                conn.connect()
            if time.monotonic() >= deadline:
                raise TimeoutError("connecting took the whole deadline")
            conn.request("POST", self._target, body=payload, headers=self._headers)
            response = conn.getresponse()
            content = self._read(response)
            if armed.fired:  # the shut-down socket read as the end of the body: a cut-off answer
                raise TimeoutError("the deadline passed while the answer was being read")
        except AnswerTooLarge:
            conn.close()  # the rest of the answer is never read
            raise
        except (OSError, http.client.HTTPException, ValueError) as exc:
            conn.close()  # a late answer must not be read as the next request's
            if isinstance(exc, TimeoutError) or armed.fired:
                raise TransientError(
                    f"Timeout: no complete answer from {self.url} within {self.timeout_s:g}s"
                    f" ({type(exc).__name__}; --timeout-s is a deadline for the whole request)"
                ) from exc
            raise TransientError(f"APIConnectionError: {self.url}: connection failed: {exc!r}") from exc
        finally:
            armed.disarm()
            conn.armed = None
            if armed.fired:
                conn.close()  # shut down at the deadline, even if the answer had just arrived
        return HTTPAnswer(response.status, response.getheader("retry-after"), content, time.monotonic() - start)

    def _read(self, response: http.client.HTTPResponse) -> bytes:
        """The body, refused as soon as it is known to be over the cap."""
        limit = self.max_answer_bytes
        length = response.getheader("content-length")
        if length is not None and length.strip().isdigit() and int(length) > limit:
            raise too_large(self.url, int(length), limit)
        chunks, size = [], 0
        while chunk := response.read(READ_CHUNK):
            size += len(chunk)
            if size > limit:
                raise too_large(self.url, f"more than {limit}", limit)
            chunks.append(chunk)
        if length is not None and length.strip().isdigit() and size < int(length):
            raise http.client.IncompleteRead(b"", int(length) - size)  # the server closed mid-answer
        return b"".join(chunks)

    def _connection(self) -> _DeadlineConnection:
        """This thread's keep-alive connection, created on its first request (it reconnects by itself after the
        server closed it)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            host, port = self._host, self._port
            if self.proxy is not None:
                host, port = self.proxy.hostname or "", self.proxy.port or 80
            if self._https:
                conn = _DeadlineHTTPSConnection(host, port, timeout=self.timeout_s, context=self._tls)
                if self.proxy is not None:
                    conn.set_tunnel(self._host, self._port, headers=self._tunnel_headers)
            else:
                conn = _DeadlineConnection(host, port, timeout=self.timeout_s)
            with self._lock:
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close the pooled connections (a later request opens new ones)."""
        with self._lock:
            connections, self._connections, self._local = self._connections, [], threading.local()
        for conn in connections:
            conn.close()


def _max_bytes(value: int | None) -> int:
    return max_answer_bytes(value)


def proxy_for(scheme: str, host: str) -> Any:
    """The proxy URL (parsed) the environment names for `scheme://host`, or None (`NO_PROXY`, local hosts)."""
    import urllib.request  # its imports (ssl, email) are needed only here, once per client

    if host in LOCAL_HOSTS or urllib.request.proxy_bypass(host):
        return None
    proxy = urllib.request.getproxies().get(scheme) or urllib.request.getproxies().get("all")
    if not proxy:
        return None
    url = urlparse(proxy if "://" in proxy else f"http://{proxy}")
    if url.scheme != "http" or not url.hostname:
        raise XrayBenchError(f"proxy {proxy!r} for {scheme}://{host}: only http:// proxies are supported")
    return url


def error_text(content: bytes) -> tuple[str, str]:
    """The server's own error message and code: OpenAI's `{"error": {"message", "code"}}`, else the body."""
    text = content.decode("utf-8", "replace")
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        return text[:500], ""
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])[:2000], str(error.get("code") or error.get("type") or "")[:200]
    if isinstance(error, str):
        return error[:2000], ""
    if isinstance(payload, dict) and isinstance(payload.get("message"), str):
        return payload["message"][:2000], ""
    return text[:500], ""


def call_with_deadline(fn: Any, timeout_s: float, where: str) -> Any:
    """`fn()` with a wall-clock deadline, for clients whose own timeout is per read (litellm, the OpenAI SDK).

    The call runs on its own daemon thread; past the deadline the caller gets a `TransientError` at once and
    the abandoned thread ends when the library's own per-read timeout or the server does.
    """
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, name="llm-deadline-call", daemon=True).start()
    if not done.wait(timeout_s):
        raise TransientError(
            f"{where}: Timeout: no complete answer within {timeout_s:g}s (--timeout-s is a deadline for the whole "
            "request)"
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
