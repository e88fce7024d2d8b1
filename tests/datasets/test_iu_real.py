"""IU X-ray loader on the real Open-i reports (../shared/data/iu_xray, used in place), and the seeded-split note.

Scores on xraybench's seeded split (no R2Gen annotation.json) are not comparable with published numbers on
R2Gen's split, so results.json and the screen say so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xraybench.cli import main
from xraybench.datasets.iu_xray import SEEDED_SPLIT_NOTE, load_iu_xray

IU = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "iu_xray"
pytestmark = pytest.mark.skipif(not IU.is_dir(), reason="shared IU X-ray reports not present (../shared/data)")


def test_real_indiana_files_every_report_accounted_for() -> None:
    counts = {}
    for section in ("findings", "impression"):
        for split in ("train", "val", "test"):
            result = load_iu_xray(IU, task="t", split=split, section=section)
            assert result.notes == [SEEDED_SPLIT_NOTE]
            assert all(s.metadata["split_source"] == "seeded" and s.image_paths for s in result.samples)
            counts[section, split] = (len(result.samples), sum(result.dropped.values()))
    # 3,851 reports; every one is in exactly one split, kept or counted as an empty section
    assert sum(n + d for (section, _), (n, d) in counts.items() if section == "findings") == 3851
    assert sum(n + d for (section, _), (n, d) in counts.items() if section == "impression") == 3851
    assert counts["findings", "test"] == (659, 94) and counts["impression", "test"] == (750, 3)


def _with_annotation(tmp_path: Path) -> Path:
    """The real CSVs (symlinked, unmodified) with an R2Gen-style annotation.json naming a few uids."""
    root = tmp_path / "iu"
    root.mkdir()
    for name in ("indiana_reports.csv", "indiana_projections.csv"):
        (root / name).symlink_to(IU / name)
    record = {"report": "x", "image_path": []}
    annotation = {
        "train": [{**record, "id": "CXR1_1_IM-0001", "split": "train"}],
        "val": [{**record, "id": "CXR2_IM-0652", "split": "val"}],
        # the copy whose test key is four spaces: its records' own split places them
        "    ": [{**record, "id": f"CXR{uid}_IM-0001", "split": "test"} for uid in (3, 4, 5)],
    }
    (root / "annotation.json").write_text(json.dumps(annotation))
    return root


def test_r2gen_split_over_the_real_reports_has_no_note(tmp_path: Path) -> None:
    result = load_iu_xray(_with_annotation(tmp_path), task="t", split="test", section="impression")
    assert [s.id for s in result.samples] == ["3", "4", "5"]
    assert result.notes == [] and result.dropped == {"not_in_r2gen_split": 3851 - 5}
    assert all(s.metadata["split_source"] == "r2gen" for s in result.samples)


def _run(root: Path, out: Path) -> tuple[int, dict]:
    argv = ["run", "--model", "baseline:normal", "--tasks", "iu_xray_impression", "--data-root", f"iu_xray={root}"]
    argv += ["--out", str(out), "--limit", "3", "--bootstrap-rounds", "0", "--skip-metrics", "meteor,cider"]
    code = main([*argv, "--no-progress"])
    return code, json.loads((out / "results.json").read_text())


def test_seeded_split_is_said_in_results_and_on_screen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, results = _run(IU, tmp_path / "seeded")
    assert code == 0
    assert results["tasks"]["iu_xray_impression"]["data_notes"] == [SEEDED_SPLIT_NOTE]
    assert "seeded 70/10/20 split" in " ".join(capsys.readouterr().out.split())  # rich may wrap the line
    code, results = _run(_with_annotation(tmp_path), tmp_path / "r2gen")
    assert code == 0 and results["tasks"]["iu_xray_impression"]["data_notes"] == []
    assert "seeded 70/10/20" not in " ".join(capsys.readouterr().out.split())
