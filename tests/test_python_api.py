"""`xraybench.api`: each command is a function taking its config; the CLI only maps argv to that config.

Shown on real IU X-ray reports (tests skip without /work/shared/data): the API and the CLI give the same run, the
same comparison and the same scores, and a command's config loads from YAML with the one loader."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from xraybench import api
from xraybench.cli import main
from xraybench.config import load_config

TASK = "iu_xray_findings"


@pytest.fixture
def roots(shared_data: Path) -> list[str]:
    return [f"iu_xray={shared_data / 'iu_xray'}"]


def _predictions(path: Path, roots: list[str], shift: int) -> str:
    """Real references answered with another study's report (`shift` rows on): a non-trivial score."""
    data = api.samples(api.SamplesConfig(task=TASK, data_roots=roots, limit=20))
    refs = [s.reference for s in data.samples]
    rows = [{"id": s.id, "prediction": refs[(i + shift) % len(refs)]} for i, s in enumerate(data.samples)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f"predictions:{path}"


def _run_argv(model: str, out: Path, roots: list[str]) -> list[str]:
    return ["run", "--model", model, "--tasks", TASK, "--out", str(out), "--data-root", roots[0], "--limit", "20",
            "--bootstrap-rounds", "20", "--no-progress", "--skip-metrics", "meteor"]  # fmt: skip


def test_run_and_compare_through_the_api_equal_the_cli(
    tmp_path: Path, roots: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    model_a, model_b = _predictions(tmp_path / "a.jsonl", roots, 1), _predictions(tmp_path / "b.jsonl", roots, 7)
    config = api.RunConfig(model=model_a, tasks=[TASK], out=str(tmp_path / "api_a"), data_roots=roots, limit=20,
                           bootstrap_rounds=20, progress=False, skip_metrics=["meteor"])  # fmt: skip
    results = api.run(config)
    assert main(_run_argv(model_a, tmp_path / "cli_a", roots)) == 0
    assert main(_run_argv(model_b, tmp_path / "cli_b", roots)) == 0
    from_cli = json.loads((tmp_path / "cli_a" / "results.json").read_text())
    metrics = results["tasks"][TASK]["metrics"]
    assert metrics and metrics == from_cli["tasks"][TASK]["metrics"]
    assert 0 < metrics["bleu_4"]["value"] < 1  # another study's report: neither nothing nor everything

    capsys.readouterr()
    argv = ["compare", str(tmp_path / "cli_a"), str(tmp_path / "cli_b"), "--bootstrap-rounds", "20", "--json"]
    assert main(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    compared = api.compare(api.CompareConfig(run_a=str(tmp_path / "api_a"), run_b=str(tmp_path / "cli_b"),
                                             bootstrap_rounds=20))  # fmt: skip
    assert rows and json.loads(json.dumps(compared["rows"])) == rows
    assert compared["left_out"] == {"A": [], "B": []}


def _report_files(tmp_path: Path, shared_data: Path) -> tuple[Path, Path]:
    with (shared_data / "iu_xray" / "indiana_reports.csv").open(newline="") as fh:
        findings = [r["findings"].replace("\n", " ") for r in csv.DictReader(fh) if r["findings"].strip()][:60]
    hyps, refs = tmp_path / "hyps.txt", tmp_path / "refs.txt"
    hyps.write_text("\n".join(findings[1:] + findings[:1]) + "\n")
    refs.write_text("\n".join(findings) + "\n")
    return hyps, refs


def test_score_from_yaml_api_and_cli_agree(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hyps, refs = _report_files(tmp_path, shared_data)
    yaml_file = tmp_path / "score.yaml"
    yaml_file.write_text(f"hyps: {hyps}\nrefs: {refs}\nmetrics: bleu,rouge_l,rouge1\nstemmer: false\n")
    config = load_config(api.ScoreConfig, yaml_file)
    assert config == api.ScoreConfig(hyps=str(hyps), refs=[str(refs)], metrics=["bleu", "rouge_l", "rouge1"],
                                     stemmer=False)  # fmt: skip
    scores = api.score(config)
    argv = ["score", "--hyps", str(hyps), "--refs", str(refs), "--metrics", "bleu,rouge_l,rouge1", "--no-stemmer"]
    assert main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == scores
    assert scores["n"] == 60 and 0 < scores["rouge1"] < 1 and 0 < scores["bleu_4"] < 1
    assert (
        scores["rouge1"] != api.score(api.ScoreConfig(hyps=str(hyps), refs=[str(refs)], metrics=["rouge1"]))["rouge1"]
    )  # the stemmer setting reached the metric


def test_validate_returns_what_the_cli_prints(
    tmp_path: Path, roots: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    model = _predictions(tmp_path / "p.jsonl", roots, 0)
    lines = (tmp_path / "p.jsonl").read_text().splitlines()
    (tmp_path / "p.jsonl").write_text("\n".join(lines[1:]) + "\n")  # one id missing
    result = api.validate(api.ValidateConfig(model=model, tasks=[TASK], data_roots=roots, limit=20))
    assert (result.ok, result.problems) == (False, 1)
    assert main(["validate", "--model", model, "--tasks", TASK, "--data-root", roots[0], "--limit", "20"]) == 1
    assert capsys.readouterr().out.splitlines() == [*result.lines, "PROBLEMS FOUND"]


def test_importing_the_api_stays_light() -> None:
    heavy = ("torch", "transformers", "vllm", "litellm", "numpy", "arena", "medix_train")
    code = f"import sys, xraybench.api; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
