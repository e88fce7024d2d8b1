"""MIMIC-CXR / MIMIC-CXR-JPG 2.x report generation: one sample per study, FINDINGS or IMPRESSION.

Layout (PhysioNet): `mimic-cxr-2.0.0-split.csv[.gz]` (dicom_id, study_id, subject_id, split),
optional `mimic-cxr-2.0.0-metadata.csv[.gz]` (dicom_id, ViewPosition, ...), reports at
`files/pNN/pNNNNNNNN/sNNNNNNNN.txt` and images at `files/pNN/pNNNNNNNN/sNNNNNNNN/<dicom_id>.jpg`.
MIMIC-CXR-JPG 2.1.0 keeps these file names; the split file is looked for in `root` and in the version
folders a PhysioNet download creates (`2.1.0/`, `mimic-cxr-jpg/2.1.0/`, then the same for 2.0.0), newest
first, and the folder where it is found is where `files/` is expected.

MIMIC-CXR-JPG ships without reports, which come from the MIMIC-CXR (DICOM) project's
`mimic-cxr-reports.zip`. Reports are looked up, in order, under `reports_root` (an option), `root`,
and `root/mimic-cxr-reports`; so either unzip the reports into the JPG folder, or next to it as
`mimic-cxr-reports/files/...`, or pass `reports_root`. Images are expected under `image_root`
(default `root`) and are not opened here. Frontal images (PA, then AP) come first in `image_paths`.

`ms_cxr` (an option: the MS-CXR CSV or its folder) gives a study whose first image (the one a single-image model
sees, whose size the prediction records) has MS-CXR boxes those boxes, every phrase's, as `metadata["bboxes"]`
(`[x1, y1, x2, y2, category_name]` in `metadata["image_size"]`), so `--extra-metrics grounding` scores the boxes
of a reasoning answer against them, overall and per finding (`grounding_iou[<category_name>]`, ...).
"""

from __future__ import annotations

import os
from pathlib import Path

from xraybench.datasets.base import Dataset, LoadResult
from xraybench.datasets.common import (
    find_file,
    local_path,
    normalise_split,
    optional_file,
    read_csv,
    report_prompt,
)
from xraybench.datasets.ms_cxr import find_csv, read_ms_cxr
from xraybench.datasets.sections import parse_report
from xraybench.errors import DataFormatError
from xraybench.records import Sample
from xraybench.tasks import report_tasks

SPLITS = {
    "train": "train",
    "validate": "validate",
    "validation": "validate",
    "val": "validate",
    "valid": "validate",
    "test": "test",
}
_VIEW_RANK = {"PA": 0, "AP": 1}
_VERSIONS = ("2.1.0", "2.0.0")  # newest first
_SUBDIRS = ("mimic-cxr-jpg", *_VERSIONS, *(f"mimic-cxr-jpg/{v}" for v in _VERSIONS))
_SPLIT_NAMES = [f"mimic-cxr-{v}-split.csv" for v in ("2.0.0", "2.1.0")]


def _digits(value: str, column: str, path: Path, line: int) -> str:
    if not (value.isascii() and value.isdigit()) or len(value) > 12:  # real ids have 8 digits
        raise DataFormatError(path, f"column {column!r} should be a number (8 digits), got {value[:40]!r}", line=line)
    return value


def _view_positions(path: Path | None, wanted: set[str]) -> dict[str, str]:
    if path is None:
        return {}
    views: dict[str, str] = {}
    for _, row in read_csv(path, required=("dicom_id", "ViewPosition")):
        if row["dicom_id"] in wanted:
            views[row["dicom_id"]] = row["ViewPosition"].upper()
    return views


def ms_cxr_boxes(path: Path) -> dict[str, tuple[tuple[int, int], list[list[float | str]]]]:
    """dicom_id -> (image size, every MS-CXR box of the image as [x1, y1, x2, y2, category_name]), all splits
    (a box is a fact about the image), a box two phrases of one finding share counted once."""
    out: dict[str, tuple[tuple[int, int], list[list[float | str]]]] = {}
    for phrase in read_ms_cxr(find_csv(path)).phrases:
        size, known = out.setdefault(phrase.dicom_id, (phrase.image_size, []))
        for box in phrase.boxes:
            if [*box, phrase.category] not in known:
                known.append([*box, phrase.category])
    return out


def _study_dir(subject: str, study: str) -> Path:
    return Path("files") / f"p{subject[:2]}" / f"p{subject}" / f"s{study}"


def load_mimic_cxr(
    root: Path,
    *,
    task: str,
    split: str,
    section: str = "findings",
    reports_root: str | Path | None = None,
    image_root: str | Path | None = None,
    ms_cxr: str | Path | None = None,
) -> LoadResult:
    """Load one split of MIMIC-CXR as report-generation samples for `section`."""
    root = Path(root)
    prompt = report_prompt(section)
    wanted = normalise_split(split, SPLITS)
    split_csv = find_file(root, _SPLIT_NAMES, "the MIMIC-CXR-JPG split file", subdirs=_SUBDIRS)
    base = split_csv.parent  # the release folder: files/ and the metadata file sit beside the split file
    studies: dict[str, tuple[str, list[str]]] = {}
    for line, row in read_csv(split_csv, required=("dicom_id", "study_id", "subject_id", "split")):
        row_split = normalise_split(row["split"], SPLITS, f"{split_csv}:{line}")
        if row_split != wanted:
            continue
        study = _digits(row["study_id"], "study_id", split_csv, line)
        subject = _digits(row["subject_id"], "subject_id", split_csv, line)
        known = studies.setdefault(study, (subject, []))
        if known[0] != subject:
            raise DataFormatError(split_csv, f"study {study} belongs to subjects {known[0]} and {subject}", line=line)
        known[1].append(row["dicom_id"])

    meta_names = [n.replace("split", "metadata") for n in _SPLIT_NAMES]
    meta_csv = optional_file(base, meta_names) or optional_file(root, meta_names, subdirs=_SUBDIRS)
    views = _view_positions(meta_csv, {d for _, dicoms in studies.values() for d in dicoms})
    candidates = [root, base, root / "mimic-cxr-reports", base / "mimic-cxr-reports"]
    report_bases = [Path(reports_root)] if reports_root else list(dict.fromkeys(candidates))
    image_base = Path(image_root) if image_root else base

    result = LoadResult(samples=[])
    boxes = ms_cxr_boxes(Path(ms_cxr).expanduser()) if ms_cxr else {}
    with_boxes = other_view = 0
    for study, (subject, dicoms) in studies.items():
        relative = _study_dir(subject, study)
        report = next(
            # os.path.isfile: False (not an exception) for a name the file system refuses
            (
                b / relative.with_suffix(".txt")
                for b in report_bases
                if os.path.isfile(b / relative.with_suffix(".txt"))
            ),
            None,
        )
        if report is None:
            result.drop("missing_report")
            continue
        sections = parse_report(report.read_text(encoding="utf-8", errors="replace"))
        reference = sections.section(section)
        if not reference:
            result.drop(f"empty_{section}")
            continue
        ordered = sorted(dicoms, key=lambda d: _VIEW_RANK.get(views.get(d, ""), 2))
        grounding: dict[str, object] = {}
        if ordered and ordered[0] in boxes:  # boxes count only in the first image's space (the one sent)
            size, grounding["bboxes"] = boxes[ordered[0]]
            grounding["image_size"] = list(size)
            with_boxes += 1
        other_view += any(d in boxes for d in ordered[1:])
        result.samples.append(
            Sample(
                id=f"s{study}",
                task=task,
                dataset="mimic_cxr",
                split=wanted,
                prompt=prompt,
                reference=reference,
                image_paths=[local_path(image_base / relative, f"{d}.jpg", split_csv) for d in ordered],
                metadata={
                    "section": section,
                    "subject_id": subject,
                    "study_id": study,
                    "dicom_ids": ordered,
                    "views": [views.get(d, "") for d in ordered],
                    "view": views.get(ordered[0], "") if ordered else "",
                    **grounding,
                },
                credentialed=DATASET.credentialed,
            )
        )
    if ms_cxr:
        result.note(f"MS-CXR boxes on the first image of {with_boxes} of {len(result.samples)} studies")
        if other_view:
            result.note(f"{other_view} studies have MS-CXR boxes only on images other than the first: not used")
    if studies and result.dropped.get("missing_report") == len(studies):
        looked = ", ".join(str(b / "files") for b in report_bases)
        raise DataFormatError(
            root,
            f"no report files (files/pNN/pNNNNNNNN/sNNNNNNNN.txt) found under {looked}; "
            "unzip mimic-cxr-reports there or pass --data-option mimic_cxr.reports_root=PATH",
        )
    return result


DATASET = Dataset(
    "mimic_cxr",
    load_mimic_cxr,
    "MIMIC-CXR / MIMIC-CXR-JPG 2.x (credentialed)",
    tasks=report_tasks("mimic_cxr"),
    credentialed=True,
    study_space="mimic",
)
