"""A minimal asyncio OpenAI-compatible chat server that answers every request after a fixed latency.

Why not `xraybench.testing.openai_server.OpenAIServer` here: it runs one thread per connection under one GIL,
so 64 requests that wake up together are answered one after another, which added ~45 ms to a 200 ms reply
(measured with a bare `http.client` loop against it). A real judge server (vLLM, a provider's API) answers
concurrent requests concurrently; an event loop with keep-alive connections comes close enough that the
benchmark measures the judging client, not the test server.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from multiprocessing.connection import Connection


class LatencyServer:
    """Answers `POST .../chat/completions` with `reply` after `latency` seconds; counts the requests and notes
    when each arrived (`time.time()`, comparable with the client's clock)."""

    def __init__(self, latency: float, reply: str):
        self.latency = latency
        self.reply = reply
        self.n_requests = 0
        self.arrivals: list[float] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = json.loads(await reader.readexactly(length)) if length else {}
                self.arrivals.append(time.time())
                await asyncio.sleep(self.latency)
                self.n_requests += 1
                writer.write(self._response(body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, asyncio.CancelledError):
            pass  # the client hung up, sent garbage, or the server is stopping: end this connection quietly
        finally:
            writer.close()

    def _response(self, body: dict) -> bytes:
        prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages") or []) // 4
        payload = json.dumps(
            {
                "id": f"chatcmpl-{self.n_requests}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", ""),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": self.reply}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": prompt, "completion_tokens": 40, "total_tokens": prompt + 40},
            }
        ).encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        return head.encode() + payload


def serve(latency: float, reply: str, conn: Connection) -> None:
    """Process entry point: sends the base URL, then answers "count" with the request count and the arrival times
    since the previous "count", until "stop"."""
    server = LatencyServer(latency, reply)

    async def main() -> None:
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, backlog=512)
        port = listener.sockets[0].getsockname()[1]
        conn.send(f"http://127.0.0.1:{port}/v1")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def control() -> None:
            while conn.recv() == "count":
                arrivals, server.arrivals = server.arrivals, []
                conn.send((server.n_requests, arrivals))
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=control, daemon=True).start()
        async with listener:
            await stop.wait()

    asyncio.run(main())
