"""`xraybench judge-audit --preferences`: agreement with human raters, on our own fixtures in both layouts.

The fixtures (tests/arena/preference_files/) are five pairs rated by three raters; the expected values are worked out
by hand in the comments below, so a wrong majority, tie rule, order averaging or ceiling fails a test."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from arena.audit import AuditConfig, run_audit
from arena.preferences import judge_agreement, load_preferences, rater_ceiling
from xraybench.cli import main
from xraybench.errors import XrayBenchError
from xraybench.testing.openai_server import OpenAIServer

HERE = Path(__file__).parent / "preference_files"
PAIRS = HERE / "pairs.json"
RATERS = [HERE / f"rater_{i}.json" for i in (1, 2, 3)]
CSV = HERE / "pairs.csv"  # rater r1's preferences in the CSV layout
_BLOCK = re.compile(r"§§§ BEGIN (.+?) §§§\n(.*?)\n§§§ END \1 §§§", re.S)

# votes (+1: C1, -1: C2, 0: tie) of r1, r2, r3: p1 (+,+,0) p2 (-,-,-) p3 (-,+,0) p4 (+,+,-) p5 (0,0,0)
MAJORITY = {"p1": 1, "p2": -1, "p3": 0, "p4": 1, "p5": 0}
# each rater against the majority of the other two (ties of the others left out, the rater's own tie counts half):
# p1: r1 1, r2 1, r3 0.5; p2: 1, 1, 1; p3: r1 0, r2 0 (r3's others tie); p4: r3 0 (r1's and r2's others tie)
CEILING = 5.5 / 9


def _answer(level: str) -> str:
    return f'```json\n{{"errors_a": [], "errors_b": [], "verdict": "{level}"}}\n```'


def _preferred_texts() -> set[str]:
    pairs = load_preferences(PAIRS, RATERS).pairs
    return {p.first if p.majority() > 0 else p.second for p in pairs if p.majority()}


def test_majority_and_leave_one_out_ceiling_by_hand() -> None:
    found = load_preferences(PAIRS, RATERS)
    assert found.raters == ["r1", "r2", "r3"]
    assert {p.id: p.majority() for p in found.pairs} == MAJORITY
    ceiling = rater_ceiling(found.pairs, found.raters, rounds=200, seed=0)
    assert ceiling is not None
    assert ceiling["agreement"]["value"] == pytest.approx(CEILING) and ceiling["agreement"]["n"] == 9
    assert ceiling["by_rater"]["r1"]["value"] == pytest.approx(2 / 3)
    assert ceiling["by_rater"]["r3"]["value"] == pytest.approx(0.5)
    low, high = ceiling["agreement"]["ci_low"], ceiling["agreement"]["ci_high"]
    assert low <= CEILING <= high and low < high
    assert rater_ceiling(found.pairs, ["r1"], 10, 0) is None  # one rater: no ceiling


def test_judge_ties_count_half_and_rater_ties_are_left_out() -> None:
    pairs = load_preferences(PAIRS, RATERS).pairs
    # p1 agrees, p2 judge tie, p4 disagrees; p3 and p5 (rater ties) are not counted whatever the judge says
    votes = {"p1": 1.0, "p2": 0.0, "p3": 1.0, "p4": -1.0, "p5": -1.0}
    result = judge_agreement(pairs, votes, rounds=0, seed=0)
    assert result["agreement"] == {"value": 0.5, "ci_low": None, "ci_high": None, "n": 3}
    assert result["by_category"]["laterality"]["value"] == 1.0
    assert result["by_category"]["false finding"]["value"] == 0.5


def test_a_scale_where_lower_is_better_reverses_every_vote() -> None:
    pairs = load_preferences(PAIRS, RATERS, higher_is_better=False).pairs
    assert {p.id: p.majority() for p in pairs} == {k: -v for k, v in MAJORITY.items()}


def test_csv_layout_reads_as_the_json_layout_of_one_rater() -> None:
    from_csv = load_preferences(CSV).pairs
    from_json = load_preferences(PAIRS, RATERS[:1]).pairs
    assert [p.votes["rater"] for p in from_csv] == [p.votes["r1"] for p in from_json]
    assert [(p.reference, p.first, p.second, p.category) for p in from_csv] == [
        (p.reference, p.first, p.second, p.category) for p in from_json
    ]


def test_csv_rows_of_one_id_by_several_raters_are_one_pair(tmp_path: Path) -> None:
    path = tmp_path / "multi.csv"
    path.write_text(
        "id,rater,reference,report_a,report_b,preferred\n"
        "x,ann,No effusion.,No effusion.,Left effusion.,A\n"
        "x,bob,No effusion.,No effusion.,Left effusion.,a\n"
        "x,cyd,No effusion.,No effusion.,Left effusion.,B\n",
        encoding="utf-8",
    )
    found = load_preferences(path)
    assert len(found.pairs) == 1 and found.raters == ["ann", "bob", "cyd"]
    assert found.pairs[0].votes == {"ann": 1, "bob": 1, "cyd": -1} and found.pairs[0].majority() == 1


def _run_scripted(tmp_path: Path, reply: Any) -> tuple[dict[str, Any], int]:
    with OpenAIServer(reply_fn=reply) as server:
        config = AuditConfig(judge="openai/pref-judge", api_base=server.base_url, preferences=str(PAIRS),
                             ratings=[str(r) for r in RATERS], out=str(tmp_path / "out"), bootstrap_rounds=100,
                             metrics="none", timeout_s=5.0)  # fmt: skip
        result = run_audit(config)
        return result.data, len(server.requests)


def test_a_judge_that_agrees_scores_one_and_a_position_biased_judge_one_half(
    litellm_ready: None, tmp_path: Path
) -> None:
    good = _preferred_texts()

    def oracle(body: dict[str, Any]) -> str:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        found = dict(_BLOCK.findall(user))
        a, b = found["CANDIDATE A"] in good, found["CANDIDATE B"] in good
        return _answer("tie" if a == b else "A>B" if a else "B>A")

    data, requests = _run_scripted(tmp_path / "oracle", oracle)
    assert requests == 10  # every pair in both orders, through the arena's judging engine
    assert data["agreement"]["value"] == 1.0 and data["agreement"]["n"] == 3
    assert data["ceiling"]["agreement"]["value"] == pytest.approx(CEILING)
    data, _ = _run_scripted(tmp_path / "biased", lambda body: _answer("A>B"))
    # "A wins" in both orders prefers each candidate once: a tie per pair, counted half
    assert data["agreement"]["value"] == 0.5 and data["agreement"]["ci_low"] == 0.5


def test_cli_json_ranks_metrics_on_the_same_pairs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["judge-audit", "--judge", "metric:clinical", "--preferences", str(PAIRS), "--ratings",
                 *map(str, RATERS), "--json", "--out", str(tmp_path / "cli"), "--bootstrap-rounds", "100",
                 "--metrics", "bleu,rouge_l,metric:lexical,metric:clinical"])  # fmt: skip
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["agreement"]) == {"value", "ci_low", "ci_high", "n"} and data["agreement"]["n"] == 3
    # metric:clinical keeps the label-changing error (p2) and a lexical tie-break decides the rest: the laterality
    # swap (p1) keeps the reference's wording and wins; the comparison pair (p4) goes to the report that compares
    assert data["by_category"]["false finding"]["value"] == 1.0
    assert data["by_category"]["laterality"]["value"] == 0.0
    ranked = {r["judge"]: r for r in data["metrics"]["ranking"]}
    assert {"bleu_1", "bleu_4", "rouge_l", "metric:lexical", "metric:clinical"} <= set(ranked)
    assert ranked["metric:clinical"]["agreement"] == data["agreement"]  # the same judge decides the same pairs
    values = [r["agreement"]["value"] for r in data["metrics"]["ranking"]]
    assert values == sorted(values, reverse=True)
    assert (tmp_path / "cli" / "agreement.md").read_text().startswith("# Agreement with human preferences")


@pytest.mark.parametrize(
    ("name", "content", "ratings", "message"),
    [
        ("p.json", '[{"id": "a", "ground_truth_report": "x", "C1_report": "y"}]', {"a": (1, 2)},
         "p.json (record #0, id 'a'): 'C2_report' must be a non-empty report text, found nothing"),
        ("p.json", '[{"id": "a", "ground_truth_report": "x", "C1_report": "y", "C2_report": "z"}]', {"a": (1, 7)},
         "(record annotations['a']): C2 rating 7 is outside 1-5"),
        ("p.json", '[{"id": "a", "ground_truth_report": "x", "C1_report": "y", "C2_report": "z"}]', {"b": (1, 2)},
         "(record annotations['b']): id 'b' is not a pair of the preference file"),
        ("p.json", '{"id": "a"}', {}, "p.json: expected a JSON list of pairs or a .csv file, found a JSON dict"),
        ("p.csv", "reference,report_a,report_b,preferred\nx,y,z,C\n", None,
         "p.csv:2: 'preferred' must be A, B or tie, found 'C'"),
        ("p.csv", "reference,report_a,preferred\nx,y,A\n", None, "p.csv:1: missing column(s) ['report_b']"),
    ],
)  # fmt: skip
def test_bad_input_names_file_and_record(tmp_path: Path, name: str, content: str, ratings: Any, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    rater_files = []
    if ratings is not None:
        rater = tmp_path / "rater.json"
        annotations = {k: {"C1": {"rating": a}, "C2": {"rating": b}} for k, (a, b) in ratings.items()}
        rater.write_text(json.dumps({"user_id": "u", "annotations": annotations}), encoding="utf-8")
        rater_files = [rater]
    with pytest.raises(XrayBenchError) as info:
        load_preferences(path, rater_files)
    assert message in str(info.value)


def test_cli_bad_input_is_a_message_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["judge-audit", "--judge", "metric:clinical", "--preferences", str(PAIRS), "--out", str(tmp_path)])
    assert code != 0
    err = capsys.readouterr().err
    assert "give the raters' files with --ratings" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as info:  # argparse: --task and --preferences are mutually exclusive
        main(["judge-audit", "--judge", "metric:clinical", "--task", "demo_findings", "--preferences", str(CSV)])
    assert info.value.code == 2 and "not allowed with argument --task" in capsys.readouterr().err


def test_credentialed_pairs_are_not_sent_to_an_undeclared_provider(needs_litellm: None, tmp_path: Path) -> None:
    def run(**kw: Any) -> None:
        run_audit(AuditConfig(judge="openai/gpt-4o-mini", api_key_env=None, preferences=str(CSV), out=str(tmp_path),
                              metrics="none", **kw))  # fmt: skip

    with pytest.raises(XrayBenchError, match="refusing to judge audit.*credentialed.*No call was made"):
        run(credentialed=True)  # refused before any request


def test_an_edited_file_rerun_in_the_same_folder_counts_only_its_own_texts(tmp_path: Path) -> None:
    def run(csv_text: str) -> dict[str, Any]:
        path = tmp_path / "pairs.csv"
        path.write_text(csv_text, encoding="utf-8")
        config = AuditConfig(judge="metric:clinical", preferences=str(path), out=str(tmp_path / "out"),
                             bootstrap_rounds=0, metrics="none")  # fmt: skip
        return run_audit(config).data

    header = "id,reference,report_a,report_b,preferred\n"
    first = run(header + "x,No effusion.,No effusion.,Large left pleural effusion.,A\n")
    assert first["agreement"]["value"] == 1.0
    # same id, other texts: the judge now prefers B, which the rater prefers; the first run's verdicts stay out
    second = run(header + "x,No effusion.,Large left pleural effusion.,No effusion.,B\n")
    assert second["agreement"] == {"value": 1.0, "ci_low": None, "ci_high": None, "n": 1}
