"""A reader study on a full disk: the reviewer's click is refused with a clear answer (not a dropped connection),
the operator's console names the study file and what to do, every answer saved before is intact, and the next
click after space is freed saves; `review create` says the same, with no traceback and no half-written study
left behind (so the same command works once space is freed); `review export` leaves an earlier export whole.

The disk fills through SQLite's own limit (`PRAGMA max_page_count` on every connection to the study file, the
store opening one per operation): SQLite then fails the write with SQLITE_FULL, "database or disk is full", the
same error a real full disk gives it. (No small filesystem can be mounted here without root.)
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_review_server import Client, csrf_of, headers  # the same HTTP client as the server tests

from xraybench.cli import main
from xraybench.review import DIMENSION_KEYS
from xraybench.review.server import make_server
from xraybench.review.store import ReviewStore
from xraybench.review.study import CreateConfig, create_study, open_study


class Disk:
    """SQLite connections to `path` see a disk that holds at most `pages` pages (None: no limit)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, path: Path):
        self.path, self.pages, self.read_only = path, None, False
        connect = sqlite3.connect

        def limited(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
            conn = connect(database, *args, **kwargs)
            if Path(database).resolve() == self.path.resolve():
                if self.pages is not None:
                    conn.execute(f"PRAGMA max_page_count = {self.pages}")
                if self.read_only:  # SQLite refuses every write: "attempt to write a readonly database"
                    conn.execute("PRAGMA query_only = 1")
            return conn

        monkeypatch.setattr(sqlite3, "connect", limited)

    def fill(self, spare_pages: int = 0) -> None:
        """The disk is full but for `spare_pages` pages beyond what the study uses now."""
        with sqlite3.connect(self.path) as conn:
            self.pages = conn.execute("PRAGMA page_count").fetchone()[0] + spare_pages

    def free(self) -> None:
        self.pages = None


@pytest.fixture
def served(tmp_path: Path, runs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    cfg = CreateConfig(
        name="full", task="demo_findings", cases=4, reviewers=["a"], seed=0, runs=[str(r) for r in runs],
        root=str(tmp_path / "reviews"),
    )  # fmt: skip
    _, tokens = create_study(cfg)
    store = open_study(tmp_path / "reviews", "full")
    disk = Disk(monkeypatch, store.path)
    server = make_server(store, port=0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = Client(server)
    base = f"/r/{tokens['a']}"
    csrf = csrf_of(client.get(base)[2])
    yield store, disk, lambda body: client.post(f"{base}/api/answer", body, headers(csrf))
    server.shutdown()
    server.server_close()


def test_a_click_on_a_full_disk_is_refused_clearly_and_nothing_saved_is_lost(
    served: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store, disk, post = served
    n_cases = len(store.assignments("a"))
    clicks = [{"position": p, "dimension": d, "choice": "left"} for p in range(n_cases) for d in DIMENSION_KEYS]
    comments = [{"position": p, "comment": f"case {p}: " + "the left report misses the effusion. " * 250}
                for p in range(n_cases)]  # fmt: skip
    saved = []
    disk.fill(spare_pages=4)  # room for a few long comments, not for all of them
    refused = None
    with caplog.at_level(logging.ERROR, logger="xraybench.review.server"):
        for body in [x for pair in zip(clicks, comments * len(DIMENSION_KEYS), strict=False) for x in pair]:
            status, answer = post(body)
            if status != 200:
                refused = (body, status, answer)
                break
            assert answer["saved"] is True
            saved.append(body)
    assert refused is not None and saved, "the disk never filled: the limit is not applied"
    body, status, answer = refused
    assert status == 507
    assert "disk is full" in answer["error"] and "not saved" in answer["error"]
    assert "every answer saved before is kept" in answer["error"] and "click again" in answer["error"]
    console = caplog.text
    assert f"could not write {store.path}: no space left on device" in console
    assert "Nothing saved before was lost" in console and "Free some space" in console
    assert "Traceback" not in console

    # everything the reviewer was told was saved is in the file, read by a fresh store (no disk limit involved)
    disk.free()
    again = ReviewStore(store.path)
    answers = {(a.case_id, a.dimension): a.choice for a in again.answers("a")}
    comments_stored = again.comments("a")
    case_of = [a.case_id for a in again.assignments("a")]
    for done in saved:
        if "comment" in done:
            assert comments_stored[("a", case_of[done["position"]])][0] == done["comment"]
        else:
            assert answers[(case_of[done["position"]], done["dimension"])] == "left"
    n_before = len(answers) + len(comments_stored)
    assert n_before == len(saved)  # and nothing half-saved from the refused click

    # space freed: the same click saves, the server never stopped
    status, answer = post(body)
    assert status == 200 and answer["saved"] is True
    assert len(again.answers("a")) + len(again.comments("a")) == n_before + 1


def test_create_on_a_full_disk_says_so_and_leaves_no_half_study(
    tmp_path: Path, runs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "rv"
    path = root / "cli" / "study.sqlite"
    argv = ["review", "create", "--name", "cli", "--runs", str(runs[0]), str(runs[1]), "--task", "demo_findings",
            "--cases", "3", "--reviewers", "ann,bob", "--root", str(root)]  # fmt: skip
    disk = Disk(monkeypatch, path)
    disk.pages = 3  # the schema's tables need more pages than that
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"could not write {path}: no space left on device" in err and "rerun the same command" in err
    assert "half-written study file was removed" in err and "Traceback" not in err
    assert not path.exists()
    disk.free()
    assert main(argv) == 0  # the same command, once space is freed
    links = capsys.readouterr().out
    assert open_study(root, "cli").reviewers() == ["ann", "bob"]
    assert "ann: http" in links


def test_a_click_the_study_file_cannot_take_is_a_clear_500_not_a_dropped_connection(
    served: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Any other SQLite failure of a save (here: a read-only study) is not the reviewer's bad request: 500, the
    console names the file and SQLite's reason, nothing saved before is touched."""
    store, disk, post = served
    assert post({"position": 0, "dimension": "overall", "choice": "left"})[0] == 200
    disk.read_only = True
    with caplog.at_level(logging.ERROR, logger="xraybench.review.server"):
        status, answer = post({"position": 0, "dimension": "overall", "choice": "right"})
    assert status == 500 and "not saved" in answer["error"] and "every answer saved before is kept" in answer["error"]
    assert f"could not write {store.path}" in caplog.text and "readonly database" in caplog.text
    disk.read_only = False
    assert [a.choice for a in ReviewStore(store.path).answers("a")] == ["left"]
    assert post({"position": 0, "dimension": "overall", "choice": "right"})[0] == 200
    assert [a.choice for a in ReviewStore(store.path).answers("a")] == ["right"]


def test_export_on_a_full_disk_names_the_file_and_keeps_the_earlier_export(
    tmp_path: Path, runs: tuple[Path, Path]
) -> None:
    """A real `review export` process whose files the kernel refuses to grow past 8,000 bytes (RLIMIT_FSIZE: EFBIG,
    as a full disk gives ENOSPC): the error names the CSV, the earlier export is as it was, the study untouched."""
    resource = pytest.importorskip("resource")
    cfg = CreateConfig(
        name="ex", task="demo_findings", cases=4, reviewers=["a"], seed=0, runs=[str(r) for r in runs],
        root=str(tmp_path / "reviews"),
    )  # fmt: skip
    create_study(cfg)
    store = open_study(tmp_path / "reviews", "ex")
    cases = [a.case_id for a in store.assignments("a")]
    store.save_comment("a", cases[0], "short")
    out = tmp_path / "answers.csv"
    argv = ["review", "export", "--name", "ex", "--root", str(tmp_path / "reviews"), "--out", str(out)]
    assert main(argv) == 0
    earlier = out.read_bytes()
    for case in cases:  # the next export is far over the limit
        store.save_comment("a", case, "the left report misses the small right effusion. " * 100)
    study_before = [(a.case_id, a.dimension, a.choice) for a in store.answers()], store.comments()

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (8_000, 8_000))

    # the study's WAL index (-shm, 32 KiB) is kept by this open connection, so the export only reads the study
    with sqlite3.connect(store.path) as keep:
        keep.execute("SELECT count(*) FROM answers").fetchone()
        proc = subprocess.run(
            [sys.executable, "-m", "xraybench", *argv], capture_output=True, text=True, timeout=120, preexec_fn=limit
        )
    assert proc.returncode == 1, proc.stderr
    assert f"could not write {out}: no space left on device" in proc.stderr, proc.stderr
    assert "an earlier copy of this file is as it was" in proc.stderr and "Traceback" not in proc.stderr
    assert out.read_bytes() == earlier and not out.with_name(out.name + ".tmp").exists()
    assert ([(a.case_id, a.dimension, a.choice) for a in store.answers()], store.comments()) == study_before
    assert main(argv) == 0 and out.read_bytes() != earlier  # space is back: the same command writes it


def test_create_that_sqlite_refuses_for_another_reason_is_a_clear_error_naming_the_file(
    tmp_path: Path, runs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "rv"
    path = root / "ro" / "study.sqlite"
    argv = ["review", "create", "--name", "ro", "--runs", str(runs[0]), str(runs[1]), "--task", "demo_findings",
            "--cases", "3", "--reviewers", "ann", "--root", str(root)]  # fmt: skip
    Disk(monkeypatch, path).read_only = True  # SQLite refuses every write: not a full disk
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"could not create {path}" in err and "readonly" in err and "Traceback" not in err
    assert not path.exists()
