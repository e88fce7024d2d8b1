"""`xraybench compare RUN published:NAME` in each column's direction: ReXrank's 1/RadCliQ-v1 rises as our RadCliQ-v1
(lower is better) falls, so the run's place among the published models is counted upward in it; a RadCliQ-v1 at or
below 0 has no reciprocal to compare; a published column fed by run metrics of opposite directions is refused.

Run folders as `tests/test_published.py` and `tests/datasets/test_rexrank.py` write them (a results.json with the
task's metric values: RadCliQ needs RadGraph, BERTScore and CheXbert weights that are not here).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xraybench.cli import main
from xraybench.errors import XrayBenchError
from xraybench.published import _table, compare_published, get_published


def _run(tmp_path: Path, **values: float) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    metrics = {k: {"value": v, "ci_low": None, "ci_high": None} for k, v in values.items()}
    body = {"schema_version": 1, "tasks": {"rexrank_iu_xray": {"dataset": "rexrank", "n": 590, "metrics": metrics}}}
    (run / "results.json").write_text(json.dumps(body))
    return run


def test_run_ranks_among_published_models_in_each_columns_direction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # RadCliQ-v1 0.5 -> 1/0.5 = 2.0: only UniRG-CXR's 2.007 is better on the IU table (1/RadCliQ-v1, higher is
    # better); BLEU-2 0.2 is beaten by CheXpertPlus-MIMIC, CheXpertPlus-CheX-MIMIC and UniRG-CXR
    run = _run(tmp_path, radcliq_v1=0.5, rexrank_bleu=0.2)
    rows = {r["metric"]: r for r in compare_published(run, "published:rexrank-iu_xray") if r["table"] == "report"}
    table = get_published("rexrank-iu_xray").tables[0]
    inverse = rows["1/radcliq_v1"]
    assert inverse["direction"] == "higher" and inverse["run"] == pytest.approx(2.0)
    assert inverse["rank"] == {"place": 2, "of": len(table.rows) + 1}
    assert rows["rexrank_bleu"]["direction"] == "higher" and rows["rexrank_bleu"]["rank"]["place"] == 4
    assert main(["compare", str(run), "published:rexrank-iu_xray"]) == 0
    out = capsys.readouterr().out
    assert f"2.0000 (#2/{len(table.rows) + 1})" in out and "1/RadCliQ-v1 (1/radcliq_v1) ↑" in out.replace("\n", "")


def test_radcliq_at_or_below_zero_has_no_reciprocal_to_compare(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A RadCliQ-v1 of -0.2 is better than any published model's, but 1/-0.2 = -5 would show it as the worst."""
    run = _run(tmp_path, radcliq_v1=-0.2)
    rows = compare_published(run, "published:rexrank-iu_xray")
    inverse = next(r for r in rows if r["table"] == "report")
    assert inverse["run"] is None and inverse["rank"] is None
    assert "radcliq_v1 is -0.2000" in inverse["run_why"] and "lower (better)" in inverse["run_why"]
    assert main(["compare", str(run), "published:rexrank-iu_xray"]) == 0
    out = capsys.readouterr().out
    assert "-5.0000" not in out and "would rank it backwards" in out.replace("\n", " ")


def test_a_published_column_fed_by_opposite_directions_is_refused() -> None:
    raw = {"id": "t", "title": "t", "scope": "report", "datasets": ["iu_xray"], "rows": {"M": [1.0]},
           "metrics": [{"id": "x", "label": "X", "run_metrics": ["radcliq_v1", "semb_score"]}]}  # fmt: skip
    with pytest.raises(XrayBenchError, match=r"metric 'x' is compared with run metrics that improve in different"):
        _table(raw, "published.json (test)")
    raw["metrics"][0]["run_metrics"] = ["radcliq_v1"]
    raw["metrics"][0]["transform"] = "reciprocal"
    assert _table(raw, "published.json (test)").metrics[0].run_metrics == ("radcliq_v1",)


def test_no_place_for_a_run_on_part_of_the_tables_data(tmp_path: Path) -> None:
    """DeepMedix-R1's report table is over MIMIC-CXR and IU X-ray: an IU-only run is shown with the partial note,
    but placed among models scored on other items it would be a made-up rank."""
    run = tmp_path / "run"
    run.mkdir()
    metrics = {"rouge_l": {"value": 0.25, "ci_low": None, "ci_high": None}}
    body = {"schema_version": 1, "tasks": {"iu_xray_findings": {"dataset": "iu_xray", "metrics": metrics}}}
    (run / "results.json").write_text(json.dumps(body))
    (row,) = compare_published(run, "published:deepmedix-r1")
    assert row["coverage"].startswith("partial") and row["direction"] == "higher" and row["rank"] is None
    full = tmp_path / "full"
    full.mkdir()
    body = {"schema_version": 1, "suites": {"xraybench": {"metrics": metrics}}, "tasks": {}}
    (full / "results.json").write_text(json.dumps(body))
    (row,) = compare_published(full, "published:deepmedix-r1")
    assert row["coverage"] is None and row["rank"] == {"place": 2, "of": 4}  # below DeepMedix-R1's 0.287 only
