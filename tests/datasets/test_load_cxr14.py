"""ChestX-ray14 loader on a fixture in the official layout, and its parsers on the real label lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from xraybench.datasets.cxr14 import LABELS, PROMPT, load_cxr14, parse_labels, read_bboxes, read_image_list
from xraybench.errors import DataFormatError

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "nih_cxr14"

ENTRY = (
    "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
    "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\n"
    "00000001_000.png,Cardiomegaly,0,1,58,M,PA,2682,2749,0.143,0.143,\n"
    "00000001_001.png,Effusion|Cardiomegaly,1,1,58,M,PA,2894,2729,0.143,0.143,\n"
    "00000002_000.png,No Finding,0,2,81,M,PA,2500,2048,0.171,0.171,\n"
    "00000003_000.png,Hernia|Infiltration,0,3,74,F,AP,2048,2500,0.168,0.168,\n"
)
BOXES = (
    "Image Index,Finding Label,Bbox [x,y,w,h],,,\n"
    "00000003_000.png,Infiltrate,100.5,200,50,60,,,\n"
    "00000003_000.png,Hernia,10,20,30,40,,,\n"
)


def make_cxr14(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Data_Entry_2017.csv").write_text(ENTRY)
    (root / "BBox_List_2017.csv").write_text(BOXES)
    (root / "train_val_list.txt").write_text("00000001_000.png\n00000001_001.png\n00000002_000.png\n")
    (root / "test_list.txt").write_text("00000003_000.png\n")
    (root / "images_001" / "images").mkdir(parents=True)
    (root / "images_001" / "images" / "00000001_000.png").write_bytes(b"")
    (root / "images_002").mkdir()
    (root / "images_002" / "00000003_000.png").write_bytes(b"")
    return root


def test_test_split_with_boxes(tmp_path: Path) -> None:
    root = make_cxr14(tmp_path / "nih")
    result = load_cxr14(root, task="cxr14", split="test")
    (sample,) = result.samples
    assert sample.id == "00000003_000.png" and sample.reference == "Hernia|Infiltration"
    assert sample.prompt == PROMPT and all(label in PROMPT for label in LABELS)
    assert sample.image_paths == [str((root / "images_002" / "00000003_000.png").resolve())]
    assert sample.metadata["bboxes"] == [
        [100.5, 200.0, 150.5, 260.0, "Infiltration"],
        [10.0, 20.0, 40.0, 60.0, "Hernia"],
    ]
    assert sample.metadata["image_size"] == [1024, 1024]
    assert sample.metadata["original_size"] == [2048, 2500]
    assert sample.metadata["view"] == "AP" and sample.metadata["labels"] == ["Hernia", "Infiltration"]


def test_train_split(tmp_path: Path) -> None:
    root = make_cxr14(tmp_path / "nih")
    samples = load_cxr14(root, task="t", split="train").samples
    assert [s.reference for s in samples] == ["Cardiomegaly", "Cardiomegaly|Effusion", "No Finding"]
    assert samples[0].image_paths[0].endswith("images_001/images/00000001_000.png")
    assert samples[2].image_paths[0] == str((root / "images" / "00000002_000.png").resolve())  # absent: default
    assert "bboxes" not in samples[0].metadata
    with pytest.raises(DataFormatError, match="unknown split"):
        load_cxr14(root, task="t", split="validation")


def test_unknown_label_names_line(tmp_path: Path) -> None:
    root = make_cxr14(tmp_path / "nih")
    (root / "Data_Entry_2017.csv").write_text(ENTRY.replace("Hernia|Infiltration", "Hernia|Pneumonitis"))
    with pytest.raises(DataFormatError, match=r"Data_Entry_2017.csv:5: unknown finding label\(s\) \['Pneumonitis'\]"):
        load_cxr14(root, task="t", split="test")


def test_image_missing_from_entry_file(tmp_path: Path) -> None:
    root = make_cxr14(tmp_path / "nih")
    (root / "test_list.txt").write_text("00000009_000.png\n")
    with pytest.raises(DataFormatError, match=r"test_list.txt.*00000009_000.png is not in Data_Entry_2017.csv"):
        load_cxr14(root, task="t", split="test")


def test_bad_box_and_bad_list_line(tmp_path: Path) -> None:
    bad = tmp_path / "BBox_List_2017.csv"
    bad.write_text(BOXES + "00000004_000.png,Mass,1,2,three,4,,,\n")
    with pytest.raises(DataFormatError, match=r"BBox_List_2017.csv:4: box values should be numbers"):
        read_bboxes(bad)
    listing = tmp_path / "test_list.txt"
    listing.write_text("00000001_000.png\n00000001_001.png 1 0\n")
    with pytest.raises(DataFormatError, match=r"test_list.txt:2: expected one image name"):
        read_image_list(listing)


def test_parse_labels() -> None:
    assert parse_labels("No Finding", "f", 2) == []
    assert parse_labels("Mass|Atelectasis", "f", 2) == ["Atelectasis", "Mass"]
    with pytest.raises(DataFormatError):
        parse_labels("", "f", 2)


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared NIH ChestX-ray14 label lists not present (../shared/data)")
def test_real_lists_and_boxes() -> None:
    boxes = read_bboxes(SHARED / "BBox_List_2017.csv")
    assert sum(len(b) for b in boxes.values()) == 984 and len(boxes) == 880
    assert {b[4] for v in boxes.values() for b in v} <= set(LABELS)
    assert sum(b[4] == "Infiltration" for v in boxes.values() for b in v) == 123
    assert all(0 <= b[0] < b[2] <= 1024 and 0 <= b[1] < b[3] <= 1024 for v in boxes.values() for b in v)
    train_val = read_image_list(SHARED / "official_train_val_list.txt")
    test = read_image_list(SHARED / "official_test_list_DERIVED.txt")
    assert (len(train_val), len(test)) == (86524, 25596)
    assert not set(train_val) & set(test)
    assert (SHARED / "label_names.txt").read_text().split() == list(LABELS)


def test_patient_sex_header(tmp_path: Path) -> None:
    root = make_cxr14(tmp_path / "nih")
    entry = root / "Data_Entry_2017.csv"
    entry.write_text(ENTRY.replace("Patient Gender", "Patient Sex"))
    (sample,) = load_cxr14(root, task="t", split="test").samples
    assert sample.metadata["gender"] == "F"
    entry.write_text(ENTRY.replace("Patient Gender,", "").replace(",M,PA", ",PA").replace(",F,AP", ",AP"))
    with pytest.raises(DataFormatError, match=r"Data_Entry_2017.csv:1: no patient sex column"):
        load_cxr14(root, task="t", split="test")


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared NIH ChestX-ray14 label lists not present (../shared/data)")
def test_real_official_lists_with_a_patient_sex_entry_file(tmp_path: Path) -> None:
    """The official lists and boxes, used in place, with an entry file in the 'Patient Sex' spelling whose
    labels come from the shared per-image label lists (an early release of the same labels)."""
    labels: dict[str, list[str]] = {}
    for part in ("train", "val", "test"):
        for raw in (SHARED / f"arnoweng_chexnet_{part}_list.txt").read_text().splitlines():
            name, *flags = raw.split()
            labels[name] = [label for label, flag in zip(LABELS, flags, strict=True) if flag == "1"]
    rows = [
        f"{name},{'|'.join(found) or 'No Finding'},0,{name[:8]},50,{'MF'[i % 2]},PA,2500,2048,0.14,0.14"
        for i, (name, found) in enumerate(sorted(labels.items()))
    ]
    root = tmp_path / "nih"
    root.mkdir()
    header = "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Sex,View Position,"
    header += "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]"
    (root / "Data_Entry_2017.csv").write_text("\n".join([header, *rows]) + "\n")
    (root / "test_list.txt").symlink_to(SHARED / "official_test_list_DERIVED.txt")
    (root / "BBox_List_2017.csv").symlink_to(SHARED / "BBox_List_2017.csv")
    samples = load_cxr14(root, task="cxr14", split="test").samples
    assert len(samples) == 25596
    assert {s.metadata["gender"] for s in samples} == {"M", "F"}
    by_id = {s.id: s for s in samples}
    for name in ("00000003_000.png", "00000013_005.png", "00002763_031.png"):
        assert by_id[name].reference == ("|".join(sorted(labels[name])) or "No Finding")
    boxed = [s for s in samples if "bboxes" in s.metadata]
    assert len(boxed) == 880  # every boxed image is in the official test list
