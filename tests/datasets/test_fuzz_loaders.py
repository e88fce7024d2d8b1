"""Every dataset loader, fed mutated copies of a valid layout, raises only `DataFormatError` naming a file.

Each layout below is a small valid copy (texts invented here). Hypothesis mutates one of its files, either
byte-wise (invalid UTF-8, NUL bytes, lone-surrogate escapes, 5,000-digit integers, 5,000-deep nesting,
truncation ...) or structurally (one JSON value or CSV cell replaced by a hostile one), and the loader must
either load it, giving samples that serialise to UTF-8 JSON, or refuse it with a `DataFormatError` whose
message names a path inside the layout. Runs are derandomized (same examples every run, stable CI) and
bounded (`max_examples` per loader, no per-example deadline since file I/O timing varies on CI).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="the fuzz harness needs hypothesis (the dev extra)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from xraybench.datasets import DATASETS  # noqa: E402
from xraybench.errors import DataFormatError  # noqa: E402

# XRAYBENCH_FUZZ_EXAMPLES raises the count for a deeper search by hand (e.g. 5000); CI uses the default.
FUZZ = settings(
    max_examples=int(os.environ.get("XRAYBENCH_FUZZ_EXAMPLES", "120")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- hostile fragments ---------------------------------------------------------------------------

NASTY_BYTES = [
    b"\xff",
    b"\xc3",  # truncated two-byte sequence
    b"\xed\xa0\x80",  # a UTF-8-encoded surrogate (invalid UTF-8)
    b"\x00",
    b"\\ud800",
    b"\\udfff",
    b"[" * 5000,
    b'{"a":' * 3000,
    b"9" * 5000,
    b"-" + b"1" * 4400,
    b"1e999",
    b"NaN",
    b"Infinity",
    b"null",
    b"true",
    b"[]",
    b"{}",
    b'"',
    b",",
    b"\n",
    b"\r",
    b"\r\n",
    b"\xef\xbb\xbf",
    "é\u2028ü".encode(),
    b"../../../etc/passwd",
    b"</",
    b"<",
    b"&",
    b"]]>",
    b"\x1f\x8b",  # a gzip magic in the middle
    b'<?xml version="1.0" encoding="utf-.8"?>',  # XML: an unknown declared encoding
    b"&undefined;",
    b"<!DOCTYPE a [<!ENTITY e 'x'>]>",
    b"<a>" * 3000,
    b"<![CDATA[",
]

NASTY_JSON = [
    "[" * 3000 + "]" * 3000,
    '{"a":' * 2000 + "1" + "}" * 2000,
    "9" * 5000,
    "-" + "7" * 4400,
    "1e999",
    "NaN",
    "-Infinity",
    '"\\ud800"',
    '"a\\udfffb"',
    '"\\u0000"',
    '"x\\u0000.png"',
    '"../../x"',
    '"/"',
    '""',
    '"   "',
    '"' + "w" * 20000 + '"',
    "null",
    "true",
    "0",
    "-1",
    "1.5",
    "[]",
    '["a", 1, null]',
    "{}",
    '{"nested": [1, {"x": "y"}]}',
    '"\\ud83d\\ude00"',
]

NASTY_CELLS = [
    "",
    " ",
    "9" * 5000,
    "1e999",
    "-1e999",
    "nan",
    "inf",
    "-1",
    "x\x00y",
    "a,b",
    'q"uote',
    "line\nbreak",
    "../../x",
    "/abs/path.png",
    "é" * 3,
    "w" * 20000,
    "Unknown|Label",
    "No Finding|Atelectasis",
    "test",
    "train",
    "valid",
    "1.0",
    "-1.0",
    "0",
]


@st.composite
def byte_mutations(draw: Any, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        where = int(draw(st.floats(0, 1)) * len(out))
        payload = draw(st.one_of(st.sampled_from(NASTY_BYTES), st.binary(min_size=1, max_size=6)))
        kind = draw(st.sampled_from(["insert", "replace", "delete", "truncate"]))
        if kind == "insert":
            out[where:where] = payload
        elif kind == "replace":
            out[where : where + len(payload)] = payload
        elif kind == "delete":
            del out[where : where + draw(st.integers(1, 40))]
        else:
            del out[where:]
    return bytes(out)


_MARK = "__xraybench_fuzz__"


def _json_slots(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    slots = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            slots += _json_slots(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            slots += _json_slots(item, (*path, index))
    return slots


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(value[path[0]], path[1:], new)
    return copy


@st.composite
def json_mutations(draw: Any, data: bytes) -> bytes:
    """One value of a JSON (or JSON Lines) document replaced by a hostile JSON fragment."""
    lines = data.decode().splitlines() if b"\n" in data.strip() else [data.decode()]
    index = draw(st.integers(0, len(lines) - 1))
    document = json.loads(lines[index])
    slot = draw(st.sampled_from(_json_slots(document)))
    fragment = draw(st.sampled_from(NASTY_JSON))
    lines[index] = json.dumps(_replace(document, slot, _MARK)).replace(f'"{_MARK}"', fragment)
    return ("\n".join(lines) + "\n").encode()


@st.composite
def csv_mutations(draw: Any, data: bytes) -> bytes:
    """One cell of a CSV file (header included) replaced by a hostile value, written back as CSV."""
    rows = list(csv.reader(io.StringIO(data.decode())))
    r = draw(st.integers(0, len(rows) - 1))
    if rows[r]:
        c = draw(st.integers(0, len(rows[r]) - 1))
        rows[r][c] = draw(st.sampled_from(NASTY_CELLS))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


# --- layouts -------------------------------------------------------------------------------------


# one line, as json_mutations wants a JSON document; the bare NaN tokens stay (json.dumps writes NaN)
REXRANK_MIMIC = json.dumps(
    json.loads((Path(__file__).parent / "rexrank_files" / "mimic-cxr" / "ReXRank_MIMICCXR_test.json").read_text())
).encode()


@dataclass
class Layout:
    """A valid copy of one on-disk layout: `files` (relative path -> bytes), the loader call, what to mutate."""

    dataset: str
    files: dict[str, bytes]
    task: str
    split: str
    options: dict[str, Any]
    targets: tuple[str, ...]  # files hypothesis may mutate
    root: str = ""  # the loader's root, relative to the copy


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _tgz(files: dict[str, bytes]) -> bytes:
    sink = io.BytesIO()
    with tarfile.open(fileobj=sink, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return sink.getvalue()


R2GEN = {
    "train": [
        {"id": "CXR1_1_IM-0001", "report": "Heart normal.", "image_path": ["CXR1_1_IM-0001/0.png"], "split": "train"}
    ],
    "val": [
        {"id": "CXR2_IM-0652", "report": "Mild cardiomegaly.", "image_path": ["CXR2_IM-0652/0.png"], "split": "val"}
    ],
    "test": [
        {
            "id": "CXR3_IM-1384",
            "report": "No consolidation.",
            "image_path": ["CXR3_IM-1384/0.png", "CXR3_IM-1384/1.png"],
            "split": "test",
        },
        {"id": "CXR4_IM-2050", "report": "Clear lungs.", "image_path": ["CXR4_IM-2050/0.png"], "split": "test"},
    ],
}
INDIANA_REPORTS = _csv(
    [
        ["uid", "MeSH", "Problems", "image", "indication", "comparison", "findings", "impression"],
        *[
            [str(u), "normal", "normal", "Chest", "", "", f"Finding text {u}.", f"Impression {u}."]
            for u in range(1, 13)
        ],
    ]
)
INDIANA_PROJECTIONS = _csv(
    [["uid", "filename", "projection"], *[[str(u), f"{u}_IM-1-1001.dcm.png", "Frontal"] for u in range(1, 13)]]
)
MIMIC_SPLIT = _csv(
    [
        ["dicom_id", "study_id", "subject_id", "split"],
        ["d1", "50000001", "10000001", "test"],
        ["d2", "50000001", "10000001", "test"],
        ["d3", "50000002", "10000002", "test"],
        ["d4", "50000003", "10000003", "train"],
    ]
)
MIMIC_META = _csv([["dicom_id", "ViewPosition"], ["d1", "LATERAL"], ["d2", "PA"], ["d3", "AP"], ["d4", "PA"]])
MIMIC_REPORT = b"FINAL REPORT\n FINDINGS: Lungs are clear.\n\n IMPRESSION: No acute process.\n"
MIMIC_FILES = {
    "files/p10/p10000001/s50000001.txt": MIMIC_REPORT,
    "files/p10/p10000002/s50000002.txt": MIMIC_REPORT,
    "files/p10/p10000003/s50000003.txt": MIMIC_REPORT,
}
CHEXPERT_PLUS = _csv(
    [
        ["path_to_image", "frontal_lateral", "section_findings", "section_impression", "split"],
        ["valid/patient64541/study1/view1_frontal.jpg", "Frontal", "Clear lungs.", "Normal.", "valid"],
        ["valid/patient64541/study1/view2_lateral.jpg", "Lateral", "Clear lungs.", "Normal.", "valid"],
        ["valid/patient64542/study1/view1_frontal.jpg", "Frontal", "Small effusion.", "Effusion.", "valid"],
        ["train/patient00001/study1/view1_frontal.jpg", "Frontal", "Edema.", "Edema.", "train"],
    ]
)
CHEXPERT_HEADER = [
    "Path",
    "Sex",
    "Age",
    "Frontal/Lateral",
    "AP/PA",
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
]
CHEXPERT_VALID = _csv(
    [
        CHEXPERT_HEADER,
        ["CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg", "Male", "73", "Frontal", "AP", "0.0"]
        + ["", "1.0", "", "", "0.0", "", "", "", "", "1.0", "", "", ""],
        ["CheXpert-v1.0-small/valid/patient64542/study1/view2_lateral.jpg", "Female", "70", "Lateral", "", "1.0"]
        + [""] * 13,
        ["CheXpert-v1.0-small/valid/patient64543/study1/view1_frontal.jpg", "Male", "41", "Frontal", "PA", ""]
        + ["", "-1.0", "1.0", "", "", "", "", "", "", "", "", "1.0", "0.0"],
    ]
)
CXR14_ENTRY = (
    b"Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
    b"OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],\n"
    b"00000001_000.png,Cardiomegaly,0,1,58,M,PA,2682,2749,0.143,0.143,\n"
    b"00000002_000.png,No Finding,0,2,81,M,PA,2500,2048,0.171,0.171,\n"
    b"00000003_000.png,Hernia|Infiltration,0,3,74,F,AP,2048,2500,0.168,0.168,\n"
)
CXR14_BOXES = b"Image Index,Finding Label,Bbox [x,y,w,h],,,\n00000003_000.png,Infiltrate,100.5,200,50,60,,,\n"
MS_CXR = _csv(
    [
        ["dicom_id", "path", "label_text", "category_name", "x", "y", "w", "h", "image_width", "image_height", "split"],
        ["d2", "files/p10/p10000001/s50000001/d2.jpg", "large heart", "Cardiomegaly", "30", "40", "40", "30", "100", "80", "test"],
        ["d2", "files/p10/p10000001/s50000001/d2.jpg", "both effusions", "Pleural effusion", "5", "50", "20", "25", "100", "80", "test"],
        ["d2", "files/p10/p10000001/s50000001/d2.jpg", "both effusions", "Pleural effusion", "75", "50", "20", "25", "100", "80", "test"],
    ]
)  # fmt: skip
SLAKE = [
    {
        "img_name": "xmlab1/source.jpg",
        "question": "Is the lung healthy?",
        "answer": "No",
        "q_lang": "en",
        "location": "Lung",
        "modality": "X-Ray",
        "answer_type": "CLOSED",
        "qid": 1,
        "content_type": "Abnormality",
    },
    {
        "img_name": "xmlab1/source.jpg",
        "question": "Where is the lesion?",
        "answer": "Right lung",
        "q_lang": "en",
        "location": "Lung",
        "modality": "X-Ray",
        "answer_type": "OPEN",
        "qid": 2,
        "content_type": "Position",
    },
    {
        "img_name": "xmlab2/source.jpg",
        "question": "Which organ?",
        "answer": "Brain",
        "q_lang": "en",
        "location": "Brain",
        "modality": "MRI",
        "answer_type": "OPEN",
        "qid": 3,
        "content_type": "Organ",
    },
]
VQA_RAD = [
    {
        "qid": "0",
        "phrase_type": "test_freeform",
        "image_name": "synpic1.jpg",
        "image_organ": "CHEST",
        "question": "Is there an effusion?",
        "answer": "Yes",
        "answer_type": "CLOSED",
        "question_type": "PRES",
    },
    {
        "qid": 1,
        "phrase_type": "test_para",
        "image_name": "synpic1.jpg",
        "image_organ": "CHEST",
        "question": "Where is the mass?",
        "answer": "Left apex",
        "answer_type": "OPEN",
        "question_type": "POS",
    },
    {
        "qid": 2,
        "phrase_type": "freeform",
        "image_name": "synpic2.jpg",
        "image_organ": "HEAD",
        "question": "Is this an MRI?",
        "answer": "Yes",
        "answer_type": "CLOSED",
        "question_type": "MODALITY",
    },
]
EXT_VQA = [
    {
        "split": "test",
        "idx": 0,
        "subject_id": "10000001",
        "study_id": "50000001",
        "image_id": "d1",
        "image_path": "p10/p10000001/s50000001/d1.jpg",
        "question": "Is there any abnormality in the left lung?",
        "semantic_type": "verify",
        "content_type": "abnormality",
        "template": "Is there ${category} in the ${object}?",
        "template_program": "program_1",
        "template_arguments": {
            "object": {"0": "left lung"},
            "attribute": {},
            "category": {},
            "viewpos": {},
            "gender": {},
        },
        "answer": ["yes"],
    },
    {
        "split": "test",
        "idx": 1,
        "subject_id": "10000001",
        "study_id": "50000001",
        "image_id": "d1",
        "image_path": "p10/p10000001/s50000001/d1.jpg",
        "question": "List all anatomical findings.",
        "semantic_type": "query",
        "content_type": "anatomy",
        "template": "List all ${category}.",
        "template_program": "program_2",
        "template_arguments": {"object": {}, "attribute": {}, "category": {}, "viewpos": {}, "gender": {}},
        "answer": ["lung opacity", "pleural effusion"],
    },
]
CXR_VQA = _csv(
    [
        ["dicom_id", "subject_id", "study_id", "question", "question_type", "answer", "split"],
        ["d1", "10000001", "50000001", "what abnormalities are seen?", "abnormality", "effusion, edema", "test"],
        ["d1", "10000001", "50000001", "is there an effusion?", "presence", "yes", "test"],
        ["d2", "10000002", "50000002", "which view is this image?", "view", "PA", "train"],
    ]
)
OPENI_XML = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<eCitation><uId id="CXR7"/><MedlineCitation><Article><Abstract>'
    b'<AbstractText Label="FINDINGS">Mild cardiomegaly.</AbstractText>'
    b'<AbstractText Label="IMPRESSION">Cardiomegaly.</AbstractText></Abstract></Article></MedlineCitation>'
    b'<parentImage id="CXR7_IM-2263-1001"><caption>PA</caption></parentImage>'
    b'<parentImage id="CXR7_IM-2263-2001"><caption>Lateral</caption></parentImage></eCitation>\n'
)
HF_ROWS = [
    {
        "id": "q1",
        "question": "Describe the findings.",
        "answer": "Clear lungs.",
        "subset": "openi",
        "image": "img/1.png",
    },
    {"id": "q2", "question": "Is there effusion?", "answer": ["yes"], "subset": "vqa", "image": ["img/2.png"]},
]


def _parquet(rows: list[dict[str, Any]]) -> bytes:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.Table.from_pylist([{**r, "answer": json.dumps(r["answer"]), "image": str(r["image"])} for r in rows])
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


LAYOUTS: dict[str, Callable[[], Layout]] = {
    "iu_r2gen": lambda: Layout(
        "iu_xray", {"annotation.json": json.dumps(R2GEN).encode()}, "t", "test", {}, ("annotation.json",)
    ),
    "iu_indiana": lambda: Layout(
        "iu_xray",
        {"indiana_reports.csv": INDIANA_REPORTS, "indiana_projections.csv": INDIANA_PROJECTIONS},
        "t",
        "train",
        {"section": "impression"},
        ("indiana_reports.csv", "indiana_projections.csv"),
    ),
    "iu_openi": lambda: Layout(
        "iu_xray",
        {f"ecgen-radiology/{uid}.xml": OPENI_XML.replace(b"CXR7", f"CXR{uid}".encode()) for uid in range(1, 13)},
        "t",
        "train",
        {"section": "impression"},
        ("ecgen-radiology/1.xml", "ecgen-radiology/2.xml"),
    ),
    "iu_openi_tgz": lambda: Layout(
        "iu_xray",
        {"NLMCXR_reports.tgz": _tgz({f"ecgen-radiology/{uid}.xml": OPENI_XML for uid in range(1, 13)})},
        "t",
        "train",
        {},
        ("NLMCXR_reports.tgz",),
    ),
    "mimic_plain": lambda: Layout(
        "mimic_cxr",
        {"mimic-cxr-2.0.0-split.csv": MIMIC_SPLIT, "mimic-cxr-2.0.0-metadata.csv": MIMIC_META, **MIMIC_FILES},
        "t",
        "test",
        {},
        ("mimic-cxr-2.0.0-split.csv", "mimic-cxr-2.0.0-metadata.csv", "files/p10/p10000001/s50000001.txt"),
    ),
    "mimic_gzip": lambda: Layout(
        "mimic_cxr",
        {
            "mimic-cxr-2.0.0-split.csv.gz": _gz(MIMIC_SPLIT),
            "mimic-cxr-2.0.0-metadata.csv.gz": _gz(MIMIC_META),
            **MIMIC_FILES,
        },
        "t",
        "test",
        {"section": "impression"},
        ("mimic-cxr-2.0.0-split.csv.gz", "mimic-cxr-2.0.0-metadata.csv.gz"),
    ),
    "chexpert_plus": lambda: Layout(
        "chexpert_plus",
        {"df_chexpert_plus_240401.csv": CHEXPERT_PLUS},
        "t",
        "valid",
        {},
        ("df_chexpert_plus_240401.csv",),
    ),
    "rexrank": lambda: Layout(  # our MIMIC-CXR file in ReXrank's layout (bare NaN tokens, <context> wrappers)
        "rexrank",
        {"mimic-cxr/ReXRank_MIMICCXR_test.json": REXRANK_MIMIC},
        "t",
        "test",
        {"source": "mimic_cxr", "section": "report"},
        ("mimic-cxr/ReXRank_MIMICCXR_test.json",),
    ),
    "ms_cxr": lambda: Layout(  # our phrases in MS-CXR's layout (a two-box phrase on two rows)
        "ms_cxr", {"MS_CXR_Local_Alignment_v1.1.0.csv": MS_CXR}, "t", "test", {}, ("MS_CXR_Local_Alignment_v1.1.0.csv",)
    ),
    "chexpert": lambda: Layout(
        "chexpert",
        {"CheXpert-v1.0-small/valid.csv": CHEXPERT_VALID},
        "t",
        "valid",
        {},
        ("CheXpert-v1.0-small/valid.csv",),
    ),
    "cxr14": lambda: Layout(
        "cxr14",
        {
            "Data_Entry_2017.csv": CXR14_ENTRY,
            "BBox_List_2017.csv": CXR14_BOXES,
            "test_list.txt": b"00000003_000.png\n00000002_000.png\n",
            "train_val_list.txt": b"00000001_000.png\n",
        },
        "t",
        "test",
        {},
        ("Data_Entry_2017.csv", "BBox_List_2017.csv", "test_list.txt"),
    ),
    "slake": lambda: Layout(
        "slake", {"test.json": json.dumps(SLAKE).encode()}, "t", "test", {"modality": "X-Ray"}, ("test.json",)
    ),
    "vqa_rad": lambda: Layout(
        "vqa_rad", {"vqa_rad_public.json": json.dumps(VQA_RAD).encode()}, "t", "test", {}, ("vqa_rad_public.json",)
    ),
    "ext_vqa": lambda: Layout("ext_vqa", {"test.json": json.dumps(EXT_VQA).encode()}, "t", "test", {}, ("test.json",)),
    "cxr_vqa": lambda: Layout(
        "cxr_vqa", {"medical_cxr_vqa_questions.csv": CXR_VQA}, "t", "test", {}, ("medical_cxr_vqa_questions.csv",)
    ),
    "hf_json": lambda: Layout(
        "xraybench_hf", {"test.json": json.dumps(HF_ROWS).encode()}, "t", "test", {}, ("test.json",)
    ),
    "hf_jsonl": lambda: Layout(
        "xraybench_hf",
        {"test.jsonl": "".join(json.dumps(r) + "\n" for r in HF_ROWS).encode()},
        "t",
        "test",
        {},
        ("test.jsonl",),
    ),
    "hf_parquet": lambda: Layout(
        "xraybench_hf",
        {"data/test-00000-of-00001.parquet": _parquet(HF_ROWS)},
        "t",
        "test",
        {},
        ("data/test-00000-of-00001.parquet",),
    ),
}


def _load(layout: Layout, target: str, content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for name, data in layout.files.items():
            (base / name).parent.mkdir(parents=True, exist_ok=True)
            (base / name).write_bytes(content if name == target else data)
        root = base / layout.root if layout.root else base
        loader = DATASETS.get(layout.dataset).load
        try:
            result = loader(root, task=layout.task, split=layout.split, **layout.options)
        except DataFormatError as exc:
            assert str(base) in str(exc), f"the error names no file of the layout: {exc}"
            return
        for sample in result.samples:  # what loads must be storable as UTF-8 JSON (predictions, results)
            json.dumps(sample.to_json(), ensure_ascii=False).encode("utf-8")


def _mutations(layout: Layout, target: str) -> st.SearchStrategy[bytes]:
    data = layout.files[target]
    kinds = [byte_mutations(data)]
    if target.endswith((".json", ".jsonl")):
        kinds.append(json_mutations(data))
    if target.endswith(".csv"):
        kinds.append(csv_mutations(data))
    return st.one_of(kinds)


def test_every_registered_dataset_has_a_fuzzed_layout() -> None:
    covered = {make().dataset for make in LAYOUTS.values()}
    assert set(DATASETS.names()) - {"demo"} <= covered


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_seed_layouts_load(name: str) -> None:
    """The unmutated copies are valid, so every failure the fuzzer finds comes from its mutation."""
    layout = LAYOUTS[name]()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for path, data in layout.files.items():
            (base / path).parent.mkdir(parents=True, exist_ok=True)
            (base / path).write_bytes(data)
        result = DATASETS.get(layout.dataset).load(base, task=layout.task, split=layout.split, **layout.options)
        assert result.samples


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_loader_survives_mutated_files(name: str) -> None:
    layout = LAYOUTS[name]()

    @FUZZ
    @given(st.data())
    def run(data: st.DataObject) -> None:
        target = data.draw(st.sampled_from(layout.targets))
        _load(layout, target, data.draw(_mutations(layout, target)))

    run()
