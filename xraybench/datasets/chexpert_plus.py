"""CheXpert Plus report generation: one sample per study, FINDINGS or IMPRESSION (credentialed).

Layout (Stanford AIMI): `df_chexpert_plus_<date>.csv` with one row per image: `path_to_image`
(`train/patient00001/study1/view1_frontal.jpg`), `split` (train/valid), `section_findings`,
`section_impression` and more. Rows are grouped into studies by the patient and study folders of
`path_to_image`; the sample id is `patientNNNNN_studyN`. Every row of a study carries the same report,
so the first non-empty section text is used. Frontal views (`frontal_lateral` column, or "frontal" in the
file name) come first.

Images: the CSV names `.jpg` files, but the release ships PNGs under `PNG/` (`PNG/valid/patient64541/
study1/view1_frontal.png`; ReXrank's CheXpert Plus test file uses the same `PNG` root). Each image is
looked for under `image_root` (if given: it and its `PNG/`), else `root/PNG` and `root`, as the CSV's
`.jpg` and as `.png`; the first file that exists is used. When none exists the path is the PNG one
(under `PNG/` when that folder exists) and the sample counts in `metadata["missing_images"]`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from xraybench.datasets.base import Dataset, LoadResult
from xraybench.datasets.common import clean_text, local_path, normalise_split, read_csv, report_prompt
from xraybench.errors import DataFormatError
from xraybench.records import Sample
from xraybench.tasks import report_tasks

SPLITS = {"train": "train", "valid": "valid", "validation": "valid", "validate": "valid", "val": "valid"}


@dataclass
class _Study:
    text: str = ""
    images: list[tuple[int, str, str]] = field(default_factory=list)  # (frontal rank, path, view)


def _csv(root: Path) -> Path:
    if root.is_file():
        return root
    found = sorted(root.glob("df_chexpert_plus_*.csv")) + sorted(root.glob("df_chexpert_plus_*.csv.gz"))
    if not found:
        raise DataFormatError(root, "cannot find df_chexpert_plus_*.csv in this folder")
    return found[-1]  # the newest release date sorts last


def _find_image(bases: list[Path], relative: str, csv_path: Path) -> tuple[str, bool]:
    """(absolute path, whether it exists) of one image named by `path_to_image` (see the module doc)."""
    name = relative.replace("\\", "/").lstrip("/")
    png = os.path.splitext(name)[0] + ".png"
    for base in bases:
        for candidate in (name, png):
            path = local_path(base, candidate, csv_path)
            if os.path.isfile(path):
                return path, True
    fallback = next((b for b in bases if b.name == "PNG" and b.is_dir()), bases[-1])
    return local_path(fallback, png, csv_path), False


def load_chexpert_plus(
    root: Path, *, task: str, split: str, section: str = "findings", image_root: str | Path | None = None
) -> LoadResult:
    """Load one split of CheXpert Plus as report-generation samples for `section`."""
    root = Path(root)
    prompt = report_prompt(section)
    wanted = normalise_split(split, SPLITS)
    path = _csv(root)
    column = f"section_{section}"
    folder = root if root.is_dir() else root.parent
    bases = [Path(image_root), Path(image_root) / "PNG"] if image_root else [folder / "PNG", folder]
    studies: dict[str, _Study] = {}
    splits_seen: set[str] = set()
    for line, row in read_csv(path, required=("path_to_image", "split", column)):
        row_split = normalise_split(row["split"], SPLITS, f"{path}:{line}")
        splits_seen.add(row_split)
        if row_split != wanted:
            continue
        parts = PurePosixPath(row["path_to_image"].replace("\\", "/")).parts
        if len(parts) < 3 or not parts[-3].startswith("patient") or not parts[-2].startswith("study"):
            raise DataFormatError(
                path,
                f"path_to_image should look like <split>/patientN/studyN/<view>.jpg, got {row['path_to_image']!r}",
                line=line,
            )
        study = studies.setdefault(f"{parts[-3]}_{parts[-2]}", _Study())
        if not study.text:
            study.text = clean_text(row[column])
        view = (row.get("frontal_lateral") or parts[-1]).lower()
        study.images.append((0 if "frontal" in view else 1, row["path_to_image"], row.get("frontal_lateral", "")))
    if wanted not in splits_seen:
        raise DataFormatError(path, f"no rows with split {wanted!r}; the file has {sorted(splits_seen)}")
    result = LoadResult(samples=[])
    missing_total = total = 0
    for study_id, study in studies.items():
        if not study.text:
            result.drop(f"empty_{section}")
            continue
        images = sorted(study.images)
        paths = [_find_image(bases, p, path) for _, p, _ in images]
        missing = sum(not found for _, found in paths)
        missing_total, total = missing_total + missing, total + len(paths)
        result.samples.append(
            Sample(
                id=study_id,
                task=task,
                dataset="chexpert_plus",
                split=wanted,
                prompt=prompt,
                reference=study.text,
                image_paths=[p for p, _ in paths],
                metadata={"section": section, "views": [v for _, _, v in images], "missing_images": missing},
                credentialed=DATASET.credentialed,
            )
        )
    if missing_total:
        looked = " and ".join(str(b) for b in bases)
        result.note(
            f"{missing_total} of {total} CheXpert Plus images were not found under {looked} (as .jpg or .png); "
            "pass --data-option chexpert_plus.image_root=PATH"
        )
    return result


DATASET = Dataset(
    "chexpert_plus",
    load_chexpert_plus,
    "CheXpert Plus (credentialed)",
    tasks=report_tasks("chexpert_plus", split="valid"),
    credentialed=True,
)
