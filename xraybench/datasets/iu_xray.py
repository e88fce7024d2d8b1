"""IU X-ray / OpenI report generation in its two common layouts.

(a) R2Gen `annotation.json`: `{"train": [{"id", "report", "image_path": [...], "split"}], "val": [...],
    "test": [...]}` with images under `images/`. Its `report` is the FINDINGS text only, so the
    impression task cannot be built from it (a clear error says so).
(b) `indiana_reports.csv` (uid, MeSH, Problems, image, indication, comparison, findings, impression)
    with `indiana_projections.csv` (uid, filename, projection); images under
    `images/images_normalized/` (the Kaggle copy), `images_normalized/` or `images/`.

`layout="auto"` uses (b) when its CSVs are present, else (a). Layout (b) has no official split: when
`annotation.json` is also present its split is used (R2Gen ids `CXR<uid>_...` name the uid; reports
R2Gen left out are dropped as `not_in_r2gen_split`), otherwise a seeded 70/10/20 train/val/test split
by uid: `sha256("xraybench-iu-xray:" + uid)` read as a fraction in [0, 1) picks the bucket, so a
report's split never depends on which other reports a copy contains.

Quirks handled: whitespace around column names and JSON keys is stripped; "XXXX" de-identification
tokens are kept verbatim (published scores were computed with them); empty sections are dropped and
counted as `empty_<section>`.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from xraybench.datasets.base import LoadResult
from xraybench.datasets.common import (
    clean_text,
    expect_list,
    field,
    load_json,
    normalise_split,
    optional_file,
    read_csv,
    report_prompt,
    strip_keys,
)
from xraybench.errors import DataFormatError
from xraybench.records import Sample

SPLITS = {"train": "train", "val": "val", "valid": "val", "validate": "val", "validation": "val", "test": "test"}
_R2GEN_UID = re.compile(r"^CXR(\d+)_")
_IMAGE_DIRS = ("images/images_normalized", "images_normalized", "images")


def seeded_split(uid: str) -> str:
    """The documented 70/10/20 split of layout (b) when no R2Gen annotation is available."""
    fraction = int(hashlib.sha256(f"xraybench-iu-xray:{uid}".encode()).hexdigest()[:8], 16) / 2**32
    return "train" if fraction < 0.7 else "val" if fraction < 0.8 else "test"


def _read_annotation(path: Path) -> dict[str, list[dict[str, Any]]]:
    data = load_json(path)
    if not isinstance(data, dict):
        raise DataFormatError(path, f"expected an object with train/val/test lists, got {type(data).__name__}")
    data = {str(k).strip(): v for k, v in data.items()}
    splits: dict[str, list[dict[str, Any]]] = {}
    for name in ("train", "val", "test"):
        if name not in data:
            raise DataFormatError(path, f"missing split {name!r}; keys are {sorted(data)}")
        records = expect_list(data[name], path, f"{name} records")
        splits[name] = [strip_keys(r, path, f"{name}[{i}]") for i, r in enumerate(records)]
    return splits


def _r2gen_samples(path: Path, task: str, split: str, section: str) -> LoadResult:
    if section != "findings":
        raise DataFormatError(
            path,
            "R2Gen annotation.json holds the FINDINGS text only; the impression task "
            "needs indiana_reports.csv + indiana_projections.csv in the same folder",
        )
    image_dir = path.parent / "images"
    result = LoadResult(samples=[])
    for index, record in enumerate(_read_annotation(path)[split]):
        where = f"{split}[{index}]"
        sample_id = clean_text(field(record, "id", path, where))
        report = clean_text(field(record, "report", path, where))
        images = field(record, "image_path", path, where, list)
        if not all(isinstance(i, str) for i in images):
            raise DataFormatError(path, "'image_path' should be a list of strings", record=where)
        if not report:
            result.drop("empty_findings")
            continue
        result.samples.append(
            Sample(
                id=sample_id,
                task=task,
                dataset="iu_xray",
                split=split,
                prompt=report_prompt(section),
                reference=report,
                image_paths=[str((image_dir / i.strip()).resolve()) for i in images],
                metadata={"section": section, "layout": "r2gen"},
            )
        )
    return result


def _r2gen_split_by_uid(path: Path) -> dict[str, str]:
    by_uid: dict[str, str] = {}
    for name, records in _read_annotation(path).items():
        for index, record in enumerate(records):
            rid = clean_text(field(record, "id", path, f"{name}[{index}]"))
            match = _R2GEN_UID.match(rid)
            if not match:
                raise DataFormatError(path, f"id {rid!r} is not of the form CXR<uid>_...", record=f"{name}[{index}]")
            by_uid[match.group(1)] = name
    return by_uid


def _projections(path: Path) -> dict[str, list[tuple[str, str]]]:
    views: dict[str, list[tuple[str, str]]] = {}
    for _, row in read_csv(path, required=("uid", "filename", "projection")):
        views.setdefault(row["uid"], []).append((row["filename"], row["projection"]))
    return views


def _indiana_samples(
    reports: Path, projections: Path, annotation: Path | None, task: str, split: str, section: str
) -> LoadResult:
    r2gen = _r2gen_split_by_uid(annotation) if annotation else None
    views = _projections(projections)
    root = reports.parent
    image_dir = next((root / d for d in _IMAGE_DIRS if (root / d).is_dir()), root / _IMAGE_DIRS[0])
    result = LoadResult(samples=[])
    seen: set[str] = set()
    for line, row in read_csv(reports, required=("uid", "findings", "impression")):
        uid = row["uid"]
        if not uid.isdigit():
            raise DataFormatError(reports, f"column 'uid' should be a number, got {uid!r}", line=line)
        if uid in seen:
            raise DataFormatError(reports, f"duplicate uid {uid}", line=line)
        seen.add(uid)
        if r2gen is not None and uid not in r2gen:
            result.drop("not_in_r2gen_split")
            continue
        if (r2gen[uid] if r2gen is not None else seeded_split(uid)) != split:
            continue
        text = clean_text(row[section])
        if not text:
            result.drop(f"empty_{section}")
            continue
        files = sorted(views.get(uid, []), key=lambda v: (v[1].lower() != "frontal", v[0]))
        result.samples.append(
            Sample(
                id=uid,
                task=task,
                dataset="iu_xray",
                split=split,
                prompt=report_prompt(section),
                reference=text,
                image_paths=[str((image_dir / name).resolve()) for name, _ in files],
                metadata={
                    "section": section,
                    "layout": "indiana",
                    "views": [p for _, p in files],
                    "mesh": row.get("MeSH", ""),
                    "split_source": "r2gen" if r2gen is not None else "seeded",
                },
            )
        )
    return result


def load_iu_xray(root: Path, *, task: str, split: str, section: str = "findings", layout: str = "auto") -> LoadResult:
    """Load IU X-ray for `section`; `layout` is "auto", "r2gen" or "indiana"."""
    root = Path(root)
    report_prompt(section)
    wanted = normalise_split(split, SPLITS)
    annotation = optional_file(root, ["annotation.json"])
    reports = optional_file(root, ["indiana_reports.csv"])
    projections = optional_file(root, ["indiana_projections.csv"])
    if layout not in ("auto", "r2gen", "indiana"):
        raise DataFormatError("<task options>", f"unknown layout {layout!r}; expected auto, r2gen or indiana")
    use_indiana = layout == "indiana" or (layout == "auto" and reports is not None)
    if use_indiana:
        if reports is None or projections is None:
            raise DataFormatError(root, "expected indiana_reports.csv and indiana_projections.csv in this folder")
        return _indiana_samples(reports, projections, annotation, task, wanted, section)
    if annotation is None:
        raise DataFormatError(
            root, "expected annotation.json (R2Gen) or indiana_reports.csv + indiana_projections.csv in this folder"
        )
    return _r2gen_samples(annotation, task, wanted, section)
