"""MS-CXR phrase grounding (`ms_cxr` dataset, `ms_cxr_grounding` task, `phrase_grounding` metric).

The CSV is ours, in MS-CXR's exact layout (one row per box, a multi-box phrase on several rows, here not even
adjacent), with phrases we wrote and ids we made up; the images are generated grey JPEGs at the CSV's sizes.
No MIMIC-CXR text or image is in the repository. Every expected value below is computed by hand in the comments.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

from xraybench.cli import main
from xraybench.datasets.ms_cxr import grounding_prompt
from xraybench.errors import DataFormatError
from xraybench.taskdata import load_task, parse_data_roots
from xraybench.testing.openai_server import OpenAIServer

HEADER = ["dicom_id", "path", "label_text", "category_name", "x", "y", "w", "h", "image_width", "image_height", "split"]
A, B, C = "0a1b2c3d-11111111-22222222-33333333-44444444", "5e6f7a8b-55555555-66666666-77777777-88888888", "9c0d-train"
PATH_A = f"files/p10/p10000001/s50000001/{A}.jpg"
PATH_B = f"files/p11/p11000002/s50000002/{B}.jpg"
PATH_C = f"files/p12/p12000003/s50000003/{C}.jpg"
HEART, FLUID, OPACITY = (
    "enlarged heart silhouette",
    "small bilateral effusions",
    "patchy opacity in the left lower lobe",
)
# image A is 1000 x 800, B 2000 x 1000; boxes as x, y, w, h
ROWS = [
    [A, PATH_A, HEART, "Cardiomegaly", 300, 400, 400, 300, 1000, 800, "test"],  # [300, 400, 700, 700]
    [A, PATH_A, FLUID, "Pleural effusion", 50, 500, 200, 250, 1000, 800, "test"],  # [50, 500, 250, 750]
    [B, PATH_B, OPACITY, "Pneumonia", 1200, 500, 400, 400, 2000, 1000, "test"],  # [1200, 500, 1600, 900]
    [A, PATH_A, FLUID, "Pleural effusion", 750, 500, 200, 250, 1000, 800, "test"],  # second box of the phrase
    [C, PATH_C, "right upper lobe nodule", "Lung nodule", 10, 10, 20, 20, 100, 100, "train"],
]
SIZES = {PATH_A: (1000, 800), PATH_B: (2000, 1000), PATH_C: (100, 100)}
ID_HEART, ID_FLUID, ID_OPACITY = f"{A}_1", f"{A}_2", f"{B}_1"


def write_csv(root: Path, rows: list[list[object]], header: list[str] = HEADER) -> Path:
    path = root / "MS_CXR_Local_Alignment_v1.1.0.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def ms_root(tmp_path: Path) -> Path:
    """The CSV in `ms-cxr/`, the generated images in a MIMIC-CXR-JPG layout under `mimic/2.1.0/files/`."""
    root = tmp_path / "ms-cxr"
    root.mkdir()
    write_csv(root, ROWS)
    for rel, size in SIZES.items():
        image = tmp_path / "mimic" / "2.1.0" / rel
        image.parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", size, color=90).save(image, format="JPEG")
    return root


def _roots(root: Path) -> list[str]:
    return [f"ms_cxr={root}", f"ms_cxr.image_root={root.parent / 'mimic'}"]


def test_phrases_with_every_box_split_and_images(ms_root: Path) -> None:
    data = load_task("ms_cxr_grounding", parse_data_roots(_roots(ms_root)))
    by_id = {s.id: s for s in data.samples}
    assert list(by_id) == [ID_HEART, ID_FLUID, ID_OPACITY]  # the train phrase is left out
    fluid = by_id[ID_FLUID]
    # the two non-adjacent rows (lines 3 and 5) are one phrase with both boxes
    assert fluid.metadata["bboxes"] == [
        [50, 500, 250, 750, "Pleural effusion"],
        [750, 500, 950, 750, "Pleural effusion"],
    ]
    assert fluid.metadata["csv_lines"] == [3, 5] and fluid.metadata["image_size"] == [1000, 800]
    assert fluid.metadata["category"] == "Pleural effusion" and fluid.credentialed
    assert fluid.prompt == grounding_prompt(FLUID) and FLUID in fluid.prompt
    assert (fluid.metadata["subject_id"], fluid.metadata["study_id"]) == ("10000001", "50000001")
    # images found in the MIMIC-CXR-JPG release folder (2.1.0/files) as mimic_cxr finds them
    assert Path(fluid.image_paths[0]) == (ms_root.parent / "mimic" / "2.1.0" / PATH_A).resolve()
    assert Path(fluid.image_paths[0]).is_file()
    train = load_task("ms_cxr_grounding", parse_data_roots(_roots(ms_root)), split="train")
    assert [s.id for s in train.samples] == [f"{C}_1"]


def _run(argv: list[str]) -> int:
    return main(["run", "--bootstrap-rounds", "0", "--no-progress", *argv])


def _data_args(root: Path) -> list[str]:
    return ["--data-root", f"ms_cxr={root}", "--data-option", f"ms_cxr.image_root={root.parent / 'mimic'}"]


def test_run_predictions_scored_in_the_resized_space_against_every_box(ms_root: Path, tmp_path: Path) -> None:
    """`--image-size 500`: A (1000x800) was sent at 500x500 (x * 0.5, y * 0.625), B (2000x1000) at 500x500
    (x * 0.25, y * 0.5), so the references the answers are scored against are
      heart   [150, 250, 350, 437.5]
      fluid   [25, 312.5, 125, 468.75] and [375, 312.5, 475, 468.75]
      opacity [300, 250, 400, 450]."""
    preds = tmp_path / "preds.jsonl"
    rows = [
        # intersection 200 x 100 = 20000, union 37500 (reference) -> IoU 0.5333; hit; centre (250, 300) inside
        {"id": ID_HEART, "prediction": "The heart: [150, 250, 350, 350]"},
        # the left box exactly (IoU 1), the right one missed (IoU 0): IoU 0.5, hit 1/2, pointing 1/2
        {"id": ID_FLUID, "prediction": "[25, 312.5, 125, 468.75]"},
        # answer box: intersection 100 x 100, union 20000 -> IoU exactly 0.5 (a hit); centre (350, 300) inside.
        # The reasoning box [0, 0, 10, 10] is not the answer (it is what `grounding` scores: IoU 0).
        {"id": ID_OPACITY, "prediction": "<think>opacity near [0, 0, 10, 10]</think> \\boxed{[300, 250, 400, 350]}"},
    ]
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "run"
    argv = ["--model", f"predictions:{preds}", "--tasks", "ms_cxr_grounding", "--image-size", "500", "--out", str(out)]
    assert _run([*argv, *_data_args(ms_root)]) == 0
    task = json.loads((out / "results.json").read_text())["tasks"]["ms_cxr_grounding"]
    metrics = task["metrics"]
    assert metrics["phrase_iou"]["value"] == pytest.approx((8 / 15 + 0.5 + 0.5) / 3)
    assert metrics["phrase_hit_rate"]["value"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert metrics["phrase_pointing_game"]["value"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert metrics["phrase_answered"]["value"] == 1.0
    # reasoning boxes (`grounding`): A's answers have no think block, so their boxes count; B's reasoning misses
    assert metrics["grounding_iou"]["value"] == pytest.approx((8 / 15 + 0.5 + 0.0) / 3)
    assert metrics["grounding_iou[Pneumonia]"]["value"] == 0.0
    assert metrics["grounding_iou[Pleural effusion]"]["value"] == pytest.approx(0.5)
    # per finding (category_name)
    cats = task["categories"]
    assert cats["Cardiomegaly"]["metrics"]["phrase_iou"]["value"] == pytest.approx(8 / 15)
    assert cats["Pleural effusion"]["metrics"]["phrase_hit_rate"]["value"] == pytest.approx(0.5)
    assert cats["Pneumonia"]["metrics"]["phrase_hit_rate"]["value"] == 1.0
    scores = {r["id"]: r for r in map(json.loads, (out / "scores.jsonl").read_text().splitlines()) if "id" in r}
    assert scores[ID_FLUID]["phrase_pointing_game"] == 0.5 and scores[ID_OPACITY]["phrase_iou"] == pytest.approx(0.5)


def test_run_without_a_known_box_space_gives_nan_not_a_guess(ms_root: Path, tmp_path: Path) -> None:
    """Without --image-size and with no size recorded, boxes are read in the original space (the plain template
    sends the image as it is): the same answer that scored IoU 0.5333 in 500x500 now misses."""
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        "".join(
            json.dumps({"id": i, "prediction": "[300, 400, 700, 700]"}) + "\n" for i in (ID_HEART, ID_FLUID, ID_OPACITY)
        ),
        encoding="utf-8",
    )
    out = tmp_path / "run"
    argv = ["--model", f"predictions:{preds}", "--tasks", "ms_cxr_grounding", "--out", str(out)]
    assert _run([*argv, *_data_args(ms_root)]) == 0
    scores = {r["id"]: r for r in map(json.loads, (out / "scores.jsonl").read_text().splitlines()) if "id" in r}
    assert scores[ID_HEART]["phrase_iou"] == pytest.approx(1.0)  # the heart box itself, in 1000x800
    # [300,400,700,700] vs the fluid boxes: overlap 0 and [50..250] no; vs [750..950] no -> 0
    assert scores[ID_FLUID]["phrase_iou"] == 0.0


def test_answers_of_a_real_adapter_in_the_space_it_sent(
    ms_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OpenAI-compatible model with the reasoning template: the images go out shrunk to at most 262,144 pixels
    (A 1000x800 -> scale sqrt(262144/800000) = 0.57243 -> 572x457; B 2000x1000 -> 0.36204 -> 724x362), the
    adapter records that size, and answers given in it land on the references (IoU 1)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    answers = {  # the references scaled by hand: A by (572/1000, 457/800), B by (724/2000, 362/1000)
        HEART: "<think>heart</think> \\boxed{[171.6, 228.5, 400.4, 399.875]}",
        FLUID: "<think>both bases</think> \\boxed{[28.6, 285.625, 143, 428.4375], [429, 285.625, 543.4, 428.4375]}",
        OPACITY: "<think>left base</think> \\boxed{[434.4, 181, 579.2, 325.8]}",
    }

    def reply(body: dict) -> str:
        text = json.dumps(body)
        return next(answer for phrase, answer in answers.items() if phrase in text)

    out = tmp_path / "run"
    with OpenAIServer(reply_fn=reply) as server:
        argv = ["--model", "openai:tiny-test-model", "--api-base", server.base_url, "--template", "reasoning",
                "--tasks", "ms_cxr_grounding", "--out", str(out)]  # fmt: skip
        assert _run([*argv, *_data_args(ms_root)]) == 0
        assert len(server.chat_requests()) == 3
    sizes = {p["id"]: p["input_size"] for p in map(json.loads, (out / "predictions.jsonl").read_text().splitlines())}
    assert sizes == {ID_HEART: [572, 457], ID_FLUID: [572, 457], ID_OPACITY: [724, 362]}
    metrics = json.loads((out / "results.json").read_text())["tasks"]["ms_cxr_grounding"]["metrics"]
    assert metrics["phrase_iou"]["value"] == pytest.approx(1.0, abs=1e-9)
    assert metrics["phrase_hit_rate"]["value"] == 1.0 and metrics["phrase_pointing_game"]["value"] == 1.0


@pytest.mark.parametrize(
    ("bad", "line", "message"),
    [
        ({"w": "-5"}, 3, "box w, h should be positive"),
        ({"x": "abc"}, 3, "column 'x' should be a number"),
        ({"x": "2000"}, 3, "lies outside the 1000x800 image"),
        ({"path": "files/p10/p10000001/s50000001/other.jpg"}, 3, "should be files/pNN/pNNNNNNNN/sNNNNNNNN/"),
        ({"image_width": "999"}, 3, f"image {A} is"),
        ({"split": "holdout"}, 3, "unknown split 'holdout'"),
        ({"label_text": ""}, 3, "empty label_text"),
    ],
)
def test_bad_rows_are_named_by_line(ms_root: Path, tmp_path: Path, bad: dict[str, str], line: int, message: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    rows = [list(r) for r in ROWS]
    for column, value in bad.items():
        rows[1][HEADER.index(column)] = value  # the second data row: line 3 of the file
    path = write_csv(ms_root, rows)
    with pytest.raises(DataFormatError, match=message) as info:
        load_task("ms_cxr_grounding", parse_data_roots(_roots(ms_root)))
    assert info.value.path == str(path) and info.value.line == line
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"id": ID_HEART, "prediction": "[1, 2, 3, 4]"}) + "\n", encoding="utf-8")
    code = _run(["--model", f"predictions:{preds}", "--tasks", "ms_cxr_grounding", "--out", str(tmp_path / "o"),
                 *_data_args(ms_root)])  # fmt: skip
    err = capsys.readouterr().err
    assert code != 0 and f"{path.name}:{line}" in err and "Traceback" not in err


def test_box_past_the_edge_is_clipped_with_a_note_and_missing_split_column_noted(ms_root: Path) -> None:
    rows = [list(r[:-1]) for r in ROWS[:3]]
    rows[0][HEADER.index("w")] = 800  # 300 + 800 > 1000: clipped to [300, 400, 1000, 700]
    write_csv(ms_root, rows, HEADER[:-1])  # MS-CXR v1.0.0: no split column
    data = load_task("ms_cxr_grounding", parse_data_roots(_roots(ms_root)))
    assert data.samples[0].metadata["bboxes"][0][:4] == [300, 400, 1000, 700]
    assert any("1 MS-CXR box(es) reached past the image edge" in n for n in data.notes)
    assert any("no split column" in n for n in data.notes) and len(data.samples) == 3


def test_missing_image_folder_is_a_note_and_missing_csv_an_error(ms_root: Path, tmp_path: Path) -> None:
    data = load_task("ms_cxr_grounding", parse_data_roots([f"ms_cxr={ms_root}"]))
    assert any("ms_cxr.image_root" in n for n in data.notes)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataFormatError, match="MS_CXR_Local_Alignment_v1.1.0.csv"):
        load_task("ms_cxr_grounding", parse_data_roots([f"ms_cxr={empty}"]))


# -- the reasoning boxes of report answers against MS-CXR boxes (mimic_cxr.ms_cxr) --------------------------------


def _mimic(root: Path) -> None:
    """A MIMIC-CXR-JPG fixture (our own invented reports): study 50000001 with a lateral and a PA image (PA first),
    study 50000003 with one PA image."""
    root.mkdir(parents=True)
    rows = [("lat-a", "50000001", "10000001"), ("pa-a", "50000001", "10000001"), ("pa-c", "50000003", "10000002")]
    (root / "mimic-cxr-2.0.0-split.csv").write_text(
        "dicom_id,study_id,subject_id,split\n" + "".join(f"{d},{st},{sub},test\n" for d, st, sub in rows)
    )
    (root / "mimic-cxr-2.0.0-metadata.csv").write_text(
        "dicom_id,ViewPosition\nlat-a,LATERAL\npa-a,PA\npa-c,PA\n", encoding="utf-8"
    )
    for study, subject in (("50000001", "10000001"), ("50000003", "10000002")):
        report = root / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}.txt"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text("FINDINGS: The heart is large.\nIMPRESSION: Cardiomegaly.\n", encoding="utf-8")


def test_reasoning_boxes_of_report_answers_scored_against_ms_cxr_boxes_per_finding(tmp_path: Path) -> None:
    """Study 50000001's PA image (1000x800) has an MS-CXR heart box [300, 400, 700, 700] and an opacity box
    [600, 100, 800, 300] (two phrases of one finding share the heart box: counted once); its lateral image has a
    box too (not the image sent: left out, with a note). At --image-size 500 the references are
    [150, 250, 350, 437.5] and [300, 62.5, 400, 187.5]; the reasoning cites [150, 250, 350, 437.5] (IoU 1 with the
    heart, 0 with the opacity) and [0, 0, 5, 5] (0 with both): grounding_iou 0.5, per finding 1 and 0."""
    mimic = tmp_path / "mimic"
    _mimic(mimic)
    pa = "files/p10/p10000001/s50000001/pa-a.jpg"
    rows = [
        ["pa-a", pa, "the heart is large", "Cardiomegaly", 300, 400, 400, 300, 1000, 800, "test"],
        ["pa-a", pa, "patchy opacity", "Pneumonia", 600, 100, 200, 200, 1000, 800, "test"],
        ["pa-a", pa, "cardiomegaly", "Cardiomegaly", 300, 400, 400, 300, 1000, 800, "test"],
        ["lat-a", "files/p10/p10000001/s50000001/lat-a.jpg", "on the side", "Pneumonia", 1, 1, 9, 9, 100, 100, "val"],
    ]
    csv_path = write_csv(tmp_path, rows)
    data = load_task("mimic_cxr_findings", parse_data_roots([f"mimic_cxr={mimic}", f"mimic_cxr.ms_cxr={csv_path}"]))
    first = next(s for s in data.samples if s.id == "s50000001")
    assert first.metadata["bboxes"] == [[300, 400, 700, 700, "Cardiomegaly"], [600, 100, 800, 300, "Pneumonia"]]
    assert first.metadata["image_size"] == [1000, 800]
    assert "MS-CXR boxes on the first image of 1 of 2 studies" in data.notes
    assert "1 studies have MS-CXR boxes only on images other than the first: not used" in data.notes
    preds = tmp_path / "preds.jsonl"
    answers = {
        "s50000001": "<think>The heart [150, 250, 350, 437.5] is large; see [0, 0, 5, 5]</think> \\boxed{Cardiomegaly.}",
        "s50000003": "<think>no box here</think> \\boxed{Clear lungs.}",
    }
    preds.write_text("".join(json.dumps({"id": k, "prediction": v}) + "\n" for k, v in answers.items()))
    out = tmp_path / "run"
    argv = ["--model", f"predictions:{preds}", "--tasks", "mimic_cxr_findings", "--image-size", "500",
            "--data-root", f"mimic_cxr={mimic}", "--data-option", f"mimic_cxr.ms_cxr={tmp_path}",
            "--extra-metrics", "grounding", "--skip-metrics", "chexpert,meteor,cider", "--out", str(out)]  # fmt: skip
    assert _run(argv) == 0
    metrics = json.loads((out / "results.json").read_text())["tasks"]["mimic_cxr_findings"]["metrics"]
    assert metrics["grounding_iou"]["value"] == pytest.approx(0.5)  # the study without boxes is not applicable
    assert metrics["grounding_hit_rate"]["value"] == pytest.approx(0.5)
    assert metrics["grounding_pointing_game"]["value"] == pytest.approx(0.5)  # centre (250, 343.75): the heart
    assert metrics["grounding_iou[Cardiomegaly]"]["value"] == pytest.approx(1.0)
    assert metrics["grounding_iou[Pneumonia]"]["value"] == 0.0
    assert metrics["grounding_pointing_game[Pneumonia]"]["value"] == 0.0
