"""Fuzz the one predictions reader: mutated JSONL / ReXrank files give rows and problems, or one
`XrayBenchError` naming the file, never another exception (hypothesis, bounded time, derandomized)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="the fuzz harness needs hypothesis (the dev extra)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from xraybench.errors import XrayBenchError  # noqa: E402
from xraybench.models.predictions import read_prediction_file  # noqa: E402

FUZZ = settings(
    max_examples=int(os.environ.get("XRAYBENCH_FUZZ_EXAMPLES", "150")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
GOOD_JSONL = b"".join(
    json.dumps({"id": f"s{i}", "prediction": f"No effusion {i}.", "task": "demo_findings"}).encode() + b"\n"
    for i in range(4)
)
GOOD_REXRANK = json.dumps({f"s{i}": {"model_prediction": f"Heart normal {i}."} for i in range(4)}, indent=1).encode()
NASTY = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\\ud800", b"[" * 5000, b"{" * 5000, b"9" * 5000, b"NaN",
         b"\r", b"\n", b'"', b",", b"}", b"]", b"\xef\xbb\xbf", b'"id": null', b'"prediction": 1', b"\t"]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from([GOOD_JSONL, GOOD_REXRANK])))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.one_of(st.sampled_from(NASTY), st.binary(min_size=1, max_size=8)))
        if kind == "insert":
            data[at:at] = piece
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        else:
            data[at : at + len(piece)] = piece
    return bytes(data)


@FUZZ
@given(st.one_of(mutated(), st.binary(max_size=200)))
def test_reader_never_raises_anything_but_a_named_error(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = Path(tmp_path_factory.mktemp("fuzz")) / "p.jsonl"
    path.write_bytes(data)
    try:
        report = read_prediction_file(path)
    except XrayBenchError as exc:
        assert str(path) in str(exc)
        return
    for message in report.malformed:
        assert message.startswith(str(path))
    for row in report.rows:  # every accepted row is clean text that can be written back as UTF-8
        row.text.encode("utf-8")
        row.id.encode("utf-8")
        assert isinstance(row.id, str) and row.id.strip()
