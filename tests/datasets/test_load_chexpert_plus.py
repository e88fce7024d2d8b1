"""CheXpert Plus loader on a fixture in the df_chexpert_plus_*.csv layout (invented report texts)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from xraybench.datasets.chexpert_plus import load_chexpert_plus
from xraybench.errors import DataFormatError

COLUMNS = [
    "path_to_image",
    "path_to_dcm",
    "frontal_lateral",
    "ap_pa",
    "deid_patient_id",
    "report",
    "section_findings",
    "section_impression",
    "split",
]
ROWS = [
    [
        "valid/patient64541/study1/view2_lateral.jpg",
        "x.dcm",
        "Lateral",
        "",
        "p1",
        "r",
        "Clear lungs.",
        "Normal.",
        "valid",
    ],
    [
        "valid/patient64541/study1/view1_frontal.jpg",
        "x.dcm",
        "Frontal",
        "AP",
        "p1",
        "r",
        "Clear lungs.",
        "Normal.",
        "valid",
    ],
    [
        "valid/patient64542/study1/view1_frontal.jpg",
        "x.dcm",
        "Frontal",
        "PA",
        "p2",
        "r",
        "",
        "Small effusion.",
        "valid",
    ],
    [
        "valid/patient64542/study2/view1_frontal.jpg",
        "x.dcm",
        "Frontal",
        "PA",
        "p2",
        "r",
        "Mild\n edema.",
        "Edema.",
        "valid",
    ],
    [
        "train/patient00001/study1/view1_frontal.jpg",
        "x.dcm",
        "Frontal",
        "AP",
        "p3",
        "r",
        "Train text.",
        "Train imp.",
        "train",
    ],
]


def make_chexpert(root: Path, rows: list[list[str]] = ROWS, columns: list[str] = COLUMNS) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "df_chexpert_plus_240401.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    return root


def test_valid_findings(tmp_path: Path) -> None:
    root = make_chexpert(tmp_path / "cp")
    result = load_chexpert_plus(root, task="chexpert_plus_findings", split="valid", section="findings")
    assert [s.id for s in result.samples] == ["patient64541_study1", "patient64542_study2"]
    assert result.dropped == {"empty_findings": 1}
    first = result.samples[0]
    assert first.credentialed and first.dataset == "chexpert_plus" and first.split == "valid"
    # frontal first; no image exists here, so the path is the release's PNG one
    assert first.image_paths[0] == str(root / "valid/patient64541/study1/view1_frontal.png")
    assert first.metadata["missing_images"] == 2
    assert first.metadata["views"] == ["Frontal", "Lateral"]
    assert result.samples[1].reference == "Mild edema."


def test_impression_and_train_split(tmp_path: Path) -> None:
    root = make_chexpert(tmp_path / "cp")
    impression = load_chexpert_plus(root, task="t", split="validation", section="impression")
    assert len(impression.samples) == 3 and impression.dropped == {}
    train = load_chexpert_plus(root, task="t", split="train", section="impression")
    assert [s.id for s in train.samples] == ["patient00001_study1"]
    assert not {s.id for s in train.samples} & {s.id for s in impression.samples}


def test_missing_section_column(tmp_path: Path) -> None:
    root = make_chexpert(tmp_path / "cp", [r[:6] + r[7:] for r in ROWS], COLUMNS[:6] + COLUMNS[7:])
    with pytest.raises(
        DataFormatError, match=r"df_chexpert_plus_240401.csv:1: missing column\(s\) \['section_findings'\]"
    ):
        load_chexpert_plus(root, task="t", split="valid")


def test_bad_path_names_line(tmp_path: Path) -> None:
    rows = [*ROWS, ["valid/view1_frontal.jpg", "x", "Frontal", "", "p", "r", "A.", "B.", "valid"]]
    root = make_chexpert(tmp_path / "cp", rows)
    with pytest.raises(DataFormatError, match=r"csv:8: path_to_image should look like"):
        load_chexpert_plus(root, task="t", split="valid")


def test_absent_split_and_missing_file(tmp_path: Path) -> None:
    root = make_chexpert(tmp_path / "cp", [r for r in ROWS if r[-1] == "train"])
    with pytest.raises(DataFormatError, match="no rows with split 'valid'"):
        load_chexpert_plus(root, task="t", split="valid")
    with pytest.raises(DataFormatError, match="df_chexpert_plus"):
        load_chexpert_plus(tmp_path, task="t", split="valid")
    with pytest.raises(DataFormatError, match="unknown split 'test'"):
        load_chexpert_plus(root, task="t", split="test")


def test_images_found_as_pngs_under_png_root(tmp_path: Path) -> None:
    """The CSV names .jpg files; the release ships PNG/<split>/patientN/studyN/viewK.png."""
    root = make_chexpert(tmp_path / "cp")
    for name in ("valid/patient64541/study1/view1_frontal.png", "valid/patient64541/study1/view2_lateral.png"):
        (root / "PNG" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "PNG" / name).write_bytes(b"png")
    first = load_chexpert_plus(root, task="t", split="valid").samples[0]
    assert first.image_paths == [
        str(root / "PNG/valid/patient64541/study1/view1_frontal.png"),
        str(root / "PNG/valid/patient64541/study1/view2_lateral.png"),
    ]
    assert first.metadata["missing_images"] == 0
    # an image_root that is the PNG folder itself, or holds it, finds the same files
    for image_root in (root / "PNG", root):
        again = load_chexpert_plus(root, task="t", split="valid", image_root=str(image_root)).samples[0]
        assert again.image_paths == first.image_paths


def test_jpg_copies_are_used_when_they_exist(tmp_path: Path) -> None:
    root = make_chexpert(tmp_path / "cp")
    jpg = root / "valid/patient64541/study1/view1_frontal.jpg"
    jpg.parent.mkdir(parents=True)
    jpg.write_bytes(b"jpg")
    first = load_chexpert_plus(root, task="t", split="valid").samples[0]
    assert first.image_paths[0] == str(jpg) and first.metadata["missing_images"] == 1
