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
    local_path,
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
_R2GEN_SPLITS = ("train", "val", "test")


SEEDED_SPLIT_NOTE = (
    "IU X-ray split is xraybench's seeded 70/10/20 split by uid (no R2Gen annotation.json next to "
    "indiana_reports.csv): these scores are not comparable with numbers on R2Gen's split"
)


def seeded_split(uid: str) -> str:
    """The documented 70/10/20 split of layout (b) when no R2Gen annotation is available."""
    fraction = int(hashlib.sha256(f"xraybench-iu-xray:{uid}".encode()).hexdigest()[:8], 16) / 2**32
    return "train" if fraction < 0.7 else "val" if fraction < 0.8 else "test"


def _read_annotation(path: Path) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """The train/val/test records of an R2Gen annotation.json as `(locator, record)` pairs.

    Copies exist whose key for one split is blank (four spaces where "test" should be) while every record
    under it carries `"split": "test"`: records under a blank key are placed by their own `split`. What
    stays ambiguous is refused: a blank-key record without a known split, a split given both by its key
    and by blank-key records, or two keys that name the same split once stripped.
    """
    data = load_json(path)
    if not isinstance(data, dict):
        raise DataFormatError(path, f"expected an object with train/val/test lists, got {type(data).__name__}")
    splits: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    source: dict[str, str] = {}  # split -> the raw key it came from
    for raw_key, value in data.items():
        key = raw_key.strip()
        if key and key not in _R2GEN_SPLITS:
            continue  # other keys (none in known copies) are not splits
        records = expect_list(value, path, f"{key or 'blank-key'} records")
        placed: dict[str, list[tuple[str, dict[str, Any]]]] = {key: []} if key else {}
        for index, item in enumerate(records):
            where = f"{raw_key!r}[{index}]" if not key else f"{key}[{index}]"
            record = strip_keys(item, path, where)
            name = key
            if not key:
                name = clean_text(record.get("split")) if isinstance(record.get("split"), str) else ""
                if name not in _R2GEN_SPLITS:
                    raise DataFormatError(
                        path,
                        f"record under the blank key {raw_key!r} has split {record.get('split')!r}; "
                        f"it needs one of {list(_R2GEN_SPLITS)} to be placed",
                        record=where,
                    )
            placed.setdefault(name, []).append((where, record))
        if not key and not records:
            raise DataFormatError(
                path, f"the blank key {raw_key!r} holds no records, so no split can be read from them"
            )
        for name, items in placed.items():
            if name in splits:
                raise DataFormatError(
                    path, f"split {name!r} is given twice (by keys {source[name]!r} and {raw_key!r}); which is meant?"
                )
            splits[name], source[name] = items, raw_key
    missing = [name for name in _R2GEN_SPLITS if name not in splits]
    if missing:
        raise DataFormatError(path, f"missing split(s) {missing}; keys are {[str(k) for k in data]}")
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
    for where, record in _read_annotation(path)[split]:
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
                image_paths=[local_path(image_dir, i.strip(), path, record=where) for i in images],
                metadata={"section": section, "layout": "r2gen", "split_source": "r2gen"},
            )
        )
    return result


def _r2gen_split_by_uid(path: Path) -> dict[str, str]:
    by_uid: dict[str, str] = {}
    for name, records in _read_annotation(path).items():
        for where, record in records:
            rid = clean_text(field(record, "id", path, where))
            match = _R2GEN_UID.match(rid)
            if not match:
                raise DataFormatError(path, f"id {rid!r} is not of the form CXR<uid>_...", record=where)
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
    if r2gen is None:
        result.note(SEEDED_SPLIT_NOTE)
    seen: set[str] = set()
    for line, row in read_csv(reports, required=("uid", "findings", "impression")):
        uid = row["uid"]
        if not (uid.isascii() and uid.isdigit()):
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
                image_paths=[local_path(image_dir, name, projections) for name, _ in files],
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
