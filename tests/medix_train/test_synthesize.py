"""Cold-start synthesis: the filter, the offline template teacher, and a scripted teacher over real HTTP.

Prompt records are invented here (no real report text). The scripted teacher answers per question: good
answers, bad boxes, wrong answers, a missing `\\boxed{}`, with 429/500 faults injected; the filter must keep
exactly the good ones, a rerun must make no request, the budget cap must stop, and governance must refuse
credentialed samples for a remote teacher before any call.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from medix_train.data import answer_form, read_records
from medix_train.synthesis_filter import check_boxes, judge_answer
from medix_train.synthesize import SynthesizeConfig, load_synthesize_config, read_jobs, synthesize
from medix_train.teacher_prompt import TEACHER_SYSTEM, template_teacher
from xraybench.callstore import CallStore
from xraybench.errors import DataFormatError, XrayBenchError
from xraybench.prompts import render_prompt
from xraybench.retry import RetryPolicy
from xraybench.testing.openai_server import Fault, OpenAIServer

FAST = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05)
REPORT = "The heart is normal in size. There is a small left pleural effusion. No pneumothorax."

# question -> (ground truth, scripted teacher answer, expected verdict: None = kept, else the drop reason)
SCRIPT: dict[str, tuple[str, str, str | None]] = {
    "Q1 Which findings are present?": (
        "effusion|cardiomegaly",
        "<think>Blunted left angle [300, 340, 450, 470]; wide heart [160, 200, 380, 400].</think> "
        "\\boxed{effusion|cardiomegaly}",
        None,
    ),
    "Q2 Is there a pneumothorax?": ("no", "<think>Apices clear [60, 40, 200, 150].</think>\\boxed{no}", None),
    "Q3 Describe the findings.": (
        REPORT,
        f"<think>Heart [170, 210, 370, 400] normal; left base [300, 330, 460, 480] fluid.</think> \\boxed{{{REPORT}}}",
        None,
    ),
    "Q4 Is there an effusion?": (
        "yes",
        "<think>Left base [300, 330, 600, 480].</think>\\boxed{yes}",
        "box_outside_image",
    ),
    "Q5 Is there an effusion?": (
        "yes",
        "<think>Left base [-4, 330, 100, 480].</think>\\boxed{yes}",
        "box_outside_image",
    ),
    "Q6 Is there an effusion?": ("yes", "<think>Left base [300, 330, 460].</think>\\boxed{yes}", "malformed_box"),
    "Q7 Is there an effusion?": ("yes", "<think>Left base [460, 330, 300, 480].</think>\\boxed{yes}", "inverted_box"),
    "Q8 Is the heart enlarged?": ("no", "<think>Heart [170, 210, 370, 400] wide.</think>\\boxed{yes}", "wrong_answer"),
    "Q9 Is the heart enlarged?": (
        "no",
        "<think>Heart [170, 210, 370, 400] normal.</think> The answer is no.",
        "format",
    ),
    "Q10 Is there a nodule?": ("no", "<think>The lungs look clear.</think>\\boxed{no}", "too_few_boxes"),
}
GOOD = {"r1", "r2", "r3"}


def record(n: int, question: str, truth: str, *, dataset: str = "demo", credentialed: bool = False,
           metadata: dict[str, Any] | None = None, image: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A stage-2 prompt record as build-data writes it; the image path is relative to the records file."""
    rec: dict[str, Any] = {
        "id": f"r{n}", "stage": "coldstart_prompts", "images": [image or f"img{n}.png"],
        "source": {"dataset": dataset, "task": "t", "split": "train", "sample_id": f"s{n}",
                   "credentialed": credentialed},
        "prompt": [{"role": "user", "content": [{"type": "image"},
                                                {"type": "text", "text": render_prompt(question, "reasoning")}]}],
        "ground_truth": truth, "answer_form": answer_form(truth),
    }  # fmt: skip
    if metadata:
        rec["metadata"] = metadata
    return rec


def write_records(path: Path, records: list[dict[str, Any]], image_size: tuple[int, int] = (8, 8)) -> Path:
    """The records file and a small grey image for each image path it names."""
    from PIL import Image

    for rec in records:
        for image in rec["images"]:
            if not (path.parent / image).exists():
                Image.new("L", image_size, 128).save(path.parent / image)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def scripted_records(tmp_path: Path) -> Path:
    recs = [record(i, q, truth) for i, (q, (truth, _, _)) in enumerate(SCRIPT.items(), start=1)]
    return write_records(tmp_path / "prompts.jsonl", recs)


def question_in(body: dict[str, Any]) -> str:
    text = json.dumps(body["messages"])
    return next(q for q in sorted(SCRIPT, key=len, reverse=True) if q in text)


def teacher_reply(body: dict[str, Any]) -> str:
    return SCRIPT[question_in(body)][1]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def config_for(tmp_path: Path, prompts: Path, server: OpenAIServer | None = None, **kw: Any) -> SynthesizeConfig:
    base: dict[str, Any] = {"teacher": "openai/teacher", "prompts": str(prompts), "out": str(tmp_path / "out" /
                            "coldstart.jsonl"), "max_concurrency": 4}  # fmt: skip
    if server is not None:
        base["api_base"] = server.base_url
    base.update(kw)
    return SynthesizeConfig(**base)


# -- the filter --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "expected"), [(q, v[2]) for q, v in SCRIPT.items()])
def test_filter_decides_each_scripted_answer(question: str, expected: str | None) -> None:
    truth, answer, _ = SCRIPT[question]
    assert judge_answer(answer, truth, min_score=0.5).reason == expected


def test_box_checks() -> None:
    assert check_boxes("[0, 0, 512, 512] and [1.5, 2, 3.25, 4]") is None
    assert check_boxes("[[10, 10, 20, 20]]") is None  # the reward counts the inner box
    assert check_boxes("[10, 10, 513, 20]") == ("box_outside_image", "[10, 10, 513, 20]")
    assert check_boxes("[10 ,10, 30, 20]")[0] == "malformed_box"  # type: ignore[index]  # space before a comma
    assert check_boxes("[10, 10, 30, 20, 40]")[0] == "malformed_box"  # type: ignore[index]
    assert check_boxes("[10, 20, 30, 20]")[0] == "inverted_box"  # type: ignore[index]  # empty height
    assert check_boxes("cite as [x_min, y_min, x_max, y_max]") is None  # no digits: not meant as a box


def test_filter_threshold_on_reports() -> None:
    text = "<think>Heart [170, 210, 370, 400].</think>\\boxed{Lungs are clear.}"
    verdict = judge_answer(text, REPORT, min_score=0.5)
    assert verdict.reason == "wrong_answer" and verdict.score is not None and verdict.score < 0.5
    assert judge_answer(text, REPORT, min_score=0.0).kept


# -- the offline template teacher --------------------------------------------------------------------------


def test_template_teacher_writes_records_in_the_data_format_and_resumes(tmp_path: Path) -> None:
    meta = {"bboxes": [[200, 400, 600, 800, "Effusion"]], "image_size": [1024, 1024]}
    recs = [record(1, "Which findings?", "effusion|nodule", metadata=meta), record(2, "Is it normal?", "yes"),
            record(3, "Describe.", REPORT)]  # fmt: skip
    prompts = write_records(tmp_path / "prompts.jsonl", recs)
    config = config_for(tmp_path, prompts, teacher="builtin:template")
    report = synthesize(config, progress=False)
    assert (report.n_kept, report.n_rejected, report.n_pending, report.n_requests) == (3, 0, 0, 0)
    out = read_records(config.out_path, "coldstart")  # the trainer's reader accepts the output
    first = out[0]
    assert (
        first["id"] == "r1"
        and first["stage"] == "coldstart"
        and first["images"] == [str((tmp_path / "img1.png").resolve())]
    )
    user, assistant = first["messages"]
    assert user["content"] == [
        {"type": "image"},
        {"type": "text", "text": render_prompt("Which findings?", "reasoning")},
    ]
    target = assistant["content"][0]["text"]
    assert "[100, 200, 300, 400]" in target  # the known box scaled from 1024x1024 to 512x512
    assert target.endswith("\\boxed{effusion|nodule}")
    again = synthesize(config, progress=False)
    assert (again.n_done_before, again.n_kept) == (3, 0) and len(read_jsonl(config.out_path)) == 3


def test_template_teacher_without_boxes_cites_default_regions() -> None:
    text = template_teacher("Is it normal?", "yes", [])
    assert judge_answer(text, "yes", min_score=1.0).kept


# -- a scripted teacher over real HTTP ---------------------------------------------------------------------


def test_scripted_teacher_filter_keeps_exactly_the_good_answers_and_rerun_makes_no_call(tmp_path: Path) -> None:
    prompts = scripted_records(tmp_path)
    faults = [Fault.rate_limit(retry_after=0.01), Fault.server_error(500), Fault.server_error(503)]
    n_faults = len(faults)  # the server consumes the plan
    with OpenAIServer(reply_fn=teacher_reply, fault_plan=faults) as server:
        config = config_for(tmp_path, prompts, server)
        report = synthesize(config, progress=False, policy=FAST)
        n_first = len(server.chat_requests())
        again = synthesize(config, progress=False, policy=FAST)
        n_second = len(server.chat_requests())
    assert {r["id"] for r in read_jsonl(config.out_path)} == GOOD
    rejected = {r["id"]: r["reason"] for r in read_jsonl(config.rejected_path)}
    expected = {f"r{i}": v[2] for i, v in enumerate(SCRIPT.values(), start=1) if v[2] is not None}
    assert rejected == expected
    assert report.n_kept == 3 and report.n_rejected == 7 and report.n_pending == 0
    assert report.rejected_by_reason == {"box_outside_image": 2, "malformed_box": 1, "inverted_box": 1,
                                         "wrong_answer": 1, "format": 1, "too_few_boxes": 1}  # fmt: skip
    assert n_first == len(SCRIPT) + n_faults and report.n_requests == n_first
    assert n_second == n_first and again.n_requests == 0 and again.n_done_before == len(SCRIPT)
    system = server.chat_requests()[0].body["messages"][0]["content"]
    assert system == TEACHER_SYSTEM
    with CallStore(config.store_path) as store:
        assert store.totals(kind="synthesis").n_ok == len(SCRIPT)


def test_killed_before_writing_outputs_rerun_uses_stored_answers(tmp_path: Path) -> None:
    prompts = scripted_records(tmp_path)
    with OpenAIServer(reply_fn=teacher_reply) as server:
        config = config_for(tmp_path, prompts, server)
        synthesize(config, progress=False, policy=FAST)
        n_paid = len(server.chat_requests())
        config.out_path.unlink()  # as if killed after the calls, before the records were written;
        lines = config.rejected_path.read_text(encoding="utf-8").splitlines(keepends=True)
        config.rejected_path.write_text("".join(lines[:3]) + lines[3][:10], encoding="utf-8")  # ... mid-line
        report = synthesize(config, progress=False, policy=FAST)
        assert len(server.chat_requests()) == n_paid
    assert report.n_requests == 0 and report.n_done_before == 3 and report.n_kept == 3 and report.n_rejected == 4
    assert len(read_jsonl(config.rejected_path)) == 7


def test_truncated_answer_stays_pending_and_is_asked_again(tmp_path: Path) -> None:
    prompts = write_records(tmp_path / "p.jsonl", [record(2, "Q2 Is there a pneumothorax?", "no")])
    with OpenAIServer(reply_fn=teacher_reply, fault_plan=[Fault("length", max_words=2)]) as server:
        config = config_for(tmp_path, prompts, server)
        first = synthesize(config, progress=False, policy=FAST)
        second = synthesize(config, progress=False, policy=FAST)
    assert (first.n_pending, first.n_kept) == (1, 0) and "truncated" in first.failures[0]["error"]
    assert (second.n_pending, second.n_kept, second.n_requests) == (0, 1, 1)


def test_cli_exits_3_while_records_are_pending(tmp_path: Path) -> None:
    from xraybench.cli import main

    prompts = write_records(tmp_path / "p.jsonl", [record(2, "Q2 Is there a pneumothorax?", "no")])
    out = tmp_path / "out" / "coldstart.jsonl"
    with OpenAIServer(reply_fn=teacher_reply, fault_plan=[Fault("length", max_words=2)]) as server:
        argv = ["train", "synthesize", "--teacher", "openai/teacher", "--api-base", server.base_url,
                "--prompts", str(prompts), "--out", str(out)]  # fmt: skip
        assert main(argv) == 3  # the truncated answer is pending
        assert main(argv) == 0  # asked again, kept


def test_budget_cap_stops_and_a_rerun_continues(tmp_path: Path) -> None:
    prompts = scripted_records(tmp_path)
    with OpenAIServer(reply_fn=teacher_reply) as server:
        # worst case per request ~ (prompt ~500 tokens + 64 max tokens) x $0.01/1k ~ $0.006; actual ~ $0.0015
        config = config_for(tmp_path, prompts, server, price_per_1k_tokens=0.01, max_tokens=64, budget_usd=0.008,
                            max_concurrency=1)  # fmt: skip
        capped = synthesize(config, progress=False, policy=FAST)
        assert capped.budget_stopped and capped.n_pending > 0 and capped.cost_usd <= 0.008
        assert capped.n_kept + capped.n_rejected + capped.n_pending == len(SCRIPT)
        assert len(server.chat_requests()) == capped.n_requests < len(SCRIPT)
        config.budget_usd = None
        rest = synthesize(config, progress=False, policy=FAST)
    assert rest.n_requests == capped.n_pending and not rest.budget_stopped
    assert {r["id"] for r in read_jsonl(config.out_path)} == GOOD


def test_dry_run_estimates_and_makes_no_call(tmp_path: Path) -> None:
    prompts = scripted_records(tmp_path)
    with OpenAIServer(reply_fn=teacher_reply) as server:
        config = config_for(tmp_path, prompts, server, price_per_1k_tokens=0.01, dry_run=True)
        report = synthesize(config, progress=False)
        assert server.chat_requests() == []
    assert report.estimate.n_calls == len(SCRIPT) and report.estimate.cost_usd > 0
    assert not config.out_path.exists() and "dry run" in "\n".join(report.summary_lines())


def test_governance_refuses_credentialed_samples_for_a_remote_teacher_before_any_call(tmp_path: Path) -> None:
    prompts = write_records(tmp_path / "p.jsonl", [record(1, "Q2 Is there a pneumothorax?", "no", dataset="mimic_cxr",
                                                         credentialed=True)])  # fmt: skip
    config = config_for(tmp_path, prompts, api_base="http://teacher.example.org/v1")
    with pytest.raises(XrayBenchError, match="refusing to synthesize.*mimic_cxr"):
        synthesize(config, progress=False)
    with CallStore(config.store_path) as store:
        assert store.totals().attempts == 0
    assert not config.out_path.exists() or read_jsonl(config.out_path) == []


def test_checker_drops_unsupported_reasoning(tmp_path: Path) -> None:
    questions = list(SCRIPT)[:3]  # all three pass the filter
    prompts = write_records(tmp_path / "p.jsonl", [record(i, q, SCRIPT[q][0]) for i, q in enumerate(questions, 1)])
    verdicts = {"Q1": "Yes.", "Q2": "No, the reasoning does not mention the apices' markings.", "Q3": "maybe"}

    def reply(body: dict[str, Any]) -> str:
        text = json.dumps(body["messages"])
        if "Does the reasoning support the answer?" in text:
            return verdicts[question_in(body).split()[0]]
        return teacher_reply(body)

    with OpenAIServer(reply_fn=reply) as server:
        config = config_for(tmp_path, prompts, server, checker="openai/checker", checker_api_base=server.base_url)
        report = synthesize(config, progress=False, policy=FAST)
    assert {r["id"] for r in read_jsonl(config.out_path)} == {"r1"}
    assert report.rejected_by_reason == {"checker_rejected": 1} and report.n_pending == 1  # r3: never yes or no
    assert report.n_requests == 3 + 1 + 1 + 2  # three teacher answers, two checks, one check plus its re-ask


def test_images_are_sent_as_512_data_urls_and_boxes_scaled_from_the_file_size(tmp_path: Path) -> None:
    import base64
    import io

    from PIL import Image

    meta = {"bboxes": [[100, 50, 200, 150, "Nodule"]]}  # no image_size: taken from the 1024x256 file
    recs = [record(2, "Q2 Is there a pneumothorax?", "no", metadata=meta)]
    prompts = write_records(tmp_path / "p.jsonl", recs, image_size=(1024, 256))
    with OpenAIServer(reply_fn=teacher_reply) as server:
        synthesize(config_for(tmp_path, prompts, server, send_images=True), progress=False, policy=FAST)
        content = server.chat_requests()[0].body["messages"][1]["content"]
    url = content[0]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).size == (512, 512)
    assert "- Nodule: [50, 100, 100, 300]" in content[1]["text"]


# -- config and bad input ----------------------------------------------------------------------------------


def test_yaml_config_with_overrides_and_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("teacher: openai/x\nprompts: p.jsonl\nout: o.jsonl\nbudget_usd: 2\nallow_provider: [openai]\n")
    config = load_synthesize_config(path, teacher="builtin:template", dry_run=None)
    assert (config.teacher, config.budget_usd, config.allow_provider) == ("builtin:template", 2.0, ["openai"])
    path.write_text("teachr: openai/x\n")
    with pytest.raises(XrayBenchError, match="did you mean 'teacher'"):
        load_synthesize_config(path)
    path.write_text("max_concurrency: many\n")
    with pytest.raises(XrayBenchError, match=r"s.yaml: key .max_concurrency.: expected int, got .many."):
        load_synthesize_config(path)


def test_bad_prompt_record_names_file_and_line(tmp_path: Path) -> None:
    good = record(1, "Q?", "yes")
    bad = {k: v for k, v in record(2, "Q?", "no").items() if k != "ground_truth"}
    path = write_records(tmp_path / "p.jsonl", [good, bad])
    with pytest.raises(DataFormatError, match=r"p\.jsonl:2: .*ground_truth"):
        read_jobs(path)


def test_kill_9_mid_run_then_rerun_pays_for_no_stored_answer(tmp_path: Path) -> None:
    """A real `xraybench train synthesize` process killed mid-run: the rerun asks only what was not stored."""
    import os
    import signal
    import subprocess
    import sys
    import time

    prompts = scripted_records(tmp_path)

    def slow_reply(body: dict[str, Any]) -> str:
        time.sleep(0.3)
        return teacher_reply(body)

    with OpenAIServer(reply_fn=slow_reply) as server:
        config = config_for(tmp_path, prompts, server, max_concurrency=2)
        cmd = [sys.executable, "-m", "xraybench", "train", "synthesize", "--teacher", "openai/teacher", "--api-base",
               server.base_url, "--prompts", str(prompts), "--out", str(config.out_path), "--max-concurrency", "2"]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if config.store_path.exists():
                with CallStore(config.store_path) as store:
                    if store.totals(kind="synthesis").n_ok >= 3:
                        break
            time.sleep(0.05)
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.communicate()}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with CallStore(config.store_path) as store:
            stored = store.totals(kind="synthesis").n_ok
        asked_before = len(server.chat_requests())
        report = synthesize(config, progress=False, policy=FAST)
        assert len(server.chat_requests()) - asked_before == len(SCRIPT) - stored
    assert 3 <= stored < len(SCRIPT) and report.n_requests == len(SCRIPT) - stored
    assert {r["id"] for r in read_jsonl(config.out_path)} == GOOD
    assert len(read_jsonl(config.out_path)) + len(read_jsonl(config.rejected_path)) == len(SCRIPT)


SYNTHESIZE_IN_A_SMALL_FILE_LIMIT = """
import resource, sys
from medix_train.synthesize import SynthesizeConfig, synthesize
from xraybench.errors import XrayBenchError
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # the kernel then refuses to grow a file: EFBIG
try:
    synthesize(SynthesizeConfig(teacher="builtin:template", prompts=sys.argv[1], out=sys.argv[2]), progress=False)
except XrayBenchError as exc:
    print(exc)
    sys.exit(1)
"""


def test_a_full_disk_names_the_output_file_and_the_rerun_writes_each_record_once(tmp_path: Path) -> None:
    """Regression (issue 16): synthesis had its own appender that let a full disk out as a raw OSError traceback
    and kept the half line it wrote. Now the shared `AppendLog` names the file and cuts the record back."""
    import subprocess
    import sys

    pytest.importorskip("resource")
    recs = [record(i, f"Describe study {i}.", REPORT) for i in range(1, 41)]
    prompts = write_records(tmp_path / "prompts.jsonl", recs)
    clean = config_for(tmp_path / "clean", prompts, teacher="builtin:template")
    assert synthesize(clean, progress=False).n_kept == 40
    size = clean.out_path.stat().st_size
    config = config_for(tmp_path, prompts, teacher="builtin:template")
    done = subprocess.run(
        [sys.executable, "-c", SYNTHESIZE_IN_A_SMALL_FILE_LIMIT, str(prompts), str(config.out_path), str(size // 2)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert f"could not write {config.out_path}: no space left on device" in done.stdout
    assert "Traceback" not in done.stderr
    text = config.out_path.read_text()
    assert 0 < len(text) <= size // 2 and text.endswith("\n")  # whole records only
    again = synthesize(config, progress=False)
    assert again.n_done_before == len(text.splitlines()) and again.n_kept == 40 - again.n_done_before
    assert config.out_path.read_text() == clean.out_path.read_text()  # nothing lost, nothing twice, same order
