"""`--metric-arg NAME.KEY=VALUE` for the offline `metric:` judges (`arena judge`, `judge-audit`): typed and checked
like a run's metric options, and part of the judge's identity in the store, so judging the same battles with other
options makes new verdicts instead of returning the old ones as if they were made with the new options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from arena.audit import STORE_FILE, AuditConfig, run_audit
from arena.judges.lexical import LEXICAL, LexicalJudge
from arena.judging import export_battles, load_field
from xraybench.callstore import CallStore
from xraybench.cli import main
from xraybench.errors import XrayBenchError

TASK = "demo_findings"
MAKERS = {  # graded quality: the reference, most of it, a little of it, and a wrong report
    "perfect": lambda ref: ref,
    "good": lambda ref: " ".join([s.strip() + "." for s in ref.split(".") if s.strip()][:3]),
    "fair": lambda ref: " ".join([s.strip() + "." for s in ref.split(".") if s.strip()][:1]),
    "bad": lambda ref: "The heart is enlarged. There is a large left pleural effusion and a right pneumothorax.",
}


@pytest.fixture()
def specs(tmp_path: Path, prediction_files: Any) -> list[str]:
    return prediction_files(tmp_path, MAKERS, TASK)


def _stored(store: Path) -> list[dict[str, Any]]:
    with CallStore(store) as calls:
        return calls.export(kind="judgment", status="ok")


def test_other_options_make_new_verdicts_not_the_cached_ones(
    tmp_path: Path, specs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    base = ["arena", "judge", "--arena", "demo", "--task", TASK, "--judge", "metric:lexical", "--studies", "8",
            "--predictions", *specs]  # fmt: skip
    store = tmp_path / "arenas" / "demo" / "judgments.sqlite"
    assert main(base) == 0
    first = _stored(store)
    assert first and all(r["identity"]["params"]["lexical"] == vars(LEXICAL) for r in first)

    # the same battles, a wider win threshold: every battle judged again, under its own key
    assert main([*base, "--metric-arg", "lexical.win=0.3", "--metric-arg", "lexical.strong=0.6"]) == 0
    both = _stored(store)
    new = [r for r in both if r["identity"]["params"]["lexical"] == {"strong": 0.6, "win": 0.3}]
    assert len(new) == len(first) and len(both) == 2 * len(first)
    # what the ratings read now is the new configuration's verdicts, each the one the new thresholds give
    export = export_battles(CallStore(store), store.with_suffix(".plan.jsonl"))
    assert len(export.configs_used) == 1 and len(export.configs) == 2
    judge = LexicalJudge(strong=0.6, win=0.3)
    fld = load_field(TASK, predictions=specs)
    checked = 0
    for row in export.rows:
        if row["source"] != "judge":
            continue
        ref = fld.samples[row["study_id"]].reference or ""
        a, b = fld.texts[row["model_a"]][row["study_id"]], fld.texts[row["model_b"]][row["study_id"]]
        assert row["verdict"] == judge.decide(ref, a, b).parsed["verdict"], row
        checked += 1
    assert checked == len(first)
    old_ties = sum(r["parsed"]["verdict"] == "tie" for r in first)
    assert sum(r["parsed"]["verdict"] == "tie" for r in new) > old_ties  # the options changed the verdicts

    # the same options again: nothing new is decided
    assert main([*base, "--metric-arg", "lexical.win=0.3", "--metric-arg", "lexical.strong=0.6"]) == 0
    assert len(_stored(store)) == len(both)


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("lexical.wn=0.1", "the metric:lexical judge has no option 'wn'. Did you mean 'win'?"),
        ("lexcal.win=0.1", "no metric: judge is called 'lexcal'. Did you mean 'lexical'"),
        (
            "clinical.win=0.1",
            "metric:clinical is not judging here (the judges: metric:lexical); add --judge metric:clinical",
        ),
        ("lexical.win=lots", "the metric:lexical judge's option 'win' expects float"),
        ("lexical.win=0.9", "thresholds need 0 < win <= strong"),
        ("lexical", "--metric-arg expects METRIC.KEY=VALUE"),
    ],
)
def test_bad_options_are_refused_before_any_judging(
    tmp_path: Path, specs: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    arg: str, message: str,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    argv = ["arena", "judge", "--arena", "demo", "--task", TASK, "--judge", "metric:lexical", "--predictions", *specs,
            "--metric-arg", arg]  # fmt: skip
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert message in " ".join(err.split()) and "Traceback" not in err, err
    assert not (tmp_path / "arenas" / "demo" / "judgments.sqlite").exists()


def test_judge_audit_takes_the_options_and_does_not_reuse_verdicts(shared_data: Path, tmp_path: Path) -> None:
    """The hold-out half of our IU preference set (real reports): the same pairs judged with a stricter tie-break
    are new judgments, and the agreement is computed from them."""
    common = dict(judge="metric:clinical", preferences="iu-h11:holdout", out=str(tmp_path / "out"),
                  data_roots=[f"iu_xray={shared_data / 'iu_xray'}"], bootstrap_rounds=20, metrics="none")  # fmt: skip
    first = run_audit(AuditConfig(**common)).data
    rows = _stored(tmp_path / "out" / STORE_FILE)
    assert first["agreement"]["n"] == 46 and rows
    second = run_audit(AuditConfig(**common, metric_args=["clinical.tie_break=0.5"])).data
    after = _stored(tmp_path / "out" / STORE_FILE)
    new = [r for r in after if r["identity"]["params"]["tie_break"] == 0.5]
    assert len(new) == len(rows) and len(after) == 2 * len(rows)
    assert second["agreement"]["n"] == 46
    # a near-tie is a tie far more often with a tie-break of 0.5: the verdicts are the new ones
    assert sum(r["parsed"]["verdict"] == "tie" for r in new) > sum(r["parsed"]["verdict"] == "tie" for r in rows)
    written = json.loads((tmp_path / "out" / "agreement.json").read_text())
    assert written["agreement"] == second["agreement"]


def test_judge_audit_ranks_metric_judges_with_their_options(shared_data: Path, tmp_path: Path) -> None:
    """`--preferences --metrics`: a `metric:` judge ranked beside the audited judge takes `--metric-arg` too (it was
    refused as "not judging here" and ranked with its defaults); the written agreement is the one its options give."""
    from arena.judges.paper_score import PaperScoreJudge
    from arena.preferences import judge_agreement, judge_votes, load_preferences

    common = dict(judge="metric:lexical", preferences="iu-h11:holdout", metrics="metric:paper-score",
                  data_roots=[f"iu_xray={shared_data / 'iu_xray'}"], bootstrap_rounds=20)  # fmt: skip
    default = run_audit(AuditConfig(**common, out=str(tmp_path / "default"))).data
    options = run_audit(AuditConfig(**common, out=str(tmp_path / "win"), metric_args=["paper-score.win=0.15"])).data
    (row_default,) = default["metrics"]["ranking"]
    written = json.loads((tmp_path / "win" / "agreement.json").read_text())
    (row,) = written["metrics"]["ranking"]
    assert row["judge"] == "metric:paper-score" and row["options"] == {"win": 0.15} and "options" not in row_default
    assert row["agreement"] != row_default["agreement"]  # the option changed the ranked judge's votes
    folder = tmp_path / "win" / "preference-set"
    pairs = load_preferences(folder / "pairs.json", [folder / "ratings.json"]).pairs
    direct = judge_agreement(pairs, judge_votes(pairs, PaperScoreJudge(win=0.15)), 20, written["seed"])
    assert row["agreement"] == direct["agreement"]
    assert options["agreement"] == default["agreement"]  # the audited judge had no options: the same verdicts
    assert "metric:paper-score (win=0.15)" in (tmp_path / "win" / "agreement.md").read_text()

    # an option of a metric: judge that is neither audited nor ranked is refused before anything is judged
    with pytest.raises(XrayBenchError, match="metric:clinical is not judging here"):
        run_audit(AuditConfig(**common, out=str(tmp_path / "bad"), metric_args=["clinical.win=0.1"]))
    assert _stored(tmp_path / "bad" / STORE_FILE) == [] and not (tmp_path / "bad" / "agreement.json").exists()
    with pytest.raises(XrayBenchError, match="thresholds need 0 < win <= strong"):
        run_audit(AuditConfig(**common, out=str(tmp_path / "bad"), metric_args=["paper-score.win=0.5"]))
    assert _stored(tmp_path / "bad" / STORE_FILE) == [] and not (tmp_path / "bad" / "agreement.json").exists()
