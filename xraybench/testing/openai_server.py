"""A real local OpenAI-compatible HTTP server with a scriptable fault plan, for tests of API clients.

It speaks `POST /v1/chat/completions` and `GET /v1/models` over a real socket (stdlib `http.server` in a
thread, bound to 127.0.0.1 on a free port), so clients are tested through their actual HTTP stack: status
codes, headers, timeouts and broken bodies included. Every request is recorded.

    with OpenAIServer(fault_plan=[Fault.rate_limit(retry_after=2)]) as server:
        ... client with api_base=server.base_url ...
        assert len(server.requests) == 2
"""

from __future__ import annotations

import hashlib
import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULT_KINDS = (
    "ok", "rate_limit", "server_error", "timeout", "length", "context_length", "bad_request", "malformed",
    "odd", "drip", "huge", "auth", "model_not_found",
)  # fmt: skip
# 200 answers a client must survive (each a recorded failure with its reason, never a crash); `parts` is legitimate
ODD_BODIES: dict[str, Any] = {
    "choices_dict": {"choices": {"0": {"message": {"content": "x"}, "finish_reason": "stop"}}},
    "choices_empty": {"choices": []},
    "choice_string": {"choices": ["no acute findings"]},
    "message_string": {"choices": [{"message": "no acute findings", "finish_reason": "stop"}]},
    "content_number": {"choices": [{"message": {"content": 42}, "finish_reason": "stop"}]},
    "content_dict": {"choices": [{"message": {"content": {"text": "x"}}, "finish_reason": "stop"}]},
    "finish_reason_list": {"choices": [{"message": {"content": "x"}, "finish_reason": ["stop"]}]},
    "body_list": [{"message": {"content": "x"}}],
    "body_string": "no acute findings",
    "deeply_nested": b'{"choices": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "nested_in_content": b'{"choices": [{"message": {"content": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}]}",
}
# 200 answers with something odd beside a usable answer: the answer is kept, the odd part ignored
USABLE_ODD_BODIES: dict[str, tuple[Any, str]] = {
    "content_parts": (
        {"choices": [{"message": {"content": [{"type": "text", "text": "no acute "}, {"type": "text", "text": "findings"}]},
                      "finish_reason": "stop"}]},
        "no acute findings",
    ),
    "usage_list": ({"choices": [{"message": {"content": "clear lungs"}, "finish_reason": "stop"}], "usage": [1, 2]},
                   "clear lungs"),
    "usage_string": ({"choices": [{"message": {"content": "clear lungs"}, "finish_reason": "stop"}], "usage": "lots"},
                     "clear lungs"),
    "usage_counts_odd": (
        {"choices": [{"message": {"content": "clear lungs"}, "finish_reason": "stop"}],
         "usage": {"prompt_tokens": "9", "completion_tokens": [2]}},
        "clear lungs",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Fault:
    """What the server does with one request instead of (or besides) answering normally.

    kinds: `ok` (answer normally), `rate_limit` (429 with `Retry-After` when `retry_after` is set),
    `server_error` (`status`, default 500), `timeout` (sleep `delay_s` before answering, to outlast the
    client's timeout), `length` (answer cut to `max_words` words with `finish_reason: "length"`),
    `context_length` (400, OpenAI's context-length error), `bad_request` (400 with `message`),
    `malformed` (200 with a body that is not JSON), `odd` (200 with `body`: JSON-able or raw bytes, e.g. one
    of `ODD_BODIES`), `drip` (a normal answer sent one byte every `delay_s`, to outlast a per-read timeout),
    `huge` (a normal answer whose text is `size` bytes, streamed; without a `Content-Length` header when
    `declare_length` is False), `auth` (401 with OpenAI's "Incorrect API key provided" error body),
    `model_not_found` (404 with OpenAI's "The model ... does not exist" error body).
    """

    kind: str
    status: int = 500
    retry_after: float | None = None
    delay_s: float = 5.0
    max_words: int = 3
    message: str = "bad request"
    body: Any = None
    size: int = 0
    declare_length: bool = True

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; choose one of {', '.join(FAULT_KINDS)}")

    @classmethod
    def rate_limit(cls, retry_after: float | None = None) -> Fault:
        return cls("rate_limit", status=429, retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls("server_error", status=status)

    @classmethod
    def auth(cls) -> Fault:
        return cls("auth", status=401)

    @classmethod
    def model_not_found(cls) -> Fault:
        return cls("model_not_found", status=404)

    @classmethod
    def timeout(cls, delay_s: float) -> Fault:
        return cls("timeout", delay_s=delay_s)

    @classmethod
    def odd(cls, body: Any) -> Fault:
        return cls("odd", body=body)

    @classmethod
    def drip(cls, interval_s: float) -> Fault:
        return cls("drip", delay_s=interval_s)

    @classmethod
    def huge(cls, size: int, *, declare_length: bool = True) -> Fault:
        return cls("huge", size=size, declare_length=declare_length)


@dataclass
class RecordedRequest:
    """One request as the server received it; header names lowercased; `body` is the parsed JSON (None if it was
    not JSON)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float
    fault: str = "ok"


def default_reply(body: dict[str, Any]) -> str:
    """A deterministic reply: a few words chosen by a hash of the model name and the last user text."""
    text = _last_user_text(body)
    digest = hashlib.sha256(f"{body.get('model', '')}|{text}".encode()).hexdigest()
    words = ["no", "acute", "cardiopulmonary", "abnormality", "effusion", "normal", "heart", "size", "lungs", "clear"]
    return " ".join(words[int(digest[i : i + 2], 16) % len(words)] for i in range(0, 16, 2))


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        return " ".join(part.get("text", "") for part in content or [] if part.get("type") == "text")
    return ""


class _Listener(ThreadingHTTPServer):
    """`http.server`'s listen backlog is 5: 64 clients connecting at once would see connection resets."""

    request_queue_size = 128
    daemon_threads = True


@dataclass
class OpenAIServer:
    """Context manager running the server; `base_url` ends in `/v1` like OpenAI's.

    `fault_plan` is consumed one entry per chat request, in order (thread-safe); once empty, requests are
    answered normally. `reply_fn(body) -> str` makes the answer text. `model_names` is what `/v1/models` lists,
    each `owned_by` the given server family (vLLM says "vllm", llama-cpp-python "me"). With `tls` (a server-side
    SSL context, e.g. `xraybench.testing.hostile_network.self_signed_tls(...).server_context()`) it speaks https.
    """

    reply_fn: Callable[[dict[str, Any]], str] = default_reply
    fault_plan: list[Fault] = field(default_factory=list)
    model_names: list[str] = field(default_factory=lambda: ["tiny-test-model"])
    owned_by: str = "xraybench-test"
    requests: list[RecordedRequest] = field(default_factory=list)
    tls: ssl.SSLContext | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _closing: threading.Event = field(default_factory=threading.Event, repr=False)
    _httpd: _Listener | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not running; use it as a context manager or call start()")
        host, port = self._httpd.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}/v1"

    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def start(self) -> OpenAIServer:
        handler = type("Handler", (_Handler,), {"server_state": self})
        self._closing.clear()
        self._httpd = _Listener(("127.0.0.1", 0), handler)
        if self.tls is not None:  # each handshake runs in its request's thread (`_Handler.setup`), not in accept
            self._httpd.socket = self.tls.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="openai-test-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()  # wakes handlers sleeping in a `timeout` fault
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_fault(self) -> Fault:
        with self._lock:
            return self.fault_plan.pop(0) if self.fault_plan else Fault("ok")

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _completion(self, body: dict[str, Any], fault: Fault) -> dict[str, Any]:
        text = self.reply_fn(body)
        finish = "stop"
        if fault.kind == "length":
            text = " ".join(text.split()[: fault.max_words])
            finish = "length"
        prompt_words = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or [])
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": prompt_words,
                "completion_tokens": len(text.split()),
                "total_tokens": prompt_words + len(text.split()),
            },
        }


class _Handler(BaseHTTPRequestHandler):
    server_state: OpenAIServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Silence per-request logging on stderr."""

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()

    def _headers(self) -> dict[str, str]:
        return {key.lower(): value for key, value in self.headers.items()}

    def do_GET(self) -> None:
        state = self.server_state
        state._record(RecordedRequest("GET", self.path, self._headers(), None, time.time()))
        if self.path.rstrip("/").endswith("/models"):
            data = [{"id": name, "object": "model", "owned_by": state.owned_by} for name in state.model_names]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._send_error(404, f"no route {self.path}", "not_found")

    def do_POST(self) -> None:
        state = self.server_state
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        if not self.path.rstrip("/").endswith("/chat/completions"):
            state._record(RecordedRequest("POST", self.path, self._headers(), body, time.time()))
            self._send_error(404, f"no route {self.path}", "not_found")
            return
        fault = state._next_fault()
        state._record(RecordedRequest("POST", self.path, self._headers(), body, time.time(), fault.kind))
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._send_error(400, "request body must be a JSON object with a 'messages' list", "invalid_request_error")
            return
        if fault.kind == "rate_limit":
            headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
            self._send_error(429, "Rate limit reached, slow down", "rate_limit_exceeded", headers)
        elif fault.kind == "server_error":
            self._send_error(fault.status, "The server had an error while processing your request", "server_error")
        elif fault.kind == "context_length":
            message = (
                "This model's maximum context length is 128 tokens. However, your messages resulted in 4096 tokens."
            )
            self._send_error(400, message, "context_length_exceeded")
        elif fault.kind == "auth":  # OpenAI's own body for a wrong key
            message = "Incorrect API key provided: sk-wrong. You can find your API key at https://platform.openai.com."
            self._send_json(401, {"error": {"message": message, "type": "invalid_request_error", "param": None,
                                            "code": "invalid_api_key"}})  # fmt: skip
        elif fault.kind == "model_not_found":
            message = f"The model `{body.get('model')}` does not exist or you do not have access to it."
            self._send_json(404, {"error": {"message": message, "type": "invalid_request_error", "param": None,
                                            "code": "model_not_found"}})  # fmt: skip
        elif fault.kind == "bad_request":
            self._send_error(400, fault.message, "invalid_request_error")
        elif fault.kind == "malformed":
            self._send_raw(200, b'{"id": "chatcmpl-broken", "choices": [{"index": 0, "mess', "application/json")
        elif fault.kind == "odd":
            data = fault.body if isinstance(fault.body, bytes) else json.dumps(fault.body).encode()
            self._send_raw(200, data, "application/json")
        elif fault.kind == "drip":
            self._drip(json.dumps(state._completion(body, fault)).encode(), fault.delay_s)
        elif fault.kind == "huge":
            self._send_huge(fault.size, fault.declare_length)
        else:
            if fault.kind == "timeout" and state._closing.wait(fault.delay_s):
                return
            self._send_json(200, state._completion(body, fault))

    def _drip(self, data: bytes, interval_s: float) -> None:
        """Headers at once, then the body one byte per `interval_s` (until done, the client leaves, or stop)."""
        state = self.server_state
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.flush()
            for i in range(len(data)):
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                if state._closing.wait(interval_s):
                    return
        except OSError:
            pass  # the client gave up: what this fault is for

    def _send_huge(self, size: int, declare_length: bool) -> None:
        """A valid chat completion whose text is `size` bytes, written in 1 MiB pieces (never built whole)."""
        head = b'{"object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": "'
        tail = b'"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}'
        piece = b"a" * (1 << 20)
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if declare_length:
                self.send_header("Content-Length", str(len(head) + size + len(tail)))
            else:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(head)
            left = size
            while left > 0:
                self.wfile.write(piece[: min(left, len(piece))])
                left -= len(piece)
            self.wfile.write(tail)
        except OSError:
            pass  # the client refused the rest: what this fault is for

    def _send_error(self, status: int, message: str, code: str, headers: dict[str, str] | None = None) -> None:
        payload = {"error": {"message": message, "type": code, "param": None, "code": code}}
        self._send_json(status, payload, headers)

    def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(payload).encode(), "application/json", headers)

    def _send_raw(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired first): nothing left to tell it
