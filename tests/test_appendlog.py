"""`xraybench.files.AppendLog`, the one append-only JSONL writer (run predictions and failures, the arena's plan
file, synthesis outputs, training-data builds), on real files and real processes: `kill -9` mid-append, torn
tails left by older writers, two processes appending the same keys, and a full disk (a real file-size limit,
which the kernel reports as EFBIG exactly where a full disk reports ENOSPC)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from xraybench.errors import DataFormatError
from xraybench.files import AppendLog, read_jsonl

# A writer process: appends batches of `BATCH` records with ids from START on, until killed or END is reached.
WRITER = textwrap.dedent(
    """
    import sys
    from xraybench.files import AppendLog
    path, start, end, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    log = AppendLog(path, safe="the earlier lines are intact", key=lambda r: r["id"])
    for first in range(start, end, batch):
        log.append({"id": f"r{i:06d}", "text": "x" * 2000} for i in range(first, min(first + batch, end)))
    """
)


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]


def _writer(path: Path, start: int, end: int, batch: int, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), str(start), str(end), str(batch)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw,  # type: ignore[call-overload]
    )  # fmt: skip


def test_kill_9_mid_append_then_reopen_repairs_and_resumes_without_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    proc = _writer(path, 0, 10**7, 7)
    deadline = time.time() + 60
    while _lines(path) < 200 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with path.open("ab") as fh:  # and a half line as an older writer (flush only, no cut-back) left them
        fh.write(b'{"id": "r9999999", "text": "xx')
    complete = [json.loads(line)["id"] for line in path.read_bytes().split(b"\n")[:-1]]
    assert len(complete) >= 200
    assert [r["id"] for _, r in read_jsonl(path)] == complete  # readers leave the torn tail out, untouched
    assert not path.read_bytes().endswith(b"\n")

    log = AppendLog(path, safe="the earlier lines are intact", key=lambda r: r["id"])
    assert path.read_bytes().endswith(b"\n")  # the torn tail was cut when the log was opened
    assert log.keys == set(complete)
    resumed = _writer(path, 0, len(complete) + 50, 13)  # a rerun asks for everything; only the rest is written
    assert resumed.wait(timeout=120) == 0, resumed.communicate()
    ids = _ids(path)
    assert ids[: len(complete)] == complete  # what was done stays, in place
    assert sorted(ids) == [f"r{i:06d}" for i in range(len(complete) + 50)]  # no gap, no duplicate


def test_two_processes_appending_the_same_keys_write_each_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    procs = [_writer(path, 0, 600, 10), _writer(path, 0, 600, 17)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.communicate()
    ids = _ids(path)  # every line is whole JSON: the two never interleaved
    assert sorted(ids) == [f"r{i:06d}" for i in range(600)]


def test_a_full_disk_names_the_file_cuts_the_batch_back_and_the_log_goes_on_after(tmp_path: Path) -> None:
    """RLIMIT_FSIZE: the kernel refuses to grow the file (EFBIG) part way through a write, as a full disk does."""
    resource = pytest.importorskip("resource")
    path = tmp_path / "log.jsonl"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))

    proc = _writer(path, 0, 1000, 4, preexec_fn=limit)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert f"could not write {path}: no space left on device" in err and "the earlier lines are intact" in err
    data = path.read_bytes()
    assert 0 < len(data) <= 50_000 and data.endswith(b"\n")  # the failed batch was cut back whole
    kept = _ids(path)
    assert len(kept) % 4 == 0  # only whole batches
    proc = _writer(path, 0, 30, 4)  # space is back: the same command goes on where it stopped
    assert proc.wait(timeout=120) == 0, proc.communicate()
    assert _ids(path) == kept + [f"r{i:06d}" for i in range(len(kept), 30)]


def test_a_corrupt_line_before_the_tail_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"id": "a"}\nnot json\n{"id": "b"}\n')
    with pytest.raises(DataFormatError, match=r"log.jsonl:2: invalid JSON"):
        AppendLog(path, safe="x", key=lambda r: r["id"])
    with pytest.raises(DataFormatError, match=r"log.jsonl:2: invalid JSON"):
        list(read_jsonl(path))
    path.write_text('{"id": "a"}\n{"name": "no id"}\n')
    with pytest.raises(DataFormatError, match=r"log.jsonl:2: expected one JSON object per line"):
        AppendLog(path, safe="x", key=lambda r: r["id"])
