"""Judge ensembles (issue 18 §3): `arena judge --judge A --judge B` judges every battle with each judge into one
store; `arena leaderboard --judge A --judge B` shows each judge's ratings, a pooled rating, the judges' agreement
on the 5-level verdicts and their order-flip rates, and holds every judge to the verdict minimum on its own.

The field is the offline demo arena (`arena demo`: baselines and synthetic models, real runs, a real store), judged
by the two offline metric judges; each number on the page is recomputed here from the exported battle files through
independent code (scikit-learn's kappa, the `krippendorff` package, `arena ratings` on a weighted battle file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from arena.api import (
    BattlesConfig,
    JudgeConfig,
    LeaderboardConfig,
    RatingsConfig,
    battles,
    build_leaderboard,
    judge_arena,
    ratings,
)
from arena.demo import BASELINES, NAME, TASK, DemoConfig, build_demo_arena
from arena.ensemble import judge_agreement
from arena.prompt import VERDICT_LEVELS
from xraybench.cli import main
from xraybench.compare import load_run
from xraybench.errors import XrayBenchError
from xraybench.testing.openai_server import OpenAIServer

JUDGES = ["metric:clinical", "metric:lexical"]
ROUNDS = 50


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo arena (judged by metric:clinical), then the same field judged by both metric judges."""
    root = tmp_path_factory.mktemp("ensemble")
    work = root / "work"
    data = build_demo_arena(DemoConfig(out=str(root / "demo"), work=str(work), bootstrap_rounds=ROUNDS))
    predictions = [f"{m['name']}={work / 'predictions' / (m['name'] + '.jsonl')}" for m in data["synthetic_models"]]
    for baseline in BASELINES:  # the baselines' reports from their demo runs, as prediction files
        _, folder = load_run(str(work / "runs" / baseline.replace(":", "-")))
        path = root / f"{baseline.replace(':', '-')}.jsonl"
        answers = {pid: p.answer for (task, pid), p in folder.load_predictions().items() if task == TASK}
        path.write_text("".join(json.dumps({"id": i, "prediction": a}) + "\n" for i, a in sorted(answers.items())))
        predictions.append(f"{baseline}={path}")
    store = work / "judgments.sqlite"
    report, path = judge_arena(
        JudgeConfig(NAME, TASK, JUDGES, predictions=predictions, store=str(store)), progress=False
    )
    return {"root": root, "store": store, "report": report, "path": path, "predictions": predictions}


def _board(demo: dict[str, Any], out: str, judges: list[str], **kw: Any) -> Any:
    return build_leaderboard(LeaderboardConfig(
        arena=NAME, store=str(demo["store"]), out=str(demo["root"] / out), judge=judges, bootstrap_rounds=ROUNDS, **kw
    ))  # fmt: skip


def _export(demo: dict[str, Any], judge: str) -> tuple[list[dict[str, Any]], Any]:
    path = demo["root"] / f"battles-{judge.replace(':', '-')}.jsonl"
    written = battles(BattlesConfig(arena=NAME, store=str(demo["store"]), out=str(path), judge=judge))
    return [json.loads(line) for line in path.read_text().splitlines()], written.export


def test_each_battle_is_judged_by_every_judge_into_one_store(demo: dict[str, Any]) -> None:
    report = demo["report"]
    assert list(report.judges) == JUDGES
    clinical, lexical = report.judges["metric:clinical"], report.judges["metric:lexical"]
    assert clinical.n_ok == 0 and clinical.n_done_before > 0  # the demo had judged it: read back, not asked again
    assert lexical.n_ok == clinical.n_done_before  # the same battles, each with its own key for the second judge
    assert report.n_battles == clinical.n_battles + lexical.n_battles and report.n_failed == 0
    again, _ = judge_arena(
        JudgeConfig(NAME, TASK, JUDGES, predictions=demo["predictions"], store=str(demo["store"])),
        progress=False,
    )
    assert again.n_ok == 0 and again.n_done_before == report.n_done_before + lexical.n_ok  # resumed, nothing redone


def test_ensemble_leaderboard_per_judge_pooled_agreement_and_flips(demo: dict[str, Any]) -> None:
    board = _board(demo, "ensemble", JUDGES)
    data = json.loads((board.out / "leaderboard.json").read_text())
    ens = data["ensemble"]
    assert ens["pooled_judges"] == JUDGES and board.banner is None
    exports = {j: _export(demo, j) for j in JUDGES}

    # per-judge ratings: those of the judge's own leaderboard, which states the judge's order-flip rate too
    for judge in JUDGES:
        own_board = _board(demo, f"alone-{judge[7:]}", [judge]).out
        alone = json.loads((own_board / "leaderboard.json").read_text())
        export = exports[judge][1]
        assert alone["order_flip_rates"] == {
            judge: {"rate": export.flip_rate[judge], "n_pairs": export.n_pairs_both_orders[judge]}
        }
        assert (
            f"{judge} 0.0% of {export.n_pairs_both_orders[judge]} pairs" in (own_board / "leaderboard.md").read_text()
        )
        for row in alone["models"]:
            own = ens["ratings"][judge][row["model"]]
            assert own["rating"] == pytest.approx(row["rating"], abs=1e-6)
            assert (own["ci_low"], own["ci_high"]) == pytest.approx((row["ci_low"], row["ci_high"]), abs=1e-6)
    clinical, lexical = (ens["ratings"][j] for j in JUDGES)
    assert any(abs(clinical[m]["rating"] - lexical[m]["rating"]) > 5 for m in clinical)  # the judges differ

    # pooled rating: `arena ratings` on both judges' exported battles in one file, each with weight 1/2
    pooled_file = demo["root"] / "pooled.jsonl"
    pooled_file.write_text("".join(
        json.dumps({**row, "weight": 0.5}) + "\n" for j in JUDGES for row in exports[j][0]
    ))  # fmt: skip
    reference = ratings(RatingsConfig(battles=str(pooled_file), bootstrap_rounds=ROUNDS, style_control="off"))
    expected = dict(zip(reference.models, reference.rating.tolist(), strict=True))
    assert {r["model"]: r["rating"] for r in data["models"]} == pytest.approx(expected, abs=1e-6)
    between = [m for m in expected if min(clinical[m]["rating"], lexical[m]["rating"]) - 1e-6 <= expected[m]]
    assert len(between) == len(expected)  # sanity: the pool is not below both judges anywhere
    assert data["n_judgments"] == sum(e.n_verdicts for _, e in exports.values())

    # order-flip rates: those `arena battles` reports per judge
    for item in ens["judges"]:
        export = exports[item["judge"]][1]
        assert item["order_flip_rate"] == pytest.approx(export.flip_rate[item["judge"]], abs=1e-6)
        assert item["n_pairs_both_orders"] == export.n_pairs_both_orders[item["judge"]] > 0
        assert item["n_verdicts"] == export.n_verdicts and item["pooled"]

    # agreement: the exported verdicts aligned by battle, through scikit-learn and the krippendorff package
    metrics = pytest.importorskip("sklearn.metrics")
    krippendorff = pytest.importorskip("krippendorff")
    by_battle = [
        {(r["study_id"], r["model_a"], r["model_b"], r["order"]): r["verdict"] for r in rows if r["source"] == "judge"}
        for rows, _ in exports.values()
    ]
    shared = sorted(set(by_battle[0]) & set(by_battle[1]))
    x = [VERDICT_LEVELS.index(by_battle[0][k]) for k in shared]
    y = [VERDICT_LEVELS.index(by_battle[1][k]) for k in shared]
    agree = ens["agreement"]
    pair = agree["pairs"][0]
    assert agree["n_battles"] == pair["cohen_kappa"]["n"] == len(shared) > 100
    assert pair["cohen_kappa"]["value"] == pytest.approx(metrics.cohen_kappa_score(x, y), abs=1e-6)
    assert pair["weighted_kappa"]["value"] == pytest.approx(
        metrics.cohen_kappa_score(x, y, weights="quadratic"), abs=1e-6
    )
    assert pair["exact_agreement"]["value"] == pytest.approx(np.mean(np.equal(x, y)), abs=1e-6)
    alpha = krippendorff.alpha(reliability_data=[x, y], level_of_measurement="ordinal", value_domain=range(5))
    assert agree["krippendorff_alpha_ordinal"]["value"] == pytest.approx(alpha, abs=1e-6)
    for item in (pair["cohen_kappa"], pair["weighted_kappa"], agree["krippendorff_alpha_ordinal"]):
        assert item["ci_low"] < item["value"] < item["ci_high"]  # a study-bootstrap interval around the estimate
    assert agree["n_studies"] == len({k[0] for k in shared})

    md = (board.out / "leaderboard.md").read_text()
    html = (board.out / "index.html").read_text()
    assert "## Judge ensemble" in md and "Krippendorff's alpha (ordinal)" in md and "weight 1/J" in md
    assert all(f'id="{t}"' in html for t in ("ensemble-judges", "ensemble-ratings", "ensemble-agreement"))
    assert f"{pair['cohen_kappa']['value']:.3f}" in md and f"{pair['cohen_kappa']['value']:.3f}" in html


def test_the_cli_takes_several_judges(demo: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    judge = ["arena", "judge", "--arena", NAME, "--store", str(demo["store"]), "--task", TASK,
             "--judge", JUDGES[0], "--judge", JUDGES[1], "--predictions", *demo["predictions"]]  # fmt: skip
    assert main(judge) == 0
    printed = capsys.readouterr().out
    assert f"judge {JUDGES[0]}:" in printed and f"judge {JUDGES[1]}:" in printed and "all 2 judges:" in printed
    assert "ok 0, failed 0" in printed  # everything was judged before: read back, nothing asked again
    assert main([*judge, "--json"]) == 0
    assert sorted(json.loads(capsys.readouterr().out)["judges"]) == sorted(JUDGES)

    out = demo["root"] / "cli-board"
    args = ["arena", "leaderboard", "--arena", NAME, "--store", str(demo["store"]), "--out", str(out),
            "--bootstrap-rounds", "20", "--judge", JUDGES[0], "--judge", JUDGES[1]]  # fmt: skip
    assert main(args) == 0
    assert json.loads((out / "leaderboard.json").read_text())["ensemble"]["pooled_judges"] == JUDGES
    printed = capsys.readouterr().out
    assert f"judge {JUDGES[1]}: " in printed and "Krippendorff's ordinal alpha over" in printed
    assert main([*args, "--judge-config", "x"]) == 1
    assert "--judge-config names one judge's configuration" in capsys.readouterr().err
    assert main([*args, "--judge", "openai/never"]) == 1
    assert "no battles of judge 'openai/never'" in capsys.readouterr().err


def test_a_judge_without_verdicts_is_refused_or_left_out_of_the_pool(
    litellm_ready: None, tmp_path: Path, demo: dict[str, Any]
) -> None:
    """A judge whose every answer is unreadable leaves only automatic ties; pooled, it would pull every rating
    towards equal (issue 15): the leaderboard is refused, or with --allow-few-verdicts that judge is left out of the
    pooled rating and named in the banner."""
    store = tmp_path / "judgments.sqlite"
    llm = "openai/tiny-test-model"
    with OpenAIServer(reply_fn=lambda body: "Both reports look fine to me.") as server:
        report, _ = judge_arena(JudgeConfig(
            NAME, TASK, ["metric:clinical", llm], predictions=demo["predictions"],
            store=str(store), api_base=server.base_url, max_attempts=1, studies=4,
        ), progress=False)  # fmt: skip
    assert report.judges[llm].n_ok == 0 and report.judges[llm].n_failed > 0
    assert report.judges["metric:clinical"].n_failed == 0
    config = {"arena": NAME, "store": str(store), "judge": ["metric:clinical", llm], "bootstrap_rounds": 20}
    with pytest.raises(XrayBenchError, match=rf"not publishing a leaderboard: judge {llm}: the judge gave 0 verdicts"):
        build_leaderboard(LeaderboardConfig(**config, out=str(tmp_path / "refused")))
    assert not (tmp_path / "refused").exists()

    board = build_leaderboard(LeaderboardConfig(**config, out=str(tmp_path / "warned"), allow_few_verdicts=True))
    data = json.loads((board.out / "leaderboard.json").read_text())
    assert data["ensemble"]["pooled_judges"] == ["metric:clinical"]
    assert (
        data["banner"].startswith(f"Too few judge verdicts: judge {llm}") and "Left out of the pooled" in data["banner"]
    )
    left_out = next(j for j in data["ensemble"]["judges"] if j["judge"] == llm)
    assert not left_out["pooled"] and left_out["n_verdicts"] == 0
    alone = build_leaderboard(LeaderboardConfig(
        arena=NAME, store=str(store), judge=["metric:clinical"], bootstrap_rounds=20, out=str(tmp_path / "alone")
    ))  # fmt: skip
    expected = {r["model"]: r["rating"] for r in json.loads((alone.out / "leaderboard.json").read_text())["models"]}
    assert {r["model"]: r["rating"] for r in data["models"]} == pytest.approx(expected, abs=1e-6)
    assert data["n_failed"] == 0  # the counts on the page are the pooled judges'
    assert "Warning." in (board.out / "leaderboard.md").read_text()


def test_an_ensemble_where_no_judge_gave_verdicts_says_its_ratings_rank_nothing(
    litellm_ready: None, tmp_path: Path, demo: dict[str, Any]
) -> None:
    store = tmp_path / "judgments.sqlite"
    llms = ["openai/tiny-test-model", "openai/other-test-model"]
    with OpenAIServer(reply_fn=lambda body: "No opinion.") as server:
        judge_arena(JudgeConfig(NAME, TASK, llms, predictions=demo["predictions"], store=str(store),
                                api_base=server.base_url, max_attempts=1, studies=2), progress=False)  # fmt: skip
    # style control off: on automatic ties alone no style feature varies, which the style fit refuses (its own check)
    config = LeaderboardConfig(
        arena=NAME, store=str(store), judge=llms, bootstrap_rounds=10, out=str(tmp_path / "b"), style_control="off"
    )
    with pytest.raises(XrayBenchError, match=f"judge {llms[0]}: the judge gave 0 verdicts.*judge {llms[1]}: the"):
        build_leaderboard(config)
    config.allow_few_verdicts = True
    board = build_leaderboard(config)
    assert board.banner is not None and board.banner.endswith("These ratings do not rank the models.")
    assert board.ensemble is not None and board.ensemble["agreement"]["n_battles"] == 0
    assert json.loads((board.out / "leaderboard.json").read_text())["ensemble"]["agreement"]["fleiss_kappa"] == {
        "value": None, "ci_low": None, "ci_high": None, "n": 0}  # fmt: skip


def test_judge_names_are_checked() -> None:
    with pytest.raises(XrayBenchError, match="names metric:lexical more than once"):
        JudgeConfig(NAME, TASK, ["metric:lexical", "metric:lexical"], predictions=["a=b"])
    assert JudgeConfig(NAME, TASK, "metric:lexical", predictions=["a=b"]).judge == ["metric:lexical"]
    assert LeaderboardConfig(arena=NAME, judge="metric:lexical").judge == ["metric:lexical"]


def test_agreement_of_a_hand_made_verdict_table() -> None:
    """Two judges on six battles of three studies: 3 equal verdicts, 3 near misses (one level apart)."""
    first = ["A>>B", "A>B", "tie", "B>A", "A>B", "tie"]
    second = ["A>>B", "A>>B", "tie", "B>>A", "A>B", "A>B"]

    def rows(verdicts: list[str]) -> list[dict[str, Any]]:
        return [{"task": "t", "study_id": f"s{i // 2}", "model_a": "m1", "model_b": "m2", "order": "xy" if i % 2 else
                 "yx", "source": "judge", "verdict": v} for i, v in enumerate(verdicts)]  # fmt: skip

    identical = {"task": "t", "study_id": "s9", "model_a": "m1", "model_b": "m2", "order": "xy", "source": "identical",
                 "verdict": "tie"}  # fmt: skip
    agree = judge_agreement({"j1": [*rows(first), identical], "j2": [*rows(second), identical]}, rounds=200, seed=1)
    pair = agree["pairs"][0]
    assert agree["n_battles"] == 6 and agree["n_studies"] == 3  # the automatic tie is not a verdict
    # p_o = 3/6; marginals j1 (A>>B 1, A>B 2, tie 2, B>A 1), j2 (A>>B 2, A>B 2, tie 1, B>>A 1):
    # p_e = (1*2 + 2*2 + 2*1) / 36 = 8/36; kappa = (1/2 - 2/9) / (7/9) = 5/14
    assert pair["exact_agreement"]["value"] == pytest.approx(0.5)
    assert pair["cohen_kappa"]["value"] == pytest.approx(5 / 14)
    # quadratic: observed sum (i-j)^2 / 6 = 3/6; expected sum_ij p_i q_j (i-j)^2 = 102/36: kappa_w = 1 - 18/102
    assert pair["weighted_kappa"]["value"] == pytest.approx(1 - 18 / 102)
    # Fleiss with two raters per battle: p = (3, 4, 3, 1, 1)/12, P_e = 36/144, P_bar = 1/2: kappa = 1/3
    assert agree["fleiss_kappa"]["value"] == pytest.approx(1 / 3)
    assert pair["cohen_kappa"]["ci_low"] <= pair["cohen_kappa"]["value"] <= pair["cohen_kappa"]["ci_high"]


def test_three_judges_fleiss_kappa_and_alpha(demo: dict[str, Any]) -> None:
    """With three judges: Fleiss' kappa and Krippendorff's alpha over all of them, checked against statsmodels and
    the krippendorff package on the exported verdicts; every pair of judges gets its kappas."""
    inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")
    krippendorff = pytest.importorskip("krippendorff")
    three = [*JUDGES, "metric:paper-score"]
    judge_arena(JudgeConfig(NAME, TASK, three[2], predictions=demo["predictions"], store=str(demo["store"])),
                progress=False)  # fmt: skip
    agree = _board(demo, "three", three).ensemble["agreement"]
    assert [p["judges"] for p in agree["pairs"]] == [three[:2], [three[0], three[2]], three[1:]]
    verdicts = []
    for judge in three:
        rows, _ = _export(demo, judge)
        verdicts.append({(r["study_id"], r["model_a"], r["model_b"], r["order"]): VERDICT_LEVELS.index(r["verdict"])
                         for r in rows if r["source"] == "judge"})  # fmt: skip
    keys = sorted(set().union(*verdicts))
    data = np.array([[v.get(k, np.nan) for k in keys] for v in verdicts], dtype=float)  # judges x battles
    data = data[:, (~np.isnan(data)).sum(axis=0) >= 2]
    counts = np.stack([np.bincount(col[~np.isnan(col)].astype(int), minlength=5) for col in data.T])
    assert agree["n_battles"] == len(counts) > 100
    assert (counts.sum(axis=1) == 3).all()  # every judge decided every battle that any two decided
    assert agree["fleiss_kappa"]["value"] == pytest.approx(inter_rater.fleiss_kappa(counts, method="fleiss"), abs=1e-6)
    alpha = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal", value_domain=range(5))
    assert agree["krippendorff_alpha_ordinal"]["value"] == pytest.approx(alpha, abs=1e-6)
    assert agree["fleiss_kappa"]["ci_low"] < agree["fleiss_kappa"]["value"] < agree["fleiss_kappa"]["ci_high"]
