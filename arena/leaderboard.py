"""Report Arena leaderboard files: markdown, CSV, JSON, PNG figures and a static HTML page.

Everything is rendered from one dictionary (the content of `leaderboard.json`), built once from the
`Ratings` and the models' metric values, so the files never disagree. Output is deterministic: rows in
rating order (ties by name), floats rounded to 6 decimals in JSON and printed with fixed formats elsewhere,
no timestamps, and PNGs written without the matplotlib version in their metadata, so regenerating a
leaderboard from the same battles gives byte-identical files that diff cleanly when committed.

Metric columns come from the models' benchmark runs (`results.json`): the leaderboard scores each metric
declares (`MetricSpec.leaderboard`, read by `xraybench.metrics.leaderboard_scores`) of each suite
the run scored (the suite's sample-weighted average over its tasks), or of each task when the run scored
no suite, as columns named `SUITE/metric` or `TASK/metric`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from arena.ratings import Ratings, prior_statement, rank_agreement
from xraybench.errors import XrayBenchError
from xraybench.lazy import require
from xraybench.metrics import leaderboard_scores
from xraybench.schema import check_schema

SCHEMA_VERSION = 1  # leaderboard.json's `schema_version` (`xraybench.schema`)
FIGURES = {
    "pairwise_winrate": "pairwise_winrate.png",
    "predicted_winrate": "predicted_winrate.png",
    "battle_counts": "battle_counts.png",
    "winrates": "winrates.png",
}
FIGURE_TITLES = {
    "winrates": "Win rate per model",
    "pairwise_winrate": "Observed win fraction (row vs column)",
    "predicted_winrate": "Bradley-Terry predicted win probability (row vs column)",
    "battle_counts": "Battles per model pair",
}
FILES = ("leaderboard.md", "leaderboard.csv", "leaderboard.json", *FIGURES.values(), "index.html")
DECIMALS = 6
UNIT_PLURAL = {"study": "studies", "battle": "battles"}
ANNOTATE_MAX_MODELS = 20  # heatmap cells carry their value up to this many models

# (key in a model row, header, format); metric columns use METRIC_FORMAT
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("rank", "rank", "d"),
    ("model", "model", "s"),
    ("rating", "rating", ".1f"),
    ("ci_low", "ci_low", ".1f"),
    ("ci_high", "ci_high", ".1f"),
    ("rank_best", "rank_best", "d"),
    ("rank_worst", "rank_worst", "d"),
    ("win_rate", "win_rate", ".4f"),
    ("predicted_win_rate", "predicted_win_rate", ".4f"),
    ("n_battles", "n_battles", "d"),
    ("elo_online", "elo_online", ".1f"),
)
LENGTH_COLUMN = ("length_controlled_rating", "length_controlled_rating", ".1f")
SANDWICH_COLUMNS = (("sandwich_ci_low", "sandwich_ci_low", ".1f"), ("sandwich_ci_high", "sandwich_ci_high", ".1f"))
STYLE_COLUMNS = (
    ("style_controlled_rating", "style_controlled_rating", ".1f"),
    ("style_ci_low", "style_ci_low", ".1f"),
    ("style_ci_high", "style_ci_high", ".1f"),
    ("style_sandwich_ci_low", "style_sandwich_ci_low", ".1f"),
    ("style_sandwich_ci_high", "style_sandwich_ci_high", ".1f"),
)
METRIC_FORMAT = ".4f"


def fmt(value: object, spec: str, missing: str = "") -> str:
    """A cell in its fixed format; None (no value) prints as `missing`."""
    if value is None:
        return missing
    return format(value, spec)


def _rounded(obj: Any) -> Any:
    """Floats rounded to DECIMALS and non-finite ones as None, recursively (JSON-safe, platform-stable)."""
    if isinstance(obj, float):
        return round(obj, DECIMALS) if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_rounded(v) for v in obj]
    if isinstance(obj, np.generic):
        return _rounded(obj.item())
    return obj


LEADERBOARD_DIR = "leaderboard"


def default_board(name: str) -> Path:
    """Where an arena's leaderboard goes unless `--out` says otherwise: beside its store in the working
    directory's `arenas/NAME/leaderboard/` (not the tracked `leaderboards/`, which holds committed boards)."""
    from arena.judging import store_path

    return store_path(name).parent / LEADERBOARD_DIR


def run_metrics(run_dir: str | Path, task: str | None = None) -> dict[str, float | None]:
    """Headline metric values of one run: of `task` when given (an arena's task: every model of the arena then
    gets the same columns, whether its run scored a suite or the one task), else per suite when the run scored
    suites, else per task."""
    from xraybench.results import read_results

    results = read_results(run_dir)
    suites = results.get("suites") or {}
    tasks = results.get("tasks") or {}
    if task is not None and task not in tasks:
        raise XrayBenchError(
            f"{run_dir}: the run did not score the arena's task {task!r} (it scored {', '.join(tasks)})"
        )
    scope = {task: tasks[task]} if task is not None else suites if suites else tasks
    columns = leaderboard_scores()  # what each metric declares (`MetricSpec.leaderboard`), in registration order
    out: dict[str, float | None] = {}
    for group in sorted(scope):
        values = scope[group].get("metrics") or {}
        for metric in columns:
            if metric in values:
                value = values[metric].get("value") if isinstance(values[metric], Mapping) else values[metric]
                if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                    raise XrayBenchError(f"{run_dir}: {group}/{metric} value must be a number, got {value!r}")
                out[f"{group}/{metric}"] = value
    if not out:
        raise XrayBenchError(f"{run_dir}: results.json has none of the headline metrics ({', '.join(columns)})")
    return out


def other_ratings(path: str | Path) -> tuple[str, dict[str, float]]:
    """The name and the ratings of another arena's leaderboard (`leaderboard.json`, or the folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "leaderboard.json"
    if not path.is_file():
        raise XrayBenchError(f"--compare {path}: no such leaderboard.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise XrayBenchError(f"--compare {path}: not JSON ({exc.msg}, line {exc.lineno})") from None
    check_schema(data, SCHEMA_VERSION, path, "a leaderboard")
    rows = data.get("models") if isinstance(data, Mapping) else None
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) and "model" in r for r in rows):
        raise XrayBenchError(f"--compare {path}: expected a leaderboard.json with a 'models' list")
    ratings = {str(r["model"]): float(r["rating"]) for r in rows if isinstance(r.get("rating"), int | float)}
    return str(data.get("name") or path.parent.name), ratings


def existing_columns(board: str | Path) -> tuple[dict[str, dict[str, float | None]], dict[str, str]]:
    """Metric columns (per model, the values it has) and run notes of the leaderboard already in `board`; empty
    when there is none. Regenerating an arena's leaderboard keeps them for models whose runs are not given again."""
    path = Path(board) / "leaderboard.json"
    if not path.exists():
        return {}, {}
    data = json.loads(path.read_text(encoding="utf-8"))
    check_schema(data, SCHEMA_VERSION, path, "a leaderboard")  # a newer one is refused, not misread
    metrics = {r["model"]: {k: v for k, v in (r.get("metrics") or {}).items() if v is not None} for r in data["models"]}
    return metrics, dict(data.get("run_notes") or {})


def run_note(run_dir: str | Path, task: str | None = None) -> str | None:
    """What the leaderboard must say beside a run's metric columns: None for a complete run, else how many
    items failed (its metrics are over the completed items only)."""
    from xraybench.results import incomplete_note, read_results

    return incomplete_note(read_results(run_dir), task)


DIRECTION_MARKS = {"lower": " ↓", "none": " ·", "unknown": " ?"}  # beside a metric column's header


def metric_directions(columns: Sequence[str]) -> dict[str, str]:
    """`SCOPE/score` column -> "lower", "none" or "unknown" for every column whose score is not higher-is-better
    (`xraybench.metrics.score_direction`): a reader must not take a lower RadCliQ-v1 or error count for worse."""
    from xraybench.metrics import score_direction

    out = {}
    for column in columns:
        direction = score_direction(column.rsplit("/", 1)[-1]) or "unknown"
        if direction != "higher":
            out[column] = direction
    return out


def _metric_columns(metrics: Mapping[str, Mapping[str, float | None]]) -> list[str]:
    """Metric names in order of first appearance over the models taken alphabetically."""
    columns: dict[str, None] = {}
    for model in sorted(metrics):
        columns.update(dict.fromkeys(metrics[model]))
    return list(columns)


def proxy_note_for(judge: str | None) -> str | None:
    """The marking of a leaderboard judged (in part) by an offline `metric:` judge; None for LLM judges."""
    proxies = [j.strip() for j in (judge or "").split(",") if j.strip().startswith("metric:")]
    if not proxies:
        return None
    return f"reference-based proxy judge ({', '.join(proxies)}), not an LLM judgment"


def prompt_version_for(judges: Sequence[str]) -> str:
    """The prompt version a leaderboard states for its judges: the LLM judge prompt's, or none for `metric:` judges."""
    from arena.judges import is_metric_judge
    from arena.judges.metric import VERSION
    from arena.prompt import PROMPT_VERSION

    return PROMPT_VERSION if not all(is_metric_judge(j) for j in judges) else f"none (metric judge v{VERSION})"


MIN_VERDICTS = 1  # default: a leaderboard needs at least this many judge verdicts ...
MIN_VERDICT_SHARE = 0.5  # ... and verdicts on at least this share of the judge calls that were answered or failed


def verdict_shortfall(
    counts: Mapping[str, Any], min_verdicts: int = MIN_VERDICTS, min_share: float = MIN_VERDICT_SHARE
) -> str | None:
    """Why a leaderboard's judge gave too few real verdicts to rank anything (None when it gave enough).

    Ties between identical reports need no call and say nothing about the judge; a judge whose answers could not
    be read left only those ties, and every model "rated" 1000 with a CI of [1000, 1000] (issue 15)."""
    verdicts, failed = int(counts.get("n_verdicts") or 0), int(counts.get("n_failed") or 0)
    asked = verdicts + failed
    if verdicts < min_verdicts:
        return (
            f"the judge gave {verdicts} verdicts (minimum {min_verdicts}); {counts.get('n_identical') or 0} automatic "
            f"ties between identical reports and {failed} failed judgments do not rank models"
        )
    if asked and verdicts / asked < min_share:
        return (
            f"the judge gave a verdict on {verdicts} of {asked} judgments it was asked ({verdicts / asked:.0%}; "
            f"minimum {min_share:.0%}): {failed} answers could not be read as a verdict"
        )
    return None


def check_verdicts(
    counts: Mapping[str, Any],
    *,
    min_verdicts: int = MIN_VERDICTS,
    min_share: float = MIN_VERDICT_SHARE,
    allow_few: bool = False,
    source: str = "the store",
) -> str | None:
    """Refuse (XrayBenchError) a leaderboard whose judge gave too few verdicts; with `allow_few`, return the
    banner to print on every page instead. None when the verdicts are enough."""
    short = verdict_shortfall(counts, min_verdicts, min_share)
    if short is None:
        return None
    if not allow_few:
        raise XrayBenchError(
            f"{source}: not publishing a leaderboard: {short}. Fix the judge (`xraybench arena reparse` after a "
            "parser fix, --structured-output, a stronger judge) and rerun `arena judge`, or pass "
            "--allow-few-verdicts to write it with a warning banner"
        )
    return f"Too few judge verdicts: {short}. These ratings do not rank the models."


def leaderboard_data(
    ratings: Ratings,
    *,
    name: str,
    judge: str | None,
    prompt_version: str | None,
    n_judgments: int | None,
    n_missing: int | None,
    cost_usd: float | None,
    metrics: Mapping[str, Mapping[str, float | None]] | None,
    proxy_note: str | None,
    counts: Mapping[str, Any] | None = None,
    banner: str | None = None,
    run_notes: Mapping[str, str | None] | None = None,
    compare: Mapping[str, Mapping[str, float]] | None = None,
    ensemble: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The leaderboard as one JSON-ready dictionary (what `leaderboard.json` holds).

    A `metric:` judge is always marked as a proxy (`proxy_note_for`), also when no `proxy_note` is given.
    `counts` (from `arena.judging.BattleExport.counts`) separates the judge's verdicts from automatic ties
    between identical reports and from failed judgments, names the judge configuration(s) and lists flagged
    reports; `n_judgments` is then the number of judge verdicts. `banner` is a warning shown on every page.
    `run_notes` says, per model, that its benchmark run was incomplete (`run_note`). `compare` (other arena name ->
    its ratings, `other_ratings`) adds the agreement of the rankings over the models both arenas rated. `ensemble`
    (several judges, `arena.api.ensemble_battles`) adds each judge's counts, order-flip rate and ratings, how the
    ratings pool them and the judges' agreement; the main ratings are then the pooled ones.
    """
    counts = dict(counts or {})
    if counts:
        n_judgments = counts.get("n_verdicts", n_judgments)
        n_missing = counts.get("n_missing", n_missing)
    metrics = metrics or {}
    proxy_note = proxy_note or proxy_note_for(judge)
    unknown = sorted(set(metrics) - set(ratings.models))
    if unknown:
        raise XrayBenchError(
            f"metrics given for models that have no battles: {', '.join(unknown)} "
            f"(models in the battles: {', '.join(ratings.models)})"
        )
    columns = _metric_columns(metrics)
    base = ratings.to_dict()
    for row in base["models"]:  # type: ignore[union-attr]
        own = metrics.get(row["model"], {})
        row["metrics"] = {c: own.get(c) for c in columns}
    data = {
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "judge": judge,
        "prompt_version": prompt_version,
        "n_judgments": n_judgments,
        "n_missing": n_missing,
        "cost_usd": cost_usd,
        "proxy_note": proxy_note,
        "banner": banner,
        "n_identical": counts.get("n_identical"),
        "n_failed": counts.get("n_failed"),
        "judge_configs": counts.get("judge_configs", []),
        "other_judge_configs": counts.get("other_judge_configs", []),
        "flagged": counts.get("flagged", []),
        "metric_columns": columns,
        "run_notes": {m: n for m, n in sorted((run_notes or {}).items()) if n},
        **base,
        "agreement": {
            other: rank_agreement(dict(zip(ratings.models, ratings.rating.tolist(), strict=True)), dict(theirs))
            for other, theirs in sorted((compare or {}).items())
        },
        "figures": FIGURES,
    }
    directions = metric_directions(columns)
    if directions:  # only where a column is not higher-is-better, so a board of such columns reads as before
        data["metric_directions"] = directions
    if counts.get("order_flip_rates"):  # judged in an arena's store: each judge's order-flip rate
        data["order_flip_rates"] = counts["order_flip_rates"]
    if ensemble is not None:
        data["ensemble"] = dict(ensemble)
    return _rounded(data)


def table_columns(data: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(key, header, format) of every table column; metric keys are `metrics.NAME`."""
    columns = list(COLUMNS)
    first = data["models"][0] if data["models"] else {}
    if "sandwich_ci_low" in first:  # beside the bootstrap CI, before the online Elo
        at = next(i for i, (key, _, _) in enumerate(columns) if key == "elo_online")
        columns[at:at] = SANDWICH_COLUMNS
    if "length_controlled_rating" in first:
        columns.append(LENGTH_COLUMN)
    if "style_controlled_rating" in first:
        columns += STYLE_COLUMNS
    columns += [(f"metrics.{m}", m, METRIC_FORMAT) for m in data["metric_columns"]]
    return columns


def cell_value(row: Mapping[str, Any], key: str) -> Any:
    """A row's value for a table column key (`metrics.NAME` reaches into the row's metrics)."""
    if key.startswith("metrics."):
        return row["metrics"].get(key[len("metrics.") :])
    return row.get(key)


def render_csv(data: Mapping[str, Any]) -> str:
    """The table; with a proxy judge or a warning banner, a last `proxy_judge` column carries them on every row."""
    columns = table_columns(data)
    note = "; ".join(n for n in (data.get("banner"), data.get("proxy_note")) if n) or None
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([header for _, header, _ in columns] + (["proxy_judge"] if note else []))
    for row in data["models"]:
        writer.writerow([fmt(cell_value(row, key), spec) for key, _, spec in columns] + ([note] if note else []))
    return buf.getvalue()


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def describe(data: Mapping[str, Any]) -> list[str]:
    """Plain-text lines about the judge, counts, cost and how the ratings were computed (md and HTML)."""
    s = data["settings"]
    cost = data["cost_usd"]
    if data.get("n_identical") is None and data.get("n_failed") is None:
        # battles read from a file (`--battles`): its rows cannot tell verdicts from automatic ties
        counted = (
            f"battles read from a file: {fmt(data['n_judgments'], 'd', 'n/a')} (judge verdicts and automatic ties "
            "between identical reports not told apart)"
        )
    else:
        counted = (
            f"judge verdicts: {fmt(data['n_judgments'], 'd', 'n/a')}; "
            f"automatic ties (identical reports, no call): {fmt(data.get('n_identical'), 'd', 'n/a')}; "
            f"failed: {fmt(data.get('n_failed'), 'd', 'n/a')}"
        )
    lines = [
        f"Judge: {data['judge'] or 'n/a'}; prompt version: {data['prompt_version'] or 'n/a'}; {counted}; "
        f"missing: {fmt(data['n_missing'], 'd', 'n/a')}; cost: {'n/a' if cost is None else f'${cost:.4f}'}",
        f"Bradley-Terry ratings on the Elo scale, anchor {data['anchor']} = {s['anchor_rating']:g}; "
        f"{prior_statement(float(s.get('prior') or 0.0))}; "
        f"{s['n_battles']} battles; 95% CIs from {s['rounds_used']} bootstrap rounds over "
        f"{UNIT_PLURAL.get(s['bootstrap_unit'], s['bootstrap_unit'])} (seed {s['seed']}), relative to the anchor.",
        "Win rate: mean over opponents of the observed win fraction (ties count half); predicted win rate: "
        "mean Bradley-Terry win probability against every other model.",
    ]
    flips = {j: item for j, item in (data.get("order_flip_rates") or {}).items() if item is not None}
    if flips:
        shown = "; ".join(
            f"{j} {'n/a' if item['rate'] is None else format(item['rate'], '.1%')} of {item['n_pairs']} pairs"
            for j, item in flips.items()
        )
        lines.append(
            f"Order-flip rate (pairs with judge verdicts in both orders whose winner changes with the order): {shown}."
        )
    configs = data.get("judge_configs") or []
    if len(configs) > 1:
        lines.append(f"Mixes {len(configs)} judge configurations: {'; '.join(configs)}.")
    elif configs:
        lines.append(f"Judge configuration: {configs[0]}.")
    if data.get("other_judge_configs"):
        lines.append(f"Left out (other judge configurations in the store): {'; '.join(data['other_judge_configs'])}.")
    if data.get("flagged"):
        lines.append(
            f"{len(data['flagged'])} reports contain instruction-like text (possible prompt injection); see "
            "Flagged reports."
        )
    if s.get("rounds_degenerate"):
        lines.append(f"{s['rounds_degenerate']} bootstrap rounds had infinite ratings and were left out.")
    if data.get("length_coef") is not None:
        lines.append(
            f"Length-controlled rating: length coefficient {data['length_coef']:+.3f} log-odds per unit "
            "log length ratio (positive: the judge favours longer reports)."
        )
    if data.get("ensemble"):
        pooled = data["ensemble"]["pooled_judges"]
        lines.append(
            f"Judge ensemble: the ratings pool {len(pooled)} judges ({', '.join(pooled)}): "
            f"{data['ensemble']['pooling']}; battle counts include every pooled judge's battles. Each judge's "
            "ratings and the judges' agreement: see Judge ensemble."
        )
    lines += quality_lines(data)
    if data["metric_columns"]:
        lines.append(
            "Metric columns: headline metrics of each model's benchmark run, per suite (sample-weighted over "
            "its tasks) or per task."
        )
        lines += [f"Metric columns of {model}: {note}." for model, note in (data.get("run_notes") or {}).items()]
        directions = data.get("metric_directions") or {}
        if directions:
            words = {
                "lower": "lower is better (↓)",
                "none": "no direction (·)",
                "unknown": "direction unknown here (?)",
            }
            kinds = [f"{words[d]}: {', '.join(c for c, x in directions.items() if x == d)}" for d in words
                     if d in directions.values()]  # fmt: skip
            lines.append(
                f"Metric columns where higher is not better: {'; '.join(kinds)}; the others: higher is better."
            )
    return lines


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _agreement(item: Mapping[str, Any]) -> str:
    tau, rho = item.get("kendall_tau"), item.get("spearman")
    return f"Kendall tau {fmt(tau, '.2f', 'n/a')}, Spearman rho {fmt(rho, '.2f', 'n/a')} over {item['n_models']} models"


def quality_lines(data: Mapping[str, Any]) -> list[str]:
    """Separability, style control and ranking agreement, in words (md, HTML)."""
    q = data.get("quality") or {}
    lines = []
    if q:
        lines.append(
            f"Separability (share of the {q['n_models'] * (q['n_models'] - 1) // 2} model pairs whose 95% CIs do not "
            f"overlap; the anchor's interval is its rating): {_share(q.get('separability'))} with the bootstrap CIs, "
            f"{_share(q.get('separability_sandwich'))} with the sandwich CIs."
        )
        lines.append(
            "Sandwich CI: rating ± 1.96 robust standard errors (H^-1 B H^-1, scores summed per "
            f"{data['settings']['bootstrap_unit']}), relative to the anchor."
        )
    style = data.get("style_control")
    if style:
        dropped = f"; left out (no variation): {', '.join(style['dropped'])}" if style["dropped"] else ""
        lines.append(
            "Style-controlled rating: Bradley-Terry fitted jointly with style coefficients on the normalised "
            f"differences (a - b) / (a + b + 1) of {', '.join(style['features'])}, each divided by its root mean "
            f"square (as FastChat / Chatbot Arena){dropped}; CIs from {style['rounds_used']} bootstrap rounds and "
            "by sandwich. Separability with style control: "
            f"{_share(q.get('separability_style'))} (bootstrap), {_share(q.get('separability_style_sandwich'))} "
            f"(sandwich); agreement with the raw ranking: {_agreement(q['style_vs_raw'])}."
        )
    if not style and data["settings"].get("style_control"):
        lines.append(f"Style control: {data['settings']['style_control']}.")
    for other, item in (data.get("agreement") or {}).items():
        lines.append(f"Agreement of this ranking with arena {other}: {_agreement(item)}.")
    return lines


def style_rows(data: Mapping[str, Any]) -> list[list[str]]:
    """The style coefficient table's rows: feature, coefficient, bootstrap CI, sandwich CI, feature RMS."""
    style = data.get("style_control") or {}

    def ci(low: float | None, high: float | None) -> str:
        return "-" if low is None or high is None else f"[{low:+.3f}, {high:+.3f}]"

    return [
        [c["feature"], fmt(c["coef"], "+.3f", "-"), ci(c["ci_low"], c["ci_high"]),
         ci(c["sandwich_ci_low"], c["sandwich_ci_high"]), fmt(c["feature_rms"], ".3f", "-")]
        for c in style.get("coefficients", [])
    ]  # fmt: skip


STYLE_HEADERS = ("Feature", "Coefficient (log-odds per RMS difference)", "95% CI (bootstrap)", "95% CI (sandwich)",
                 "RMS of (a - b) / (a + b + 1)")  # fmt: skip


ENSEMBLE_NOTE = (
    "Agreement on the 5-level verdicts (A>>B, A>B, tie, B>A, B>>A, in model orientation) of the battles at least two "
    "judges judged (ties between identical reports left out): Cohen's kappa on the five levels, the quadratic-weighted "
    "kappa and Krippendorff's ordinal alpha, which also credit a near miss (A>>B against A>B); 95% CIs from a "
    "bootstrap over studies. Order-flip rate: the share of pairs with verdicts in both orders whose winner changes "
    "with the order."
)


def _estimate_cell(item: Mapping[str, Any] | None, spec: str = ".3f") -> tuple[str, str]:
    """(value, "[low, high]") of an agreement estimate."""
    if not item or item.get("value") is None:
        return "n/a", "-"
    low, high = item.get("ci_low"), item.get("ci_high")
    ci = "-" if low is None or high is None else f"[{low:{spec}}, {high:{spec}}]"
    return format(item["value"], spec), ci


def ensemble_tables(data: Mapping[str, Any]) -> dict[str, tuple[list[str], list[list[str]]]]:
    """The judge ensemble's tables (title -> headers, rows): the judges, their ratings beside the pooled one, and
    their agreement (md and HTML)."""
    ens = data["ensemble"]
    judges = [j["judge"] for j in ens["judges"]]
    judge_rows = [
        [j["judge"], str(j["n_verdicts"]), str(j["n_identical"]), str(j["n_failed"]), str(j["n_missing"]),
         "n/a" if j["order_flip_rate"] is None else f"{j['order_flip_rate']:.1%} of {j['n_pairs_both_orders']}",
         "yes" if j["pooled"] else f"no: {j['shortfall'] or 'no battles'}"]
        for j in ens["judges"]
    ]  # fmt: skip
    rated = [j for j in judges if j in ens["ratings"]]
    rating_rows = []
    for row in data["models"]:
        cells = [row["model"], f"{fmt(row['rating'], '.1f', '-')} {_interval(row['ci_low'], row['ci_high'])}"]
        for j in rated:
            own = ens["ratings"][j].get(row["model"])
            cells.append("-" if own is None else f"{fmt(own['rating'], '.1f', '-')} "
                         f"{_interval(own['ci_low'], own['ci_high'])}")  # fmt: skip
        rating_rows.append(cells)
    agree = ens["agreement"]
    agreement_rows = []
    for pair in agree["pairs"]:
        names = " / ".join(pair["judges"])
        for key, label in (("exact_agreement", "equal verdicts (share)"), ("cohen_kappa", "Cohen's kappa"),
                           ("weighted_kappa", "Cohen's kappa, quadratic weights")):  # fmt: skip
            agreement_rows.append([label, names, *_estimate_cell(pair[key]), str(pair[key]["n"])])
    overall = [("krippendorff_alpha_ordinal", "Krippendorff's alpha (ordinal)")]
    if len(agree["judges"]) > 2:  # with two judges Fleiss' kappa repeats Cohen's (up to its pooled marginals)
        overall.insert(0, ("fleiss_kappa", "Fleiss' kappa"))
    for key, label in overall:
        agreement_rows.append([label, "all judges", *_estimate_cell(agree[key]), str(agree[key]["n"])])
    return {
        "Judges": (["Judge", "Verdicts", "Automatic ties", "Failed", "Missing", "Order-flip rate (pairs)",
                    "In the pooled rating"], judge_rows),
        "Ratings by judge (95% CI)": (["Model", "Pooled", *rated], rating_rows),
        f"Agreement over {agree['n_battles']} battles in {agree['n_studies']} studies": (
            ["Statistic", "Judges", "Value", "95% CI", "Battles"], agreement_rows),
    }  # fmt: skip


def render_markdown(data: Mapping[str, Any]) -> str:
    headers = ["Rank", "Model", "Rating", "95% CI", "Rank range", "Win rate", "Pred. win rate", "Battles"]
    first = data["models"][0] if data["models"] else {}
    has_sandwich = "sandwich_ci_low" in first
    if has_sandwich:
        headers.append("Sandwich 95% CI")
    headers.append("Online Elo")
    has_length = "length_controlled_rating" in first
    if has_length:
        headers.append("Length-controlled")
    has_style = "style_controlled_rating" in first
    if has_style:
        headers += ["Style-controlled", "Style 95% CI", "Style sandwich CI"]
    marks = {c: DIRECTION_MARKS[d] for c, d in (data.get("metric_directions") or {}).items()}
    headers += [_md_escape(m) + marks.get(m, "") for m in data["metric_columns"]]
    out = [f"# Report Arena leaderboard: {_md_escape(data['name'])}", ""]
    if data.get("banner"):
        out += [f"> **Warning.** {data['banner']}", ""]
    if data["proxy_note"]:
        out += [f"> **Proxy judge.** {data['proxy_note']}", ""]
    out += [line + "  " for line in describe(data)]
    out += ["", "| " + " | ".join(headers) + " |"]
    out.append("|" + "|".join(":---" if h == "Model" else "---:" for h in headers) + "|")
    for row in data["models"]:
        low, high = row["ci_low"], row["ci_high"]
        cells = [
            str(row["rank"]),
            _md_escape(row["model"]),
            fmt(row["rating"], ".1f"),
            "-" if low is None else f"[{low:.1f}, {high:.1f}]",
            f"{row['rank_best']}-{row['rank_worst']}",
            fmt(row["win_rate"], ".3f", "-"),
            fmt(row["predicted_win_rate"], ".3f", "-"),
            str(row["n_battles"]),
        ]
        if has_sandwich:
            cells.append(_interval(row["sandwich_ci_low"], row["sandwich_ci_high"]))
        cells.append(fmt(row["elo_online"], ".1f", "-"))
        if has_length:
            cells.append(fmt(row["length_controlled_rating"], ".1f", "-"))
        if has_style:
            cells += [
                fmt(row["style_controlled_rating"], ".1f", "-"),
                _interval(row["style_ci_low"], row["style_ci_high"]),
                _interval(row["style_sandwich_ci_low"], row["style_sandwich_ci_high"]),
            ]
        cells += [fmt(row["metrics"][m], METRIC_FORMAT, "-") for m in data["metric_columns"]]
        out.append("| " + " | ".join(cells) + " |")
    if data.get("style_control"):
        out += ["", "## Style coefficients", "", "| " + " | ".join(STYLE_HEADERS) + " |"]
        out.append("|:---|" + "---:|" * (len(STYLE_HEADERS) - 1))
        out += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in style_rows(data)]
        out += ["", "Positive: the judge favours the report with more of the feature, at equal model strengths."]
    if data.get("ensemble"):
        out += ["", "## Judge ensemble", ""]
        for title, (headers, rows) in ensemble_tables(data).items():
            out += [f"{title}:", "", "| " + " | ".join(headers) + " |", "|:---|" + "---:|" * (len(headers) - 1)]
            out += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows] + [""]
        out += [ENSEMBLE_NOTE]
    if data.get("flagged"):
        out += ["", "## Flagged reports", "", "Reports with instruction-like text (judged all the same):", ""]
        out += ["| Model | Study | Battles | Flags |", "|:---|:---|---:|:---|"]
        for item in data["flagged"]:
            out.append(
                f"| {_md_escape(item['model'])} | {_md_escape(str(item['study_id']))} | {item['n_battles']} | "
                f"{_md_escape(', '.join(item['flags']))} |"
            )
    out += ["", "## Figures", ""]
    for key, title in FIGURE_TITLES.items():
        out += [f"![{title}]({FIGURES[key]})", ""]
    return "\n".join(out)


def _interval(low: float | None, high: float | None) -> str:
    return "-" if low is None or high is None else f"[{low:.1f}, {high:.1f}]"


def _matrix(data: Mapping[str, Any], key: str, order: list[str]) -> np.ndarray:
    """Matrix `key` as floats (NaN for None), rows and columns in `order`."""
    index = [data["matrix_models"].index(m) for m in order]
    mat = np.array([[np.nan if v is None else float(v) for v in row] for row in data[key]], dtype=np.float64)
    return mat[np.ix_(index, index)]


def _new_figure(width: float, height: float) -> Any:
    """A figure on the Agg canvas, built without pyplot so no global backend state is touched."""
    require("matplotlib", "arena", "leaderboard figures")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path) -> None:
    fig.savefig(path, format="png", dpi=100, metadata={"Software": None})


def _heatmap(mat: np.ndarray, order: list[str], title: str, path: Path, *, counts: bool) -> None:
    m = len(order)
    side = max(4.0, 1.2 + 0.55 * m)
    fig = _new_figure(side + 1.2, side)
    ax = fig.add_subplot()
    cmap = require("matplotlib", "arena").colormaps["Blues" if counts else "RdBu"].with_extremes(bad="#dddddd")
    vmax = max(1.0, float(np.nanmax(mat))) if counts else 1.0
    image = ax.imshow(np.ma.masked_invalid(mat), cmap=cmap, vmin=0.0, vmax=vmax)
    ax.set_xticks(range(m), labels=order, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(m), labels=order)
    ax.set_xlabel("opponent (column)")
    ax.set_ylabel("model (row)")
    ax.set_title(title)
    if m <= ANNOTATE_MAX_MODELS:
        for i in range(m):
            for j in range(m):
                value = mat[i, j]
                if np.isnan(value) or (counts and i == j):
                    continue
                shade = value / vmax if counts else abs(value - 0.5) * 2
                ax.text(
                    j,
                    i,
                    f"{value:.0f}" if counts else f"{value:.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if shade > 0.6 else "black",
                )
    fig.colorbar(image, ax=ax, shrink=0.8)
    _save(fig, path)


def _winrate_chart(data: Mapping[str, Any], path: Path) -> None:
    rows = data["models"]
    m = len(rows)
    fig = _new_figure(7.0, max(2.5, 1.0 + 0.4 * m))
    ax = fig.add_subplot()
    y = np.arange(m)
    observed = [np.nan if r["win_rate"] is None else r["win_rate"] for r in rows]
    predicted = [np.nan if r["predicted_win_rate"] is None else r["predicted_win_rate"] for r in rows]
    ax.barh(y, observed, color="#4c72b0", label="observed win rate")
    ax.scatter(predicted, y, color="#dd8452", marker="D", zorder=3, label="BT predicted win rate")
    for yi, value, pred in zip(y, observed, predicted, strict=True):
        if not np.isnan(value):
            ax.text(np.nanmax([value, pred]) + 0.02, yi, f"{value:.3f}", va="center", fontsize=8)
    ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(y, labels=[r["model"] for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(0.0, 1.1)
    ax.set_xlabel("mean win rate against the other models (ties = half)")
    ax.set_title("Win rate per model (rating order)")
    ax.legend(loc="lower right", fontsize=8)
    _save(fig, path)


def write_figures(out_dir: Path, data: Mapping[str, Any]) -> None:
    order = [r["model"] for r in data["models"]]
    heatmaps = (
        ("pairwise_winrate", "win_fraction"),
        ("predicted_winrate", "predicted_win_rate"),
        ("battle_counts", "battle_counts"),
    )
    for figure, matrix in heatmaps:
        path = out_dir / FIGURES[figure]
        _heatmap(_matrix(data, matrix, order), order, FIGURE_TITLES[figure], path, counts=figure == "battle_counts")
    _winrate_chart(data, out_dir / FIGURES["winrates"])


def write_leaderboard(out_dir: str | Path, ratings: Ratings, **details: Any) -> list[Path]:
    """Write every leaderboard file into `out_dir` (created if needed); returns the paths written. `details` are
    `leaderboard_data`'s keywords (name, judge, counts, banner, ...)."""
    from arena.html import render_html

    data = leaderboard_data(ratings, **details)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_figures(out, data)
    texts = {
        "leaderboard.md": render_markdown(data),
        "leaderboard.csv": render_csv(data),
        "leaderboard.json": json.dumps(data, indent=2, ensure_ascii=False) + "\n",
        "index.html": render_html(data, {key: (out / png).read_bytes() for key, png in FIGURES.items()}),
    }
    for filename, text in texts.items():
        (out / filename).write_text(text, encoding="utf-8", newline="\n")
    return [out / f for f in FILES]
