"""IU X-ray loader on fixtures in the R2Gen and indiana_*.csv layouts (invented report texts)."""

from __future__ import annotations

import collections
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from xraybench.datasets.iu_xray import SEEDED_SPLIT_NOTE, load_iu_xray, seeded_split
from xraybench.errors import DataFormatError

ANNOTATION = {
    "train": [
        {
            "id": "CXR1_1_IM-0001",
            "report": "The heart is normal. XXXX are intact.",
            "image_path": ["CXR1_1_IM-0001/0.png", "CXR1_1_IM-0001/1.png"],
            "split": "train",
        }
    ],
    "val": [
        {"id": "CXR2_IM-0652", "report": "Mild cardiomegaly.", "image_path": ["CXR2_IM-0652/0.png"], "split": "val"}
    ],
    "test": [
        {
            "id": "CXR3_IM-1384",
            "report": "No focal consolidation.",
            "image_path": ["CXR3_IM-1384/0.png"],
            "split": "test",
        },
        {" id ": "CXR4_IM-2050", "report ": "  ", "image_path": ["CXR4_IM-2050/0.png"], "split": "test"},
    ],
}

REPORTS_CSV = (
    " uid ,MeSH,Problems,image,indication,comparison, findings , impression \n"
    '1,normal,normal,Xray Chest PA and Lateral,Positive TB test,None.,"The heart is normal.\nXXXX are intact.",'
    "Normal chest x-XXXX.\n"
    "2,Cardiomegaly,Cardiomegaly,Chest 2 views,,,Mild cardiomegaly.,Cardiomegaly.\n"
    "3,normal,normal,Chest,,,No focal consolidation.,No acute disease.\n"
    "4,normal,normal,Chest,,,,No active disease.\n"
    "5,normal,normal,Chest,,,Clear lungs.,\n"
)
PROJECTIONS_CSV = (
    "uid, filename ,projection\n"
    "1,1_IM-0001-3001.dcm.png,Lateral\n1,1_IM-0001-4001.dcm.png,Frontal\n"
    "2,2_IM-0652-1001.dcm.png,Frontal\n3,3_IM-1384-1001.dcm.png,Frontal\n"
    "4,4_IM-2050-1001.dcm.png,Frontal\n5,5_IM-2100-1001.dcm.png,Frontal\n"
)


def make_r2gen(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "annotation.json").write_text(json.dumps(ANNOTATION), encoding="utf-8")
    return root


def make_indiana(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "indiana_reports.csv").write_text(REPORTS_CSV, encoding="utf-8")
    (root / "indiana_projections.csv").write_text(PROJECTIONS_CSV, encoding="utf-8")
    (root / "images" / "images_normalized").mkdir(parents=True)
    return root


def test_r2gen_layout(tmp_path: Path) -> None:
    root = make_r2gen(tmp_path / "iu")
    test = load_iu_xray(root, task="iu_xray_findings", split="test", section="findings")
    assert [s.id for s in test.samples] == ["CXR3_IM-1384"]
    assert test.dropped == {"empty_findings": 1}
    assert test.samples[0].image_paths == [str((root / "images" / "CXR3_IM-1384/0.png").resolve())]
    train = load_iu_xray(root, task="t", split="train")
    assert train.samples[0].reference == "The heart is normal. XXXX are intact."  # XXXX kept
    assert len(train.samples[0].image_paths) == 2 and not train.samples[0].credentialed
    assert [s.id for s in load_iu_xray(root, task="t", split="validation").samples] == ["CXR2_IM-0652"]


def test_r2gen_impression_is_a_clear_error(tmp_path: Path) -> None:
    root = make_r2gen(tmp_path / "iu")
    with pytest.raises(DataFormatError, match="FINDINGS text only"):
        load_iu_xray(root, task="t", split="test", section="impression")


def test_indiana_with_r2gen_split(tmp_path: Path) -> None:
    root = make_r2gen(make_indiana(tmp_path / "iu"))
    findings = load_iu_xray(root, task="t", split="test", section="findings")
    assert [s.id for s in findings.samples] == ["3"]
    assert findings.dropped == {"not_in_r2gen_split": 1, "empty_findings": 1}  # uid 5 is not in annotation.json
    impression = load_iu_xray(root, task="t", split="test", section="impression")
    assert {s.id: s.reference for s in impression.samples} == {"3": "No acute disease.", "4": "No active disease."}
    train = load_iu_xray(root, task="t", split="train", section="findings").samples
    assert train[0].reference == "The heart is normal. XXXX are intact."
    assert train[0].metadata["views"] == ["Frontal", "Lateral"]
    assert train[0].image_paths[0].endswith("images/images_normalized/1_IM-0001-4001.dcm.png")
    assert train[0].metadata["split_source"] == "r2gen"


def test_indiana_seeded_split(tmp_path: Path) -> None:
    root = make_indiana(tmp_path / "iu")
    loaded = {
        split: load_iu_xray(root, task="t", split=split, section="impression") for split in ("train", "val", "test")
    }
    ids = {split: {s.id for s in r.samples} for split, r in loaded.items()}
    assert set().union(*ids.values()) == {"1", "2", "3", "4"}  # uid 5 has an empty impression
    assert not ids["train"] & ids["test"] and not ids["val"] & ids["test"] and not ids["train"] & ids["val"]
    for split, found in ids.items():
        assert all(seeded_split(uid) == split for uid in found)
    assert sum(r.dropped.get("empty_impression", 0) for r in loaded.values()) == 1


def test_seeded_split_proportions_and_stability() -> None:
    counts = collections.Counter(seeded_split(str(uid)) for uid in range(1, 4001))
    assert abs(counts["train"] / 4000 - 0.7) < 0.03
    assert abs(counts["val"] / 4000 - 0.1) < 0.02
    assert abs(counts["test"] / 4000 - 0.2) < 0.03
    assert seeded_split("1234") == seeded_split("1234")


def test_empty_findings_counted(tmp_path: Path) -> None:
    root = make_indiana(tmp_path / "iu")
    dropped = collections.Counter()
    for split in ("train", "val", "test"):
        dropped.update(load_iu_xray(root, task="t", split=split, section="findings").dropped)
    assert dropped == {"empty_findings": 1}


def test_bad_json_names_line(tmp_path: Path) -> None:
    root = tmp_path / "iu"
    root.mkdir()
    (root / "annotation.json").write_text('{"train": [\n{"id": "CXR1_IM-1",\n "report": }]}')
    with pytest.raises(DataFormatError, match=r"annotation.json:3: invalid JSON"):
        load_iu_xray(root, task="t", split="train")


def test_wrong_type_names_record(tmp_path: Path) -> None:
    data = json.loads(json.dumps(ANNOTATION))
    data["test"][0]["image_path"] = "CXR3_IM-1384/0.png"
    root = tmp_path / "iu"
    root.mkdir()
    (root / "annotation.json").write_text(json.dumps(data))
    with pytest.raises(DataFormatError, match=r"record test\[0\].*'image_path' should be list"):
        load_iu_xray(root, task="t", split="test")


def test_missing_split_key(tmp_path: Path) -> None:
    root = tmp_path / "iu"
    root.mkdir()
    (root / "annotation.json").write_text(json.dumps({"train": [], "test": []}))
    with pytest.raises(DataFormatError, match=r"missing split\(s\) \['val'\]"):
        load_iu_xray(root, task="t", split="test")


def test_missing_column(tmp_path: Path) -> None:
    root = make_indiana(tmp_path / "iu")
    (root / "indiana_reports.csv").write_text("uid,MeSH,findings\n1,normal,Clear.\n")
    with pytest.raises(DataFormatError, match=r"indiana_reports.csv:1: missing column\(s\) \['impression'\]"):
        load_iu_xray(root, task="t", split="test")


def test_duplicate_uid_names_line(tmp_path: Path) -> None:
    root = make_indiana(tmp_path / "iu")
    with open(root / "indiana_reports.csv", "a") as handle:
        handle.write("3,normal,normal,Chest,,,Again.,Again.\n")
    with pytest.raises(DataFormatError, match=r"indiana_reports.csv:8: duplicate uid 3"):
        load_iu_xray(root, task="t", split="test")


def test_no_known_files(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="annotation.json"):
        load_iu_xray(tmp_path, task="t", split="test")


def test_r2gen_blank_test_key_uses_the_records_split(tmp_path: Path) -> None:
    """Copies exist whose "test" key is four spaces; every record under it says split "test"."""
    root = tmp_path / "iu"
    root.mkdir()
    data = {"train": ANNOTATION["train"], "val": ANNOTATION["val"], "    ": ANNOTATION["test"]}
    (root / "annotation.json").write_text(json.dumps(data))
    result = load_iu_xray(root, task="t", split="test")
    assert [s.id for s in result.samples] == ["CXR3_IM-1384"]
    assert result.samples[0].reference == "No focal consolidation."
    assert result.dropped == {"empty_findings": 1}
    assert [s.id for s in load_iu_xray(root, task="t", split="train").samples] == ["CXR1_1_IM-0001"]


def test_r2gen_blank_key_records_spread_over_missing_splits(tmp_path: Path) -> None:
    root = tmp_path / "iu"
    root.mkdir()
    data = {"train": ANNOTATION["train"], "": ANNOTATION["val"] + ANNOTATION["test"]}
    (root / "annotation.json").write_text(json.dumps(data))
    assert [s.id for s in load_iu_xray(root, task="t", split="val").samples] == ["CXR2_IM-0652"]
    assert [s.id for s in load_iu_xray(root, task="t", split="test").samples] == ["CXR3_IM-1384"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # a blank-key record without a split: cannot be placed
        (
            {"train": [], "val": [], "    ": [{"id": "CXR3_IM-1", "report": "x", "image_path": []}]},
            r"\(record '    '\[0\]\): record under the blank key '    ' has split None",
        ),
        # the blank key claims a split that a named key already gives
        (
            {"train": [], "val": [], "test": [], " ": [ANNOTATION["test"][0]]},
            r"split 'test' is given twice \(by keys 'test' and ' '\)",
        ),
        # two keys that are the same split once stripped
        ({"train": [], "val": [], "test": [], "test ": []}, r"split 'test' is given twice"),
        # an empty blank key says nothing
        ({"train": [], "val": [], "  ": []}, r"the blank key '  ' holds no records"),
    ],
)
def test_r2gen_ambiguous_keys_are_refused(tmp_path: Path, data: dict, message: str) -> None:
    root = tmp_path / "iu"
    root.mkdir()
    (root / "annotation.json").write_text(json.dumps(data))
    with pytest.raises(DataFormatError, match=message):
        load_iu_xray(root, task="t", split="test")


# Open-i's own report files (NLMCXR_reports.tgz -> ecgen-radiology/<uid>.xml), texts invented; the same
# uids and sections as REPORTS_CSV, so the two layouts must give the same samples.
def _openi_xml(uid: int, findings: str, impression: str, images: list[str]) -> str:
    parents = "".join(
        f'<parentImage id="{i}"><figureId>F{k + 1}</figureId><caption>Xray</caption>'
        f'<panel type="single"><url>/hadoop/storage/radiology/extract/{i}.jpg</url></panel></parentImage>'
        for k, i in enumerate(images)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<eCitation><meta type="rr"/><uId id="CXR'
        f'{uid}"/><MedlineCitation><Article><Abstract>'
        '<AbstractText Label="COMPARISON">None.</AbstractText><AbstractText Label="INDICATION">Cough.</AbstractText>'
        f'<AbstractText Label="FINDINGS">{findings}</AbstractText>'
        f'<AbstractText Label="IMPRESSION">{impression}</AbstractText>'
        f"</Abstract></Article></MedlineCitation><MeSH><major>normal</major></MeSH>{parents}</eCitation>\n"
    )


OPENI = {
    1: (
        "The heart is normal.\n XXXX are intact.",
        "Normal chest x-XXXX.",
        ["CXR1_1_IM-0001-4001", "CXR1_1_IM-0001-3001"],
    ),
    2: ("Mild cardiomegaly.", "Cardiomegaly.", ["CXR2_IM-0652-1001"]),
    3: ("No focal consolidation.", "No acute disease.", ["CXR3_IM-1384-1001"]),
    4: ("", "No active disease.", ["CXR4_IM-2050-1001"]),
    5: ("Clear lungs.", "", ["CXR5_IM-2100-1001"]),
}


def make_openi(root: Path, *, archive: bool = False) -> Path:
    folder = root / "ecgen-radiology"
    folder.mkdir(parents=True)
    for uid, (findings, impression, images) in OPENI.items():
        (folder / f"{uid}.xml").write_text(_openi_xml(uid, findings, impression, images), encoding="utf-8")
    if archive:
        with tarfile.open(root / "NLMCXR_reports.tgz", "w:gz") as tar:
            tar.add(folder, arcname="ecgen-radiology")
        shutil.rmtree(folder)
    return root


@pytest.mark.parametrize("archive", [False, True])
def test_openi_xml_layout_matches_the_csv_layout(tmp_path: Path, archive: bool) -> None:
    root = make_openi(tmp_path / "openi", archive=archive)
    csv_root = make_indiana(tmp_path / "csv")
    for section in ("findings", "impression"):
        for split in ("train", "val", "test"):
            xml = load_iu_xray(root, task="t", split=split, section=section)
            csv = load_iu_xray(csv_root, task="t", split=split, section=section)
            assert [(s.id, s.reference) for s in xml.samples] == [(s.id, s.reference) for s in csv.samples]
            assert xml.dropped == csv.dropped and xml.notes == csv.notes == [SEEDED_SPLIT_NOTE]
            assert all(s.metadata["layout"] == "openi" for s in xml.samples)
    first = next(
        s
        for split in ("train", "val", "test")
        for s in load_iu_xray(root, task="t", split=split).samples
        if s.id == "1"
    )
    assert first.reference == "The heart is normal. XXXX are intact."
    assert first.image_paths == [
        str(root / "NLMCXR_png" / "CXR1_1_IM-0001-4001.png"),
        str(root / "NLMCXR_png" / "CXR1_1_IM-0001-3001.png"),
    ]


def test_openi_with_r2gen_split_and_forced_layout(tmp_path: Path) -> None:
    root = make_r2gen(make_openi(tmp_path / "iu"))
    impression = load_iu_xray(root, task="t", split="test", section="impression")
    assert [s.id for s in impression.samples] == ["3", "4"] and impression.notes == []
    assert impression.dropped == {"not_in_r2gen_split": 1}
    make_indiana(root)  # the CSVs win under "auto"; layout="openi" picks the XML files
    assert load_iu_xray(root, task="t", split="test", section="impression").samples[0].metadata["layout"] == "indiana"
    forced = load_iu_xray(root, task="t", split="test", section="impression", layout="openi")
    assert [s.metadata["layout"] for s in forced.samples] == ["openi", "openi"]


def test_openi_bad_files_name_file_and_member(tmp_path: Path) -> None:
    root = make_openi(tmp_path / "iu")
    (root / "ecgen-radiology" / "3.xml").write_text("<eCitation><AbstractText Label='FINDINGS'>x</eCitation>")
    with pytest.raises(DataFormatError, match=r"ecgen-radiology \(record 3.xml\): invalid XML in 3.xml \(line 1\)"):
        load_iu_xray(root, task="t", split="test")
    bomb = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><eCitation>&b;</eCitation>'
    (root / "ecgen-radiology" / "3.xml").write_text(bomb)
    with pytest.raises(DataFormatError, match=r"\(record 3.xml\): report XML defines entities"):
        load_iu_xray(root, task="t", split="test")
    (root / "ecgen-radiology" / "3.xml").unlink()
    (root / "ecgen-radiology" / "3b.xml").write_text(_openi_xml(0, "a", "b", []).replace('"CXR0"', '"CXRx"'))
    with pytest.raises(DataFormatError, match=r"\(record 3b.xml\): uid should be a number, got 'x'"):
        load_iu_xray(root, task="t", split="test")
    (tmp_path / "empty" / "ecgen-radiology").mkdir(parents=True)
    with pytest.raises(DataFormatError, match=r"no report XML files"):
        load_iu_xray(tmp_path / "empty", task="t", split="test")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "NLMCXR_reports.tgz").write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    with pytest.raises(DataFormatError, match=r"NLMCXR_reports.tgz: unreadable report archive"):
        load_iu_xray(tmp_path / "broken", task="t", split="test")


def test_openi_unknown_declared_encoding(tmp_path: Path) -> None:
    root = make_openi(tmp_path / "iu")
    xml = (root / "ecgen-radiology" / "2.xml").read_text().replace('encoding="utf-8"', 'encoding="utf-.8"')
    (root / "ecgen-radiology" / "2.xml").write_text(xml)
    with pytest.raises(DataFormatError, match=r"\(record 2.xml\): unreadable XML in 2.xml: LookupError"):
        load_iu_xray(root, task="t", split="test")
