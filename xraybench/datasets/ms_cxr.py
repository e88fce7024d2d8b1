"""MS-CXR phrase grounding: radiologists' boxes for phrases of MIMIC-CXR reports (credentialed, PhysioNet).

Layout (PhysioNet `ms-cxr`): `MS_CXR_Local_Alignment_v1.1.0.csv` (or `v1.0.0`) in the data root or a version
folder under it (`1.1.0/`, `0.1/`, `ms-cxr/1.1.0/`, ...), one row per box, columns `dicom_id, path, label_text,
category_name, x, y, w, h, image_width, image_height, split` (v1.0.0 has no `split`: every phrase is then used,
with a note). `x, y` is a box's top-left corner and `w, h` its size, in pixels of the original image
(`image_width` x `image_height`); `path` is the MIMIC-CXR-JPG image, `files/pNN/pNNNNNNNN/sNNNNNNNN/<dicom_id>.jpg`.
A phrase with several boxes spans several rows: the rows with the same `dicom_id`, `category_name` and
`label_text` are one phrase (one sample), wherever they are in the file.

Images come from the user's MIMIC-CXR-JPG copy: `--data-option ms_cxr.image_root=DIR` (the folder holding
`files/`, or one above it that `mimic_cxr` would accept: `2.1.0/`, `mimic-cxr-jpg/2.1.0/`, ...), else the
data root itself. They are not opened here; `predictions:` runs need none.

One sample per phrase, id `<dicom_id>_<k>` (k = 1, 2, ...: the image's phrases in file order). Its boxes go to
`metadata["bboxes"]` as `[x1, y1, x2, y2, category_name]` in the space of `metadata["image_size"]`, so both
the `phrase_grounding` metric (boxes of the answer) and `grounding` (boxes of the reasoning) scale them into the
image space the model saw; `metadata["category"]` gives results.json its per-finding breakdown. A box reaching
past the image edge is clipped to it and counted in a note; one with no area or outside the image is an error.

`read_ms_cxr` is also what `mimic_cxr` reads with `--data-option mimic_cxr.ms_cxr=PATH`, to score the
reasoning boxes of report answers against MS-CXR boxes where a study has them.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from xraybench.datasets.base import Dataset, LoadResult
from xraybench.datasets.common import find_file, local_path, normalise_split, read_csv
from xraybench.errors import DataFormatError
from xraybench.records import Sample
from xraybench.tasks import GROUNDING_METRICS, Task

CSV_NAMES = ("MS_CXR_Local_Alignment_v1.1.0.csv", "MS_CXR_Local_Alignment_v1.0.0.csv")  # newest first
_VERSION_DIRS = ("1.1.0", "0.1", "ms-cxr", "ms-cxr/1.1.0", "ms-cxr/0.1")
COLUMNS = ("dicom_id", "path", "label_text", "category_name", "x", "y", "w", "h", "image_width", "image_height")
SPLITS = {"train": "train", "val": "val", "valid": "val", "validate": "val", "validation": "val", "test": "test"}
ALL_SPLITS = "all"  # a CSV without a split column
_PATH = re.compile(r"files/p\d+/p(\d+)/s(\d+)/([^/]+)\.jpg")
# MIMIC-CXR-JPG release folders that hold `files/` (as `mimic_cxr` finds its split file)
_IMAGE_SUBDIRS = ("mimic-cxr-jpg", "2.1.0", "2.0.0", "mimic-cxr-jpg/2.1.0", "mimic-cxr-jpg/2.0.0")


def grounding_prompt(phrase: str) -> str:
    """The question a model answers for one phrase."""
    return (
        f'Locate the finding described by this phrase in the chest X-ray: "{phrase}". Answer with one bounding '
        "box [x1, y1, x2, y2] in pixel coordinates of the image for each region it describes."
    )


@dataclass
class Phrase:
    """One phrase of one image with all its boxes (`[x1, y1, x2, y2]`, original pixels) and the CSV lines."""

    dicom_id: str
    path: str
    text: str
    category: str
    image_size: tuple[int, int]
    split: str
    boxes: list[list[float]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)

    @property
    def ids(self) -> tuple[str, str]:
        """(subject_id, study_id) from the image path."""
        match = _PATH.fullmatch(self.path)
        return (match.group(1), match.group(2)) if match else ("", "")


@dataclass
class MsCxr:
    phrases: list[Phrase]
    has_split: bool
    clipped: int  # boxes clipped to the image edge


def find_csv(root: Path) -> Path:
    """The MS-CXR CSV: `root` itself when it is a file, else the newest release file in it or a version folder."""
    return root if root.is_file() else find_file(root, CSV_NAMES, "the MS-CXR CSV", subdirs=_VERSION_DIRS)


def _number(row: dict[str, str], column: str, path: Path, line: int) -> float:
    try:
        value = float(row[column])
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataFormatError(path, f"column {column!r} should be a number, got {row[column][:40]!r}", line=line)
    return value


def _size(row: dict[str, str], path: Path, line: int) -> tuple[int, int]:
    out = []
    for column in ("image_width", "image_height"):
        value = _number(row, column, path, line)
        if value <= 0 or value != int(value):
            raise DataFormatError(
                path, f"column {column!r} should be a positive whole number, got {row[column]!r}", line=line
            )
        out.append(int(value))
    return out[0], out[1]


def read_ms_cxr(path: Path) -> MsCxr:
    """Every phrase of the CSV with its boxes; a bad row is a `DataFormatError` naming its line."""
    phrases: dict[tuple[str, str, str], Phrase] = {}
    images: dict[str, tuple[str, tuple[int, int], int]] = {}  # dicom_id -> (path, size, first line)
    has_split: bool | None = None
    clipped = 0
    for line, row in read_csv(path, required=COLUMNS):
        if has_split is None:
            has_split = "split" in row
        dicom = row["dicom_id"]
        if not dicom:
            raise DataFormatError(path, "empty dicom_id", line=line)
        text, category = " ".join(row["label_text"].split()), row["category_name"]
        if not text or not category:
            raise DataFormatError(
                path, "empty label_text or category_name (each box belongs to a named phrase)", line=line
            )
        rel = row["path"].replace("\\", "/").lstrip("/")
        match = _PATH.fullmatch(rel)
        if match is None or match.group(3) != dicom:
            raise DataFormatError(
                path, f"path {row['path'][:80]!r} should be files/pNN/pNNNNNNNN/sNNNNNNNN/{dicom}.jpg", line=line
            )
        width, height = _size(row, path, line)
        x, y, w, h = (_number(row, c, path, line) for c in ("x", "y", "w", "h"))
        if w <= 0 or h <= 0:
            raise DataFormatError(path, f"box w, h should be positive, got w={row['w']}, h={row['h']}", line=line)
        box = [max(x, 0.0), max(y, 0.0), min(x + w, float(width)), min(y + h, float(height))]
        if box[0] >= box[2] or box[1] >= box[3]:
            raise DataFormatError(
                path, f"box x={row['x']}, y={row['y']}, w={row['w']}, h={row['h']} lies outside the "
                f"{width}x{height} image", line=line,
            )  # fmt: skip
        clipped += box != [x, y, x + w, y + h]
        split = SPLITS.get(row.get("split", "").lower(), "") if has_split else ALL_SPLITS
        if not split:
            raise DataFormatError(
                path, f"unknown split {row['split'][:40]!r}; expected one of {sorted(set(SPLITS.values()))}", line=line
            )
        seen = images.setdefault(dicom, (rel, (width, height), line))
        if seen[:2] != (rel, (width, height)):
            raise DataFormatError(
                path, f"image {dicom} is {rel} at {width}x{height} here but {seen[0]} at "
                f"{seen[1][0]}x{seen[1][1]} on line {seen[2]}", line=line,
            )  # fmt: skip
        phrase = phrases.setdefault((dicom, category, text), Phrase(dicom, rel, text, category, (width, height), split))
        if phrase.split != split:
            raise DataFormatError(
                path, f"a box of phrase {text[:60]!r} is in split {split!r}, its line {phrase.lines[0]} in "
                f"{phrase.split!r}", line=line,
            )  # fmt: skip
        phrase.boxes.append(box)
        phrase.lines.append(line)
    return MsCxr(list(phrases.values()), bool(has_split), clipped)


def image_base(root: Path, image_root: str | Path | None) -> Path | None:
    """The folder holding `files/`: under `image_root` (else `root`), itself or a MIMIC-CXR-JPG release folder."""
    base = Path(image_root).expanduser() if image_root else (root if root.is_dir() else root.parent)
    return next((c for c in (base, *(base / s for s in _IMAGE_SUBDIRS)) if (c / "files").is_dir()), None)


def load_ms_cxr(root: Path, *, task: str, split: str, image_root: str | Path | None = None) -> LoadResult:
    """One grounding sample per MS-CXR phrase of `split`."""
    root = Path(root)
    wanted = normalise_split(split, SPLITS)
    csv_path = find_csv(root)
    data = read_ms_cxr(csv_path)
    base = image_base(root, image_root)
    result = LoadResult(samples=[])
    if base is None:
        shown = Path(image_root) if image_root else root
        result.note(
            f"no MIMIC-CXR-JPG files/ folder under {shown}: image paths point there; pass "
            "--data-option ms_cxr.image_root=DIR (a predictions: run needs no images)"
        )
        base = shown
    if not data.has_split:
        result.note(f"{csv_path.name} has no split column: every phrase is used, whatever the split asked")
    if data.clipped:
        result.note(f"{data.clipped} MS-CXR box(es) reached past the image edge and were clipped to it")
    ordinal: dict[str, int] = {}
    for phrase in data.phrases:
        k = ordinal[phrase.dicom_id] = ordinal.get(phrase.dicom_id, 0) + 1
        if data.has_split and phrase.split != wanted:
            continue
        subject, study = phrase.ids
        result.samples.append(
            Sample(
                id=f"{phrase.dicom_id}_{k}",
                task=task,
                dataset="ms_cxr",
                split=phrase.split,
                prompt=grounding_prompt(phrase.text),
                reference=json.dumps([[round(v, 3) for v in b] for b in phrase.boxes]),
                image_paths=[local_path(base, phrase.path, csv_path, line=phrase.lines[0])],
                metadata={
                    "phrase": phrase.text,
                    "category": phrase.category,
                    "bboxes": [[*b, phrase.category] for b in phrase.boxes],
                    "image_size": list(phrase.image_size),
                    "dicom_id": phrase.dicom_id,
                    "subject_id": subject,
                    "study_id": study,
                    "csv_lines": phrase.lines,
                },
                credentialed=True,
            )
        )
    return result


DATASET = Dataset(
    "ms_cxr",
    load_ms_cxr,
    "MS-CXR phrase grounding boxes on MIMIC-CXR images (credentialed)",
    tasks=(
        Task(
            "ms_cxr_grounding",
            "grounding",
            "ms_cxr",
            "test",
            GROUNDING_METRICS,
            {},
            "MS-CXR phrase grounding: a box per region of each phrase, IoU / hit rate / pointing game",
        ),
    ),
    credentialed=True,
    study_space="mimic",
)
