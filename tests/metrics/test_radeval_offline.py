"""RadEval (our GREEN reference, dev extra) calls `nltk.download("punkt_tab")` when imported, which goes to the
network on every import; through `xraybench.lazy.require` it never does, and its numbers are unchanged.

Each case runs in a subprocess whose sockets are blocked (`getaddrinfo`, `create_connection`, `connect` raise and
record the attempt), so a download attempt is seen, not merely failed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures_green import ASSESSMENTS

if importlib.util.find_spec("radeval") is None:  # found, not imported: importing it here would try the network
    pytest.skip("radeval (dev extra) is the reference", allow_module_level=True)

GUARD = """
import json, socket, sys
attempts = []

def blocked(*args, **kwargs):
    attempts.append(repr(args[-1] if args else kwargs)[:120])
    raise OSError("network blocked by the test")

socket.getaddrinfo = blocked
socket.create_connection = blocked
socket.socket.connect = blocked
socket.socket.connect_ex = blocked
"""

PLAIN = (
    GUARD
    + """
import radeval  # what the GREEN test did: radeval/utils.py runs nltk.download("punkt_tab") at import
print(json.dumps({"attempts": attempts}))
"""
)

OURS = (
    GUARD
    + f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"  # fixtures_green, as pytest finds it
    + """
import logging
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
from xraybench.lazy import require
from xraybench.metrics.green import green_score, significant_errors
from fixtures_green import radeval_parser

green = require("radeval.metrics.green_score.green", "dev", "the GREEN reference")
parser = radeval_parser(green)
texts = json.loads(sys.stdin.read())
print(json.dumps({
    "attempts": attempts,
    "theirs": [parser.compute_green(t) for t in texts], "ours": [green_score(t) for t in texts],
    "their_counts": [parser.compute_error_count(t)[:6] for t in texts], "our_counts": [significant_errors(t) for t in texts],
}))
"""
)


def _run(code: str, env_extra: dict[str, str], stdin: str = "") -> tuple[dict, str]:
    env = {**os.environ, **env_extra}
    proc = subprocess.run(
        [sys.executable, "-c", code], input=stdin, capture_output=True, text=True, env=env, timeout=300,
        cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_plain_import_tries_to_download_ours_does_not_and_the_score_is_right(tmp_path: Path) -> None:
    empty = {"NLTK_DATA": str(tmp_path / "no_nltk_data")}  # punkt_tab installed nowhere nltk looks first
    plain, _ = _run(PLAIN, empty)
    if not plain["attempts"]:
        pytest.skip("punkt_tab is installed on nltk's default path here, so radeval's import has nothing to fetch")
    ours, err = _run(OURS, empty, json.dumps(ASSESSMENTS[:2]))
    assert ours["attempts"] == []  # not one connection tried
    assert ours["theirs"] == ours["ours"] == pytest.approx([3 / 7, 1.0])
    assert ours["their_counts"] == ours["our_counts"] == [[0, 1, 0, 2, 0, 1], [0, 0, 0, 0, 0, 0]]
    assert "python -m nltk.downloader punkt_tab" in err  # what to run if a metric ever needs the resource


def test_an_installed_resource_is_used_silently_without_the_network(tmp_path: Path) -> None:
    data = tmp_path / "nltk_data"
    (data / "tokenizers" / "punkt_tab" / "english").mkdir(parents=True)
    code = GUARD + (
        "import logging\nlogging.basicConfig(level=logging.WARNING)\n"
        "from xraybench.lazy import nltk_offline\nimport nltk\n"
        "with nltk_offline():\n"
        "    found, missing = nltk.download('punkt_tab', quiet=True), nltk.download('wordnet', quiet=True)\n"
        "print(json.dumps({'attempts': attempts, 'found': found, 'missing': missing}))\n"
    )
    out, err = _run(code, {"NLTK_DATA": str(data)})
    assert out == {"attempts": [], "found": True, "missing": False}
    assert "punkt_tab" not in err and "python -m nltk.downloader wordnet" in err
