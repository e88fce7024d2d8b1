"""`timeout_s` is a deadline for the whole request over https too: TCP connect, proxy tunnel and TLS handshake
included (real TLS with a self-signed certificate, real sockets; see xraybench/testing/hostile_network.py).

Before the fix the deadline was armed only once the connection was open: a proxy that dripped its answer to
`CONNECT` held a 1 s request for 15 s, and a handshake that stalled after a late tunnel got a fresh `timeout_s`
of its own (1.6 s + 2 s for a 2 s deadline).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from xraybench.errors import TransientError
from xraybench.llm.client import LLMClient
from xraybench.retry import RetryPolicy, call_with_retries
from xraybench.testing.hostile_network import (
    TLS_TEST_HOST,
    StalledListener,
    TLSFiles,
    TunnelProxy,
    self_signed_tls,
)
from xraybench.testing.openai_server import Fault, OpenAIServer

MODEL = "openai/test-model"
MESSAGES = [{"role": "user", "content": "Is the heart size normal?"}]
TIMEOUT = "Timeout: no complete answer .* within {:g}s .*deadline for the whole request"
# what a request past its deadline may take beyond it on a loaded 2-core machine (the watchdog thread's wake-up)
SLACK_S = 1.0


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    try:
        return self_signed_tls(tmp_path_factory.mktemp("tls"))
    except RuntimeError as exc:
        pytest.skip(f"no self-signed certificate: {exc}")


@pytest.fixture
def trusted(tls_files: TLSFiles, monkeypatch: pytest.MonkeyPatch) -> TLSFiles:
    """The client trusts the test certificate (as a user's own CA bundle through SSL_CERT_FILE) and no
    proxy is configured unless the test sets one."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.cert))
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return tls_files


@pytest.fixture
def tls_server(trusted: TLSFiles) -> Iterator[OpenAIServer]:
    with OpenAIServer(tls=trusted.server_context()) as server:
        yield server


def client_for(api_base: str, timeout_s: float) -> LLMClient:
    client = LLMClient(MODEL, api_base=api_base, timeout_s=timeout_s)
    assert client.direct  # the shared transport, not litellm's own client
    return client


def test_https_answers_through_the_transport(tls_server: OpenAIServer) -> None:
    """The baseline of the tests below: the same client gets a real answer over TLS."""
    assert tls_server.base_url.startswith("https://")
    with client_for(tls_server.base_url, 2.0) as client:
        assert client.complete(MESSAGES).text
    assert len(tls_server.chat_requests()) == 1


def test_a_stalled_tls_handshake_fails_at_the_deadline_and_is_retried(trusted: TLSFiles) -> None:
    """A server that accepts TCP and never answers the ClientHello: each attempt ends at `timeout_s` with the
    timeout error, each retry opens a new connection, and the run is not held."""
    policy = RetryPolicy(max_attempts=3, base_delay_s=0.0)
    with StalledListener() as stalled, client_for(stalled.base_url, 1.0) as client:
        start = time.monotonic()
        with pytest.raises(TransientError, match=TIMEOUT.format(1.0)):
            call_with_retries(lambda: client.complete(MESSAGES), policy)
        elapsed = time.monotonic() - start
        assert stalled.accepted == 3  # one new connection per attempt
    assert elapsed < 3 * 1.0 + SLACK_S


@pytest.mark.parametrize("kind", ["drip", "late"])
def test_a_slow_proxy_tunnel_and_stalled_handshake_stay_within_the_deadline(
    kind: str, tls_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """https through a proxy: one that answers `CONNECT` one byte every 0.2 s (80 bytes: 16 s), or after 1.6 s
    and then relays nothing (the handshake stalls), is cut off at the 2 s deadline; the retry goes through a
    working tunnel and gets the answer."""
    upstream = ("127.0.0.1", int(tls_server.base_url.rsplit(":", 1)[1].split("/")[0]))
    with TunnelProxy(upstream=upstream, plan=[kind], delay_s=0.2 if kind == "drip" else 1.6) as proxy:
        monkeypatch.setenv("https_proxy", proxy.url)
        with client_for(f"https://{TLS_TEST_HOST}/v1", 2.0) as client:
            assert client._proxy is not None  # the request goes through the proxy
            start = time.monotonic()
            with pytest.raises(TransientError, match=TIMEOUT.format(2.0)):
                client.complete(MESSAGES)
            assert time.monotonic() - start < 2.0 + SLACK_S
            answer = call_with_retries(lambda: client.complete(MESSAGES), RetryPolicy(max_attempts=2))
        assert answer.text
        assert proxy.targets == [f"{TLS_TEST_HOST}:443"] * 2
    assert len(tls_server.chat_requests()) == 1  # the cut-off attempt never reached the server


def test_a_keep_alive_https_connection_after_a_cut_off_answer_is_a_fresh_one(tls_server: OpenAIServer) -> None:
    """The deadline on a reused TLS connection: a dripped answer is cut off, the next request reconnects."""
    with client_for(tls_server.base_url, 2.0) as client:
        assert client.complete(MESSAGES).text
        tls_server.fault_plan[:] = [Fault.drip(0.4)]
        start = time.monotonic()
        with pytest.raises(TransientError, match=TIMEOUT.format(2.0)):
            client.complete(MESSAGES)
        assert time.monotonic() - start < 2.0 + SLACK_S
        assert client.complete(MESSAGES).text


def test_the_test_certificate_is_what_makes_https_work(tls_files: TLSFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    """Guard for the tests above: without trusting the test certificate the handshake is refused (so they do
    talk TLS, and verify it), and that refusal is a connection error, not a timeout."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with (
        OpenAIServer(tls=tls_files.server_context()) as server,
        client_for(server.base_url, 5.0) as client,
        pytest.raises(TransientError, match="APIConnectionError.*CERTIFICATE_VERIFY_FAILED"),
    ):
        client.complete(MESSAGES)
