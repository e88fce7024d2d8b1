"""CheXpert v1.0 loader on a fixture in the release's train.csv / valid.csv layout (values invented)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xraybench.cli import main
from xraybench.datasets.chexpert import COLUMNS, LABELS, PROMPT, load_chexpert
from xraybench.errors import DataFormatError

HEADER = ",".join(COLUMNS)
assert HEADER == (
    "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Opacity,"
    "Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,Fracture,"
    "Support Devices"
)  # the release's header, exactly


def _row(path: str, sex: str, age: str, view: str, ap_pa: str, values: dict[str, str]) -> str:
    labels = [values.get(name, "") for name in ("No Finding", *LABELS)]
    return ",".join([path, sex, age, view, ap_pa, *labels])


VALID = [
    _row("CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg", "Male", "73", "Frontal", "AP",
         {"No Finding": "0.0", "Cardiomegaly": "1.0", "Pleural Effusion": "1.0", "Edema": "0.0"}),
    _row("CheXpert-v1.0-small/valid/patient64542/study1/view1_frontal.jpg", "Male", "70", "Frontal", "PA",
         {"No Finding": "1.0", "Support Devices": "0.0"}),
    _row("CheXpert-v1.0-small/valid/patient64542/study1/view2_lateral.jpg", "Male", "70", "Lateral", "",
         {"No Finding": "1.0"}),
]  # fmt: skip
TRAIN = [
    _row("CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg", "Female", "68", "Frontal", "AP",
         {"No Finding": "1.0"}),
    _row("CheXpert-v1.0-small/train/patient00002/study2/view1_frontal.jpg", "Female", "87", "Frontal", "AP",
         {"Cardiomegaly": "-1.0", "Lung Opacity": "1.0", "Pneumonia": "-1.0", "Fracture": "1.0"}),
    _row("CheXpert-v1.0-small/train/patient00003/study1/view1_frontal.jpg", "Male", "41", "Frontal", "AP",
         {"Edema": "1.0"}),
]  # fmt: skip


def make_chexpert(tmp_path: Path, valid: list[str] = VALID, train: list[str] = TRAIN) -> Path:
    root = tmp_path / "CheXpert-v1.0-small"
    root.mkdir(parents=True)
    (root / "valid.csv").write_text("\n".join([HEADER, *valid]) + "\n")
    (root / "train.csv").write_text("\n".join([HEADER, *train]) + "\n")
    return tmp_path


def test_valid_split(tmp_path: Path) -> None:
    result = load_chexpert(make_chexpert(tmp_path), task="chexpert_valid", split="validation")
    first, normal, lateral = result.samples
    assert first.id == "valid/patient64541/study1/view1_frontal" and first.prompt == PROMPT
    assert first.reference == "Cardiomegaly|Pleural Effusion" and first.metadata["labels"] == first.reference.split("|")
    assert first.image_paths == [str(tmp_path / "CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg")]
    assert (first.metadata["sex"], first.metadata["age"], first.metadata["view"], first.metadata["ap_pa"]) == (
        "Male",
        73,
        "Frontal",
        "AP",
    )
    assert normal.reference == "No Finding" and normal.metadata["no_finding"] == 1
    assert lateral.metadata["view"] == "Lateral" and lateral.metadata["study"] == "valid/patient64542/study1"
    frontal = load_chexpert(tmp_path, task="t", split="valid", frontal_only=True)
    assert len(frontal.samples) == 2 and frontal.dropped == {"lateral_view": 1}


def test_uncertain_labels_follow_the_policy_and_are_kept(tmp_path: Path) -> None:
    root = make_chexpert(tmp_path)
    ones = load_chexpert(root, task="t", split="train").samples[1]
    assert ones.reference == "Cardiomegaly|Fracture|Lung Opacity|Pneumonia"  # U-Ones (default)
    zeros = load_chexpert(root, task="t", split="train", uncertain="negative").samples[1]
    assert zeros.reference == "Fracture|Lung Opacity"  # U-Zeros
    assert ones.metadata["uncertain_labels"] == zeros.metadata["uncertain_labels"] == ["Cardiomegaly", "Pneumonia"]
    with pytest.raises(DataFormatError, match="uncertain='ignore'; expected positive or negative"):
        load_chexpert(root, task="t", split="train", uncertain="ignore")


OTHER = VALID[0].replace("patient64541", "patient64549")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            OTHER.replace(",1.0,", ",yes,", 1),
            r"valid.csv:3: column 'Cardiomegaly' should be 1.0, 0.0, -1.0 or blank",
        ),
        (OTHER.replace("Frontal", "Oblique"), r"valid.csv:3: Frontal/Lateral should be Frontal or Lateral"),
        (VALID[0].replace("patient64541/", ""), r"valid.csv:3: Path should look like"),
        (VALID[0], r"valid.csv:3: duplicate image"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    make_chexpert(tmp_path, valid=[VALID[0], row])
    with pytest.raises(DataFormatError, match=message):
        load_chexpert(tmp_path, task="t", split="valid")


def test_missing_column_and_file(tmp_path: Path) -> None:
    make_chexpert(tmp_path, valid=[])
    header = (tmp_path / "CheXpert-v1.0-small" / "valid.csv").read_text().replace("AP/PA,", "")
    (tmp_path / "CheXpert-v1.0-small" / "valid.csv").write_text(header)
    with pytest.raises(DataFormatError, match=r"valid.csv:1: missing column\(s\) \['AP/PA'\]"):
        load_chexpert(tmp_path, task="t", split="valid")
    with pytest.raises(DataFormatError, match=r"cannot find the CheXpert valid.csv"):
        load_chexpert(tmp_path / "nowhere", task="t", split="valid")
    with pytest.raises(DataFormatError, match=r"unknown split 'test'"):
        load_chexpert(tmp_path, task="t", split="test")


def test_chexpert_task_scores_end_to_end(tmp_path: Path) -> None:
    """The registered task runs through a model and the classification metric on CheXpert's own labels."""
    out = tmp_path / "run"
    argv = ["run", "--model", "baseline:normal", "--tasks", "chexpert_valid", "--out", str(out), "--no-progress"]
    assert main([*argv, "--data-root", f"chexpert={make_chexpert(tmp_path)}", "--bootstrap-rounds", "0"]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"]["chexpert_valid"]
    assert task["n"] == 3 and task["n_scored"] == 3
    assert task["metric_details"]["cls_micro_f1"]["labels"] == list(LABELS)
    assert "cls_f1_pleural_effusion" in task["metrics"] and "cls_f1_support_devices" in task["metrics"]
    # "No Finding" for all three images: right on the two normal ones, wrong on the one with findings
    assert task["metrics"]["cls_exact_match"]["value"] == pytest.approx(2 / 3)
