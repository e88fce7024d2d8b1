"""The leaderboard page in a real headless browser (Debian's chromium): rows render in rating order, the
sort script reorders them, and every figure loads. Skipped when /usr/bin/chromium is absent."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from arena.battles import from_records
from arena.leaderboard import FIGURES, write_leaderboard
from arena.ratings import Ratings, compute_ratings
from xraybench.testing.browser import CHROMIUM, MISSING_REASON, chromium_command

pytest.importorskip("matplotlib", reason="leaderboard figures need the arena extra (matplotlib)")

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=MISSING_REASON)
STRENGTH = {"alpha": 0.0, "beta": 0.8, "gamma": -0.7, "delta": 1.4, "eps<&>": 0.3}
# a probe the test adds to a copy of the page: after load, record each image's decoded width in the DOM
PROBE = (
    "<script>window.addEventListener('load', function () { document.body.dataset.images = "
    "Array.from(document.images).map(function (i) { return i.naturalWidth; }).join(','); });</script>"
)


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Ratings]:
    rng = np.random.default_rng(7)
    names = sorted(STRENGTH)
    records = []
    for i in range(500):
        a, b = (str(x) for x in rng.choice(names, 2, replace=False))
        p = 1 / (1 + np.exp(-(STRENGTH[a] - STRENGTH[b])))
        winner = "tie" if rng.random() < 0.1 else ("model_a" if rng.random() < p else "model_b")
        records.append((i + 1, {"model_a": a, "model_b": b, "winner": winner}))
    ratings = compute_ratings(from_records(records), rounds=50)
    out = tmp_path_factory.mktemp("page")
    metrics = {"alpha": {"s/bleu_4": 0.1}, "beta": {"s/bleu_4": 0.4}, "delta": {"s/bleu_4": 0.2}}
    write_leaderboard(
        out,
        ratings,
        name="browser",
        judge="judge",
        prompt_version="v1",
        n_judgments=500,
        n_missing=0,
        cost_usd=0.0,
        metrics=metrics,
        proxy_note=None,
    )
    return out, ratings


def dump_dom(page: Path, profile: Path, fragment: str = "") -> str:
    """The DOM after the page's scripts ran, as chromium serialises it."""
    cmd = chromium_command(profile, "--virtual-time-budget=5000", "--dump-dom", page.as_uri() + fragment)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<table" in done.stdout, done.stderr[-2000:]
    return done.stdout


def rows(dom: str) -> list[str]:
    return [
        m.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        for m in re.findall(r'<tr data-model="([^"]*)"', dom)
    ]


def sorted_state(dom: str) -> str:
    found = re.search(r'<table id="leaderboard" data-sorted="([^"]*)"', dom)
    assert found, "table not found"
    return found.group(1)


def test_page_renders_in_rating_order(board: tuple[Path, Ratings], tmp_path: Path) -> None:
    out, ratings = board
    dom = dump_dom(out / "index.html", tmp_path)
    assert rows(dom) == [ratings.models[i] for i in ratings.order()]
    assert sorted_state(dom) == "rating:descending"
    assert "<h1>Report Arena leaderboard: browser</h1>" in dom


@pytest.mark.parametrize(
    ("fragment", "state"),
    [
        ("#sort=model", "model:ascending"),
        ("#sort=model&dir=desc", "model:descending"),
        ("#sort=win_rate&dir=asc", "win_rate:ascending"),
        ("#sort=metrics.s%2Fbleu_4", "metrics.s/bleu_4:descending"),
    ],
)
def test_sort_script_reorders_rows(board: tuple[Path, Ratings], tmp_path: Path, fragment: str, state: str) -> None:
    out, ratings = board
    dom = dump_dom(out / "index.html", tmp_path, fragment)
    assert sorted_state(dom) == state
    key, direction = state.split(":")
    by_name = sorted(ratings.models)
    win_rate = dict(zip(ratings.models, ratings.win_rate.tolist(), strict=True))
    expected = {
        "model:ascending": by_name,
        "model:descending": by_name[::-1],
        "win_rate:ascending": sorted(ratings.models, key=lambda m: win_rate[m]),
        # missing values last, whatever the direction; ties keep rating order
        "metrics.s/bleu_4:descending": ["beta", "delta", "alpha"]
        + [ratings.models[i] for i in ratings.order() if ratings.models[i] not in ("alpha", "beta", "delta")],
    }[state]
    assert rows(dom) == expected
    assert f'data-key="{key}"' in dom
    assert re.search(rf'<th[^>]*data-key="{re.escape(key)}"[^>]*aria-sort="{direction}"', dom)


def test_figures_load(board: tuple[Path, Ratings], tmp_path: Path) -> None:
    out, _ = board
    probe = out / "probe.html"
    probe.write_text((out / "index.html").read_text().replace("</body>", PROBE + "</body>"))
    dom = dump_dom(probe, tmp_path)
    widths = re.search(r'<body data-images="([^"]*)"', dom)
    assert widths, "the load probe did not run"
    values = [int(w) for w in widths.group(1).split(",")]
    assert len(values) == len(FIGURES) and all(w >= 300 for w in values), values
