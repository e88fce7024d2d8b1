"""Style-controlled ratings, sandwich CIs, weights, separability and ranking agreement (issue 18, parts 2 and 4).

The truth is simulated: battles are drawn from the contextual Bradley–Terry model with known strengths and known
style coefficients on the normalised differences of `arena.style`, with style confounded with the models (the
weak models write longer, more structured reports), so a raw fit is visibly wrong and a style-controlled fit has
to take the style effect apart from the strengths.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from arena.battles import Battles, battles_of, read_battles
from arena.leaderboard import write_leaderboard
from arena.ratings import (
    bradley_terry,
    compute_ratings,
    contextual_fit,
    rank_agreement,
    sandwich_cov,
    separability,
    style_controlled,
)
from arena.style import STYLE_FEATURES, style_counts, style_design
from xraybench.errors import DataFormatError, XrayBenchError

FACTOR = 400 / math.log(10)
STRENGTH = np.array([0.0, 0.4, 0.8, 1.2, -0.3])
TOKENS = np.array([120.0, 60.0, 80.0, 50.0, 200.0])  # the weakest model (m4) is the most verbose
HEADERS = np.array([2.0, 1.0, 0.5, 1.0, 3.0])
LISTS = np.array([0.5, 0.2, 1.0, 0.1, 2.0])
GAMMA = {"tokens": 0.45, "headers": 0.15, "list_items": -0.1}


def simulate(n: int, seed: int, studies: int | None = None) -> tuple[Battles, np.ndarray]:
    """Battles from the style model; returns them and the true coefficients in `style_design`'s feature order."""
    rng = np.random.default_rng(seed)
    m = len(STRENGTH)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    names = ("headers", "list_items", "tokens")  # sorted, as battle files give them

    def counts(side: np.ndarray) -> np.ndarray:
        return np.stack(
            [rng.poisson(HEADERS[side]), rng.poisson(LISTS[side]), rng.poisson(TOKENS[side])], axis=1
        ).astype(float)

    style_a, style_b = counts(a), counts(b)
    x, kept, _, _ = style_design(names, style_a, style_b)
    gamma = np.array([GAMMA[k] for k in kept])
    eta = STRENGTH[a] - STRENGTH[b] + x @ gamma
    score = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    study = study_ids = None
    if studies:
        study = rng.integers(0, studies, n)
        study_ids = tuple(f"s{i}" for i in range(studies))
    models = tuple(f"m{i}" for i in range(m))
    return Battles(models, a, b, score, study, study_ids, style_names=names, style_a=style_a, style_b=style_b), gamma


def test_style_control_recovers_known_coefficients_and_strengths() -> None:
    battles, gamma = simulate(12000, seed=1, studies=3000)
    result = style_controlled(battles, 0, prior=0.0, rounds=0)
    assert result.features == ("headers", "list_items", "tokens")
    coef_se = (result.coef_sandwich_high - result.coef_sandwich_low) / (2 * 1.959963984540054)
    assert np.all(np.abs(result.coef - gamma) < 4 * coef_se), (result.coef, gamma)
    np.testing.assert_allclose(result.coef, gamma, atol=0.08)
    truth = 1000 + FACTOR * (STRENGTH - STRENGTH[0])
    np.testing.assert_allclose(result.rating, truth, atol=35)
    # the sandwich interval of each model covers its true rating (the anchor's is a point)
    assert np.all((result.sandwich_low <= truth + 1e-9) & (truth - 1e-9 <= result.sandwich_high))
    # the raw fit credits the verbose weakest model with the judge's taste for length: it is far off
    raw = bradley_terry(battles)
    assert raw["m4"] - truth[4] > 30
    assert raw["m4"] - truth[4] > 2 * abs(result.rating[4] - truth[4])


def fastchat_battle(rng: np.random.Generator, model_a: str, model_b: str, winner: str, counts: dict) -> dict:
    """One battle as FastChat's clean_battle export writes it (conv_metadata with per-side style counts)."""
    meta = {}
    for side in "ab":
        tokens, h1, h2, ordered, unordered, bold = counts[side]
        meta[f"sum_assistant_{side}_tokens"] = tokens
        meta[f"header_count_{side}"] = {"h1": h1, "h2": h2, "h3": 0, "h4": 0, "h5": 0, "h6": 0}
        meta[f"list_count_{side}"] = {"ordered": ordered, "unordered": unordered}
        meta[f"bold_count_{side}"] = {"**": bold, "__": 0}
        meta[f"context_{side}_tokens"] = int(rng.integers(10, 50))
        meta[f"turns_{side}"] = 1
    return {
        "question_id": f"q{rng.integers(1 << 30)}", "model_a": model_a, "model_b": model_b, "winner": winner,
        "judge": "arena_user_1", "conversation_a": [], "conversation_b": [], "turn": 1, "anony": True,
        "language": "English", "tstamp": 1700000000.0, "conv_metadata": meta,
        "is_code": False, "is_refusal": False,
    }  # fmt: skip


def test_reads_a_fastchat_battle_file_and_recovers_the_style_coefficients(tmp_path: Path) -> None:
    """FastChat's published method on a battle file in its own format: known coefficients come back."""
    rng = np.random.default_rng(7)
    names = ("gpt-x", "claude-y", "llama-z", "qwen-w")
    strength = {"gpt-x": 0.6, "claude-y": 0.5, "llama-z": 0.0, "qwen-w": -0.2}
    verbosity = {"gpt-x": 300, "claude-y": 150, "llama-z": 400, "qwen-w": 250}
    n = 8000
    sides = []
    for _ in range(n):
        a, b = rng.choice(len(names), 2, replace=False)
        per_side = {}
        for side, model in (("a", names[a]), ("b", names[b])):
            per_side[side] = (
                int(verbosity[model] * rng.lognormal(0, 0.6)), int(rng.poisson(1)),
                int(rng.poisson(verbosity[model] / 150)),
                int(rng.poisson(1)), int(rng.poisson(verbosity[model] / 100)), int(rng.poisson(2)),
            )  # fmt: skip
        sides.append((names[a], names[b], per_side))
    count = {"tokens": lambda c: c[0], "headers": lambda c: c[1] + c[2], "list_items": lambda c: c[3] + c[4],
             "bold": lambda c: c[5]}  # fmt: skip
    feats = tuple(sorted(STYLE_FEATURES))
    ca = np.array([[count[f](s[2]["a"]) for f in feats] for s in sides], dtype=float)
    cb = np.array([[count[f](s[2]["b"]) for f in feats] for s in sides], dtype=float)
    x, kept, _, _ = style_design(feats, ca, cb)
    true_gamma = {"bold": 0.1, "headers": 0.2, "list_items": 0.05, "tokens": 0.5}
    gamma = np.array([true_gamma[f] for f in kept])
    eta = np.array([strength[s[0]] - strength[s[1]] for s in sides]) + x @ gamma
    p = 1 / (1 + np.exp(-eta))
    u = rng.random(n)
    records = []
    for (ma, mb, per_side), pi, ui in zip(sides, p, u, strict=True):
        # ties keep P(a) + P(tie)/2 = p: a tie 10% of the time, never more than p allows
        tie = min(0.1, 2 * pi, 2 * (1 - pi))
        winner = "model_a" if ui < pi - tie / 2 else "model_b" if ui > pi + tie / 2 else "tie (bothbad)"
        records.append(fastchat_battle(rng, ma, mb, winner, per_side))
    path = tmp_path / "clean_battle_20240814_public.json"
    path.write_text(json.dumps(records, indent=1))
    battles = read_battles(path)
    assert battles.has_style and battles.style_names == feats
    rated = compute_ratings(battles, rounds=0, style_control=True, anchor="llama-z")
    assert rated.style is not None
    coefs = dict(zip(rated.style.features, rated.style.coef.tolist(), strict=True))
    assert set(coefs) == set(true_gamma)
    for feature, value in true_gamma.items():
        assert coefs[feature] == pytest.approx(value, abs=0.08), feature
    by_model = dict(zip(rated.models, rated.style.rating.tolist(), strict=True))
    for model, s in strength.items():
        assert by_model[model] == pytest.approx(1000 + FACTOR * (s - strength["llama-z"]), abs=40), model


def test_fastchat_file_with_bad_metadata_is_refused_naming_the_record(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    good = fastchat_battle(rng, "a", "b", "model_a", {"a": (10, 0, 0, 0, 0, 0), "b": (5, 0, 0, 0, 0, 0)})
    bad = fastchat_battle(rng, "a", "b", "tie", {"a": (10, 0, 0, 0, 0, 0), "b": (5, 0, 0, 0, 0, 0)})
    bad["conv_metadata"]["sum_assistant_b_tokens"] = "many"
    path = tmp_path / "battles.json"
    path.write_text(json.dumps([good, bad]))
    with pytest.raises(DataFormatError) as info:
        read_battles(path)
    text = str(info.value)
    assert "battles.json" in text and "2" in text and "sum_assistant_b_tokens" in text and "'many'" in text


def test_style_counts_of_real_reports(shared_data: Path) -> None:
    """On real IU X-ray reports: section labels are headers, lists are items, tokens grow with the text."""
    with (shared_data / "iu_xray" / "indiana_reports.csv").open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["findings"].strip() and r["impression"].strip()]
    assert len(rows) > 3000
    labelled = 0
    for row in rows:
        plain, impression = style_counts(row["findings"]), style_counts(row["impression"])
        sectioned = style_counts(f"FINDINGS: {row['findings']}\nIMPRESSION: {row['impression']}")
        # the sections no longer open a line, so their own opening labels ("Chest:") are not headers there
        assert sectioned["headers"] == 2
        assert sectioned["tokens"] == plain["tokens"] + impression["tokens"] + 4  # two labels, two colons
        # a findings text has a header only where it opens with a section label ("Chest: ...")
        opens_with_label = row["findings"].split(":")[0].strip().isalpha() and ":" in row["findings"][:12]
        assert plain["headers"] == int(opens_with_label), row["findings"][:60]
        labelled += opens_with_label
        assert plain["bold"] == 0
    assert 0 < labelled < 20
    listed = style_counts("## Findings\n1. No effusion.\n2) Heart normal.\n- Lungs clear.\n**Impression**: normal")
    assert listed == {"tokens": 24, "headers": 1, "list_items": 3, "bold": 1}


def test_leaderboard_shows_style_control_sandwich_and_separability(tmp_path: Path) -> None:
    battles, _ = simulate(3000, seed=3, studies=600)
    rated = compute_ratings(battles, rounds=60, seed=0, style_control=True)
    other = {"m0": 1000.0, "m1": 1050.0, "m2": 1100.0, "m3": 1200.0, "m4": 1010.0, "unrated": 900.0}
    write_leaderboard(
        tmp_path, rated, name="styled", judge="j", prompt_version="v", n_judgments=3000, n_missing=0, cost_usd=0.0,
        metrics=None, proxy_note=None, compare={"second-arena": other},
    )  # fmt: skip
    data = json.loads((tmp_path / "leaderboard.json").read_text())
    assert [c["feature"] for c in data["style_control"]["coefficients"]] == ["headers", "list_items", "tokens"]
    for c in data["style_control"]["coefficients"]:
        assert c["ci_low"] <= c["coef"] <= c["ci_high"] and c["sandwich_ci_low"] <= c["coef"] <= c["sandwich_ci_high"]
    row = data["models"][0]
    assert row["style_ci_low"] <= row["style_controlled_rating"] <= row["style_ci_high"]
    q = data["quality"]
    assert q["separability"] == pytest.approx(separability(rated.ci_low, rated.ci_high), abs=1e-6)
    assert 0.0 <= q["separability_style"] <= 1.0 and q["style_vs_raw"]["n_models"] == 5
    # the five models of this arena are in the other one (which also has a sixth)
    agreement = data["agreement"]["second-arena"]
    raw = dict(zip(rated.models, rated.rating.tolist(), strict=True))
    assert agreement == pytest.approx(rank_agreement(raw, other)) and agreement["n_models"] == 5
    md = (tmp_path / "leaderboard.md").read_text()
    assert "## Style coefficients" in md and "| tokens | +0." in md
    assert (
        "Separability (share of the 10 model pairs" in md and "Agreement of this ranking with arena second-arena" in md
    )
    header = (tmp_path / "leaderboard.csv").read_text().splitlines()[0].split(",")
    assert header[-5:] == ["style_controlled_rating", "style_ci_low", "style_ci_high", "style_sandwich_ci_low",
                           "style_sandwich_ci_high"]  # fmt: skip
    html = (tmp_path / "index.html").read_text()
    assert 'id="style-coefficients"' in html and 'data-key="style_controlled_rating"' in html


def test_sandwich_matches_the_bootstrap_on_a_correct_model() -> None:
    battles, _ = simulate(4000, seed=5, studies=4000)
    plain = Battles(battles.models, battles.a, battles.b, battles.score, battles.study, battles.study_ids)
    rated = compute_ratings(plain, rounds=600, seed=1)
    boot = (rated.ci_high - rated.ci_low)[1:]
    sandwich = (rated.sandwich_high - rated.sandwich_low)[1:]
    assert np.all(np.abs(sandwich / boot - 1) < 0.2), (sandwich, boot)


def test_sandwich_widens_with_correlated_studies() -> None:
    """Studies with their own model effects: the study-clustered sandwich is wider than per-battle scores give."""
    rng = np.random.default_rng(11)
    m, studies, per = 4, 150, 30
    study = np.repeat(np.arange(studies), per)
    a = rng.integers(0, m, len(study))
    b = (a + rng.integers(1, m, len(study))) % m
    bias = rng.normal(0, 1.0, (studies, m))
    eta = STRENGTH[a] - STRENGTH[b] + bias[study, a] - bias[study, b]
    score = (rng.random(len(study)) < 1 / (1 + np.exp(-eta))).astype(float)
    models = tuple(f"m{i}" for i in range(m))
    clustered = Battles(models, a, b, score, study, tuple(f"s{i}" for i in range(studies)))
    flat = Battles(models, a, b, score)
    theta = contextual_fit(clustered, np.zeros((len(study), 0)), 0)
    wide = np.sqrt(np.diag(sandwich_cov(clustered, np.zeros((len(study), 0)), 0, theta)))[1:]
    narrow = np.sqrt(np.diag(sandwich_cov(flat, np.zeros((len(study), 0)), 0, theta)))[1:]
    assert np.all(wide > 1.5 * narrow)
    rated = compute_ratings(clustered, rounds=300, seed=0)
    ratio = (rated.sandwich_high - rated.sandwich_low)[1:] / (rated.ci_high - rated.ci_low)[1:]
    assert np.all(np.abs(ratio - 1) < 0.25), ratio  # and agrees with the study bootstrap


def test_weights_are_likelihood_weights() -> None:
    """A battle of weight 2 counts as that battle twice (Arena-Rank's per-observation weights)."""
    battles, _ = simulate(500, seed=2)
    rng = np.random.default_rng(0)
    weight = rng.integers(1, 4, len(battles)).astype(float)
    weighted = Battles(battles.models, battles.a, battles.b, battles.score, weight=weight)
    idx = np.repeat(np.arange(len(battles)), weight.astype(int))
    repeated = Battles(battles.models, battles.a[idx], battles.b[idx], battles.score[idx])
    one, two = bradley_terry(weighted), bradley_terry(repeated)
    assert one == pytest.approx(two, abs=1e-6)
    styled_w = Battles(battles.models, battles.a, battles.b, battles.score, style_names=battles.style_names,
                       style_a=battles.style_a, style_b=battles.style_b, weight=weight)  # fmt: skip
    styled_r = Battles(battles.models, battles.a[idx], battles.b[idx], battles.score[idx],
                       style_names=battles.style_names, style_a=battles.style_a[idx], style_b=battles.style_b[idx])  # fmt: skip
    # the features' scale is the RMS over battles: repeat them in the weighted design too for equal designs
    x_r, _, _, _ = style_design(styled_r.style_names, styled_r.style_a, styled_r.style_b)
    x_w = x_r[np.r_[0, np.cumsum(weight.astype(int))[:-1]]]
    np.testing.assert_allclose(contextual_fit(styled_w, x_w, 0), contextual_fit(styled_r, x_r, 0), atol=1e-6)


def test_weight_column_in_a_battle_file(tmp_path: Path) -> None:
    rows = [{"model_a": "a", "model_b": "b", "winner": "model_a", "weight": 3},
            {"model_a": "a", "model_b": "b", "winner": "model_b", "weight": 1}]  # fmt: skip
    path = tmp_path / "w.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    battles = read_battles(path)
    assert battles.weight.tolist() == [3.0, 1.0]
    # weighted MLE: 3 wins to 1 -> a is ln(3) above b
    assert bradley_terry(battles, anchor="b")["a"] == pytest.approx(1000 + FACTOR * math.log(3))
    path.write_text(json.dumps(rows[0]) + "\n" + json.dumps({**rows[1], "weight": None}) + "\n")
    with pytest.raises(DataFormatError, match="weight must be given on every battle or none"):
        read_battles(path)
    path.write_text(json.dumps({**rows[0], "weight": -1}) + "\n")
    with pytest.raises(DataFormatError, match="'weight' must be a positive number"):
        read_battles(path)


def test_style_control_needs_varying_style_counts() -> None:
    battles, _ = simulate(200, seed=0)
    with pytest.raises(XrayBenchError, match="style control needs style_a and style_b"):
        style_controlled(Battles(battles.models, battles.a, battles.b, battles.score), 0)
    same = np.ones_like(battles.style_a)
    flat = Battles(battles.models, battles.a, battles.b, battles.score, style_names=battles.style_names,
                   style_a=same, style_b=same)  # fmt: skip
    with pytest.raises(XrayBenchError, match="no style feature varies"):
        style_controlled(flat, 0)


def test_battles_of_keeps_style_only_when_every_battle_has_it() -> None:
    rows = [{"model_a": "a", "model_b": "b", "winner": "tie", "style_a": {"tokens": 3}, "style_b": {"tokens": 4}},
            {"model_a": "a", "model_b": "b", "winner": "model_a"}]  # fmt: skip
    assert not battles_of(rows).has_style
    assert battles_of(rows[:1]).has_style


def test_separability_and_rank_agreement_by_hand() -> None:
    low, high = np.array([0.0, 2.0, 2.5, 10.0]), np.array([1.0, 3.0, 4.0, 11.0])
    assert separability(low, high) == pytest.approx(5 / 6)  # only the pair (1, 2) overlaps
    assert separability(np.array([0.0, np.nan]), np.array([1.0, 2.0])) is None
    x = {"a": 4.0, "b": 3.0, "c": 2.0, "d": 1.0}
    assert rank_agreement(x, x) == {"n_models": 4, "kendall_tau": 1.0, "spearman": 1.0}
    swapped = {"a": 4.0, "b": 2.0, "c": 3.0, "d": 1.0, "e": 9.0}
    agree = rank_agreement(x, swapped)
    assert agree["n_models"] == 4
    assert agree["kendall_tau"] == pytest.approx(4 / 6)  # 5 concordant, 1 discordant of 6 pairs
    assert agree["spearman"] == pytest.approx(1 - 6 * 2 / (4 * 15))


def write_styled_jsonl(path: Path, battles: Battles) -> Path:
    """A battle file as `arena battles` writes it, with per-battle style counts."""
    names = {1.0: "model_a", 0.0: "model_b", 0.5: "tie"}
    lines = []
    for i in range(len(battles)):
        rec = {
            "model_a": battles.models[battles.a[i]], "model_b": battles.models[battles.b[i]],
            "winner": names[float(battles.score[i])], "study_id": battles.study_ids[battles.study[i]],
            "style_a": dict(zip(battles.style_names, battles.style_a[i].tolist(), strict=True)),
            "style_b": dict(zip(battles.style_names, battles.style_b[i].tolist(), strict=True)),
        }  # fmt: skip
        lines.append(json.dumps(rec))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_ratings_and_leaderboard_with_style_control_and_compare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from xraybench.cli import main

    battles, gamma = simulate(2500, seed=4, studies=500)
    path = write_styled_jsonl(tmp_path / "styled.jsonl", battles)
    assert main(["arena", "ratings", "--battles", str(path), "--bootstrap-rounds", "30", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    coefs = {c["feature"]: c["coef"] for c in data["style_control"]["coefficients"]}  # auto: the file has counts
    assert coefs == pytest.approx(dict(zip(("headers", "list_items", "tokens"), gamma.tolist(), strict=True)), abs=0.15)
    assert (
        main(
            ["arena", "ratings", "--battles", str(path), "--bootstrap-rounds", "0", "--style-control", "off", "--json"]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["style_control"] is None
    assert main(["arena", "ratings", "--battles", str(path), "--bootstrap-rounds", "20"]) == 0
    table = capsys.readouterr().out
    assert "style-controlled" in table and "sandwich CI" in table and "style coefficient tokens" in table
    assert "separability" in table
    # a file without style counts: `on` refuses it with one clear line, `auto` rates it without
    plain = tmp_path / "plain.jsonl"
    plain.write_text("".join(json.dumps({k: v for k, v in json.loads(line).items() if not k.startswith("style")}) + "\n"
                             for line in path.read_text().splitlines()))  # fmt: skip
    assert main(["arena", "ratings", "--battles", str(plain), "--bootstrap-rounds", "0", "--style-control", "on"]) != 0
    assert "style control needs style_a and style_b" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    args = ["arena", "leaderboard", "--battles", str(path), "--bootstrap-rounds", "20"]
    assert main([*args, "--arena", "first"]) == 0
    assert main([*args, "--arena", "second", "--compare", "arenas/first/leaderboard"]) == 0
    second = json.loads((tmp_path / "arenas" / "second" / "leaderboard" / "leaderboard.json").read_text())
    assert second["agreement"]["first"] == {"n_models": 5, "kendall_tau": 1.0, "spearman": 1.0}  # same battles
    assert (
        "Agreement of this ranking with arena first" in (tmp_path / "arenas/second/leaderboard/index.html").read_text()
    )
    assert main(["arena", "leaderboard", "--battles", str(plain), "--bootstrap-rounds", "0", "--arena", "plain"]) == 0
    page = (tmp_path / "arenas/plain/leaderboard/leaderboard.md").read_text()
    assert "Style control: not shown: some battles carry no style counts" in page and "Style-controlled" not in page
    capsys.readouterr()
    assert main([*args, "--arena", "third", "--compare", "arenas/nowhere"]) != 0
    assert "--compare arenas/nowhere: no such leaderboard.json" in capsys.readouterr().err


def test_style_control_stays_finite_when_style_separates_the_outcomes() -> None:
    """One model always wins and always writes more (an arena of the reference against a short wrong report): with
    the prior the coefficient has a N(0, 1/prior) prior and stays finite; the plain MLE says it has none."""
    n = 40
    a, b = np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64)
    style_a = np.column_stack([np.full(n, 60.0) + np.arange(n), np.ones(n)])
    style_b = np.column_stack([np.full(n, 4.0), np.zeros(n)])
    battles = Battles(("echo", "wrong"), a, b, np.ones(n), style_names=("headers", "tokens")[::-1],
                      style_a=style_a, style_b=style_b)  # fmt: skip
    rated = compute_ratings(battles, rounds=20, prior=1.0, style_control=True)
    assert rated.style is not None and np.isfinite(rated.style.coef).all() and np.isfinite(rated.style.rating).all()
    assert 0 < rated.style.coef.max() < 10
    with pytest.raises(XrayBenchError, match="use a prior > 0"):
        compute_ratings(battles, rounds=0, prior=0.0, style_control=True)


def test_auto_style_control_steps_aside_when_no_feature_varies(capsys: pytest.CaptureFixture[str]) -> None:
    """Every battle's two reports have the same style (e.g. a judge that only ever saw identical lengths): `auto`
    rates without style control and says why; `on` refuses with one clear line."""
    from arena.api import RatingsConfig

    battles, _ = simulate(300, seed=1)
    same = Battles(battles.models, battles.a, battles.b, battles.score, style_names=battles.style_names,
                   style_a=battles.style_a, style_b=battles.style_a)  # fmt: skip
    auto = RatingsConfig(battles="unused", bootstrap_rounds=0).rate(same)
    assert auto.style is None
    assert auto.settings["style_control"] == "not shown: no style feature differs between the two reports of any battle"
    with pytest.raises(XrayBenchError, match="no style feature varies"):
        RatingsConfig(battles="unused", bootstrap_rounds=0, style_control="on").rate(same)


def test_an_arena_planned_before_style_counts_keeps_style_control() -> None:
    """An older plan has no style counts on its ties between identical reports (no call, no stored text); their
    difference is 0 whatever the counts, so the arena keeps style control. A judged battle without counts drops it."""
    judged = {"model_a": "a", "model_b": "b", "winner": "model_a", "source": "judge",
              "style_a": {"tokens": 30, "headers": 1}, "style_b": {"tokens": 10, "headers": 1}}  # fmt: skip
    other = {**judged, "winner": "model_b", "style_a": {"tokens": 5, "headers": 0}}
    identical = {"model_a": "a", "model_b": "b", "winner": "tie", "source": "identical"}
    battles = battles_of([judged, other, identical])
    assert battles.has_style and battles.style_names == ("headers", "tokens")
    x, names, _, _ = style_design(battles.style_names, battles.style_a, battles.style_b)
    assert names == ("headers", "tokens") and np.all(x[2] == 0)  # the identical tie adds no style difference
    assert not battles_of([judged, other, {**identical, "source": "judge"}]).has_style
