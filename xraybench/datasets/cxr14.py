"""NIH ChestX-ray14 finding classification on the official lists, with the radiologists' boxes.

Layout (NIH box folder / Kaggle copy): `Data_Entry_2017.csv` (or `Data_Entry_2017_v2020.csv`),
`train_val_list.txt`, `test_list.txt`, `BBox_List_2017.csv`, images in `images*/` or `images*/images/`
(`images_001/images/00000001_000.png` in the Kaggle copy). Split "train" is the official train+val list,
"test" the official test list.

The reference is the sorted '|'-joined label set or "No Finding". Boxes from `BBox_List_2017.csv` go to
`metadata["bboxes"]` as `[x1, y1, x2, y2, label]` in the pixel space of the released 1024x1024 PNGs
(`metadata["image_size"]`; the original detector size is `metadata["original_size"]`). That file's header
spells its box column "Bbox [x,y,w,h]" (so it splits into four) and may end rows with empty columns;
its label "Infiltrate" means "Infiltration".
"""

from __future__ import annotations

import os
from pathlib import Path

from xraybench.datasets.base import Dataset, LoadResult
from xraybench.datasets.common import (
    find_file,
    finding_prompt,
    local_path,
    normalise_split,
    optional_file,
    read_csv,
    read_lines,
)
from xraybench.errors import DataFormatError
from xraybench.records import Sample
from xraybench.tasks import CLASSIFICATION_METRICS, Task

LABELS = (
    "Atelectasis",
    "Cardiomegaly",
    "Effusion",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pneumonia",
    "Pneumothorax",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Fibrosis",
    "Pleural_Thickening",
    "Hernia",
)
NO_FINDING = "No Finding"
RELEASED_SIZE = (1024, 1024)
PROMPT = finding_prompt(LABELS, NO_FINDING)
SPLITS = {"train": "train", "train_val": "train", "trainval": "train", "test": "test"}
_LIST_FILES = {"train": "train_val_list.txt", "test": "test_list.txt"}
_BOX_ALIASES = {"Infiltrate": "Infiltration"}
_GENDER_COLUMNS = ("Patient Gender", "Patient Sex")


def read_image_list(path: Path) -> list[str]:
    """Image names of an official list file, one per line."""
    names: list[str] = []
    for line, raw in read_lines(path):
        name = raw.strip()
        if not name:
            continue
        if not name.endswith(".png") or len(name.split()) != 1:
            raise DataFormatError(path, f"expected one image name like 00000001_000.png, got {name!r}", line=line)
        names.append(name)
    return names


def parse_labels(text: str, path: Path | str, line: int) -> list[str]:
    """The sorted label set of a 'Finding Labels' cell; "No Finding" is the empty set."""
    labels = sorted({part.strip() for part in text.split("|") if part.strip()})
    if labels == [NO_FINDING]:
        return []
    unknown = [label for label in labels if label not in LABELS]
    if unknown or not labels:
        raise DataFormatError(
            path,
            f"unknown finding label(s) {unknown or [text]}; expected {NO_FINDING!r} or "
            f"'|'-joined names from {list(LABELS)}",
            line=line,
        )
    return labels


def read_bboxes(path: Path) -> dict[str, list[list[float | str]]]:
    """Boxes by image name as `[x1, y1, x2, y2, label]`, read from BBox_List_2017.csv by position."""
    boxes: dict[str, list[list[float | str]]] = {}
    for line, row in read_csv(path, required=("Image Index", "Finding Label")):
        values = list(row.values())
        if len(values) < 6:
            raise DataFormatError(path, "expected image, label and four box numbers x, y, w, h", line=line)
        label = _BOX_ALIASES.get(values[1], values[1])
        if label not in LABELS:
            raise DataFormatError(path, f"unknown box label {values[1]!r}", line=line)
        try:
            x, y, w, h = (float(v) for v in values[2:6])
        except ValueError:
            raise DataFormatError(path, f"box values should be numbers, got {values[2:6]}", line=line) from None
        boxes.setdefault(values[0], []).append([x, y, x + w, y + h, label])
    return boxes


def _image_index(root: Path) -> dict[str, Path]:
    """Where each image file is, across `images*/` and `images*/images/` folders."""
    index: dict[str, Path] = {}
    for folder in sorted(root.glob("images*")):
        for candidate in (folder, folder / "images"):
            if candidate.is_dir():
                with os.scandir(candidate) as entries:
                    for entry in entries:
                        if entry.name.endswith(".png"):
                            index.setdefault(entry.name, Path(entry.path))
    return index


def _number(value: str) -> int | None:
    try:
        return int(float(value))
    except (ValueError, OverflowError):  # empty, "nan", "1e999"
        return None


def load_cxr14(root: Path, *, task: str, split: str) -> LoadResult:
    """Load the official train+val or test list of ChestX-ray14 as classification samples."""
    root = Path(root)
    wanted = normalise_split(split, SPLITS)
    entry_csv = find_file(root, ["Data_Entry_2017.csv", "Data_Entry_2017_v2020.csv"], "the ChestX-ray14 label file")
    list_file = find_file(root, [_LIST_FILES[wanted]], f"the official {wanted} list")
    box_csv = optional_file(root, ["BBox_List_2017.csv"])
    boxes = read_bboxes(box_csv) if box_csv else {}
    entries: dict[str, tuple[int, dict[str, str]]] = {}
    for line, row in read_csv(entry_csv, required=("Image Index", "Finding Labels")):
        entries[row["Image Index"]] = (line, row)
    # the 2017 file says "Patient Gender", some re-exports "Patient Sex"; neither is an error, not ""
    first = next(iter(entries.values()), (0, {}))[1]
    gender_column = next((c for c in _GENDER_COLUMNS if c in first), None)
    if entries and gender_column is None:
        raise DataFormatError(
            entry_csv,
            f"no patient sex column: expected one of {list(_GENDER_COLUMNS)}; header has {list(first)}",
            line=1,
        )
    located = _image_index(root)
    result = LoadResult(samples=[])
    for name in read_image_list(list_file):
        if name not in entries:
            raise DataFormatError(list_file, f"image {name} is not in {entry_csv.name}")
        line, row = entries[name]
        labels = parse_labels(row["Finding Labels"], entry_csv, line)
        metadata: dict[str, object] = {
            "labels": labels,
            "view": row.get("View Position", ""),
            "patient_id": row.get("Patient ID", ""),
            "follow_up": _number(row.get("Follow-up #", "")),
            "age": _number(row.get("Patient Age", "")),
            "gender": row.get(gender_column or "", ""),
            "original_size": [_number(row.get("OriginalImage[Width", "")), _number(row.get("Height]", ""))],
            "image_size": list(RELEASED_SIZE),
        }
        if name in boxes:
            metadata["bboxes"] = boxes[name]
        image = located.get(name, root / "images" / name)
        result.samples.append(
            Sample(
                id=name,
                task=task,
                dataset="cxr14",
                split=wanted,
                prompt=PROMPT,
                reference="|".join(labels) if labels else NO_FINDING,
                image_paths=[local_path(image.parent, image.name, list_file)],
                metadata=metadata,
            )
        )
    return result


DATASET = Dataset(
    "cxr14",
    load_cxr14,
    "NIH ChestX-ray14, official lists and boxes",
    tasks=(
        Task(
            "cxr14",
            "classification",
            "cxr14",
            "test",
            CLASSIFICATION_METRICS,
            {},
            "NIH ChestX-ray14 official test list, 14-label finding classification",
        ),
    ),
)
