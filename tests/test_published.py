"""Published baselines: package data, the committed leaderboard files, and `compare RUN published:NAME`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xraybench.cli import main
from xraybench.errors import XrayBenchError
from xraybench.published import (
    FILES,
    MARK,
    compare_published,
    get_published,
    published_baselines,
    render_files,
    write_published,
)

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "leaderboards" / "published"


def test_numbers_and_source() -> None:
    pub = get_published("published:deepmedix-r1")
    assert "2509.03906" in pub.source and "figure" in pub.source
    report, vqa, review = pub.tables
    assert report.rows["DeepMedix-R1"] == (0.222, 0.287, 0.281, 0.511, 0.428, 0.486, 0.281, 0.293)
    assert report.rows["MedGemma"][-1] == 0.224 and report.rows["LLaVA-Rad"][3] == 0.490
    assert vqa.rows["Qwen2.5-VL-7B"] == (0.28,) and len(vqa.rows) == 7
    assert review.rows["DeepMedix-R1"] == (0.7416, 0.771)
    assert pub.models()[:3] == ["DeepMedix-R1", "LLaVA-Rad", "MedGemma"]


def test_committed_files_in_sync(tmp_path: Path) -> None:
    """`leaderboards/published/` is exactly what the package data renders (`python -m xraybench.published`)."""
    for pub in published_baselines().values():
        for filename, text in render_files(pub).items():
            committed = COMMITTED / pub.name / filename
            assert committed.read_text(encoding="utf-8") == text, f"regenerate {committed}"
    written = write_published(tmp_path)
    assert sorted(p.name for p in written) == sorted(FILES * len(published_baselines()))  # each baseline's files
    data = json.loads((tmp_path / "deepmedix-r1" / "leaderboard.json").read_text())
    assert data["published"] is True and "chexbert_micro_f1_5" in data["metric_columns"]
    row = next(r for r in data["models"] if r["model"] == "CheXagent")
    assert row["metrics"]["vqa_overall"] == 0.56 and row["metrics"]["rouge_l"] is None
    assert MARK.capitalize() in (tmp_path / "deepmedix-r1" / "leaderboard.md").read_text()


def _run(tmp_path: Path, suites: dict | None, tasks: dict) -> Path:
    run = tmp_path / "run"
    run.mkdir(parents=True)
    body = {"schema_version": 1, "suites": suites or {}, "tasks": tasks}
    (run / "results.json").write_text(json.dumps(body))
    return run


def _metrics(**values: float) -> dict:
    return {"metrics": {k: {"value": v, "ci_low": None, "ci_high": None} for k, v in values.items()}}


def test_compare_rows(tmp_path: Path) -> None:
    run = _run(tmp_path, {"xraybench": _metrics(rouge_l=0.3, answer_score=0.6, bleu_4=0.1)}, {})
    rows = compare_published(run, "deepmedix-r1")
    assert [(r["task"], r["metric"]) for r in rows] == [
        ("suite:xraybench", "rouge_l"),
        ("suite:xraybench", "answer_score"),
    ]
    assert rows[0]["published"] == {"DeepMedix-R1": 0.287, "LLaVA-Rad": 0.243, "MedGemma": 0.171}
    assert rows[0]["run"] == 0.3 and rows[0]["note"] == MARK
    per_task = compare_published(_run(tmp_path / "t", None, {"iu_xray_findings": _metrics(meteor=0.2)}), "deepmedix-r1")
    assert [(r["task"], r["published_metric"]) for r in per_task] == [("iu_xray_findings", "METEOR")]


def test_compare_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = _run(tmp_path, None, {"iu_xray_findings": _metrics(rouge_l=0.31), "ext_vqa": _metrics(vqa_accuracy=0.5)})
    assert main(["compare", str(run), "published:deepmedix-r1"]) == 0
    out = capsys.readouterr().out
    assert MARK in out and "0.3100" in out and "DeepMedix-R1" in out and "No significance test" in out
    assert main(["compare", "published:deepmedix-r1", str(run), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {r["metric"] for r in data["rows"]} == {"rouge_l", "vqa_accuracy"}


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(XrayBenchError, match="known: published:deepmedix-r1"):
        get_published("published:nope")
    with pytest.raises(XrayBenchError, match="none of the metrics"):
        compare_published(_run(tmp_path, None, {"t": _metrics(cider=1.0)}), "deepmedix-r1")
    assert main(["compare", "published:deepmedix-r1", "published:deepmedix-r1"]) == 1


def test_compare_only_on_the_published_datasets(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A demo-suite run is never put beside the paper's MIMIC-CXR / IU X-ray numbers; a run on part of the data
    is compared with a loud coverage note, and scopes on other data are listed as left out."""
    demo = _run(tmp_path / "demo", {"demo": _metrics(rouge_l=0.3, answer_score=0.5)}, {})
    with pytest.raises(XrayBenchError, match="nothing to compare .* suite:demo on demo, but the published numbers"):
        compare_published(demo, "deepmedix-r1")
    assert main(["compare", str(demo), "published:deepmedix-r1"]) == 1
    assert "measured on other data (report: mimic_cxr, iu_xray" in capsys.readouterr().err
    mixed = _run(tmp_path / "mixed", None, {"iu_xray_findings": _metrics(rouge_l=0.3),
                                            "demo_findings": _metrics(rouge_l=0.2)})  # fmt: skip
    rows = compare_published(mixed, "deepmedix-r1")
    assert [(r["task"], r["run"]) for r in rows] == [("iu_xray_findings", 0.3)]
    assert rows[0]["coverage"].startswith("partial: this run's report tasks cover iu_xray")
    assert rows[0]["left_out"] == {"demo_findings": ["demo"]}
    assert main(["compare", str(mixed), "published:deepmedix-r1"]) == 0
    out = capsys.readouterr().out
    assert "left out: demo_findings (demo)" in out and "partial: this run's report tasks cover iu_xray" in out
    full = _run(tmp_path / "full", {"xraybench": _metrics(rouge_l=0.3)}, {})
    assert compare_published(full, "deepmedix-r1")[0]["coverage"] is None
