"""Reader-study outputs: the raw answers as CSV, and the unblinded summary (Markdown, CSV, JSON, PNG)."""

from __future__ import annotations

import csv
import io
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xraybench.config import Bootstrap, Seeded, option, shared_option
from xraybench.errors import MissingExtraError
from xraybench.files import write_atomic
from xraybench.lazy import require
from xraybench.review import DEFAULT_ROOT, DIMENSIONS
from xraybench.review.stats import OUTCOMES, agreement, preference_shares
from xraybench.review.store import ReviewStore
from xraybench.schema import SCHEMA_KEY

RESULTS_SCHEMA_VERSION = 1  # a reader study's results.json
EXPORT_COLUMNS = (
    "reviewer",
    "case_id",
    "position",
    "dimension",
    "choice",
    "winner",
    "winner_model",
    "left_model",
    "right_model",
    "comment",
    "created_at",
    "updated_at",
)


@dataclass
class ResultsConfig(Bootstrap, Seeded):
    name: str = option(help="study name")
    root: str = option(DEFAULT_ROOT, help="folder holding the studies")
    out: str | None = option(None, help="output folder (default: ROOT/NAME/results)")
    bootstrap_rounds: int = shared_option(
        Bootstrap, "bootstrap_rounds", 2000, help="bootstrap resamples (over cases) for the 95%% CIs"
    )
    seed: int = shared_option(Seeded, "seed", help="bootstrap seed")


@dataclass
class ExportConfig:
    name: str = option(help="study name")
    out: str = option(help="CSV file to write the raw answers to")
    root: str = option(DEFAULT_ROOT, help="folder holding the studies")


# what a full disk leaves while the results or the export are written
RESULTS_SAFE = "the study is only read and is untouched; an earlier copy of this file is as it was"


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))


def export_answers(store: ReviewStore, out: str | Path) -> int:
    """One row per stored answer (and one per comment, dimension "comment"); returns the number of rows."""
    models = {slot: m["name"] for slot, m in store.models().items()}
    assignments = {(a.reviewer, a.case_id): a for a in store.assignments()}
    comments = store.comments()
    rows: list[dict[str, Any]] = []
    for a in store.answers():
        placed = assignments[(a.reviewer, a.case_id)]
        right = "B" if placed.left_slot == "A" else "A"
        rows.append(
            {
                "reviewer": a.reviewer,
                "case_id": a.case_id,
                "position": placed.position + 1,
                "dimension": a.dimension,
                "choice": a.choice,
                "winner": a.winner,
                "winner_model": models.get(a.winner, "tie"),
                "left_model": models[placed.left_slot],
                "right_model": models[right],
                "comment": "",
                "created_at": _iso(a.created_at),
                "updated_at": _iso(a.updated_at),
            }
        )
    for (reviewer, case_id), (text, updated) in sorted(comments.items()):
        placed = assignments[(reviewer, case_id)]
        right = "B" if placed.left_slot == "A" else "A"
        rows.append(
            {
                "reviewer": reviewer,
                "case_id": case_id,
                "position": placed.position + 1,
                "dimension": "comment",
                "choice": "",
                "winner": "",
                "winner_model": "",
                "left_model": models[placed.left_slot],
                "right_model": models[right],
                "comment": text,
                "created_at": _iso(updated),
                "updated_at": _iso(updated),
            }
        )
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    # replaced whole: a full disk leaves an earlier export as it was (and the study is only read)
    write_atomic(path, text.getvalue(), safe=RESULTS_SAFE)
    return len(rows)


def summarise(store: ReviewStore, *, rounds: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Everything `review results` reports, as plain JSON-ready data."""
    answers = store.answers()
    models = {slot: m["name"] for slot, m in store.models().items()}
    progress = {}
    for reviewer in store.reviewers():
        per_case: dict[str, int] = {}
        for a in answers:
            if a.reviewer == reviewer:
                per_case[a.case_id] = per_case.get(a.case_id, 0) + 1
        progress[reviewer] = {
            "assigned": len(store.assignments(reviewer)),
            "complete": sum(n == len(DIMENSIONS) for n in per_case.values()),
        }
    dimensions = []
    for key, label, _ in DIMENSIONS:
        shares = preference_shares(answers, key, rounds=rounds, seed=seed)
        agree = agreement(answers, key)
        dimensions.append(
            {
                "dimension": key,
                "label": label,
                "n_answers": shares.n_answers,
                "n_cases": shares.n_cases,
                "share": shares.share,
                "ci": {o: list(v) for o, v in shares.ci.items()},
                "decisive_a": shares.decisive_a,
                "decisive_a_ci": list(shares.decisive_a_ci or ()) or None,
                "fleiss_kappa": agree.fleiss,
                "fleiss_items": agree.n_items,
                "cohen_kappa": [{"reviewers": list(pair), "kappa": k, "n": n} for pair, (k, n) in agree.pairs.items()],
            }
        )
    return {
        "study": store.meta()["name"],
        "task": store.meta()["task"],
        "models": models,
        "bootstrap": {"rounds": rounds, "seed": seed, "unit": "case"},
        "progress": progress,
        "dimensions": dimensions,
    }


def _num(x: float | None, spec: str = ".3f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def _share(d: dict[str, Any], o: str) -> str:
    if not d["n_answers"]:
        return "n/a"
    low, high = d["ci"][o]
    return f"{_num(d['share'][o])} [{_num(low)}, {_num(high)}]"


def markdown(summary: dict[str, Any]) -> str:
    a, b = summary["models"]["A"], summary["models"]["B"]
    lines = [
        f"# Reader study {summary['study']} ({summary['task']})",
        "",
        f"Model A: **{a}**; model B: **{b}**. Shares of all answers with 95% bootstrap CIs over cases "
        f"({summary['bootstrap']['rounds']} rounds, seed {summary['bootstrap']['seed']}); "
        '"A among decisive" leaves ties out.',
        "",
        "| dimension | A | B | tie | A among decisive | answers | cases | Fleiss' κ |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for d in summary["dimensions"]:
        decisive = (
            f"{_num(d['decisive_a'])} [{_num(d['decisive_a_ci'][0])}, {_num(d['decisive_a_ci'][1])}]"
            if d["decisive_a"] is not None
            else "n/a"
        )
        lines.append(
            f"| {d['label']} | {_share(d, 'A')} | {_share(d, 'B')} | {_share(d, 'tie')} | {decisive} | "
            f"{d['n_answers']} | {d['n_cases']} | {_num(d['fleiss_kappa'])} |"
        )
    lines += [
        "",
        "## Cohen's κ per reviewer pair",
        "",
        "| dimension | reviewers | κ | shared cases |",
        "|---|---|---|---|",
    ]
    for d in summary["dimensions"]:
        for pair in d["cohen_kappa"]:
            lines.append(f"| {d['label']} | {' / '.join(pair['reviewers'])} | {_num(pair['kappa'])} | {pair['n']} |")
    lines += ["", "## Progress", "", "| reviewer | complete | assigned |", "|---|---|---|"]
    lines += [f"| {r} | {p['complete']} | {p['assigned']} |" for r, p in summary["progress"].items()]
    return "\n".join(lines) + "\n"


def write_csv(summary: dict[str, Any], path: Path) -> None:
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(
        ["dimension", "outcome", "model", "share", "ci_low", "ci_high", "n_answers", "n_cases", "fleiss_kappa"]
    )
    for d in summary["dimensions"]:
        for o in OUTCOMES:
            writer.writerow(
                [
                    d["dimension"],
                    o,
                    summary["models"].get(o, "tie"),
                    d["share"][o],
                    *d["ci"][o],
                    d["n_answers"],
                    d["n_cases"],
                    d["fleiss_kappa"],
                ]
            )
    write_atomic(path, text.getvalue(), safe=RESULTS_SAFE)


def write_png(summary: dict[str, Any], path: Path) -> None:
    """Grouped bars (A / tie / B) per dimension with CI whiskers."""
    matplotlib = require("matplotlib", "arena", "the reader-study summary figure")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    dims = summary["dimensions"]
    x = np.arange(len(dims))
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=120)
    colours = {"A": "#1a5fb4", "tie": "#9a9996", "B": "#e66100"}
    for i, o in enumerate(("A", "tie", "B")):
        values = np.array([d["share"][o] for d in dims], dtype=float)
        ci = np.array([d["ci"][o] for d in dims], dtype=float).reshape(len(dims), 2)
        err = np.nan_to_num(np.abs(np.stack([values - ci[:, 0], ci[:, 1] - values])))
        label = f"{'A: ' if o == 'A' else 'B: ' if o == 'B' else ''}{summary['models'].get(o, 'tie')}"
        ax.bar(x + (i - 1) * 0.27, np.nan_to_num(values), 0.27, yerr=err, capsize=3, color=colours[o], label=label)
    ax.set_xticks(x, [d["label"] for d in dims], rotation=15)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of answers (95% CI)")
    ax.set_title(f"Reader study {summary['study']}")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _finite(value: Any) -> Any:
    """NaN (an undefined kappa) as null, so results.json is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def write_summary(store: ReviewStore, out: str | Path, *, rounds: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Write results.md / .csv / .json (and results.png when matplotlib is installed) to `out`."""
    summary = summarise(store, rounds=rounds, seed=seed)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    # each file replaced whole: a full disk leaves the earlier results as they were (the study is only read)
    write_atomic(folder / "results.md", markdown(summary), safe=RESULTS_SAFE)
    versioned = {SCHEMA_KEY: RESULTS_SCHEMA_VERSION, **summary}  # `xraybench.schema`
    write_atomic(
        folder / "results.json", json.dumps(_finite(versioned), indent=2, ensure_ascii=False), safe=RESULTS_SAFE
    )
    write_csv(summary, folder / "results.csv")
    try:
        write_png(summary, folder / "results.png")
        summary["figure"] = str(folder / "results.png")
    except MissingExtraError as exc:
        summary["figure_skipped"] = str(exc)
    return summary
