"""Offline `metric:` judges: decisions, order independence, the store, and the arena end to end without a server."""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from arena.judges import build_judge
from arena.judges.clinical import CLINICAL, clinical_errors
from arena.judges.lexical import LEXICAL, lexical_score
from arena.judges.local import Thresholds
from arena.judging import Judging, export_battles, load_field, plan_battles
from arena.verdict import flip, parse_verdict
from xraybench.callstore import CallStore
from xraybench.cli import main
from xraybench.errors import XrayBenchError

TASK = "demo_findings"
JUDGES = ("metric:clinical", "metric:findings", "metric:lexical", "metric:paper-score")
REFERENCE = "The heart size is normal. There is a small right pleural effusion. There is no pneumothorax."
CANDIDATES = [
    REFERENCE,
    "The heart size is normal. There is no pleural effusion. There is no pneumothorax.",
    "The heart is enlarged. There is a small right pleural effusion. There is no pneumothorax.",
    "Possible small right pleural effusion. Heart size normal.",
    "The cardiac silhouette is enlarged. Large left pneumothorax. Pleural effusion.",
    "Lungs are clear.",
    "",
]


def _sentences(text: str, n: int) -> str:
    return " ".join([s.strip() + "." for s in text.split(".") if s.strip()][:n])


MAKERS = {  # graded quality: the reference, most of it, a little of it, and a wrong report
    "perfect": lambda ref: ref,
    "good": lambda ref: _sentences(ref, 3),
    "fair": lambda ref: _sentences(ref, 1),
    "bad": lambda ref: "The heart is enlarged. There is a large left pleural effusion and a right pneumothorax.",
}


def test_thresholds() -> None:
    assert [CLINICAL.level(d) for d in (3, 2, 1, 0.5, 0, -0.5, -2)] == [
        "A>>B", "A>>B", "A>B", "A>B", "tie", "B>A", "B>>A"
    ]  # fmt: skip
    assert [LEXICAL.level(d) for d in (0.25, 0.06, 0.01, -0.01, -0.3)] == ["A>>B", "A>B", "tie", "tie", "B>>A"]
    assert Thresholds(strong=1.0, win=0.1).level(-0.1) == "B>A"


def test_clinical_errors_name_false_and_missing_findings() -> None:
    judge = build_judge("metric:clinical")
    judge.prepare_labels([REFERENCE, CANDIDATES[1], CANDIDATES[2], CANDIDATES[3]])
    ref = judge.labels_of(REFERENCE)
    missing = clinical_errors(judge.labels_of(CANDIDATES[1]), ref)
    assert [(e["type"], e["weight"]) for e in missing] == [("missing_finding", 1.0)]
    assert "Pleural Effusion" in missing[0]["description"]
    false = clinical_errors(judge.labels_of(CANDIDATES[2]), ref)
    assert [(e["type"], e["weight"]) for e in false] == [("false_finding", 1.0)]
    assert "Cardiomegaly" in false[0]["description"]
    uncertain = clinical_errors(judge.labels_of(CANDIDATES[3]), ref)
    assert [(e["type"], e["weight"]) for e in uncertain] == [("missing_finding", 0.5)]
    assert clinical_errors(ref, ref) == []


def test_clinical_decisions_and_explanation() -> None:
    judge = build_judge("metric:clinical")
    decision = judge.decide(REFERENCE, CANDIDATES[2], REFERENCE)
    assert decision.parsed["verdict"] == "B>A"
    assert decision.parsed["errors_a"][0]["type"] == "false_finding" and decision.parsed["errors_b"] == []
    assert "not an LLM judgment" in decision.text and "Cardiomegaly" in decision.text
    assert parse_verdict(decision.text) == decision.parsed  # `arena reparse` reads it back unchanged
    assert judge.decide(REFERENCE, CANDIDATES[4], REFERENCE).parsed["verdict"] == "B>>A"  # many errors
    # equal clinical errors: lexical overlap breaks the near-tie
    close = judge.decide(REFERENCE, REFERENCE, "Heart size normal. Small right pleural effusion. No pneumothorax.")
    assert close.parsed["verdict"] == "A>B" and "Equal clinical errors" in close.text
    assert judge.decide(REFERENCE, REFERENCE, REFERENCE).parsed["verdict"] == "tie"


def test_lexical_and_paper_score() -> None:
    assert lexical_score(REFERENCE, REFERENCE) == pytest.approx(1.0)
    assert lexical_score("", REFERENCE) == 0.0
    lexical = build_judge("metric:lexical")
    assert lexical.decide(REFERENCE, REFERENCE, "Lungs are clear.").parsed["verdict"] == "A>>B"
    paper = build_judge("metric:paper-score")
    assert paper.decide(REFERENCE, "Lungs are clear.", REFERENCE).parsed["verdict"] == "B>>A"


@pytest.mark.parametrize("name", JUDGES)
def test_order_does_not_matter(name: str) -> None:
    """A metric judge scores each candidate alone, so (A, B) is always the mirror of (B, A): flip rate 0."""
    judge = build_judge(name)
    for a, b in itertools.combinations(CANDIDATES, 2):
        assert judge.decide(REFERENCE, a, b).parsed["verdict"] == flip(judge.decide(REFERENCE, b, a).parsed["verdict"])


def test_unknown_judge_and_distinct_keys() -> None:
    with pytest.raises(XrayBenchError, match="metric:clinical, metric:findings, metric:lexical, metric:paper-score"):
        build_judge("metric:bleu")
    params = [json.dumps(build_judge(n).params, sort_keys=True) for n in JUDGES]
    assert len(set(params)) == len(JUDGES) and all(build_judge(n).prices() == (0.0, 0.0) for n in JUDGES)


@pytest.fixture()
def specs(tmp_path: Path, prediction_files: Any) -> list[str]:
    """Four invented models of graded quality on the demo task, as NAME=FILE prediction files."""
    return prediction_files(tmp_path, MAKERS, TASK)


def test_store_and_rerun_skip_done(tmp_path: Path, specs: list[str]) -> None:
    fld = load_field(TASK, predictions=specs)
    judge = build_judge("metric:clinical")
    battles = plan_battles(fld, judge, studies=4)
    with CallStore(tmp_path / "s.sqlite") as store:
        first = Judging(judge, store, progress=False).run(battles)
        assert first.n_ok == first.n_unique == len(battles) - first.n_identical
        rows = store.export(kind="judgment", status="ok")
        assert all(r["cost_usd"] == 0.0 and r["parsed"]["verdict"] for r in rows)
        again = Judging(judge, store, progress=False).run(battles)
        assert (again.n_ok, again.n_done_before) == (0, first.n_unique)
        dry = Judging(build_judge("metric:lexical"), store, progress=False)
        assert dry.run(plan_battles(fld, dry.judge, studies=4), dry_run=True).estimate
        assert store.totals().n_ok == first.n_ok  # the dry run decided nothing


def test_arena_end_to_end_without_server(tmp_path: Path, specs: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """judge (metric:clinical) -> battles -> ratings -> leaderboard, all offline; the true order comes out."""
    monkeypatch.chdir(tmp_path)
    base = ["arena", "judge", "--name", "demo", "--task", TASK, "--judge", "metric:clinical", "--studies", "8"]
    field = [s for s in specs if not s.startswith("good=")]
    assert main([*base, "--predictions", *field, "--json"]) == 0
    store = tmp_path / "arenas" / "demo" / "judgments.sqlite"
    with CallStore(store) as calls:
        n_first = calls.totals().n_ok
    # a new model judged against the field only, then a rerun that decides nothing new
    assert main([*base, "--predictions", *specs, "--new-model", "good", "--json"]) == 0
    with CallStore(store) as calls:
        n_second = calls.totals().n_ok
        export = export_battles(calls, store.with_suffix(".plan.jsonl"))
    assert n_second - n_first == 3 * 8 * 2
    assert export.flip_rate == {"metric:clinical": 0.0} and export.n_missing == 0
    assert main([*base, "--predictions", *specs, "--new-model", "good"]) == 0
    with CallStore(store) as calls:
        assert calls.totals().n_ok == n_second
    assert main(["arena", "leaderboard", "--name", "demo", "--rounds", "50", "--prior", "1"]) == 0
    board = tmp_path / "arenas" / "demo" / "leaderboard"
    data = json.loads((board / "leaderboard.json").read_text())
    assert [r["model"] for r in data["models"]] == ["perfect", "good", "fair", "bad"]
    note = "reference-based proxy judge (metric:clinical), not an LLM judgment"
    assert data["proxy_note"] == note and data["judge"] == "metric:clinical"
    assert data["cost_usd"] == 0.0 and data["prompt_version"].startswith("none")
    assert note in (board / "leaderboard.md").read_text()
    assert note in (board / "index.html").read_text()
    rows = list(csv.DictReader(io.StringIO((board / "leaderboard.csv").read_text())))
    assert {r["proxy_judge"] for r in rows} == {note}


def test_adaptive_schedule_with_metric_judge(tmp_path: Path, specs: list[str]) -> None:
    out = tmp_path / "adaptive"
    args = ["arena", "judge", "--name", "a", "--store", str(out / "j.sqlite"), "--task", TASK, "--judge"]
    assert main([*args, "metric:lexical", "--predictions", *specs, "--schedule", "adaptive", "--json"]) == 0
    with CallStore(out / "j.sqlite") as calls:
        export = export_battles(calls, out / "j.plan.jsonl")
    assert export.rows and export.flip_rate == {"metric:lexical": 0.0}
