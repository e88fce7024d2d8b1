"""A `schema_version` on every file we write; readers accept files written before versions were recorded and refuse
a newer major version with a message naming the file (`xraybench.schema`).

Regression (issue 16): run.json had no version; `read_results` refused any results.json without exactly version 1,
an older file included (so `compare` and leaderboards could not read it), and answered a newer one with a bare
"schema_version 2, this xraybench reads 1". Run on real IU X-ray reports (skipped without /work/shared/data).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xraybench.cli import main
from xraybench.errors import DataFormatError
from xraybench.results import SCHEMA_VERSION, Results, read_results
from xraybench.runner import RUN_FILE, RUN_SCHEMA_VERSION, RunConfig, RunFolder, run

TASK = "iu_xray_findings"


@pytest.fixture
def finished_run(shared_data: Path, tmp_path: Path) -> tuple[RunConfig, dict]:
    config = RunConfig(
        model="baseline:normal", tasks=[TASK], out=str(tmp_path / "run"),
        data_roots=[f"iu_xray={shared_data / 'iu_xray'}"], limit=12, bootstrap_rounds=10, progress=False,
        skip_metrics=["meteor"],
    )  # fmt: skip
    return config, run(config)


def _rewrite(path: Path, **changes: object) -> dict:
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path.write_text(json.dumps(data, indent=2))
    return data


def test_run_json_is_versioned_an_older_one_resumes_and_a_newer_one_is_refused(
    finished_run: tuple[RunConfig, dict], capsys: pytest.CaptureFixture[str]
) -> None:
    config, results = finished_run
    run_file = Path(config.out) / RUN_FILE
    record = json.loads(run_file.read_text())
    assert record["schema_version"] == RUN_SCHEMA_VERSION == 1
    assert RunFolder(config.out).record().run_id == record["run_id"] == results["run_id"]

    _rewrite(run_file, schema_version=None)  # a folder written before versions were recorded
    again = run(config)
    assert again["run_id"] == results["run_id"] and again["resumed"] is True
    assert again["tasks"][TASK]["metrics"] == results["tasks"][TASK]["metrics"]

    _rewrite(run_file, schema_version=2)
    with pytest.raises(DataFormatError, match=rf"{run_file}: a run folder of schema_version 2, written by a newer"):
        run(config)
    argv = ["run", "--model", config.model, "--tasks", TASK, "--out", config.out, "--data-root", config.data_roots[0],
            "--limit", "12", "--bootstrap-rounds", "10", "--no-progress", "--skip-metrics", "meteor"]  # fmt: skip
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "written by a newer xraybench" in err and "Upgrade xraybench" in err and "Traceback" not in err


def test_results_json_older_is_read_newer_is_refused_unknown_fields_kept(finished_run: tuple[RunConfig, dict]) -> None:
    config, results = finished_run
    path = Path(config.out) / "results.json"
    written = json.loads(path.read_text())
    assert written["schema_version"] == SCHEMA_VERSION == 1
    typed = Results.from_json(written, path)
    assert typed.to_json() == written  # the typed record is the file, field for field
    assert typed.tasks[TASK].scores["metrics"] == results["tasks"][TASK]["metrics"]
    assert typed.tasks[TASK].n_scored == results["tasks"][TASK]["n_scored"] == 12

    _rewrite(path, schema_version=None)  # written before versions: read as it is
    assert read_results(config.out)["tasks"][TASK]["metrics"] == results["tasks"][TASK]["metrics"]

    _rewrite(path, schema_version="1.3", cost={"usd": 0.0})  # a later minor release's extra field: kept
    assert Results.from_json(json.loads(path.read_text()), path).extra == {"cost": {"usd": 0.0}}
    assert read_results(path)["cost"] == {"usd": 0.0}

    _rewrite(path, schema_version=2)
    with pytest.raises(DataFormatError, match=r"results of schema_version 2, written by a newer xraybench.*Upgrade"):
        read_results(config.out)
    _rewrite(path, schema_version=None, tasks=None)
    with pytest.raises(DataFormatError, match=r"results.json: missing tasks"):
        read_results(path)


def test_a_newer_leaderboard_json_is_refused_when_a_leaderboard_is_rebuilt(tmp_path: Path) -> None:
    from arena.leaderboard import SCHEMA_VERSION as BOARD_VERSION
    from arena.leaderboard import existing_columns

    board = tmp_path / "board"
    board.mkdir()
    path = board / "leaderboard.json"
    path.write_text(json.dumps({"models": [{"model": "m", "metrics": {"bleu_4": 0.1}}], "run_notes": {}}))
    assert existing_columns(board)[0] == {"m": {"bleu_4": 0.1}}  # before versions: read
    path.write_text(json.dumps({"schema_version": BOARD_VERSION + 1, "models": []}))
    with pytest.raises(DataFormatError, match=rf"{path}: a leaderboard of schema_version 2, written by a newer"):
        existing_columns(board)


def test_build_data_summary_is_versioned(tmp_path: Path) -> None:
    from medix_train.data import SUMMARY_SCHEMA_VERSION, BuildDataConfig, build_data

    path = build_data(BuildDataConfig(stage="grpo", tasks=["demo_impression"], limit=3, out_dir=str(tmp_path),
                                      progress=False))  # fmt: skip
    summary = json.loads(Path(f"{path}.summary.json").read_text())
    assert summary["schema_version"] == SUMMARY_SCHEMA_VERSION == 1 and summary["written"] == 3
