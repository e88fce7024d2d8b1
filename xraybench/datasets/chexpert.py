"""CheXpert v1.0 (Stanford ML Group) finding classification: one sample per image of `train.csv` / `valid.csv`.

Layout (`CheXpert-v1.0/` or the downsampled `CheXpert-v1.0-small/`): `train.csv` and `valid.csv` with columns
`Path, Sex, Age, Frontal/Lateral, AP/PA` and the 14 observations `No Finding, Enlarged Cardiomediastinum,
Cardiomegaly, Lung Opacity, Lung Lesion, Edema, Consolidation, Pneumonia, Atelectasis, Pneumothorax,
Pleural Effusion, Pleural Other, Fracture, Support Devices`, each 1 (positive), 0 (negative), -1 (uncertain)
or blank (not mentioned), written `1.0`/`0.0`/`-1.0` in the release. `Path` starts with the dataset's own
folder (`CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg`); images are looked up under
`image_root` (default: the folder holding the CSV) without that first component.

The reference is the sorted '|'-joined set of positive findings among the 13 observations besides
"No Finding", or "No Finding" when there is none (the ChestX-ray14 convention, so one metric serves both).
Uncertain labels (only in train.csv; valid.csv is a radiologist consensus without them) count as positive
(`uncertain="positive"`, the paper's U-Ones) or negative (`"negative"`, U-Zeros); either way they are kept in
`metadata["uncertain_labels"]`. `frontal_only` keeps frontal images (laterals are counted as dropped).
The sample id is the image path without the dataset folder and extension (`valid/patient64541/study1/
view1_frontal`).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from xraybench.datasets.base import Dataset, LoadResult
from xraybench.datasets.common import find_file, finding_prompt, local_path, normalise_split, read_csv
from xraybench.errors import DataFormatError
from xraybench.records import Sample
from xraybench.tasks import CLASSIFICATION_METRICS, Task

# CheXpert v1.0's 13 observations besides "No Finding", in its CSV order (the loader reads these columns)
LABELS = (
    "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema", "Consolidation",
    "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other", "Fracture", "Support Devices",
)  # fmt: skip
NO_FINDING = "No Finding"
PROMPT = finding_prompt(LABELS, NO_FINDING)
SPLITS = {"train": "train", "valid": "valid", "validation": "valid", "validate": "valid", "val": "valid"}
COLUMNS = ("Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", NO_FINDING, *LABELS)
_VALUES = {"1.0": 1, "1": 1, "0.0": 0, "0": 0, "-1.0": -1, "-1": -1, "": None}
_FOLDERS = ("CheXpert-v1.0", "CheXpert-v1.0-small")


def load_chexpert(
    root: Path,
    *,
    task: str,
    split: str,
    uncertain: str = "positive",
    frontal_only: bool = False,
    image_root: str | Path | None = None,
) -> LoadResult:
    """Load `train.csv` or `valid.csv` of CheXpert v1.0 as finding-classification samples."""
    root = Path(root)
    wanted = normalise_split(split, SPLITS)
    if uncertain not in ("positive", "negative"):
        raise DataFormatError("<task options>", f"uncertain={uncertain!r}; expected positive or negative")
    path = find_file(root, [f"{wanted}.csv"], f"the CheXpert {wanted}.csv", subdirs=_FOLDERS)
    image_base = Path(image_root) if image_root else path.parent
    result = LoadResult(samples=[])
    seen: set[str] = set()
    for line, row in read_csv(path, required=COLUMNS):
        parts = PurePosixPath(row["Path"].replace("\\", "/")).parts
        if parts and parts[0].startswith("CheXpert-v1.0"):
            parts = parts[1:]
        if len(parts) < 4 or not parts[1].startswith("patient") or not parts[2].startswith("study"):
            raise DataFormatError(
                path, f"Path should look like <split>/patientN/studyN/viewK.jpg, got {row['Path'][:80]!r}", line=line
            )
        relative = "/".join(parts)
        sample_id = os.path.splitext(relative)[0]
        if sample_id in seen:
            raise DataFormatError(path, f"duplicate image {relative!r}", line=line)
        seen.add(sample_id)
        values = {}
        for label in (NO_FINDING, *LABELS):
            if row[label] not in _VALUES:
                raise DataFormatError(
                    path, f"column {label!r} should be 1.0, 0.0, -1.0 or blank, got {row[label][:40]!r}", line=line
                )
            values[label] = _VALUES[row[label]]
        view = row["Frontal/Lateral"]
        if view not in ("Frontal", "Lateral"):
            raise DataFormatError(path, f"Frontal/Lateral should be Frontal or Lateral, got {view[:40]!r}", line=line)
        if frontal_only and view != "Frontal":
            result.drop("lateral_view")
            continue
        unsure = [label for label in LABELS if values[label] == -1]
        positive = [
            label for label in LABELS if values[label] == 1 or (uncertain == "positive" and values[label] == -1)
        ]
        labels = sorted(positive)
        result.samples.append(
            Sample(
                id=sample_id,
                task=task,
                dataset="chexpert",
                split=wanted,
                prompt=PROMPT,
                reference="|".join(labels) if labels else NO_FINDING,
                image_paths=[local_path(image_base, relative, path, line=line)],
                metadata={
                    "labels": labels,
                    "uncertain_labels": unsure,
                    "uncertain_as": uncertain,
                    "no_finding": values[NO_FINDING],
                    "view": view,
                    "ap_pa": row["AP/PA"],
                    "sex": row["Sex"],
                    "age": int(age) if (age := row["Age"]).isascii() and age.isdigit() and len(age) <= 3 else None,
                    "study": "/".join(parts[:3]),
                },
            )
        )
    if not seen:
        raise DataFormatError(path, "no image rows; expected one row per image after the header")
    return result


DATASET = Dataset(
    "chexpert",
    load_chexpert,
    "CheXpert v1.0 train.csv/valid.csv, 13 findings",
    tasks=(
        Task(
            "chexpert_valid",
            "classification",
            "chexpert",
            "valid",
            CLASSIFICATION_METRICS,
            {},
            "CheXpert v1.0 validation images (radiologist consensus), 13-finding classification",
            metric_options={"classification": {"labels": LABELS}},
        ),
    ),
)
