"""ReXrank's public test sets: IU X-ray (590 studies), MIMIC-CXR (2,347) and CheXpert Plus (200).

Layout (github.com/rajpurkarlab/ReXrank, `data/`): one JSON file per source under the data root,
`iu_xray/ReXRank_IUXray_test.json`, `mimic-cxr/ReXRank_MIMICCXR_test.json` and
`chexpert_plus/ReXRank_CheXpertPlus.json`, each an object keyed by study id whose values hold
`image_path` (every view), `key_image_path` (the frontal view for single-image models), `frontal_lateral`
(a view name per image; in the IU file not always one per image), `section_findings`, `section_impression`,
`report` (`"Findings: " + findings + " Impression: " + impression`, a missing section written `None.`),
`context` (indication, comparison, and in MIMIC / CheXpert Plus age and sex), `split`, and `subject_id`
(MIMIC) or demographics (CheXpert Plus). Images lie under `iu_xray/images/`, `mimic-cxr/files/` and
`chexpert_plus/PNG/` (option `image_root` to point elsewhere); MIMIC's paths start with `/`.

Tasks: `rexrank_<source>` scores the full report as ReXrank scores it: its evaluation script's
`"Findings: " + section_findings + " Impression: " + section_impression` with a missing section written `None`
(the `report` field writes `None.`; 723 MIMIC-CXR and 138 CheXpert Plus studies differ so) and the sections'
line breaks kept (ReXrank's BLEU splits on spaces only, so they are part of its tokens); the
`rexrank_<source>_findings` tasks score the FINDINGS section (studies without one are dropped as
`empty_findings`). MIMIC-CXR and CheXpert Plus samples are credentialed (their data use agreements), IU X-ray's
are not.

Quirks of real copies, handled here: bare `NaN` tokens (pandas' missing values; a strict JSON parser
refuses them, Python's reads them as a float) mean "missing" in every text field; `context` is sometimes
wrapped in `<context>…</context>` (as ReXrank's own example submission has it). Every other irregularity
is a `DataFormatError` naming the file, the line and the study.

Images: every view goes in `Sample.image_paths` with the key image first, so a model that takes several
images sees them all and one that takes fewer (vLLM's `max_images`, an image-retrieval baseline) gets the key
image first. The context goes into the prompt, before the instruction.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xraybench.datasets.base import Dataset, LoadResult
from xraybench.datasets.common import clean_text, load_json, local_path, object_key_lines, report_prompt
from xraybench.errors import DataFormatError
from xraybench.records import Sample
from xraybench.tasks import REPORT_METRICS, Task


@dataclass(frozen=True)
class Source:
    """One of ReXrank's test sets, where the ReXrank repository lays it out under the data root."""

    name: str  # the task-name part: rexrank_<name>
    file: str
    images: str
    credentialed: bool
    title: str
    studies: int  # as published; a copy with another count is read, with a note


SOURCES = {
    s.name: s
    for s in (
        Source("iu_xray", "iu_xray/ReXRank_IUXray_test.json", "iu_xray/images", False, "IU X-ray", 590),
        Source("mimic_cxr", "mimic-cxr/ReXRank_MIMICCXR_test.json", "mimic-cxr/files", True, "MIMIC-CXR", 2347),
        Source("chexpert_plus", "chexpert_plus/ReXRank_CheXpertPlus.json", "chexpert_plus/PNG", True,
               "CheXpert Plus", 200),
    )
}  # fmt: skip
SECTIONS = ("report", "findings")
REPORT_INSTRUCTION = (
    "Write the radiology report for this chest X-ray study, with a FINDINGS section and an IMPRESSION section."
)
# how ReXrank's evaluation script (`example_files/evaluation_script.md`) writes a section the study does not have:
# Python's None in an f-string (its `report` field writes "None." instead)
MISSING_SECTION = "None"
METRICS = (*REPORT_METRICS, "rexrank_bleu")  # the usual report metrics and ReXrank's own BLEU
_CONTEXT_TAG = re.compile(r"^\s*<context>\s*(.*?)\s*</context>\s*$", re.S | re.I)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class _Bad(ValueError):
    """What is wrong with one study record (the loader adds the file, line and study id)."""


def _text(record: dict[str, Any], key: str) -> str:
    """A text field as the file has it (its line breaks kept: ReXrank's BLEU splits on spaces only, so they are
    part of its tokens); '' when absent, NaN or blank; anything but a string is an error."""
    value = record.get(key)
    if _missing(value):
        return ""
    if not isinstance(value, str):
        raise _Bad(f"{key!r} should be text (or NaN for none), got {type(value).__name__} {value!r:.40}")
    return value if value.strip() else ""


def clean_context(value: str) -> str:
    """The context without the `<context>…</context>` wrapper some copies have, whitespace collapsed."""
    match = _CONTEXT_TAG.match(value)
    return clean_text(match.group(1) if match else value)


def rexrank_prompt(section: str, context: str) -> str:
    """The instruction of a ReXrank task, with the study's context before it when there is one."""
    instruction = REPORT_INSTRUCTION if section == "report" else report_prompt(section)
    return f"Clinical context: {context}\n{instruction}" if context else instruction


def full_report(findings: str, impression: str) -> str:
    """The reference ReXrank scores: its evaluation script's "Findings: <findings> Impression: <impression>" built
    from the two sections as the file has them, a missing one written "None"; '' when the study has neither."""
    if not findings and not impression:
        return ""
    return f"Findings: {findings or MISSING_SECTION} Impression: {impression or MISSING_SECTION}"


def _image_list(record: dict[str, Any]) -> list[str]:
    """The study's image paths, key image first (the others in the file's order)."""
    images = record.get("image_path")
    if isinstance(images, str):  # one view written without the list
        images = [images]
    if not isinstance(images, list) or not images or not all(isinstance(i, str) and i.strip() for i in images):
        raise _Bad(f"'image_path' should be a non-empty list of image paths, got {images!r:.80}")
    key = record.get("key_image_path")
    if _missing(key) or key == "":
        key = images[0]
    if not isinstance(key, str):
        raise _Bad(f"'key_image_path' should be a path, got {type(key).__name__}")
    if key not in images:
        raise _Bad(f"'key_image_path' {key!r} is not one of its 'image_path' entries")
    return [key, *(i for i in images if i != key)]


def load_rexrank(
    root: Path,
    *,
    task: str,
    split: str,
    source: str = "iu_xray",
    section: str = "report",
    image_root: str | Path | None = None,
) -> LoadResult:
    """Load one ReXrank test set for `section` ("report": the full text ReXrank scores, or "findings")."""
    if source not in SOURCES:
        raise DataFormatError("<task options>", f"unknown ReXrank source {source!r}; expected one of {sorted(SOURCES)}")
    if section not in SECTIONS:
        raise DataFormatError("<task options>", f"unknown ReXrank section {section!r}; expected one of {SECTIONS}")
    if split != "test":
        raise DataFormatError("<task options>", f"ReXrank publishes test sets only; split {split!r} does not exist")
    spec = SOURCES[source]
    root = Path(root)
    path = root / spec.file
    if not path.is_file():
        found = sorted(str(p.relative_to(root)) for p in root.glob("*/ReXRank_*.json")) if root.is_dir() else []
        where = f"; found {', '.join(found)}" if found else ""
        raise DataFormatError(
            root, f"cannot find {spec.file} (the ReXrank repository's data/ layout) in this folder{where}"
        )
    data = load_json(path)
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise DataFormatError(path, "expected an object keyed by study id whose values are study objects")
    lines: dict[str, int] | None = None

    def line_of(study: str) -> int | None:  # computed on the first error only (a second parse of the file)
        nonlocal lines
        if lines is None:
            lines = object_key_lines(path)
        return lines.get(study)

    image_dir = Path(image_root) if image_root else root / spec.images
    result = LoadResult(samples=[])
    missing_images = total_images = 0
    for study, record in data.items():
        try:
            own_split = record.get("split")
            if isinstance(own_split, str) and own_split.strip() and own_split.strip().lower() != "test":
                result.drop(f"split_{own_split.strip().lower()}")
                continue
            findings = _text(record, "section_findings")
            impression = _text(record, "section_impression")
            report = full_report(findings, impression)
            _text(record, "report")  # not scored (the sections are), but a non-text value is still a broken file
            context = clean_context(_text(record, "context"))
            images = _image_list(record)
        except _Bad as exc:
            raise DataFormatError(path, f"study {study!r}: {exc}", line=line_of(study), record=study) from None
        reference = report if section == "report" else findings.strip()
        if not reference:
            result.drop(f"empty_{section}")
            continue
        paths = [local_path(image_dir, p.strip().lstrip("/"), path, record=study) for p in images]
        missing = sum(not os.path.isfile(p) for p in paths)  # False, never an error, for any name
        missing_images, total_images = missing_images + missing, total_images + len(paths)
        views = record.get("frontal_lateral")
        metadata: dict[str, Any] = {
            "section": section,
            "source": source,
            "context": context,
            "key_image": paths[0],
            "missing_images": missing,
            # one view name per image in MIMIC and CheXpert Plus; IU's lists do not always match its images
            "views": [str(v) for v in views] if isinstance(views, list) else [],
        }
        if section == "report":
            metadata.update(findings=clean_text(findings), impression=clean_text(impression))
        if not _missing(record.get("subject_id")):
            metadata["subject_id"] = str(record["subject_id"])
        result.samples.append(
            Sample(
                id=str(study),
                task=task,
                dataset="rexrank",
                split="test",
                prompt=rexrank_prompt(section, context),
                reference=reference,
                image_paths=paths,
                metadata=metadata,
                credentialed=spec.credentialed,
            )
        )
    if len(data) != spec.studies:
        result.note(f"{path} holds {len(data)} studies; ReXrank's {spec.title} test set has {spec.studies}")
    if missing_images:
        result.note(
            f"{missing_images} of {total_images} ReXrank {spec.title} images were not found under {image_dir}; "
            "pass --data-option rexrank.image_root=PATH (fine for predictions: models)"
        )
    return result


def sample_source(sample: Sample) -> str | None:
    """The ReXrank source a sample comes from: its `source` metadata (the loader's), else its task name
    (`rexrank_<source>` or `rexrank_<source>_findings`, all a prompt record keeps); None when neither tells."""
    source = sample.metadata.get("source")
    if isinstance(source, str) and source in SOURCES:
        return source
    name = sample.task.removeprefix("rexrank_").removesuffix("_findings")
    return name if sample.task.startswith("rexrank_") and name in SOURCES else None


def sample_credentialed(sample: Sample) -> bool:
    """MIMIC-CXR and CheXpert Plus samples are credentialed, IU X-ray's are not; a sample whose source cannot be
    told is treated as credentialed (refused, never sent)."""
    source = sample_source(sample)
    return source is None or SOURCES[source].credentialed


def _tasks() -> tuple[Task, ...]:
    tasks = []
    for spec in SOURCES.values():
        tag = " (credentialed)" if spec.credentialed else ""
        tasks.append(
            Task(f"rexrank_{spec.name}", "report", "rexrank", "test", METRICS,
                 {"source": spec.name, "section": "report"},
                 f"ReXrank {spec.title} test set, full 'Findings: ... Impression: ...' report{tag}")
        )  # fmt: skip
        tasks.append(
            Task(f"rexrank_{spec.name}_findings", "report", "rexrank", "test", METRICS,
                 {"source": spec.name, "section": "findings"},
                 f"ReXrank {spec.title} test set, FINDINGS section{tag}")
        )  # fmt: skip
    return tuple(tasks)


DATASET = Dataset(
    "rexrank",
    load_rexrank,
    "ReXrank test sets: IU X-ray, MIMIC-CXR and CheXpert Plus (the last two credentialed)",
    tasks=_tasks(),
    credentialed=False,  # per source (`sample_credentialed`): MIMIC-CXR and CheXpert Plus samples, not IU X-ray's
    credentialed_sample=sample_credentialed,
)
