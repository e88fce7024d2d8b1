"""One process per run folder, and a full disk that names its file and loses nothing finished.

Two real `xraybench run` subprocesses share one `--out` against the local fault server; a full disk is
simulated in-process (a write that stops half way with ENOSPC) and, where this machine lets the test mount
one, reproduced on a real 1 MB tmpfs.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from xraybench import files
from xraybench.files import AppendLog, DiskFullError, FolderLock, write_atomic
from xraybench.runner import PREDICTIONS_FILE, RunConfig, run
from xraybench.taskdata import load_task
from xraybench.testing.openai_server import OpenAIServer, default_reply

TASK = "demo_vqa"


def _cmd(server: OpenAIServer, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "xraybench", "run", "--model", "openai:tiny-test-model", "--api-base", server.base_url,
        "--tasks", TASK, "--out", str(out), "--no-progress", "--bootstrap-rounds", "10", "--skip-metrics",
        "answer_score", *extra,
    ]  # fmt: skip


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def test_a_second_run_on_the_same_folder_is_refused_naming_the_holder(tmp_path: Path) -> None:
    gate = threading.Event()  # the first run's answers wait until the second run has been turned away

    def held(body: dict[str, Any]) -> str:
        gate.wait(120)
        return default_reply(body)

    expected = [s.id for s in load_task(TASK).samples]
    out = tmp_path / "run"
    with OpenAIServer(reply_fn=held) as server:
        first = subprocess.Popen(_cmd(server, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while not server.chat_requests() and time.time() < deadline and first.poll() is None:
            time.sleep(0.02)  # the first run is asking: it holds the folder
        assert first.poll() is None, f"the first run ended before the second started: {first.communicate()}"
        try:
            second = subprocess.run(_cmd(server, out), capture_output=True, text=True, timeout=120)
        finally:
            gate.set()
        assert first.wait(timeout=300) == 0, first.communicate()
        asked = len(server.chat_requests())
        # the lock goes with its holder: the same command now resumes, with nothing left to ask
        again = subprocess.run(_cmd(server, out), capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert len(server.chat_requests()) == asked
    assert second.returncode == 1
    assert f"run folder {out} is in use by another xraybench process (pid {first.pid} on " in second.stderr
    assert "Traceback" not in second.stderr
    ids = _ids(out / PREDICTIONS_FILE)
    assert sorted(ids) == sorted(expected)  # each item once: the second process asked nothing
    assert asked == len(expected)


def test_folder_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    with FolderLock(lock, what="folder X"):
        holder = json.loads(lock.read_text())
        assert holder["pid"] == os.getpid()
        code = (
            "import sys\nfrom xraybench.files import FolderLock\nfrom xraybench.errors import XrayBenchError\n"
            f"try:\n    FolderLock({str(lock)!r}, what='folder X').acquire()\n"
            "except XrayBenchError as e:\n    print(e); sys.exit(1)\n"
        )
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert other.returncode == 1 and f"folder X is in use by another xraybench process (pid {os.getpid()}" in (
            other.stdout
        )
    free = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert free.returncode == 0, free.stdout


class _FullAfter:
    """An unbuffered file whose writes stop half way with ENOSPC once `budget` bytes have been written."""

    def __init__(self, real: Any, budget: list[int]):
        self.real, self.budget = real, budget

    def write(self, data: memoryview | bytes) -> int:
        if len(data) <= self.budget[0]:
            self.budget[0] -= len(data)
            return self.real.write(data)
        self.real.write(bytes(data[: len(data) // 2]))  # part of the batch reaches the disk, then it is full
        self.real.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_simulated_full_disk_names_the_file_keeps_what_was_done_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = [4000]  # room for a few predictions
    real_open = open

    def open_filling(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(path, mode, *args, **kwargs)
        return _FullAfter(handle, budget) if str(path).endswith(PREDICTIONS_FILE) else handle

    monkeypatch.setattr(files, "open", open_filling, raising=False)
    out = tmp_path / "run"
    with OpenAIServer() as server:
        config = RunConfig(
            model="openai:tiny-test-model", tasks=[TASK], out=str(out), api_base=server.base_url,
            bootstrap_rounds=10, progress=False, skip_metrics=["answer_score"],
        )  # fmt: skip
        with pytest.raises(DiskFullError) as err:
            run(config)
        message = str(err.value)
        assert f"could not write {out / PREDICTIONS_FILE}: no space left on device" in message
        assert "Nothing finished was lost" in message and "rerun the same command" in message
        text = (out / PREDICTIONS_FILE).read_text()
        assert text.endswith("\n") and all(json.loads(line) for line in text.splitlines())  # no torn half batch
        kept = _ids(out / PREDICTIONS_FILE)
        assert 0 < len(kept) < len(load_task(TASK).samples)
        asked_before = len(server.chat_requests())
        monkeypatch.setattr(files, "open", real_open, raising=False)  # space freed
        results = run(config)
        asked_after = len(server.chat_requests()) - asked_before
    assert results["status"] == "complete"
    ids = _ids(out / PREDICTIONS_FILE)
    assert len(ids) == len(set(ids)) == len(load_task(TASK).samples)
    assert ids[: len(kept)] == kept  # what was finished stayed, and was not asked again
    assert asked_after == len(ids) - len(kept)


def test_full_disk_while_writing_results_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "results.json"
    target.write_text('{"old": true}')

    def full(self: Path, *args: Any, **kwargs: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(DiskFullError, match=rf"could not write {target}: no space left on device\. Nothing"):
        write_atomic(target, "{}", safe="every prediction is kept")
    monkeypatch.undo()
    assert target.read_text() == '{"old": true}' and not (tmp_path / "results.json.tmp").exists()


def test_appender_cuts_a_failed_batch_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.jsonl"
    budget = [60]
    real_open = open
    monkeypatch.setattr(
        files, "open", lambda p, m, *a, **k: _FullAfter(real_open(p, m, *a, **k), budget), raising=False
    )
    appender = AppendLog(path, safe="the earlier lines are intact")
    appender.append([{"id": "a"}])
    with pytest.raises(DiskFullError, match="the earlier lines are intact"):
        appender.append([{"id": "b", "text": "x" * 200}])
    assert path.read_text() == '{"id": "a"}\n'


def _mount_tmpfs(where: Path, size: str) -> bool:
    if shutil.which("mount") is None or (hasattr(os, "geteuid") and os.geteuid() != 0):
        return False
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    return done.returncode == 0


def test_real_full_tmpfs_during_run_then_rerun_after_freeing_space(tmp_path: Path) -> None:
    disk = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    if not _mount_tmpfs(disk, "2m"):
        pytest.skip("cannot mount a tmpfs here (needs root and mount); the simulated ENOSPC test covers this")
    try:
        filler = disk / "filler.bin"
        filler.write_bytes(b"\0" * 1_700_000)
        out = disk / "run"

        def big(body: dict[str, Any]) -> str:
            return (default_reply(body) + " ") * 60  # ~3.5 KB per answer, ~7 KB a line: the disk fills part way

        with OpenAIServer(reply_fn=big) as server:
            full = subprocess.run(_cmd(server, out), capture_output=True, text=True, timeout=300)
            assert full.returncode == 1, full.stderr
            assert "Traceback" not in full.stderr
            assert "no space left on device" in full.stderr and "Nothing finished was lost" in full.stderr
            assert str(out) in full.stderr  # names the file it could not write
            kept = _ids(out / PREDICTIONS_FILE) if (out / PREDICTIONS_FILE).exists() else []
            filler.unlink()  # free space
            again = subprocess.run(_cmd(server, out), capture_output=True, text=True, timeout=300)
            assert again.returncode == 0, again.stderr
        ids = _ids(out / PREDICTIONS_FILE)
        assert len(ids) == len(set(ids)) == len(load_task(TASK).samples)
        assert ids[: len(kept)] == kept
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
