"""`xraybench compare` reads each score's declared direction (`MetricSpec.direction`): for a lower-is-better score
the gain of A over B is positive when A's value is lower, the "better" column names the lower run, and a suite row
compares that one score's average in the same direction; a score with no direction gets neither, with the reason.

Real runs of the demo suite with the toy plugin's lower-is-better `toy_words` (words per answer) added to its
report tasks, built as `tests/test_plugins.py` builds plugin runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_plugins import installed  # noqa: F401  (the toy plugin on sys.path, as pip would install it)

from xraybench.cli import main
from xraybench.compare import compare_runs
from xraybench.metrics import score_direction


@pytest.fixture
def runs(installed: None, tmp_path: Path) -> tuple[Path, Path]:  # noqa: F811
    """A: the retrieval baseline (a training report per item); B: the normal baseline (one short normal report)."""
    for name, model in (("a", "baseline:retrieval"), ("b", "baseline:normal")):
        argv = ["run", "--model", model, "--tasks", "demo", "--out", str(tmp_path / name), "--bootstrap-rounds", "20",
                "--no-progress", "--skip-metrics", "meteor", "--extra-metrics", "toy_words"]  # fmt: skip
        assert main(argv) == 0
    return tmp_path / "a", tmp_path / "b"


def test_lower_is_better_score_is_compared_in_its_direction(
    runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert score_direction("toy_words") == "lower" and score_direction("bleu_4") == "higher"
    rows = {(r["task"], r["metric"]): r for r in compare_runs(*runs, rounds=50)}
    for scope in ("demo_findings", "suite:demo"):
        words = rows[(scope, "toy_words")]
        assert words["direction"] == "lower"
        a, b = words["a"], words["b"]
        assert a != b
        # the gain is positive exactly when A has fewer words (the better value of a lower-is-better score)
        assert words["rel_gain"] == pytest.approx((b - a) / abs(b))
        assert words["better"] == ("A" if a < b else "B")
        assert words["diff"] == pytest.approx(a - b)  # A − B stays as measured
        bleu = rows[(scope, "bleu_4")]
        assert bleu["direction"] == "higher" and bleu["rel_gain"] == pytest.approx((bleu["a"] - bleu["b"]) / bleu["b"])
        assert bleu["better"] == ("A" if bleu["a"] > bleu["b"] else "B")
    # the suite row is the one score's sample-weighted average over the suite's report tasks, nothing else: a suite
    # has no number that averages several scores (which could mix a lower- with a higher-is-better one)
    results = json.loads((runs[0] / "results.json").read_text())
    suite = results["suites"]["demo"]["metrics"]
    assert set(suite) <= {m for t in results["tasks"].values() for m in t["metrics"]}
    assert rows[("suite:demo", "toy_words")]["a"] == suite["toy_words"]["value"]
    tasks = [results["tasks"][t] for t in ("demo_findings", "demo_impression")]
    weighted = sum(t["metrics"]["toy_words"]["value"] * t["n_scored"] for t in tasks) / sum(
        t["n_scored"] for t in tasks
    )
    assert suite["toy_words"]["value"] == pytest.approx(weighted)

    capsys.readouterr()
    assert main(["compare", str(runs[0]), str(runs[1]), "--rounds", "20"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "demo_findings" in x and "toy_words" in x)
    words = rows[("demo_findings", "toy_words")]
    assert "toy_words ↓" in line and f"{words['rel_gain']:+.1%}" in line
    assert f" {words['better']} " in line
    assert "↓ lower is better" in out and "a positive gain: A is better" in out


def test_score_without_direction_gets_no_gain_and_no_winner(
    runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Boxes per answer is a count: neither more nor fewer is better, so no gain or better run is made up. (With
    `--rounds 0`, which crashed with a traceback before: no test, each p-value with its reason.)"""
    rows = compare_runs(*runs, rounds=0)
    boxes = next(r for r in rows if r["task"] == "demo_classification" and r["metric"] == "grounding_boxes_per_answer")
    assert boxes["direction"] == "none" and boxes["rel_gain"] is None and boxes["better"] is None
    assert "has no direction" in boxes["why"]["rel_gain"] and "has no direction" in boxes["why"]["better"]
    assert boxes["p_bootstrap"] is None and boxes["why"]["p_bootstrap"] == "no test: --rounds 0"
    capsys.readouterr()
    assert main(["compare", str(runs[0]), str(runs[1]), "--rounds", "0"]) == 0
    out = capsys.readouterr().out
    assert "grounding_boxes_per_answer ·" in out and "· no direction" in out
    assert "n/a in better (demo_classification grounding_boxes_per_answer" in out.replace("\n", " ")
    assert "no test: --rounds 0" in out


def test_run_table_marks_scores_that_are_not_higher_is_better(
    runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from xraybench.cli.run import print_results

    capsys.readouterr()
    print_results(json.loads((runs[0] / "results.json").read_text()))
    lines = capsys.readouterr().out.splitlines()
    assert any("toy_words ↓" in x for x in lines) and any("grounding_boxes_per_answer ·" in x for x in lines)
    assert all("↓" not in x and "·" not in x for x in lines if "bleu_4 " in x)  # higher is better: no mark
    assert "↓ lower is better; · no direction (a count); every other score: higher is better" in lines
    suite = " ".join(lines[next(i for i, x in enumerate(lines) if x.startswith("suite demo")) :])  # rich may wrap it
    assert "toy_words ↓=" in suite and "bleu_4=" in suite


def test_a_missing_value_says_why_there_is_no_better_run() -> None:
    """Every blank of a row has its reason: with a value missing, "better" is no exception."""
    from xraybench.compare import explain_missing

    row = {"metric": "bleu_4", "a": float("nan"), "b": 0.3, "diff": float("nan"), "rel_gain": float("nan"),
           "direction": "higher", "better": None}  # fmt: skip
    assert explain_missing(row, 100)["why"]["better"] == "no better run: a value is missing"
