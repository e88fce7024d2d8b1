"""Real local network peers that misbehave below HTTP, for tests of the transport's wall-clock deadline.

- `self_signed_tls(directory)`: a self-signed certificate (made by the `openssl` command) for `localhost`,
  `127.0.0.1` and `TLS_TEST_HOST`, with a server-side SSL context; clients trust it through `SSL_CERT_FILE`.
- `StalledListener`: accepts TCP connections and never answers, so a client's TLS ClientHello goes unanswered.
- `TunnelProxy`: an HTTP `CONNECT` proxy whose answer to each `CONNECT` follows a plan: `ok` (answered at once,
  relayed to `upstream` whatever host the client named, so `https://TLS_TEST_HOST/...` reaches a local server),
  or answered late, dripped one byte at a time, or at once, and then nothing relayed (the TLS handshake through
  it stalls).

    with StalledListener() as stalled:
        HTTPTransport(stalled.base_url, headers={}, timeout_s=1.0).post(b"{}")  # TransientError after 1 s
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

# a name that never resolves (RFC 2606 `.test`): reached only through `TunnelProxy`, which relays it locally
TLS_TEST_HOST = "judge.example.test"
TUNNEL_KINDS = ("ok", "late", "drip", "stall")
CONNECT_REPLY = b"HTTP/1.1 200 Connection established\r\nProxy-Agent: xraybench-test-proxy/1.0\r\n\r\n"


@dataclass(frozen=True)
class TLSFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def self_signed_tls(directory: Path) -> TLSFiles:
    """A fresh self-signed certificate and key in `directory`; `RuntimeError` without the `openssl` command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the openssl command is not installed")
    cert, key = directory / "cert.pem", directory / "key.pem"
    names = f"subjectAltName=DNS:localhost,DNS:{TLS_TEST_HOST},IP:127.0.0.1"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=localhost", "-addext", names],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return TLSFiles(cert, key)


def _listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.settimeout(0.05)  # the accept loop checks for `stop` this often
    return sock


class _Peer:
    """An accept loop on 127.0.0.1 in a daemon thread; every accepted socket is closed on `stop`."""

    def __init__(self) -> None:
        self._sock = _listener()
        self.port: int = self._sock.getsockname()[1]
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name=type(self).__name__, daemon=True)

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/v1"

    def _accept_loop(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            with self._lock:
                self.accepted += 1
                self._held.append(conn)
            self._serve(conn)

    def _serve(self, conn: socket.socket) -> None:
        """What happens to one accepted connection (here: nothing, it is held open)."""

    def __enter__(self) -> _Peer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._thread.join(timeout=5)
        with self._lock:
            held, self._held = self._held, []
        for conn in [self._sock, *held]:
            with contextlib.suppress(OSError):
                conn.close()


class StalledListener(_Peer):
    """Accepts every TCP connection and never reads or writes a byte: a TLS handshake to it stalls."""


@dataclass
class TunnelProxy:
    """An HTTP `CONNECT` proxy on 127.0.0.1; `plan` (kinds from `TUNNEL_KINDS`) is consumed one entry per
    `CONNECT`, then every tunnel is `ok` (relayed to `upstream`). `late` answers after `delay_s`, `drip` sends
    its answer one byte every `delay_s`, `stall` answers at once; these three relay nothing, so the client's TLS
    handshake stalls. `targets` records the `host:port` each `CONNECT` named."""

    upstream: tuple[str, int] | None = None
    plan: list[str] = field(default_factory=list)
    delay_s: float = 0.2
    targets: list[str] = field(default_factory=list)
    _peer: _Peer | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.plan) - set(TUNNEL_KINDS)
        if unknown:
            raise ValueError(f"unknown tunnel kinds {sorted(unknown)}; choose from {', '.join(TUNNEL_KINDS)}")

    @property
    def url(self) -> str:
        assert self._peer is not None, "use TunnelProxy as a context manager"
        return f"http://127.0.0.1:{self._peer.port}"

    def __enter__(self) -> TunnelProxy:
        proxy = self

        class Peer(_Peer):
            def _serve(self, conn: socket.socket) -> None:
                threading.Thread(target=proxy._tunnel, args=(conn, self._closing), daemon=True).start()

        self._peer = Peer().__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._peer is not None:
            self._peer.__exit__(*exc)

    def _tunnel(self, conn: socket.socket, closing: threading.Event) -> None:
        with contextlib.suppress(OSError):
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            self.targets.append(head.split(b" ", 2)[1].decode("ascii", "replace"))
            kind = self.plan.pop(0) if self.plan else "ok"
            if kind == "late":
                closing.wait(self.delay_s)
            if kind == "drip":
                for i in range(len(CONNECT_REPLY)):
                    if closing.wait(self.delay_s):
                        return
                    conn.sendall(CONNECT_REPLY[i : i + 1])
            else:
                conn.sendall(CONNECT_REPLY)
            if kind != "ok" or self.upstream is None:
                return  # held open by the peer, nothing relayed: the client's handshake stalls
            upstream = socket.create_connection(self.upstream, timeout=5)
            upstream.settimeout(None)
            threading.Thread(target=_relay, args=(upstream, conn), daemon=True).start()
            _relay(conn, upstream)


def _relay(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for sock in (source, sink):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
