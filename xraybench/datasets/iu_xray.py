"""IU X-ray / OpenI report generation in its three common layouts.

(a) R2Gen `annotation.json`: `{"train": [{"id", "report", "image_path": [...], "split"}], "val": [...],
    "test": [...]}` with images under `images/`. Its `report` is the FINDINGS text only, so the
    impression task cannot be built from it (a clear error says so). Copies whose key for a split is
    blank (e.g. four spaces) are read by the records' own `split` (see `_read_annotation`).
(b) `indiana_reports.csv` (uid, MeSH, Problems, image, indication, comparison, findings, impression)
    with `indiana_projections.csv` (uid, filename, projection); images under
    `images/images_normalized/` (the Kaggle copy), `images_normalized/` or `images/`.
(c) Open-i's own release: `NLMCXR_reports.tgz` (read in place) or its extracted `ecgen-radiology/`
    folder of `<uid>.xml` files, whose `AbstractText Label="FINDINGS"` / `"IMPRESSION"` are the sections
    and whose `parentImage id`s name the images `<id>.png` of `NLMCXR_png.tgz`, under `NLMCXR_png/` or
    `images/`. The uid is the file name (as in (b), so ids agree across the two layouts).

`layout="auto"` uses (b) when its CSVs are present, else (c) when its reports are, else (a). Layouts (b)
and (c) have no official split: when `annotation.json` is also present its split is used (R2Gen ids
`CXR<uid>_...` name the uid; reports R2Gen left out are dropped as `not_in_r2gen_split`), otherwise a
seeded 70/10/20 train/val/test split by uid: `sha256("xraybench-iu-xray:" + uid)` read as a fraction in
[0, 1) picks the bucket, so a report's split never depends on which other reports a copy contains. Scores
on that split are not comparable with published ones: the load result carries a note saying so, which
results.json (`data_notes`) and the run's screen output repeat.

Quirks handled: whitespace around column names and JSON keys is stripped; "XXXX" de-identification
tokens are kept verbatim (published scores were computed with them); empty sections are dropped and
counted as `empty_<section>`.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from xraybench.datasets.base import Dataset, LoadResult
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
from xraybench.tasks import report_tasks

SPLITS = {"train": "train", "val": "val", "valid": "val", "validate": "val", "validation": "val", "test": "test"}
_R2GEN_UID = re.compile(r"^CXR(\d+)_")
_IMAGE_DIRS = ("images/images_normalized", "images_normalized", "images")
_R2GEN_SPLITS = ("train", "val", "test")
_LAYOUTS = ("auto", "indiana", "openi", "r2gen")
_OPENI_DIRS = ("ecgen-radiology", "NLMCXR_reports/ecgen-radiology")
_OPENI_ARCHIVES = ("NLMCXR_reports.tgz", "NLMCXR_reports.tar.gz")
_OPENI_IMAGE_DIRS = ("NLMCXR_png", "images")


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


@dataclass
class _Report:
    """One IU report as either layout gives it: `where` locates it in `source` for errors."""

    uid: str
    source: Path
    line: int | None  # where it is in `source`: a CSV line, or
    record: str | None  # an XML file's name
    sections: dict[str, str]  # findings / impression text
    images: list[str]  # file names under the layout's image folder, frontal first where known
    views: list[str]
    mesh: str = ""

    @property
    def at(self) -> dict[str, Any]:
        return {"line": self.line, "record": self.record}


def _indiana_reports(reports: Path, projections: Path) -> Iterator[_Report]:
    views = _projections(projections)
    for line, row in read_csv(reports, required=("uid", "findings", "impression")):
        files = sorted(views.get(row["uid"], []), key=lambda v: (v[1].lower() != "frontal", v[0]))
        yield _Report(
            row["uid"],
            reports,
            line,
            None,
            {"findings": row["findings"], "impression": row["impression"]},
            [name for name, _ in files],
            [view for _, view in files],
            row.get("MeSH", ""),
        )


def _openi_members(source: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of each report XML: files of an `ecgen-radiology/` folder, or members of
    NLMCXR_reports.tgz read in place (no extraction)."""
    if source.is_dir():
        for path in sorted(source.glob("*.xml"), key=lambda p: (len(p.stem), p.stem)):
            try:
                yield path.name, path.read_bytes()
            except OSError as exc:
                raise DataFormatError(path, f"unreadable report file: {exc.strerror or exc}") from None
        return
    try:
        with tarfile.open(source, "r:*") as archive:
            members = [m for m in archive if m.isfile() and m.name.endswith(".xml")]
            for member in sorted(members, key=lambda m: (len(m.name), m.name)):
                handle = archive.extractfile(member)
                yield member.name, handle.read() if handle else b""
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(source, f"unreadable report archive: {type(exc).__name__}: {str(exc)[:200]}") from None


def _openi_reports(source: Path) -> Iterator[_Report]:
    """Reports of the Open-i XML layout (`ecgen-radiology/<uid>.xml`): `AbstractText Label="FINDINGS"` and
    `"IMPRESSION"` give the sections, each `parentImage id` an image `<id>.png` (NLMCXR_png.tgz names)."""
    found = False
    for name, data in _openi_members(source):
        found = True
        where = Path(name).name
        if b"<!ENTITY" in data:  # entity definitions are how XML bombs work; no real report has one
            raise DataFormatError(source, "report XML defines entities (refused)", record=where)
        try:
            root = ElementTree.fromstring(data)
        except ElementTree.ParseError as exc:
            line = exc.position[0] if exc.position else None
            raise DataFormatError(source, f"invalid XML in {where} (line {line}): {exc}", record=where) from None
        except (LookupError, ValueError, RecursionError) as exc:  # e.g. an unknown declared encoding
            reason = f"{type(exc).__name__}: {str(exc)[:200]}"
            raise DataFormatError(source, f"unreadable XML in {where}: {reason}", record=where) from None
        stem = Path(name).stem
        uid_tag = root.find(".//uId")
        uid = stem if stem.isascii() and stem.isdigit() else ""
        if not uid and uid_tag is not None:
            uid = re.sub(r"^CXR", "", uid_tag.get("id", ""))
        sections = {"findings": "", "impression": ""}
        for element in root.iter("AbstractText"):
            label = (element.get("Label") or "").strip().lower()
            if label in sections:
                sections[label] = "".join(element.itertext())
        images = [f"{pid}.png" for pid in (p.get("id", "").strip() for p in root.iter("parentImage")) if pid]
        yield _Report(uid, source, None, where, sections, images, [])
    if not found:
        raise DataFormatError(source, "no report XML files (<uid>.xml) found")


def _report_samples(
    reports: Iterator[_Report],
    annotation: Path | None,
    image_dir: Path,
    task: str,
    split: str,
    section: str,
    layout: str,
) -> LoadResult:
    """Samples of the layouts that hold both sections (indiana CSVs, Open-i XML), split by R2Gen's
    annotation.json when present, else by the seeded split (and then a note says so)."""
    r2gen = _r2gen_split_by_uid(annotation) if annotation else None
    result = LoadResult(samples=[])
    if r2gen is None:
        result.note(SEEDED_SPLIT_NOTE)
    seen: set[str] = set()
    for report in reports:
        uid = report.uid
        if not (uid.isascii() and uid.isdigit()):
            raise DataFormatError(report.source, f"uid should be a number, got {uid[:40]!r}", **report.at)
        if uid in seen:
            raise DataFormatError(report.source, f"duplicate uid {uid}", **report.at)
        seen.add(uid)
        if r2gen is not None and uid not in r2gen:
            result.drop("not_in_r2gen_split")
            continue
        if (r2gen[uid] if r2gen is not None else seeded_split(uid)) != split:
            continue
        text = clean_text(report.sections[section])
        if not text:
            result.drop(f"empty_{section}")
            continue
        metadata: dict[str, Any] = {"section": section, "layout": layout, "views": report.views}
        if report.mesh:
            metadata["mesh"] = report.mesh
        metadata["split_source"] = "r2gen" if r2gen is not None else "seeded"
        result.samples.append(
            Sample(
                id=uid,
                task=task,
                dataset="iu_xray",
                split=split,
                prompt=report_prompt(section),
                reference=text,
                image_paths=[local_path(image_dir, n, report.source, **report.at) for n in report.images],
                metadata=metadata,
            )
        )
    return result


def _first_dir(root: Path, names: tuple[str, ...]) -> Path:
    return next((root / d for d in names if (root / d).is_dir()), root / names[0])


def load_iu_xray(root: Path, *, task: str, split: str, section: str = "findings", layout: str = "auto") -> LoadResult:
    """Load IU X-ray for `section`; `layout` is "auto", "indiana", "openi" or "r2gen" (see the module doc)."""
    root = Path(root)
    report_prompt(section)
    wanted = normalise_split(split, SPLITS)
    annotation = optional_file(root, ["annotation.json"])
    reports = optional_file(root, ["indiana_reports.csv"])
    projections = optional_file(root, ["indiana_projections.csv"])
    xml_dir = next((root / d for d in _OPENI_DIRS if (root / d).is_dir()), None)
    openi = xml_dir or next((root / n for n in _OPENI_ARCHIVES if (root / n).is_file()), None)
    if layout not in _LAYOUTS:
        raise DataFormatError("<task options>", f"unknown layout {layout!r}; expected one of {list(_LAYOUTS)}")
    if layout == "auto":
        layout = "indiana" if reports is not None else "openi" if openi is not None else "r2gen"
    if layout == "indiana":
        if reports is None or projections is None:
            raise DataFormatError(root, "expected indiana_reports.csv and indiana_projections.csv in this folder")
        image_dir = _first_dir(root, _IMAGE_DIRS)
        rows = _indiana_reports(reports, projections)
        return _report_samples(rows, annotation, image_dir, task, wanted, section, "indiana")
    if layout == "openi":
        if openi is None:
            raise DataFormatError(
                root, f"expected the Open-i reports: an {_OPENI_DIRS[0]}/ folder of <uid>.xml or {_OPENI_ARCHIVES[0]}"
            )
        image_dir = _first_dir(root, _OPENI_IMAGE_DIRS)
        return _report_samples(_openi_reports(openi), annotation, image_dir, task, wanted, section, "openi")
    if annotation is None:
        raise DataFormatError(
            root,
            "expected annotation.json (R2Gen), indiana_reports.csv + indiana_projections.csv, "
            f"or the Open-i reports ({_OPENI_DIRS[0]}/ or {_OPENI_ARCHIVES[0]}) in this folder",
        )
    return _r2gen_samples(annotation, task, wanted, section)


DATASET = Dataset(
    "iu_xray",
    load_iu_xray,
    "IU X-ray / OpenI: R2Gen annotation.json, indiana_*.csv or Open-i XML (NLMCXR_reports.tgz)",
    tasks=report_tasks("iu_xray"),
)
