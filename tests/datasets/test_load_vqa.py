"""VQA loaders: real VQA-RAD / SLAKE files (counts asserted) and fixtures for the MIMIC-based sets."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from xraybench.datasets.vqa import load_medical_cxr_vqa, load_mimic_ext_vqa, load_slake, load_vqa_rad, non_xray_images
from xraybench.errors import DataFormatError

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "vqa"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared VQA-RAD/SLAKE files not present (../shared/data)")


@needs_shared
def test_vqa_rad_chest_real_counts() -> None:
    test = load_vqa_rad(SHARED / "vqa_rad_public.json", task="vqa_rad_chest", split="test", organ="CHEST")
    train = load_vqa_rad(SHARED, task="vqa_rad_chest", split="train", organ="CHEST")  # folder form
    counts = collections.Counter(s.metadata["answer_type"] for s in test.samples)
    print("VQA-RAD chest test", len(test.samples), dict(counts), "train", len(train.samples))
    assert (len(test.samples), len(train.samples)) == (174, 620)
    assert counts == {"closed": 116, "open": 58}
    assert not {s.id for s in test.samples} & {s.id for s in train.samples}
    assert test.dropped == {} and train.dropped == {}
    sample = test.samples[0]
    assert sample.image_paths[0].endswith("VQA_RAD Image Folder/" + Path(sample.image_paths[0]).name)
    assert sample.metadata["category"] in {
        "pres",
        "pos",
        "size",
        "abn",
        "other",
        "plane",
        "modality",
        "attrib",
        "organ",
        "color",
        "count",
    }


@needs_shared
def test_vqa_rad_modality_evidence_real() -> None:
    records = json.loads((SHARED / "vqa_rad_public.json").read_text())
    organ = {r["image_name"]: r["image_organ"].strip() for r in records}
    found = collections.Counter(organ[name] for name in non_xray_images(records))
    print("VQA-RAD images with CT/MRI/US evidence by organ", dict(found))
    assert found == {"HEAD": 45, "ABD": 26}  # no CHEST image is shown to be CT/MRI in the public release
    everything = load_vqa_rad(SHARED / "vqa_rad_public.json", task="t", split="test", organ="")
    assert len(everything.samples) == 336 and everything.dropped == {"not_xray": 115}


@needs_shared
def test_slake_xray_real_counts() -> None:
    result = load_slake(SHARED / "slake_test.json", task="slake_xray", split="test", lang="en", modality="X-Ray")
    counts = collections.Counter(s.metadata["answer_type"] for s in result.samples)
    print("SLAKE en X-ray test", len(result.samples), dict(counts))
    assert len(result.samples) == 361 and counts == {"open": 247, "closed": 114}
    assert collections.Counter(s.metadata["category"] for s in result.samples)["abnormality"] == 97
    assert result.samples[0].image_paths[0].endswith("/imgs/xmlab124/source.jpg")
    with pytest.raises(DataFormatError, match="does not say it holds the 'train' split"):
        load_slake(SHARED / "slake_test.json", task="t", split="train")


def _write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


SLAKE_ROWS = [
    {
        "img_id": 1,
        "img_name": "xmlab1/source.jpg",
        "question": "Is the lung healthy?",
        "answer": "No",
        "q_lang": "en",
        "location": "Lung",
        "modality": "X-Ray",
        "answer_type": "CLOSED",
        "base_type": "vqa",
        "qid": 10,
        "content_type": "Abnormality",
    },
    {
        "img_id": 2,
        "img_name": "xmlab2/source.jpg",
        "question": "Which organ?",
        "answer": "Liver",
        "q_lang": "en",
        "location": "Abdomen",
        "modality": "CT",
        "answer_type": "OPEN",
        "base_type": "vqa",
        "qid": 11,
        "content_type": "Organ",
    },
    {
        "img_id": 1,
        "img_name": "xmlab1/source.jpg",
        "question": "肺部健康吗?",
        "answer": "不",
        "q_lang": "zh",
        "location": "Lung",
        "modality": "X-Ray",
        "answer_type": "CLOSED",
        "base_type": "vqa",
        "qid": 12,
        "content_type": "Abnormality",
    },
]


def test_slake_fixture_layout_and_errors(tmp_path: Path) -> None:
    root = tmp_path / "Slake1.0"
    _write(root / "train.json", SLAKE_ROWS)
    _write(root / "test.json", [{**SLAKE_ROWS[0], "qid": 20}])
    train = load_slake(root, task="t", split="train")
    assert [s.id for s in train.samples] == ["10"] and train.samples[0].metadata["category"] == "abnormality"
    assert [s.id for s in load_slake(root, task="t", split="test").samples] == ["20"]
    _write(root / "test.json", [{**SLAKE_ROWS[0], "qid": [1]}])
    with pytest.raises(DataFormatError, match=r"test.json \(record #0\): key 'qid' should be str/int/float"):
        load_slake(root, task="t", split="test")
    _write(root / "test.json", [SLAKE_ROWS[0], SLAKE_ROWS[0]])
    with pytest.raises(DataFormatError, match=r"record #1.*duplicate question id 10"):
        load_slake(root, task="t", split="test")
    (root / "test.json").write_text('[{"qid": 1,\n "answer": "x",,}]')
    with pytest.raises(DataFormatError, match=r"test.json:2: invalid JSON"):
        load_slake(root, task="t", split="test")


EXT_ROWS = [
    {
        "split": "test",
        "idx": 0,
        "image_id": "d1",
        "subject_id": "10000001",
        "study_id": "50000001",
        "image_path": "files/p10/p10000001/s50000001/d1.jpg",
        "question": "Is there pleural effusion in the left lung?",
        "semantic_type": "verify",
        "content_type": "presence",
        "template": "Is there ${attribute} in the ${object}?",
        "answer": ["yes"],
    },
    {
        "split": "test",
        "idx": 1,
        "image_id": "d1",
        "subject_id": "10000001",
        "study_id": "50000001",
        "image_path": "files/p10/p10000001/s50000001/d1.jpg",
        "question": "List all abnormalities in the right lung.",
        "semantic_type": "query",
        "content_type": "abnormality",
        "template": "List ...",
        "answer": ["lung opacity", "atelectasis"],
    },
    {
        "split": "test",
        "idx": 2,
        "image_id": "d2",
        "subject_id": "10000002",
        "study_id": "50000002",
        "image_path": "files/p10/p10000002/s50000002/d2.jpg",
        "question": "List all anatomical findings.",
        "semantic_type": "query",
        "content_type": "anatomy",
        "template": "List ...",
        "answer": [],
    },
]


def test_mimic_ext_vqa(tmp_path: Path) -> None:
    root = tmp_path / "mimiccxrvqa"
    _write(root / "dataset" / "test.json", EXT_ROWS)
    _write(root / "dataset" / "train.json", [{**EXT_ROWS[0], "idx": 7, "split": "train"}])
    result = load_mimic_ext_vqa(root, task="ext_vqa", split="test", image_root=tmp_path / "jpg")
    assert [s.id for s in result.samples] == ["0", "1"] and result.dropped == {"empty_answer": 1}
    first, second = result.samples
    assert first.reference == "yes" and first.metadata["answer_type"] == "closed" and first.credentialed
    assert second.reference == "atelectasis|lung opacity" and second.metadata["answer_type"] == "open"
    assert second.metadata["category"] == "abnormality"
    assert first.image_paths == [str((tmp_path / "jpg" / "files/p10/p10000001/s50000001/d1.jpg").resolve())]
    train = load_mimic_ext_vqa(root, task="t", split="train")
    assert [s.id for s in train.samples] == ["7"]
    with pytest.raises(DataFormatError, match="valid.json"):
        load_mimic_ext_vqa(root, task="t", split="validation")


def test_mimic_ext_vqa_malformed(tmp_path: Path) -> None:
    path = _write(tmp_path / "test.json", [EXT_ROWS[0], {**EXT_ROWS[1], "content_type": "color"}])
    with pytest.raises(DataFormatError, match=r"test.json \(record #1\): content_type 'color'"):
        load_mimic_ext_vqa(tmp_path, task="t", split="test")
    _write(path, [{k: v for k, v in EXT_ROWS[0].items() if k != "question"}])
    with pytest.raises(DataFormatError, match=r"record #0\): missing key 'question'"):
        load_mimic_ext_vqa(tmp_path, task="t", split="test")
    _write(path, [{**EXT_ROWS[0], "idx": "zero"}])
    with pytest.raises(DataFormatError, match=r"record #0\): key 'idx' should be int"):
        load_mimic_ext_vqa(tmp_path, task="t", split="test")
    _write(path, {"not": "a list"})
    with pytest.raises(DataFormatError, match="expected a JSON list"):
        load_mimic_ext_vqa(tmp_path, task="t", split="test")


CXR_VQA_CSV = (
    "study_id,subject_id,question_type,question,answer,split\n"
    '50000001,10000001,abnormality,what abnormalities are seen in this image?,"pleural effusion, edema",test\n'
    "50000001,10000001,presence,is there evidence of pneumothorax in this image?,no,test\n"
    "50000002,10000002,view,which view is this image taken?,PA,train\n"
    "50000001,10000001,level,what level is the pleural effusion?,,test\n"
)


def test_medical_cxr_vqa_with_split_column(tmp_path: Path) -> None:
    root = tmp_path / "cxrvqa"
    root.mkdir()
    (root / "medical_cxr_vqa_questions.csv").write_text(CXR_VQA_CSV)
    test = load_medical_cxr_vqa(root, task="cxr_vqa", split="test")
    assert [s.id for s in test.samples] == ["s50000001_q1", "s50000001_q2"]
    assert test.dropped == {"empty_answer": 1}
    assert test.samples[0].reference == "edema|pleural effusion"  # ", "-joined findings are a set
    assert test.samples[0].metadata["answer_format"] == "list"
    assert [s.metadata["answer_type"] for s in test.samples] == ["open", "closed"]
    assert test.samples[1].metadata["category"] == "presence" and test.samples[1].credentialed
    train = load_medical_cxr_vqa(root, task="t", split="train")
    assert [s.id for s in train.samples] == ["s50000002_q1"]


def test_medical_cxr_vqa_with_mimic_split_file(tmp_path: Path) -> None:
    root = tmp_path / "cxrvqa"
    root.mkdir()
    (root / "medical_cxr_vqa_questions.csv").write_text(
        "\n".join(
            ",".join(line.split(",")[:5]) if i == 0 else line.rsplit(",", 1)[0]
            for i, line in enumerate(CXR_VQA_CSV.strip().splitlines())
        )
        + "\n"
    )
    with pytest.raises(DataFormatError, match="no 'split' column and no mimic-cxr-2.0.0-split.csv"):
        load_medical_cxr_vqa(root, task="t", split="test")
    (root / "mimic-cxr-2.0.0-split.csv").write_text(
        "dicom_id,study_id,subject_id,split\nd1,50000001,10000001,test\nd9,50000001,10000001,test\n"
        "d2,50000002,10000002,validate\n"
    )
    test = load_medical_cxr_vqa(root, task="t", split="test")
    assert len(test.samples) == 2
    assert test.samples[0].image_paths[1].endswith("files/p10/p10000001/s50000001/d9.jpg")
    assert [s.id for s in load_medical_cxr_vqa(root, task="t", split="valid").samples] == ["s50000002_q1"]


def test_medical_cxr_vqa_malformed(tmp_path: Path) -> None:
    path = tmp_path / "medical_cxr_vqa_questions.csv"
    path.write_text(CXR_VQA_CSV + "50000003,10000003,colour,what colour?,grey,test\n")
    with pytest.raises(DataFormatError, match=r"questions.csv \(record line 6\): question_type 'colour'"):
        load_medical_cxr_vqa(tmp_path, task="t", split="test")
    path.write_text(CXR_VQA_CSV.replace("question_type,", "qtype,"))
    with pytest.raises(DataFormatError, match=r"questions.csv:1: missing column\(s\) \['question_type'\]"):
        load_medical_cxr_vqa(tmp_path, task="t", split="test")
    path.write_text(CXR_VQA_CSV + "s5,10000003,view,which view?,AP,test\n")
    with pytest.raises(DataFormatError, match=r"record line 6\): study_id/subject_id should be numbers"):
        load_medical_cxr_vqa(tmp_path, task="t", split="test")


def test_vqa_rad_fixture_errors(tmp_path: Path) -> None:
    row = {
        "qid": "1",
        "phrase_type": "test_freeform",
        "image_name": "synpic1.jpg",
        "image_organ": "CHEST",
        "question": "Is there a pneumothorax?",
        "question_type": "PRES",
        "answer": "No",
        "answer_type": "CLOSED ",
    }
    path = _write(tmp_path / "vqa_rad_public.json", [row, {**row, "qid": "2", "phrase_type": "holdout"}])
    with pytest.raises(DataFormatError, match=r"record #1\): phrase_type 'holdout'"):
        load_vqa_rad(tmp_path, task="t", split="test")
    _write(path, [row, {**row, "qid": "2", "answer_type": "MAYBE"}])
    with pytest.raises(DataFormatError, match=r"record #1\): answer_type 'maybe' should be CLOSED or OPEN"):
        load_vqa_rad(tmp_path, task="t", split="test")
    _write(
        path,
        [row, {**row, "qid": "2", "question": "What modality is this?", "question_type": "MODALITY", "answer": "CT"}],
    )
    result = load_vqa_rad(tmp_path, task="t", split="test")
    assert result.samples == [] and result.dropped == {"not_xray": 2}


# The released record layouts, exactly (values invented): MIMIC-Ext-MIMIC-CXR-VQA's generate_answer.py writes
# ids as strings, image_path relative to MIMIC-CXR-JPG's files/ folder, answer a list of lower-cased strings.
EXT_RELEASE_RECORD = {
    "split": "test",
    "idx": 12,
    "subject_id": "10000001",
    "study_id": "50000001",
    "image_id": "aaaa1111-bbbb2222-cccc3333-dddd4444-eeee5555",
    "image_path": "p10/p10000001/s50000001/aaaa1111-bbbb2222-cccc3333-dddd4444-eeee5555.jpg",
    "question": "Are there signs of both pleural effusion and atelectasis in the left lower lung zone?",
    "semantic_type": "verify",
    "content_type": "attribute",
    "template": "Are there signs of both ${attribute_1} and ${attribute_2} in the ${object}?",
    "template_program": "program_5",
    "template_arguments": {
        "object": {"0": "left lower lung zone"},
        "attribute": {"0": "pleural effusion", "1": "atelectasis"},
        "category": {},
        "viewpos": {},
        "gender": {},
    },
    "answer": ["no"],
}


def test_mimic_ext_vqa_release_layout(tmp_path: Path) -> None:
    query = {
        **EXT_RELEASE_RECORD,
        "idx": 13,
        "question": "List all anatomical findings in the right lung.",
        "semantic_type": "query",
        "content_type": "anatomy",
        "answer": ["lung opacity", "atelectasis"],
    }
    empty = {**query, "idx": 14, "answer": []}
    _write(tmp_path / "jpg" / "mimiccxrvqa" / "dataset" / "test.json", [EXT_RELEASE_RECORD, query, empty])
    (tmp_path / "jpg" / "files").mkdir()
    result = load_mimic_ext_vqa(tmp_path / "jpg", task="ext_vqa", split="test")
    assert [s.id for s in result.samples] == ["12", "13"] and result.dropped == {"empty_answer": 1}
    verify, listed = result.samples
    image = "files/p10/p10000001/s50000001/aaaa1111-bbbb2222-cccc3333-dddd4444-eeee5555.jpg"
    assert verify.image_paths == [str(tmp_path / "jpg" / image)]
    assert (verify.reference, verify.metadata["answer_type"], verify.metadata["category"]) == (
        "no",
        "closed",
        "attribute",
    )
    assert verify.metadata["template_program"] == "program_5" and verify.metadata["subject_id"] == "10000001"
    assert (listed.reference, listed.metadata["answer_type"]) == ("atelectasis|lung opacity", "open")
    # image_root may also be the files/ folder itself
    again = load_mimic_ext_vqa(tmp_path / "jpg", task="t", split="test", image_root=tmp_path / "jpg" / "files")
    assert again.samples[0].image_paths == verify.image_paths


def test_mimic_ext_vqa_release_layout_refusals(tmp_path: Path) -> None:
    path = tmp_path / "test.json"
    _write(path, [{**EXT_RELEASE_RECORD, "split": "train"}])
    with pytest.raises(DataFormatError, match=r"record #0\): record of split 'train' in the 'test' file"):
        load_mimic_ext_vqa(tmp_path, task="t", split="test")
    _write(path, [{**EXT_RELEASE_RECORD, "semantic_type": "describe"}])
    with pytest.raises(DataFormatError, match=r"semantic_type 'describe' is not one of"):
        load_mimic_ext_vqa(tmp_path, task="t", split="test")
    _write(path, [{**EXT_RELEASE_RECORD, "answer": ["yes", 1]}])
    with pytest.raises(DataFormatError, match=r"'answer' should be a list of strings"):
        load_mimic_ext_vqa(tmp_path, task="t", split="test")
    _write(path, [{**EXT_RELEASE_RECORD, "image_path": ["a.jpg"]}])
    with pytest.raises(DataFormatError, match=r"key 'image_path' should be str"):
        load_mimic_ext_vqa(tmp_path, task="t", split="test")


def test_medical_cxr_vqa_release_layout(tmp_path: Path) -> None:
    """The released CSV: dicom_id, subject_id, study_id, question, question_type, answer, split."""
    (tmp_path / "medical-cxr-vqa-questions.csv").write_text(
        "dicom_id,subject_id,study_id,question,question_type,answer,split\n"
        'dcm-1,10000001,50000001,what abnormalities are seen in this image?,abnormality,"edema, pleural effusion, '
        'atelectasis",test\n'
        "dcm-1,10000001,50000001,what abnormalities are seen in the left lung?,abnormality,atelectasis,test\n"
        "dcm-1,10000001,50000001,is there evidence of any abnormalities in this image?,abnormality,yes,test\n"
        "dcm-1,10000001,50000001,is there pneumothorax?,presence,no,test\n"
        "dcm-1,10000001,50000001,which view is this image taken?,view,PA,test\n"
        "dcm-1,10000001,50000001,where is the pleural effusion?,location,left lower lobe,test\n"
        "dcm-1,10000001,50000001,what level is the pleural effusion?,level,small,test\n"
        "dcm-1,10000001,50000001,what type is the atelectasis?,type,bibasilar,test\n"
        "dcm-2,10000002,50000002,is there edema?,presence,yes,train\n"
    )
    samples = load_medical_cxr_vqa(tmp_path, task="cxr_vqa", split="test").samples
    assert [s.metadata["category"] for s in samples] == [
        "abnormality",
        "abnormality",
        "abnormality",
        "presence",
        "view",
        "location",
        "level",
        "type",
    ]
    assert samples[0].reference == "atelectasis|edema|pleural effusion"
    assert [s.metadata["answer_format"] for s in samples[:3]] == ["list", "list", "text"]
    assert [s.metadata["answer_type"] for s in samples[2:5]] == ["closed", "closed", "open"]
    assert samples[5].reference == "left lower lobe"
    assert samples[0].image_paths == [str(tmp_path / "files/p10/p10000001/s50000001/dcm-1.jpg")]
    assert [s.id for s in samples] == [f"s50000001_q{k}" for k in range(1, 9)]
