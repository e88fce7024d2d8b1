from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from xraybench.cli import main
from xraybench.taskdata import load_task


def test_list_shows_everything(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("mimic_cxr_findings", "cxr14", "xraybench", "baseline", "predictions", "meteor", "chexpert"):
        assert name in out


def test_samples_jsonl(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["samples", "--task", "demo_vqa", "--jsonl", "--limit", "5"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(rows) == 5
    assert set(rows[0]) >= {"id", "prompt", "reference", "image_paths", "metadata"}
    assert Path(rows[0]["image_paths"][0]).exists()


def test_validate_reports_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    samples = load_task("demo_classification").samples
    f = tmp_path / "p.jsonl"
    lines = [json.dumps({"id": s.id, "prediction": "No Finding"}) for s in samples[1:]]
    lines += [
        json.dumps({"id": samples[1].id, "prediction": "x"}),
        "{oops",
        json.dumps({"id": "ghost", "prediction": ""}),
    ]
    f.write_text("\n".join(lines) + "\n")
    assert main(["validate", "--model", f"predictions:{f}", "--tasks", "demo_classification"]) == 1
    out = capsys.readouterr().out
    assert f"malformed: {f}:{len(samples) + 1}: invalid JSON" in out
    assert f"malformed: {f}:{len(samples)}: a second prediction for id '{samples[1].id}' (first on line 1" in out
    assert f"demo_classification: {len(samples) - 1}/{len(samples)} covered, 1 missing" in out
    assert f"unknown ids (in no task): 1:\n  {f}:{len(samples) + 2}: id 'ghost'" in out


def test_validate_clean_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    samples = load_task("demo_findings").samples
    f = tmp_path / "p.jsonl"
    f.write_text("".join(json.dumps({"id": s.id, "prediction": "x"}) + "\n" for s in samples))
    assert main(["validate", "--model", f"predictions:{f}", "--tasks", "demo_findings"]) == 0
    assert capsys.readouterr().out.strip().endswith("OK")


def test_errors_are_one_clear_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["run", "--model", "baseline:normal", "--tasks", "demo_vqq", "--out", str(tmp_path / "r")]) == 1
    assert "Did you mean 'demo_vqa'" in capsys.readouterr().err
    assert main(["run", "--model", "hff:x", "--tasks", "demo_vqa", "--out", str(tmp_path / "r2")]) == 1
    assert "unknown model adapter 'hff'" in capsys.readouterr().err
    assert (
        main(["run", "--model", "baseline:normal", "--tasks", "iu_xray_findings", "--out", str(tmp_path / "r3")]) == 1
    )
    assert "--data-root iu_xray=PATH" in capsys.readouterr().err


def test_console_script_runs_demo(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "xraybench",
            "run",
            "--model",
            "baseline:normal",
            "--tasks",
            "demo_impression",
            "--out",
            str(tmp_path / "r"),
            "--bootstrap-rounds",
            "20",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "demo_impression" in out.stdout and "results:" in out.stdout
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["tasks"]["demo_impression"]["metrics"]["bleu_4"]["value"] is not None


def test_score_prints_one_json_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hyps, refs = tmp_path / "h.txt", tmp_path / "r.txt"
    hyps.write_text("No pleural effusion. Heart size is normal.\nSmall left effusion.\n")
    refs.write_text("There is no pleural effusion. The heart is normal in size.\nSmall left pleural effusion.\n")
    assert (
        main(["score", "--hyps", str(hyps), "--refs", str(refs), "--metrics", "bleu,rouge_l,cider,chexpert", "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    for key in ("bleu_1", "bleu_4", "rouge_l", "cider", "chexpert_micro_f1_5", "chexpert_macro_f1_14"):
        assert isinstance(out[key], float)
    assert out["tokenizer"] == "coco" and out["n"] == 2


def test_score_line_count_mismatch_names_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hyps, refs = tmp_path / "h.txt", tmp_path / "r.txt"
    hyps.write_text("a\nb\n")
    refs.write_text("a\n")
    assert main(["score", "--hyps", str(hyps), "--refs", str(refs), "--metrics", "bleu"]) == 1
    assert f"{refs} has 1 lines but {hyps} has 2" in capsys.readouterr().err


def test_compare_two_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, model in (("a", "baseline:normal"), ("b", "baseline:retrieval")):
        assert (
            main(
                [
                    "run",
                    "--model",
                    model,
                    "--tasks",
                    "demo",
                    "--out",
                    str(tmp_path / name),
                    "--bootstrap-rounds",
                    "20",
                    "--no-progress",
                    "--skip-metrics",
                    "meteor",
                ]
            )
            == 0
        )
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--rounds", "200", "--json"]) == 0
    rows = {(r["task"], r["metric"]): r for r in json.loads(capsys.readouterr().out)}
    acc = rows[("demo_vqa", "vqa_accuracy")]
    assert acc["diff"] == pytest.approx(acc["a"] - acc["b"])
    assert acc["rel_gain"] == pytest.approx((acc["a"] - acc["b"]) / acc["b"])
    assert acc["ci_low"] <= acc["diff"] <= acc["ci_high"]
    assert 0 <= acc["p_bootstrap"] <= 1 and 0 <= acc["p_randomization"] <= 1
    suite = rows[("suite:demo", "bleu_4")]
    results_a = json.loads((tmp_path / "a" / "results.json").read_text())
    assert suite["a"] == results_a["suites"]["demo"]["metrics"]["bleu_4"]["value"]
    assert suite["rel_gain"] == pytest.approx((suite["a"] - suite["b"]) / suite["b"])
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--rounds", "50"]) == 0
    assert "gain of A over B" in capsys.readouterr().out
    # values that cannot be computed are null with a reason, never a bare NaN (invalid JSON) or "p = nan"
    assert main(["compare", str(tmp_path / "b"), str(tmp_path / "a"), "--rounds", "50", "--json"]) == 0

    def no_nan(constant: str) -> None:
        raise AssertionError(f"compare --json wrote {constant}")

    strict = json.loads(capsys.readouterr().out, parse_constant=no_nan)
    zero_b = next(r for r in strict if r["b"] == 0 and r["a"] != 0)  # the normal baseline's chexpert_*_5 are 0
    assert zero_b["rel_gain"] is None and zero_b["why"]["rel_gain"] == "no relative gain: B is 0"
    corpus = next(r for r in strict if r["metric"] == "chexpert_micro_f1_5" and r["task"] == "demo_findings")
    assert corpus["p_randomization"] is None and "randomisation" in corpus["why"]["p_randomization"]
    assert main(["compare", str(tmp_path / "b"), str(tmp_path / "a"), "--rounds", "50"]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out.lower().replace("nan ", "") and "+nan%" not in out
    assert "no relative gain: B is 0" in out and "no randomisation test" in out


def test_validate_lists_every_problem_in_one_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Malformed rows, unknown ids with their lines, missing ids and every task without a data root: one run."""
    samples = load_task("demo_findings").samples
    f = tmp_path / "p.jsonl"
    rows = [json.dumps({"id": s.id, "prediction": "x"}) for s in samples[2:]]
    f.write_text("\n".join([*rows, '{"id": 3.5, "prediction": "x"}', '{"id": "ghost", "prediction": "x"}']) + "\n")
    tasks = "demo_findings,iu_xray_findings,mimic_cxr_impression"
    assert main(["validate", "--model", f"predictions:{f}", "--tasks", tasks]) == 1
    out = capsys.readouterr().out
    assert f'malformed: {f}:{len(rows) + 1}: "id" must be a string or an integer, found the number 3.5' in out
    assert f"demo_findings: {len(samples) - 2}/{len(samples)} covered, 2 missing" in out
    assert "iu_xray_findings: cannot check: dataset 'iu_xray'" in out and "--data-root iu_xray=PATH" in out
    assert "mimic_cxr_impression: cannot check: dataset 'mimic_cxr'" in out
    assert "unknown ids are not checked: 2 task(s) could not be loaded" in out
    assert out.rstrip().endswith("PROBLEMS FOUND")
    assert main(["validate", "--model", f"predictions:{f}", "--tasks", "demo_findings"]) == 1
    assert f"{f}:{len(rows) + 2}: id 'ghost'" in capsys.readouterr().out


def test_score_keeps_an_empty_last_hypothesis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`printf 'a.\\nb.\\n\\n'` holds three hypotheses, the last one empty (a legal empty hypothesis)."""
    hyps, refs = tmp_path / "h.txt", tmp_path / "r.txt"
    hyps.write_text("no effusion.\nheart is normal.\n\n")
    refs.write_text("no effusion.\nheart is normal.\nlungs are clear.\n")
    assert (
        main(["score", "--hyps", str(hyps), "--refs", str(refs), "--metrics", "rouge_l", "--json", "--per-sample"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 3 and out["per_sample"]["rouge_l"] == [1.0, 1.0, 0.0]


def test_score_offers_rouge_score_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rouge_score.rouge_scorer import RougeScorer

    hyps, refs = tmp_path / "h.txt", tmp_path / "r.txt"
    pairs = [("small left effusions seen", "small left pleural effusion"), ("heart size normal", "the heart is normal")]
    hyps.write_text("".join(h + "\n" for h, _ in pairs))
    refs.write_text("".join(r + "\n" for _, r in pairs))
    argv = ["score", "--hyps", str(hyps), "--refs", str(refs), "--json"]
    assert main([*argv, "--metrics", "rouge1,rouge2,rougeL"]) == 0
    out = json.loads(capsys.readouterr().out)
    scorer = RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    for key in ("rouge1", "rouge2", "rougeL"):
        expected = sum(scorer.score(r, h)[key].fmeasure for h, r in pairs) / len(pairs)
        assert abs(out[key] - expected) < 1e-9
    assert main([*argv, "--metrics", "rouge2", "--no-stemmer"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "rouge1" not in out and "rouge2" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "the file is empty"), (b"fine\nbad \xff byte\n", "h.txt:2: not UTF-8 text")],
)
def test_score_refuses_empty_and_non_utf8_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    hyps, refs = tmp_path / "h.txt", tmp_path / "r.txt"
    hyps.write_bytes(content)
    refs.write_text("a\nb\n")
    assert main(["score", "--hyps", str(hyps), "--refs", str(refs), "--metrics", "rouge_l"]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
