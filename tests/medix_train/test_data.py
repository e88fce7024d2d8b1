"""build-data on the demo suite and on fixtures: records, resume, leakage refusal, config, read_records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medix_train.data import (
    WRITE_BATCH,
    BuildDataConfig,
    answer_form,
    build_data,
    load_build_config,
    read_records,
)
from xraybench.errors import DataFormatError, XrayBenchError
from xraybench.prompts import render_prompt
from xraybench.taskdata import load_task

REPO = Path(__file__).resolve().parents[2]
SHARED_VQA_RAD = REPO.parent / "shared" / "data" / "vqa" / "vqa_rad_public.json"
DEMO_TASKS = ["demo_findings", "demo_vqa", "demo_classification"]


def config(tmp_path: Path, stage: str, **kw: object) -> BuildDataConfig:
    return BuildDataConfig(stage=stage, tasks=kw.pop("tasks", DEMO_TASKS), out_dir=str(tmp_path / "out"),  # type: ignore[arg-type]
                           progress=False, **kw)  # type: ignore[arg-type]  # fmt: skip


def test_sft_records_from_the_demo_train_split(tmp_path: Path) -> None:
    path = build_data(config(tmp_path, "sft", limit=5))
    assert path == tmp_path / "out" / "sft.jsonl"
    records = read_records(path, "sft")
    train = {(s.task, s.id): s for name in DEMO_TASKS for s in load_task(name, split="train", limit=5).samples}
    assert len(records) == len(train) == 15  # a seeded subset of 5 samples per task
    for record in records:
        task, sample_id, split = record["id"].split("/")
        assert split == "train" and record["source"]["split"] == "train" and record["source"]["task"] == task
        sample = train[task, sample_id]
        user, assistant = record["messages"]
        assert user["content"][0] == {"type": "image"}
        assert user["content"][1]["text"] == render_prompt(sample.prompt, "plain")
        assert assistant["content"][0]["text"] == sample.reference
        assert record["images"] == sample.image_paths and Path(record["images"][0]).is_absolute()
    summary = json.loads(Path(f"{path}.summary.json").read_text())
    assert summary["written"] == len(records) and summary["leaks_dropped"] == 0
    assert "demo_vqa:test" in summary["checked_against"]


def test_grpo_prompts_carry_ground_truths_in_three_forms(tmp_path: Path) -> None:
    records = read_records(build_data(config(tmp_path, "grpo")), "grpo")
    forms = {r["answer_form"] for r in records}
    assert forms == {"list", "short", "report"}
    by_task = {r["source"]["task"]: r for r in records}
    assert by_task["demo_findings"]["answer_form"] == "report"
    classification = [r for r in records if r["source"]["task"] == "demo_classification"]
    assert any("|" in r["ground_truth"] and r["answer_form"] == "list" for r in classification)
    assert all("bboxes" in r["metadata"] and "image_size" in r["metadata"] for r in classification)
    text = by_task["demo_vqa"]["prompt"][0]["content"][-1]["text"]
    assert "<think>" in text and "\\boxed{}" in text  # the reasoning template


def test_coldstart_writes_prompt_records_for_the_teacher(tmp_path: Path) -> None:
    path = build_data(
        config(tmp_path, "coldstart", tasks=["demo_vqa", "demo_findings"], limits={"demo_vqa": 3}, limit=1)
    )
    assert path.name == "coldstart_prompts.jsonl"
    records = read_records(path, "coldstart_prompts")
    assert len(records) == 3 + 1 and all(r["stage"] == "coldstart_prompts" and "messages" not in r for r in records)
    assert all(r["source"]["credentialed"] is False for r in records)


def test_rerun_skips_written_ids_and_cuts_a_torn_line(tmp_path: Path) -> None:
    cfg = config(tmp_path, "grpo", tasks=["demo_impression"], limit=6)
    path = build_data(cfg)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:3]) + "\n" + lines[3][:20])  # killed while writing line 4
    build_data(cfg)
    assert path.read_text().splitlines() == lines
    summary = json.loads(Path(f"{path}.summary.json").read_text())
    assert summary["written"] == 3 and summary["already_present"] == 3


def test_building_from_an_evaluation_split_is_refused(tmp_path: Path) -> None:
    with pytest.raises(XrayBenchError, match=r"build-data refused: 16 of 16 test samples overlap .*demo-test-000"):
        build_data(config(tmp_path, "sft", tasks=["demo_impression"], split="test"))
    assert not (tmp_path / "out" / "sft.jsonl").exists()  # nothing written


def write_vqa_rad(folder: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    """A VQA-RAD-layout fixture (invented questions) with tiny images: rows of (qid, phrase_type, image, answer)."""
    images = folder / "VQA_RAD Image Folder"
    images.mkdir(parents=True)
    records = []
    for qid, phrase, image, answer in rows:
        (images / image).write_bytes(b"not really a jpeg")
        records.append({"qid": qid, "phrase_type": phrase, "image_name": image, "image_organ": "CHEST",
                        "question": f"Invented question {qid}?", "answer": answer, "answer_type": "CLOSED",
                        "question_type": "PRES"})  # fmt: skip
    (folder / "VQA_RAD Dataset Public.json").write_text(json.dumps(records))
    return folder


def test_an_image_shared_with_the_test_split_is_detected(tmp_path: Path) -> None:
    root = write_vqa_rad(tmp_path / "vqa_rad", [("1", "freeform", "a.jpg", "yes"), ("2", "freeform", "b.jpg", "no"),
                                                ("3", "test_freeform", "b.jpg", "yes")])  # fmt: skip
    cfg = config(tmp_path, "sft", tasks=["vqa_rad_chest"], data_roots=[f"vqa_rad={root}"])
    with pytest.raises(XrayBenchError, match=r"1 of 2 train samples .* vqa_rad_chest/2/train: image .*b\.jpg"):
        build_data(cfg)
    cfg.on_leak = "drop"
    records = read_records(build_data(cfg), "sft")
    assert [r["id"] for r in records] == ["vqa_rad_chest/1/train"]
    summary = json.loads(Path(f"{cfg.out_path}.summary.json").read_text())
    assert summary["leaks_dropped"] == 1


def test_real_vqa_rad_train_split_shares_images_with_its_test_split(tmp_path: Path) -> None:
    """The public VQA-RAD release asks test questions about training images: the check must catch it."""
    if not SHARED_VQA_RAD.exists():
        pytest.skip(f"shared VQA-RAD JSON not found at {SHARED_VQA_RAD}")
    root = tmp_path / "vqa_rad"
    (root / "VQA_RAD Image Folder").mkdir(parents=True)
    (root / "VQA_RAD Dataset Public.json").symlink_to(SHARED_VQA_RAD)
    for record in json.loads(SHARED_VQA_RAD.read_text()):
        (root / "VQA_RAD Image Folder" / record["image_name"]).touch()  # empty stand-ins: only paths matter
    cfg = config(tmp_path, "grpo", tasks=["vqa_rad_chest"], data_roots=[f"vqa_rad={root}"])
    with pytest.raises(XrayBenchError, match="overlap an evaluation split"):
        build_data(cfg)


def test_load_build_config_sections_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "build.yaml"
    path.write_text(
        "out_dir: data\nseed: 3\ndata_roots: {vqa_rad: /x}\nsft:\n  tasks: [demo_vqa, demo_findings]\n"
        "grpo:\n  tasks: demo_vqa\n  limit: 4\n  on_leak: drop\n"
        "coldstart:\n  tasks: [demo_vqa, demo_findings]\n  limits: {demo_findings: 2}\n"
    )
    sft = load_build_config(path, "sft")
    assert (sft.tasks, sft.seed, sft.limit, sft.data_roots) == (["demo_vqa", "demo_findings"], 3, None, ["vqa_rad=/x"])
    grpo = load_build_config(path, "grpo", out_dir="elsewhere", limit=None)
    assert (grpo.tasks, grpo.limit, grpo.on_leak, grpo.out_path) == (
        ["demo_vqa"],
        4,
        "drop",
        Path("elsewhere/grpo.jsonl"),
    )
    coldstart = load_build_config(path, "coldstart")
    assert coldstart.out_path == Path("data/coldstart_prompts.jsonl") and coldstart.limits == {"demo_findings": 2}
    path.write_text("tasks: [demo_vqa]\nlimits: {demo_findings: 2}\n")
    with pytest.raises(XrayBenchError, match="limits name task.s. not in tasks: demo_findings"):
        load_build_config(path, "sft")
    path.write_text("tasks: [demo_vqa]\nlimits: {demo_vqa: 0}\n")
    with pytest.raises(XrayBenchError, match="limits.demo_vqa must be a positive number"):
        load_build_config(path, "sft")
    path.write_text("sft:\n  taks: [demo_vqa]\n")
    with pytest.raises(XrayBenchError, match=r"build.yaml: unknown key 'taks'; did you mean 'tasks'\?"):
        load_build_config(path, "sft")
    path.write_text("limit: many\n")
    with pytest.raises(XrayBenchError, match=r"key 'limit': expected int or null, got 'many'"):
        load_build_config(path, "sft")
    path.write_text("tasks: [demo_vqq]\n")
    with pytest.raises(XrayBenchError, match="demo_vqa"):
        load_build_config(path, "sft")
    with pytest.raises(XrayBenchError, match="stage"):
        load_build_config(None, "rl")


def grpo_line(**changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "id": "t/1/train", "stage": "grpo", "images": ["img.png"],
        "source": {"dataset": "demo", "task": "t", "split": "train", "sample_id": "1"},
        "prompt": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q?"}]}],
        "ground_truth": "effusion|edema", "answer_form": "list",
    }  # fmt: skip
    record.update(changes)
    return record


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["{not json"], r":1: not valid JSON"),
        ([grpo_line(stage="sft")], r':1: expected "stage": "grpo"'),
        ([grpo_line(), grpo_line()], r":2: duplicate id 't/1/train'"),
        ([grpo_line(images=["missing.png"])], r":1: expected existing image files"),
        ([grpo_line(images=["img.png", "img.png"])], r":1: expected user content: 2 \{\"type\": \"image\"\}"),
        ([grpo_line(answer_form="short")], r':1: expected "answer_form": "list"'),
        ([grpo_line(ground_truth="")], r':1: expected a non-empty string "ground_truth"'),
        ([grpo_line(source={"dataset": "demo"})], r':1: expected "source" with string'),
        ([], "no grpo records"),
    ],
)
def test_read_records_names_line_and_expectation(tmp_path: Path, lines: list[object], message: str) -> None:
    (tmp_path / "img.png").write_bytes(b"x")
    path = tmp_path / "grpo.jsonl"
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    with pytest.raises(DataFormatError, match=message):
        read_records(path, "grpo")


def test_read_records_resolves_relative_images(tmp_path: Path) -> None:
    (tmp_path / "img.png").write_bytes(b"x")
    path = tmp_path / "grpo.jsonl"
    path.write_text(json.dumps(grpo_line()) + "\n\n")
    (record,) = read_records(path, "grpo")
    assert record["images"] == [str(tmp_path / "img.png")]
    chat = {"id": "a", "stage": "sft", "images": [str(tmp_path / "img.png")], "source": grpo_line()["source"],
            "messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q?"}]},
                         {"role": "assistant", "content": [{"type": "text", "text": ""}]}]}  # fmt: skip
    path.write_text(json.dumps(chat) + "\n")
    with pytest.raises(DataFormatError, match="assistant content"):
        read_records(path, "sft")


def test_answer_form_matches_the_reward_branches() -> None:
    assert answer_form("effusion|edema") == "list"
    assert answer_form("a | b") == "list"
    assert answer_form("No Finding") == "short"
    assert answer_form("left lower lobe") == "report"
    assert answer_form(" | ".join(["effusion"] * 11)) == "report"  # 21 words


BUILD_IN_A_SMALL_FILE_LIMIT = """
import resource, sys
from medix_train.data import BuildDataConfig, build_data
from xraybench.errors import XrayBenchError
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # the kernel then refuses to grow a file: EFBIG
try:
    build_data(BuildDataConfig(stage="sft", tasks=sys.argv[3].split(","), out_dir=sys.argv[1], progress=False))
except XrayBenchError as exc:
    print(exc)
    sys.exit(1)
"""


def test_a_full_disk_names_the_records_file_leaves_no_torn_line_and_the_rerun_completes(tmp_path: Path) -> None:
    """Regression (issue 16): build-data wrote with flush only; a full disk raised a raw OSError traceback and left
    a half line. Now its `AppendLog` names the file, cuts the batch back, and the rerun finishes the same file."""
    import subprocess
    import sys

    pytest.importorskip("resource")
    clean = build_data(config(tmp_path / "clean", "sft"))
    size = clean.stat().st_size
    out = tmp_path / "full" / "out"  # where config(tmp_path / "full", ...) writes
    done = subprocess.run(
        [sys.executable, "-c", BUILD_IN_A_SMALL_FILE_LIMIT, str(out), str(size // 2), ",".join(DEMO_TASKS)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    path = out / "sft.jsonl"
    assert done.returncode == 1, done.stderr
    assert f"could not write {path}: no space left on device" in done.stdout and "Traceback" not in done.stderr
    text = path.read_text()
    assert 0 < len(text) <= size // 2 and text.endswith("\n")  # whole records only
    assert len(text.splitlines()) % WRITE_BATCH == 0  # whole fsynced batches
    build_data(config(tmp_path / "full", "sft"))
    assert path.read_text() == clean.read_text()  # nothing lost, nothing twice, same order
