"""MIMIC-CXR loader on a fixture in the PhysioNet layout (invented report texts)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from xraybench.datasets.mimic_cxr import load_mimic_cxr
from xraybench.errors import DataFormatError

SPLIT_ROWS = [
    # dicom_id, study_id, subject_id, split
    ("lat-a", "50000001", "10000001", "test"),
    ("pa-a", "50000001", "10000001", "test"),
    ("ap-b", "50000002", "10000002", "test"),
    ("pa-c", "50000003", "10000002", "test"),
    ("pa-d", "50000004", "10000003", "train"),
    ("pa-e", "50000005", "10000004", "validate"),
]
VIEWS = {"lat-a": "LATERAL", "pa-a": "PA", "ap-b": "AP", "pa-c": "PA", "pa-d": "PA", "pa-e": "PA"}
REPORTS = {
    "50000001": "FINAL REPORT\nFINDINGS: Clear lungs.\n\nIMPRESSION: Normal study.\n",
    "50000002": "FINAL REPORT\nIMPRESSION: Small left effusion.\n",  # no findings
    "50000003": "FINAL REPORT\nFINDINGS: Mild edema.\nIMPRESSION: Edema. Discussed with Dr. ___ at 9:00.\n",
    "50000004": "FINDINGS: Train-only text.\nIMPRESSION: Train impression.\n",
    "50000005": "FINDINGS: Validation text.\nIMPRESSION: Validation impression.\n",
}


def _write_csv(path: Path, header: str, rows: list[str], gz: bool = False) -> None:
    text = "\n".join([header, *rows]) + "\n"
    if gz:
        with gzip.open(path.with_name(path.name + ".gz"), "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")


def make_mimic(root: Path, *, reports_dir: str = "", gz: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    _write_csv(
        root / "mimic-cxr-2.0.0-split.csv", "dicom_id,study_id,subject_id,split", [",".join(r) for r in SPLIT_ROWS], gz
    )
    _write_csv(
        root / "mimic-cxr-2.0.0-metadata.csv",
        "dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,Columns",
        [f"{d},{sub},{st},CHEST (PA AND LAT),{VIEWS[d]},3056,2544" for d, st, sub, _ in SPLIT_ROWS],
        gz,
    )
    subjects = {st: sub for _, st, sub, _ in SPLIT_ROWS}
    base = root / reports_dir if reports_dir else root
    for study, text in REPORTS.items():
        sub = subjects[study]
        path = base / "files" / f"p{sub[:2]}" / f"p{sub}" / f"s{study}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_findings_test_split(tmp_path: Path) -> None:
    root = make_mimic(tmp_path / "mimic")
    result = load_mimic_cxr(root, task="mimic_cxr_findings", split="test", section="findings")
    assert [s.id for s in result.samples] == ["s50000001", "s50000003"]
    assert result.dropped == {"empty_findings": 1}
    first = result.samples[0]
    assert first.reference == "Clear lungs."
    assert first.prompt == "Write the FINDINGS section of the radiology report for this chest X-ray."
    assert first.credentialed and first.dataset == "mimic_cxr" and first.split == "test"
    assert first.metadata["views"] == ["PA", "LATERAL"]  # frontal first
    assert first.image_paths[0].endswith("files/p10/p10000001/s50000001/pa-a.jpg")
    assert Path(first.image_paths[0]).is_absolute()
    assert first.metadata["section"] == "findings" and first.metadata["view"] == "PA"


def test_impression_strips_notification(tmp_path: Path) -> None:
    root = make_mimic(tmp_path / "mimic")
    result = load_mimic_cxr(root, task="mimic_cxr_impression", split="test", section="impression")
    assert {s.id: s.reference for s in result.samples} == {
        "s50000001": "Normal study.",
        "s50000002": "Small left effusion.",
        "s50000003": "Edema.",
    }
    assert result.dropped == {}


def test_train_and_validation_splits_are_separate(tmp_path: Path) -> None:
    root = make_mimic(tmp_path / "mimic")
    train = load_mimic_cxr(root, task="t", split="train", section="findings")
    val = load_mimic_cxr(root, task="t", split="validation", section="findings")
    test = load_mimic_cxr(root, task="t", split="test", section="findings")
    assert [s.id for s in train.samples] == ["s50000004"]
    assert [s.id for s in val.samples] == ["s50000005"] and val.samples[0].split == "validate"
    assert not {s.id for s in train.samples} & {s.id for s in test.samples}


def test_gzip_csvs_and_separate_reports_folder(tmp_path: Path) -> None:
    root = make_mimic(tmp_path / "mimic", reports_dir="mimic-cxr-reports", gz=True)
    result = load_mimic_cxr(root, task="t", split="test", section="findings")
    assert len(result.samples) == 2


def test_reports_root_option(tmp_path: Path) -> None:
    root = make_mimic(tmp_path / "jpg", reports_dir="../reports")
    result = load_mimic_cxr(root, task="t", split="test", reports_root=tmp_path / "reports")
    assert len(result.samples) == 2
    with pytest.raises(DataFormatError, match="no report files"):
        load_mimic_cxr(root, task="t", split="test")


def test_missing_report_counted(tmp_path: Path) -> None:
    root = make_mimic(tmp_path / "mimic")
    (root / "files" / "p10" / "p10000002" / "s50000003.txt").unlink()
    result = load_mimic_cxr(root, task="t", split="test", section="impression")
    assert result.dropped == {"missing_report": 1}


def test_missing_column_names_file_and_line(tmp_path: Path) -> None:
    root = tmp_path / "m"
    root.mkdir()
    (root / "mimic-cxr-2.0.0-split.csv").write_text("dicom_id,study_id,split\nx,50000001,test\n")
    with pytest.raises(DataFormatError, match=r"mimic-cxr-2.0.0-split.csv:1: missing column\(s\) \['subject_id'\]"):
        load_mimic_cxr(root, task="t", split="test")


def test_bad_study_id_names_line(tmp_path: Path) -> None:
    root = make_mimic(tmp_path / "m")
    with open(root / "mimic-cxr-2.0.0-split.csv", "a") as handle:
        handle.write("pa-z,s5000009,10000009,test\n")
    with pytest.raises(DataFormatError, match=r"split.csv:8: column 'study_id' should be a number"):
        load_mimic_cxr(root, task="t", split="test")


def test_unknown_split_value_in_file(tmp_path: Path) -> None:
    root = make_mimic(tmp_path / "m")
    with open(root / "mimic-cxr-2.0.0-split.csv", "a") as handle:
        handle.write("pa-z,50000009,10000009,holdout\n")
    with pytest.raises(DataFormatError, match=r"split.csv:8.*unknown split 'holdout'"):
        load_mimic_cxr(root, task="t", split="test")


def test_missing_split_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="mimic-cxr-2.0.0-split.csv"):
        load_mimic_cxr(tmp_path, task="t", split="test")


def test_unknown_section(tmp_path: Path) -> None:
    root = make_mimic(tmp_path / "m")
    with pytest.raises(DataFormatError, match="unknown report section"):
        load_mimic_cxr(root, task="t", split="test", section="technique")


@pytest.mark.parametrize("version_dir", ["2.1.0", "mimic-cxr-jpg/2.1.0"])
def test_mimic_cxr_jpg_2_1_0_download_folders(tmp_path: Path, version_dir: str) -> None:
    """A PhysioNet download of MIMIC-CXR-JPG 2.1.0 keeps the 2.0.0 file names inside a 2.1.0/ folder."""
    release = make_mimic(tmp_path / "physionet" / version_dir, gz=True)
    make_mimic(tmp_path / "physionet" / version_dir.replace("2.1.0", "2.0.0"))  # an older copy beside it
    (release / "files" / "p10" / "p10000002" / "s50000003.txt").unlink()  # tells the two copies apart
    result = load_mimic_cxr(tmp_path / "physionet", task="t", split="test", section="impression")
    assert [s.id for s in result.samples] == ["s50000001", "s50000002"]  # from 2.1.0, newest first
    assert result.dropped == {"missing_report": 1}
    first = result.samples[0]
    assert first.image_paths[0] == str(release / "files/p10/p10000001/s50000001/pa-a.jpg")
    assert first.metadata["views"] == ["PA", "LATERAL"]  # the 2.1.0 folder's metadata file was read
