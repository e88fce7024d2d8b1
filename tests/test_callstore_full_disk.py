"""The shared call store (arena judgments, teacher answers, reasoning scores) on a full disk: an error that names
the file and says nothing stored was lost, every earlier answer intact, and the same store usable once space is
freed. A real 1 MB tmpfs where the test may mount one; otherwise SQLite's own page limit gives the same
SQLITE_FULL error."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from xraybench.callstore import CallStore
from xraybench.errors import XrayBenchError


def identity(i: int) -> dict[str, Any]:
    return {"kind": "judge", "judge": "openai/tiny", "study": f"s{i}", "prompt_version": "v1"}


@contextmanager
def small_disk(tmp_path: Path) -> Iterator[Path | None]:
    """A mounted 1 MB tmpfs, or None where mounting is not allowed."""
    where = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    where.mkdir()
    if shutil.which("mount") is None or (hasattr(os, "geteuid") and os.geteuid() != 0):
        yield None
        return
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True).returncode:
        yield None
        return
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_full_disk_names_the_store_and_keeps_every_stored_answer(tmp_path: Path) -> None:
    with small_disk(tmp_path) as disk:
        path = (disk or tmp_path) / "calls.db"
        filler = (disk or tmp_path) / "filler.bin"
        store = CallStore(path)
        stored = []
        if disk is None:  # simulated: SQLite stops growing the file past its current size + a little
            store._conn.execute("PRAGMA max_page_count = 40")
        else:
            filler.write_bytes(b"\0" * 700_000)
        with pytest.raises(XrayBenchError) as err:
            for i in range(10_000):
                key = CallStore.key_of(**identity(i))
                store.record_ok(key, identity(i), raw_text=f"A>B {i} " + "x" * 2_000)
                stored.append(key)
        message = str(err.value)
        assert f"could not write {path}: no space left on device" in message
        assert "Nothing finished was lost" in message and "rerun the same command" in message
        assert 0 < len(stored) < 10_000
        assert store.done_keys(stored) == set(stored)  # every answer stored before the full disk is there
        # space freed: the same store takes the answer that could not be written
        if disk is None:
            store._conn.execute("PRAGMA max_page_count = 1073741823")
        else:
            filler.unlink()
        i = len(stored)
        store.record_ok(CallStore.key_of(**identity(i)), identity(i), raw_text="B>A")
        assert store.totals().n_ok == len(stored) + 1
        store.close()
        with CallStore(path) as again:
            again.check()
            assert again.done_keys(stored) == set(stored)
