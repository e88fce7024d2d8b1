"""Chest X-ray VQA sets: MIMIC-Ext-MIMIC-CXR-VQA, Medical-CXR-VQA, VQA-RAD (chest) and SLAKE (X-ray).

Every sample's prompt is the question; `metadata["answer_type"]` is "closed" or "open" and
`metadata["category"]` the dataset's own question category. List answers become their sorted items
joined with '|'. Empty answers are dropped and counted as `empty_answer`. Image paths are built from
the layout and never opened here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from xraybench.datasets.base import Dataset, LoadResult
from xraybench.datasets.common import (
    clean_text,
    expect_list,
    field,
    find_file,
    join_answers,
    load_json,
    local_path,
    normalise_split,
    optional_file,
    read_csv,
    strip_keys,
)
from xraybench.errors import DataFormatError
from xraybench.records import Sample
from xraybench.tasks import vqa_task

_YES_NO = {"yes", "no"}
_TEXT = (str, int, float)


def _records(path: Path) -> list[dict[str, Any]]:
    return [strip_keys(r, path, f"#{i}") for i, r in enumerate(expect_list(load_json(path), path, "QA records"))]


def _split_file(root: Path, names: list[str], subdirs: tuple[str, ...], what: str, split: str = "") -> Path:
    """`root` itself when it is a file (whose name must mention `split`, if given), else a file in it."""
    if root.is_file():
        if split and split not in root.stem.lower():
            raise DataFormatError(
                root,
                f"this file's name does not say it holds the {split!r} split; pass the folder with {names[0]} instead",
            )
        return root
    return find_file(root, names, what, subdirs=subdirs)


def _check_unique(sample_id: str, seen: set[str], path: Path, where: str) -> None:
    if sample_id in seen:
        raise DataFormatError(path, f"duplicate question id {sample_id}", record=where)
    seen.add(sample_id)


# --- MIMIC-Ext-MIMIC-CXR-VQA -------------------------------------------------------------------

EXT_VQA_SPLITS = {
    "train": "train",
    "valid": "valid",
    "validate": "valid",
    "validation": "valid",
    "val": "valid",
    "test": "test",
}
EXT_VQA_CATEGORIES = ("presence", "abnormality", "attribute", "anatomy", "size", "plane", "gender")
EXT_VQA_SEMANTIC_TYPES = ("verify", "choose", "query")
_EXT_VQA_IDS = ("subject_id", "study_id", "image_id")  # strings in the release (numbers in some exports)


def _qid_answer(record: dict[str, Any], path: Path, where: str, seen: set[str]) -> tuple[str, str, str]:
    """(question id, answer, closed|open) of a VQA-RAD / SLAKE record; ids must be unique in the file."""
    sample_id = clean_text(field(record, "qid", path, where, _TEXT))
    _check_unique(sample_id, seen, path, where)
    answer = clean_text(field(record, "answer", path, where, _TEXT))
    answer_type = clean_text(field(record, "answer_type", path, where)).lower()
    if answer_type not in ("closed", "open"):
        raise DataFormatError(path, f"answer_type {answer_type!r} should be CLOSED or OPEN", record=where)
    return sample_id, answer, answer_type


def _ext_vqa_image(image_base: Path, image_path: str, path: Path, where: str) -> str:
    """The released `image_path` is `pNN/pNNNNNNNN/sNNNNNNNN/<image_id>.jpg`, relative to MIMIC-CXR-JPG's
    `files/` folder; `image_base` may be that folder or the release folder holding it. A path that already
    starts with `files/` is taken relative to the release folder."""
    relative = image_path.strip().replace("\\", "/")
    if relative.startswith("files/") or image_base.name == "files":
        return local_path(image_base, relative, path, record=where)
    return local_path(image_base / "files", relative, path, record=where)


def load_mimic_ext_vqa(root: Path, *, task: str, split: str, image_root: str | Path | None = None) -> LoadResult:
    """MIMIC-Ext-MIMIC-CXR-VQA (PhysioNet; built by github.com/baeseongsu/mimic-cxr-vqa).

    `{train,valid,test}.json` in `root`, `root/dataset` or `root/mimiccxrvqa/dataset`: a list of records
    `split, idx, subject_id, study_id, image_id, image_path, question, semantic_type, content_type,
    template, template_program, template_arguments, answer`, where `answer` is a list of lower-cased
    strings (`["yes"]`, `["no"]`, the items of a list answer, or `[]`). The sample id is `idx`; the
    reference is the sorted items joined with '|'; an empty list is dropped as `empty_answer`. A record
    whose `split` is not the file's is an error. Semantic type "query" is an open question,
    "verify"/"choose" closed ones. Images: see `_ext_vqa_image` (`image_root`, default `root`).
    """
    root = Path(root)
    wanted = normalise_split(split, EXT_VQA_SPLITS)
    path = _split_file(root, [f"{wanted}.json"], ("dataset", "mimiccxrvqa/dataset"), f"the {wanted} QA file", wanted)
    image_base = Path(image_root) if image_root else (root if root.is_dir() else root.parent)
    result = LoadResult(samples=[])
    seen: set[str] = set()
    for index, record in enumerate(_records(path)):
        where = f"#{index}"
        idx = field(record, "idx", path, where, int)
        question = clean_text(field(record, "question", path, where))
        raw_answer = field(record, "answer", path, where, (list, str))
        if isinstance(raw_answer, list) and not all(isinstance(a, str) for a in raw_answer):
            raise DataFormatError(path, "'answer' should be a list of strings", record=where)
        answer = join_answers(raw_answer)
        category = clean_text(field(record, "content_type", path, where)).lower()
        if category not in EXT_VQA_CATEGORIES:
            raise DataFormatError(path, f"content_type {category!r} is not one of {EXT_VQA_CATEGORIES}", record=where)
        semantic = clean_text(field(record, "semantic_type", path, where)).lower() if "semantic_type" in record else ""
        if semantic and semantic not in EXT_VQA_SEMANTIC_TYPES:
            raise DataFormatError(
                path, f"semantic_type {semantic!r} is not one of {EXT_VQA_SEMANTIC_TYPES}", record=where
            )
        if "split" in record:
            record_split = normalise_split(clean_text(field(record, "split", path, where)), EXT_VQA_SPLITS, path)
            if record_split != wanted:
                raise DataFormatError(
                    path, f"record of split {record_split!r} in the {wanted!r} file; which is meant?", record=where
                )
        sample_id = str(idx)
        _check_unique(sample_id, seen, path, where)
        if not answer:
            result.drop("empty_answer")
            continue
        closed = semantic in ("verify", "choose") or (not semantic and answer.lower() in _YES_NO)
        image = field(record, "image_path", path, where, str) if record.get("image_path") is not None else ""
        ids = {k: clean_text(field(record, k, path, where, (str, int))) for k in _EXT_VQA_IDS if k in record}
        result.samples.append(
            Sample(
                id=sample_id,
                task=task,
                dataset="ext_vqa",
                split=wanted,
                prompt=question,
                reference=answer,
                image_paths=[_ext_vqa_image(image_base, image, path, where)] if image.strip() else [],
                metadata={
                    "answer_type": "closed" if closed else "open",
                    "category": category,
                    "semantic_type": semantic,
                    "template": clean_text(record.get("template", ""))
                    if isinstance(record.get("template"), str)
                    else "",
                    "template_program": clean_text(record["template_program"])
                    if isinstance(record.get("template_program"), str)
                    else "",
                    **ids,
                },
                credentialed=EXT_VQA.credentialed,
            )
        )
    return result


# --- Medical-CXR-VQA ---------------------------------------------------------------------------

CXR_VQA_SPLITS = {
    "train": "train",
    "valid": "valid",
    "validate": "valid",
    "validation": "valid",
    "val": "valid",
    "test": "test",
}
CXR_VQA_CATEGORIES = ("presence", "abnormality", "location", "level", "view", "type")
_CXR_VQA_FILES = ["medical_cxr_vqa_questions.csv", "medical-cxr-vqa-questions.csv", "medical_cxr_vqa_questions.json"]


def _mimic_studies(root: Path) -> dict[str, tuple[str, list[str]]]:
    """study_id -> (split, dicom ids) from a MIMIC-CXR-JPG split file next to the questions, if any."""
    path = optional_file(root, ["mimic-cxr-2.0.0-split.csv"])
    studies: dict[str, tuple[str, list[str]]] = {}
    if path is not None:
        for line, row in read_csv(path, required=("dicom_id", "study_id", "split")):
            split = normalise_split(row["split"], CXR_VQA_SPLITS, f"{path}:{line}")
            studies.setdefault(row["study_id"], (split, []))[1].append(row["dicom_id"])
    return studies


def _cxr_vqa_rows(path: Path) -> list[tuple[str, dict[str, str]]]:
    required = ("study_id", "subject_id", "question_type", "question", "answer")
    if path.suffix == ".json":
        rows = []
        for index, record in enumerate(_records(path)):
            for key in required:
                field(record, key, path, f"#{index}", _TEXT)
            rows.append((f"#{index}", {k: clean_text(v) for k, v in record.items()}))
        return rows
    return [(f"line {line}", row) for line, row in read_csv(path, required=required)]


def load_medical_cxr_vqa(root: Path, *, task: str, split: str, image_root: str | Path | None = None) -> LoadResult:
    """Medical-CXR-VQA (Hu et al., MedIA 2024; PhysioNet; github.com/Holipori/Medical-CXR-VQA).

    The release: `medical_cxr_vqa_questions.csv` (or `medical-cxr-vqa-questions.csv`) with columns
    `dicom_id, subject_id, study_id, question, question_type, answer, split`; question types abnormality,
    presence, view, location, level, type. An abnormality answer that is not yes/no lists the findings
    joined with ", " (the generator's `', '.join`): it becomes the sorted items joined with '|', scored as
    a set (`metadata["answer_format"] = "list"`). `id` and `image_path` columns are used when present.
    Without a `split` column the study's MIMIC-CXR split is read from `mimic-cxr-2.0.0-split.csv` placed
    next to the questions, which also gives the study's images. Images are
    `files/pNN/pNNNNNNNN/sNNNNNNNN/<dicom_id>.jpg` under `image_root` (default `root`).
    Ids are the `id` column or `s<study_id>_q<k>` (k-th question of the study in file order).
    """
    root = Path(root)
    wanted = normalise_split(split, CXR_VQA_SPLITS)
    path = _split_file(root, _CXR_VQA_FILES, (), "the Medical-CXR-VQA questions file")
    folder = root if root.is_dir() else root.parent
    image_base = Path(image_root) if image_root else folder
    rows = _cxr_vqa_rows(path)
    studies = {} if rows and "split" in rows[0][1] else _mimic_studies(folder)
    if rows and "split" not in rows[0][1] and not studies:
        raise DataFormatError(
            path,
            "no 'split' column and no mimic-cxr-2.0.0-split.csv next to it; one of them is needed to select the split",
        )
    result = LoadResult(samples=[])
    seen: set[str] = set()
    per_study: dict[str, int] = {}
    for where, row in rows:
        study, subject = row["study_id"], row["subject_id"]
        if not (study.isascii() and study.isdigit() and subject.isascii() and subject.isdigit()):
            raise DataFormatError(
                path, f"study_id/subject_id should be numbers, got {study!r}/{subject!r}", record=where
            )
        k = per_study[study] = per_study.get(study, 0) + 1
        if "split" in row:
            row_split = normalise_split(row["split"], CXR_VQA_SPLITS, f"{path} ({where})")
            dicoms: list[str] = [row["dicom_id"]] if row.get("dicom_id") else []
        elif study in studies:
            row_split, dicoms = studies[study]
        else:
            raise DataFormatError(path, f"study {study} is not in mimic-cxr-2.0.0-split.csv", record=where)
        if row_split != wanted:
            continue
        category = row["question_type"].lower()
        if category not in CXR_VQA_CATEGORIES:
            raise DataFormatError(path, f"question_type {category!r} is not one of {CXR_VQA_CATEGORIES}", record=where)
        sample_id = row.get("id") or f"s{study}_q{k}"
        _check_unique(sample_id, seen, path, where)
        answer = clean_text(row["answer"])
        if not answer:
            result.drop("empty_answer")
            continue
        is_list = category == "abnormality" and answer.lower() not in _YES_NO
        if is_list:
            answer = join_answers(answer.split(","))
        study_dir = image_base / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}"
        images = [image_base / row["image_path"]] if row.get("image_path") else [study_dir / f"{d}.jpg" for d in dicoms]
        result.samples.append(
            Sample(
                id=sample_id,
                task=task,
                dataset="cxr_vqa",
                split=wanted,
                prompt=clean_text(row["question"]),
                reference=answer,
                image_paths=[local_path(p.parent, p.name, path, record=where) for p in images],
                metadata={
                    "answer_type": "closed" if answer.lower() in _YES_NO else "open",
                    "answer_format": "list" if is_list else "text",
                    "category": category,
                    "study_id": study,
                    "subject_id": subject,
                    "dicom_ids": dicoms,
                },
                credentialed=CXR_VQA.credentialed,
            )
        )
    return result


# --- VQA-RAD -----------------------------------------------------------------------------------

VQA_RAD_PHRASES = {"freeform": "train", "para": "train", "test_freeform": "test", "test_para": "test"}
_VQA_RAD_FILES = ["VQA_RAD Dataset Public.json", "vqa_rad_public.json", "VQA_RAD_Dataset_Public.json"]
_TYPE_FIXES = {"ATRIB": "ATTRIB", "PRSE": "PRES"}
_NON_XRAY = re.compile(
    r"\b(ct|cta|computed tomography|mri|mr|mra|magnetic resonance|t1|t2|flair|dwi|ultrasound|"
    r"us|sonograph\w*|pet)\b"
)
_MODALITY_QUESTION = re.compile(
    r"modality|type of imag|kind of imag|what imaging|type of image|kind of image|"
    r"how was this image taken|what was this image taken with"
)
_IS_IT_QUESTION = re.compile(r"^(is|was) (this|the image|this image) (a |an )?(ct|cta|mri|mr|ultrasound|pet)\b")


def non_xray_images(records: list[dict[str, Any]]) -> set[str]:
    """Images that some question/answer pair about them says are CT, MRI, ultrasound or axial.

    VQA-RAD has no modality field and its `image_organ` CHEST tag also covers chest CT and MRI, so
    the modality is decided from the dataset's own QA pairs about each image: an answer to a modality
    question naming a non-radiograph modality, a "Is this a CT/MRI ...?" answered yes, or a plane
    question answered "axial". Images without such evidence count as radiographs. In the public
    release (2,248 pairs, 107 CHEST images) no CHEST image has such evidence, so the chest subset is
    every CHEST question: 174 in the official test set and 620 in train.
    """
    found: set[str] = set()
    for record in records:
        question = str(record.get("question", "")).lower().strip()
        answer = str(record.get("answer", "")).lower().strip()
        qtype = str(record.get("question_type", "")).upper()
        negated = re.search(r"\bnot\b", question)  # "What type of imaging does this not represent?"
        modality_answer = (
            ("MODALITY" in qtype or _MODALITY_QUESTION.search(question)) and not negated and _NON_XRAY.search(answer)
        )
        confirmed = _IS_IT_QUESTION.search(question) and answer == "yes"
        axial = "PLANE" in qtype and answer == "axial"
        if modality_answer or confirmed or axial:
            found.add(str(record.get("image_name", "")).strip())
    return found


def load_vqa_rad(root: Path, *, task: str, split: str, organ: str = "CHEST", xray_only: bool = True) -> LoadResult:
    """VQA-RAD public JSON; test = phrase types test_freeform + test_para, train = freeform + para.

    `organ` filters `image_organ` (empty string keeps all); with `xray_only` images that the QA pairs
    show to be CT/MRI/ultrasound are dropped (`not_xray`). Images live in `VQA_RAD Image Folder/`.
    """
    root = Path(root)
    wanted = normalise_split(split, {"train": "train", "test": "test"})
    path = _split_file(root, _VQA_RAD_FILES, (), "the VQA-RAD public JSON")
    folder = root if root.is_dir() else root.parent
    image_dir = folder / "VQA_RAD Image Folder"
    records = _records(path)
    excluded = non_xray_images(records) if xray_only else set()
    result = LoadResult(samples=[])
    seen: set[str] = set()
    for index, record in enumerate(records):
        where = f"#{index}"
        phrase = clean_text(field(record, "phrase_type", path, where)).lower()
        if phrase not in VQA_RAD_PHRASES:
            raise DataFormatError(path, f"phrase_type {phrase!r} is not one of {sorted(VQA_RAD_PHRASES)}", record=where)
        if VQA_RAD_PHRASES[phrase] != wanted:
            continue
        image = clean_text(field(record, "image_name", path, where))
        if organ and clean_text(field(record, "image_organ", path, where)).upper() != organ.upper():
            continue
        if image in excluded:
            result.drop("not_xray")
            continue
        sample_id, answer, answer_type = _qid_answer(record, path, where, seen)
        if not answer:
            result.drop("empty_answer")
            continue
        types = [
            _TYPE_FIXES.get(t.strip().upper(), t.strip().upper())
            for t in str(record.get("question_type", "")).split(",")
            if t.strip()
        ]
        result.samples.append(
            Sample(
                id=sample_id,
                task=task,
                dataset="vqa_rad",
                split=wanted,
                prompt=clean_text(field(record, "question", path, where)),
                reference=answer,
                image_paths=[local_path(image_dir, image, path, record=where)],
                metadata={
                    "answer_type": answer_type,
                    "category": types[0].lower() if types else "",
                    "question_types": types,
                    "phrase_type": phrase,
                    "image_organ": organ.upper(),
                },
            )
        )
    return result


# --- SLAKE -------------------------------------------------------------------------------------

SLAKE_SPLITS = {
    "train": "train",
    "validate": "validate",
    "validation": "validate",
    "val": "validate",
    "valid": "validate",
    "test": "test",
}


def load_slake(root: Path, *, task: str, split: str, lang: str = "en", modality: str = "X-Ray") -> LoadResult:
    """SLAKE 1.0: `{train,validate,test}.json` (or `slake_<split>.json`) with images in `imgs/`.

    Keeps questions in `lang` about images of `modality` (empty strings keep all). `root` may also be
    one JSON file whose name names the split (e.g. `slake_test.json`).
    """
    root = Path(root)
    wanted = normalise_split(split, SLAKE_SPLITS)
    path = _split_file(
        root, [f"{wanted}.json", f"slake_{wanted}.json"], ("Slake1.0",), f"the SLAKE {wanted} file", wanted
    )
    image_dir = path.parent / "imgs"
    result = LoadResult(samples=[])
    seen: set[str] = set()
    for index, record in enumerate(_records(path)):
        where = f"#{index}"
        if lang and clean_text(field(record, "q_lang", path, where)) != lang:
            continue
        if modality and clean_text(field(record, "modality", path, where)).lower() != modality.lower():
            continue
        sample_id, answer, answer_type = _qid_answer(record, path, where, seen)
        if not answer:
            result.drop("empty_answer")
            continue
        result.samples.append(
            Sample(
                id=sample_id,
                task=task,
                dataset="slake",
                split=wanted,
                prompt=clean_text(field(record, "question", path, where)),
                reference=answer,
                image_paths=[
                    local_path(image_dir, clean_text(field(record, "img_name", path, where)), path, record=where)
                ],
                metadata={
                    "answer_type": answer_type,
                    "category": clean_text(field(record, "content_type", path, where)).lower(),
                    "location": clean_text(record.get("location", "")),
                    "modality": clean_text(record["modality"]),
                },
            )
        )
    return result


# MIMIC-CXR's studies (one study space with mimic_cxr), credentialed as MIMIC-CXR itself
EXT_VQA = Dataset(
    "ext_vqa", load_mimic_ext_vqa, "MIMIC-Ext-MIMIC-CXR-VQA JSON (credentialed)",
    tasks=(vqa_task("ext_vqa", "ext_vqa", "MIMIC-Ext-MIMIC-CXR-VQA test"),), credentialed=True, study_space="mimic",
)  # fmt: skip
CXR_VQA = Dataset(
    "cxr_vqa", load_medical_cxr_vqa, "Medical-CXR-VQA (credentialed)",
    tasks=(vqa_task("cxr_vqa", "cxr_vqa", "Medical-CXR-VQA test"),), credentialed=True, study_space="mimic",
)  # fmt: skip
VQA_RAD = Dataset(
    "vqa_rad", load_vqa_rad, "VQA-RAD public JSON (chest X-ray subset)",
    tasks=(vqa_task("vqa_rad_chest", "vqa_rad", "VQA-RAD official test (free-form + paraphrased), chest images",
                    organ="CHEST"),),
)  # fmt: skip
SLAKE = Dataset(
    "slake", load_slake, "SLAKE 1.0 JSON (English, X-ray subset)",
    tasks=(vqa_task("slake_xray", "slake", "SLAKE 1.0 test, English, X-ray images", modality="X-Ray", lang="en"),),
)  # fmt: skip
