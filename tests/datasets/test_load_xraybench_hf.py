"""XrayBench export loader on parquet, arrow (save_to_disk), JSON and JSON Lines fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xraybench.datasets.xraybench_hf import load_xraybench_export
from xraybench.errors import DataFormatError

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

ROWS = [
    {
        "id": "mimic-1",
        "subset": "MIMIC-CXR",
        "question": "Write the findings.",
        "answer": "Clear lungs.",
        "image": {"bytes": b"\x89PNG-one", "path": "a.png"},
        "section": "findings",
    },
    {
        "id": "vqa-1",
        "subset": "Ext-VQA",
        "question": "Is there effusion?",
        "answer": "yes",
        "image": {"bytes": b"\x89PNG-two", "path": "b.png"},
        "section": "",
    },
    {
        "id": "vqa-2",
        "subset": "Ext-VQA",
        "question": "Which side?",
        "answer": "",
        "image": {"bytes": b"\x89PNG-3", "path": "c.png"},
        "section": "",
    },
]


def _table(rows: list[dict]) -> object:
    return pa.Table.from_pylist(rows)


def test_parquet_hub_layout(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    pq.write_table(_table(ROWS), tmp_path / "data" / "test-00000-of-00001.parquet")
    result = load_xraybench_export(tmp_path, task="xraybench_hf", split="test")
    assert [s.id for s in result.samples] == ["mimic-1", "vqa-1"] and result.dropped == {"empty_answer": 1}
    assert result.samples[1].reference == "yes" and result.samples[1].prompt == "Is there effusion?"
    first = result.samples[0]
    assert first.image_paths == [] and first.metadata == {
        "section": "findings",
        "subset": "MIMIC-CXR",
        "embedded_images": 1,
    }
    only = load_xraybench_export(tmp_path, task="t", split="test", subset="ext-vqa")
    assert [s.id for s in only.samples] == ["vqa-1"]
    with pytest.raises(
        DataFormatError, match=r"no rows of subset 'CheXpert'; subsets present: \['Ext-VQA', 'MIMIC-CXR'\]"
    ):
        load_xraybench_export(tmp_path, task="t", split="test", subset="CheXpert")
    with pytest.raises(DataFormatError, match=r"no data files for split 'train'; found splits \['test'\]"):
        load_xraybench_export(tmp_path, task="t", split="train")


def test_embedded_images_extracted_on_request(tmp_path: Path) -> None:
    pq.write_table(_table(ROWS), tmp_path / "test.parquet")
    out = tmp_path / "imgs"
    result = load_xraybench_export(tmp_path / "test.parquet", task="t", split="test", extract_images_to=out)
    path = Path(result.samples[0].image_paths[0])
    assert path == (out / "mimic-1_0.png").resolve() and path.read_bytes() == b"\x89PNG-one"


def test_save_to_disk_arrow_with_splits(tmp_path: Path) -> None:
    for split, rows in (("train", ROWS[:1]), ("test", ROWS[1:2])):
        folder = tmp_path / split
        folder.mkdir()
        table = _table(rows)
        with (
            pa.OSFile(str(folder / "data-00000-of-00001.arrow"), "wb") as sink,
            pa.ipc.new_stream(sink, table.schema) as writer,
        ):
            writer.write_table(table)
        (folder / "state.json").write_text("{}")
    (tmp_path / "dataset_dict.json").write_text('{"splits": ["train", "test"]}')
    assert [s.id for s in load_xraybench_export(tmp_path, task="t", split="train").samples] == ["mimic-1"]
    assert [s.id for s in load_xraybench_export(tmp_path, task="t", split="test").samples] == ["vqa-1"]


def test_json_and_jsonl_with_paths(tmp_path: Path) -> None:
    rows = [
        {
            "question_id": 5,
            "dataset": "OPEN-I",
            "prompt": "Findings?",
            "solution": "Normal.",
            "image_path": ["imgs/x.png", "imgs/y.png"],
        }
    ]
    (tmp_path / "xraybench.json").write_text(json.dumps(rows))
    sample = load_xraybench_export(tmp_path / "xraybench.json", task="t", split="test").samples[0]
    assert sample.id == "5" and sample.prompt == "Findings?" and sample.reference == "Normal."
    assert sample.image_paths == [str((tmp_path / "imgs/x.png").resolve()), str((tmp_path / "imgs/y.png").resolve())]
    lines = tmp_path / "jl"
    lines.mkdir()
    (lines / "test.jsonl").write_text(
        json.dumps({"question": "Q?", "answer": ["b", "a"]})
        + "\n\n"
        + json.dumps({"question": "Q2?", "answer": "c"})
        + "\n"
    )
    samples = load_xraybench_export(lines, task="t", split="test").samples
    assert [(s.id, s.reference) for s in samples] == [("row0", "a|b"), ("row1", "c")]


def test_malformed_exports(tmp_path: Path) -> None:
    (tmp_path / "test.jsonl").write_text('{"question": "Q?", "answer": "a"}\n{"question": "Q2?", \n')
    with pytest.raises(DataFormatError, match=r"test.jsonl:2: invalid JSON line"):
        load_xraybench_export(tmp_path, task="t", split="test")
    (tmp_path / "test.jsonl").write_text('{"question": "Q?", "label_text": "a"}\n')
    with pytest.raises(DataFormatError, match=r"test.jsonl \(record line 1\): no answer column"):
        load_xraybench_export(tmp_path, task="t", split="test")
    (tmp_path / "test.jsonl").write_text(
        '{"id": 1, "question": "Q", "answer": "a"}\n{"id": 1, "question": "Q", "answer": "b"}\n'
    )
    with pytest.raises(DataFormatError, match=r"record line 2\): duplicate id '1'"):
        load_xraybench_export(tmp_path, task="t", split="test")
    (tmp_path / "test.jsonl").unlink()
    (tmp_path / "test.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataFormatError, match=r"test.parquet: unreadable parquet file"):
        load_xraybench_export(tmp_path, task="t", split="test")
    (tmp_path / "test.parquet").unlink()
    with pytest.raises(DataFormatError, match="no parquet, arrow, JSON or JSONL data files"):
        load_xraybench_export(tmp_path, task="t", split="test")
