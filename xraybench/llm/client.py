"""One chat completion against any LLM provider: the client under judges, teachers and metric judges.

`LLMClient.complete(messages)` makes exactly one request and returns the raw answer with its usage, finish
reason, latency and cost. It never retries (litellm's own retries are switched off): the caller wraps it in
`xraybench.retry.call_with_retries` (see `xraybench.llm.calls.CallRunner`), and errors are mapped to
`TransientError` (429, 5xx, timeouts: retry) or `XrayBenchError` (400, context length, auth: do not).

Local servers (vLLM, SGLang, Ollama, the test server) are reached with the `openai/` prefix and `api_base`.
Those requests (`openai/...` with an `api_base`) take a direct path: the standard library's `http.client`
posting to `{api_base}/chat/completions` over one keep-alive connection per thread (through the proxy the
environment names, as httpx and litellm would), with the same errors, usage and cost as through litellm.
Why: `litellm.completion` costs ~7 ms of CPU per call and httpx ~0.5 ms, `http.client` ~0.12 ms; with 64
calls in flight the GIL turns that CPU into waiting (litellm capped a judging run at 25-47% of the ideal
rate against a 200 ms server, httpx cost ~5 points; see `benchmarks/arena_throughput/`). Every other
provider goes through litellm, imported on first use.

Prices come from litellm's bundled cost map (`LITELLM_LOCAL_MODEL_COST_MAP=True`: no network at import), or
from a user-given price per 1,000 tokens, which wins.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from xraybench.errors import MissingExtraError, TransientError, XrayBenchError
from xraybench.retry import parse_retry_after

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
RETRYABLE_STATUS = frozenset({408, 409, 429})
# litellm's names for what an HTTP status means, so both paths word their errors alike
_STATUS_NAMES = {
    400: "BadRequestError", 401: "AuthenticationError", 403: "PermissionDeniedError", 404: "NotFoundError",
    408: "Timeout", 409: "ConflictError", 422: "UnprocessableEntityError", 429: "RateLimitError",
    503: "ServiceUnavailableError",
}  # fmt: skip


@dataclass(frozen=True)
class LLMAnswer:
    """One answer and what it cost; token counts are 0 when the server reports no usage."""

    text: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float


def is_local(api_base: str | None) -> bool:
    """True when `api_base` points at this machine, so no report text leaves it."""
    return api_base is not None and (urlparse(api_base).hostname or "") in LOCAL_HOSTS


class LLMClient:
    """A chat model: `model` is a litellm provider string ("openai/gpt-4o", "anthropic/claude-...")."""

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key_env: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 1024,
        timeout_s: float = 120.0,
        price_per_1k_tokens: float | None = None,
    ):
        if "/" not in model:
            raise XrayBenchError(f"model {model!r}: expected PROVIDER/MODEL, e.g. openai/gpt-4o-mini")
        self.model = model
        self.api_base = api_base
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.price_per_1k_tokens = price_per_1k_tokens
        self.api_key = os.environ.get(api_key_env) if api_key_env else None
        if api_key_env and self.api_key is None:
            raise XrayBenchError(f"model {model} needs an API key in the environment variable {api_key_env}")
        if self.api_key is None and is_local(api_base):
            self.api_key = "sk-local"  # local servers ignore it, but the OpenAI client insists on one
        # True: requests go over the direct HTTP path; set it to False to send them through litellm instead
        self.direct = self.provider == "openai" and bool(api_base)
        self._litellm_module: Any = None
        self._http_lock = threading.Lock()
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []
        if self.direct:
            self._open_direct()
        else:
            self._litellm_module = _litellm()  # fail now, naming the extra, not at the first call

    @property
    def provider(self) -> str:
        return self.model.split("/", 1)[0]

    @property
    def local(self) -> bool:
        return is_local(self.api_base)

    @property
    def params(self) -> dict[str, Any]:
        """The decoding parameters that decide an answer (part of every call key)."""
        return {"temperature": self.temperature, "max_tokens": self.max_tokens}

    def prices(self) -> tuple[float, float] | None:
        """(input, output) USD per token: the user's price, else litellm's map, else None (unknown)."""
        if self.price_per_1k_tokens is not None:
            per_token = self.price_per_1k_tokens / 1000.0
            return per_token, per_token
        try:
            cost_map = self._litellm().model_cost
        except MissingExtraError:
            if self.direct:  # the direct path works without litellm; only its price list is missing
                return None
            raise
        info = cost_map.get(self.model) or cost_map.get(self.model.split("/", 1)[1])
        if not info or info.get("input_cost_per_token") is None:
            return None
        return float(info["input_cost_per_token"]), float(info.get("output_cost_per_token") or 0.0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        prices = self.prices()
        return 0.0 if prices is None else prompt_tokens * prices[0] + completion_tokens * prices[1]

    def complete(self, messages: list[dict[str, Any]]) -> LLMAnswer:
        """One request, no retries; raises `TransientError` or `XrayBenchError` on failure."""
        if self.direct:
            return self._complete_direct(messages)
        return self._complete_litellm(messages)

    def close(self) -> None:
        """Close the pooled HTTP connections of the direct path (a later call opens new ones)."""
        with self._http_lock:
            connections, self._connections, self._local = self._connections, [], threading.local()
        for conn in connections:
            conn.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _litellm(self) -> Any:
        if self._litellm_module is None:
            self._litellm_module = _litellm()
        return self._litellm_module

    def _answer(self, text: str | None, finish_reason: str | None, usage: Any, latency: float) -> LLMAnswer:
        prompt_tokens = int(_field(usage, "prompt_tokens") or 0)
        completion_tokens = int(_field(usage, "completion_tokens") or 0)
        return LLMAnswer(
            text=text or "",
            finish_reason=finish_reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=self.cost(prompt_tokens, completion_tokens),
            latency_s=latency,
        )

    def _complete_litellm(self, messages: list[dict[str, Any]]) -> LLMAnswer:
        from xraybench.models.litellm_model import map_litellm_error

        litellm = self._litellm()
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "timeout": self.timeout_s,
            "num_retries": 0,
        }
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.api_key:
            kwargs["api_key"] = self.api_key
        start = time.perf_counter()
        try:
            response = litellm.completion(**kwargs)
        except Exception as exc:  # litellm raises its own hierarchy (and sometimes plain httpx/openai errors)
            raise map_litellm_error(litellm, exc, self.model) from exc
        latency = time.perf_counter() - start
        choice = response.choices[0]
        return self._answer(choice.message.content, choice.finish_reason, getattr(response, "usage", None), latency)

    def _open_direct(self) -> None:
        """What every thread's connection shares: target, headers, proxy and one TLS context (loading the CA
        bundle costs tens of milliseconds, too much to pay per thread)."""
        assert self.api_base is not None  # the direct path is taken only with an api_base
        url = urlparse(self.api_base)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise XrayBenchError(f"--api-base {self.api_base!r}: expected an http:// or https:// URL")
        self._https = url.scheme == "https"
        self._host, self._port = url.hostname, url.port or (443 if self._https else 80)
        self._url = f"{self.api_base.rstrip('/')}/chat/completions"
        self._target = f"{url.path.rstrip('/')}/chat/completions"
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = self.api_key or os.environ.get("OPENAI_API_KEY")
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._proxy = _proxy_for(url.scheme, self._host)
        self._tunnel_headers: dict[str, str] = {}
        if self._proxy is not None and self._proxy.username:
            auth = f"{unquote(self._proxy.username)}:{unquote(self._proxy.password or '')}"
            proxy_auth = {"Proxy-Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}
            if self._https:
                self._tunnel_headers = proxy_auth
            else:
                self._headers.update(proxy_auth)
        if self._proxy is not None and not self._https:
            self._target = self._url  # a plain-HTTP proxy takes the absolute URL
        self._tls: Any = None
        if self._https:
            import httpx

            self._tls = httpx.create_ssl_context()  # certifi's CA bundle, as the httpx-based clients verify

    def _connection(self) -> http.client.HTTPConnection:
        """This thread's keep-alive connection, created on its first request (it reconnects by itself after the
        server closed it). One per thread: a thread has one request in flight at a time."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            host, port = self._host, self._port
            if self._proxy is not None:
                host, port = self._proxy.hostname or "", self._proxy.port or 80
            if self._https:
                conn = http.client.HTTPSConnection(host, port, timeout=self.timeout_s, context=self._tls)
                if self._proxy is not None:
                    conn.set_tunnel(self._host, self._port, headers=self._tunnel_headers)
            else:
                conn = http.client.HTTPConnection(host, port, timeout=self.timeout_s)
            with self._http_lock:
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    def _complete_direct(self, messages: list[dict[str, Any]]) -> LLMAnswer:
        """POST `{api_base}/chat/completions`; errors sorted like litellm sorts them (see `_status_error`)."""
        body = {
            "model": self.model.split("/", 1)[1],
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        start = time.perf_counter()
        conn = self._connection()
        try:
            conn.request("POST", self._target, body=payload, headers=self._headers)
            response = conn.getresponse()
            content = response.read()
        except TimeoutError as exc:
            conn.close()  # a late answer must not be read as the next request's
            raise TransientError(
                f"{self.model}: Timeout: no answer from {self._url} within {self.timeout_s:g}s ({type(exc).__name__})"
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise TransientError(f"{self.model}: APIConnectionError: {self._url}: {exc!r}") from exc
        latency = time.perf_counter() - start
        if response.status >= 400:
            raise self._status_error(response.status, response.getheader("retry-after"), content)
        try:
            data = json.loads(content)
            choice = data["choices"][0]
            text, finish_reason = choice["message"].get("content"), choice.get("finish_reason")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise TransientError(
                f"{self.model}: InternalServerError: {self._url} answered 200 with a body that is not a chat "
                f"completion ({type(exc).__name__}: {exc}): {content[:200].decode('utf-8', 'replace')!r}"
            ) from exc
        return self._answer(text, finish_reason, data.get("usage"), latency)

    def _status_error(self, status: int, retry_after: str | None, content: bytes) -> XrayBenchError:
        """408/409/429/5xx are worth retrying (429 with the server's `Retry-After`); any other 4xx is not."""
        message, code = _error_text(content)
        if status == 400 and ("context_length" in code or "context length" in message.lower()):
            name = "ContextWindowExceededError"
        else:
            name = _STATUS_NAMES.get(status, "InternalServerError" if status >= 500 else "APIError")
        text = f"{self.model}: {name}: HTTP {status}: {message}"
        if status in RETRYABLE_STATUS or status >= 500:
            return TransientError(text, parse_retry_after(retry_after))
        return XrayBenchError(text)


def _proxy_for(scheme: str, host: str) -> Any:
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


def _field(obj: Any, name: str) -> Any:
    """A usage field from litellm's object or the direct path's dict."""
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _error_text(content: bytes) -> tuple[str, str]:
    """The server's own error message and code: OpenAI's `{"error": {"message", "code"}}`, else the body."""
    text = content.decode("utf-8", "replace")
    try:
        payload = json.loads(text)
    except ValueError:
        return text[:500], ""
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"]), str(error.get("code") or error.get("type") or "")
    if isinstance(error, str):
        return error, ""
    return text[:500], ""


def _litellm() -> Any:
    """litellm without its network look-up at import, its "Give Feedback" banner switched off."""
    from xraybench.models.litellm_model import import_litellm

    litellm = import_litellm()
    litellm.suppress_debug_info = True
    return litellm
