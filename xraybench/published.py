"""Published baselines: the numbers a paper reports, kept beside ours but never mixed with them.

The values (package data `published.json`, so an installed xraybench has them) come with their source; the
DeepMedix-R1 ones were read off the paper's figure. They are rendered into `leaderboards/published/NAME/`
(`leaderboard.json` and `leaderboard.md`, one row per model with a `metrics` mapping, as our leaderboards) and
shown by `xraybench compare RUN published:NAME` next to the run's own values. There are no per-sample values
behind a published number, so nothing is tested for significance against them, and every output says
"published, not reproduced here".

Direction: a published metric improves the way its run metrics do (`xraybench.metrics.score_direction`), turned
round by a "reciprocal" transform (ReXrank's 1/RadCliQ-v1 rises as RadCliQ-v1 falls); a metric whose run metrics
disagree is refused when the package data is read. Each compared row gives the direction and the run's place among
the published models in it (`rank`; none for a run on part of the table's data); a RadCliQ-v1 at or below 0 has no reciprocal to compare (1/x would rank it
backwards), so the row shows no value and says why.

Regenerate the committed files with `python -m xraybench.published` (a test keeps them in sync).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from xraybench.errors import XrayBenchError

DATA_FILE = "published.json"
PREFIX = "published:"
MARK = "published, not reproduced here"
OUT_DIR = Path("leaderboards") / "published"
FILES = ("leaderboard.json", "leaderboard.md")
TRANSFORMS = {"": "{}", "reciprocal": "1/{}"}  # PublishedMetric.transform -> how the compared value is named
FLIPPED = {"higher": "lower", "lower": "higher", "none": "none"}  # a direction through the reciprocal
# per-row provenance a table may give, shown as columns of its markdown table (in this order)
ROW_INFO_COLUMNS = {"institution": "Institution", "year": "Year", "date": "Listed since"}


@dataclass(frozen=True)
class PublishedMetric:
    id: str
    label: str
    run_metrics: tuple[str, ...]  # our metric names that measure the same thing (compared in that order)
    # how the published number derives from ours: "" (the same), "reciprocal" (ReXrank's 1/RadCliQ-v1 is one
    # over the mean RadCliQ-v1, which our `radcliq_v1` is)
    transform: str = ""


@dataclass(frozen=True)
class PublishedTable:
    id: str
    title: str
    scope: str  # the task kind the table measures: report | vqa | review
    datasets: tuple[str, ...]  # the datasets the numbers were measured on (a run is compared on these only)
    metrics: tuple[PublishedMetric, ...]
    rows: dict[str, tuple[float | None, ...]]  # model -> one value per metric (None: the source lists none)
    # the tasks the numbers were measured on, where a dataset holds several test sets (ReXrank): a run is
    # compared on these tasks only; empty: any task of `datasets`
    tasks: tuple[str, ...] = ()
    # model -> where its row comes from and when (date, source, ...), for tables that say so per row
    row_info: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Published:
    name: str
    title: str
    source: str
    note: str
    tables: tuple[PublishedTable, ...]

    def models(self) -> list[str]:
        """Every model, in order of first appearance over the tables."""
        return list(dict.fromkeys(m for t in self.tables for m in t.rows))


def _table(raw: dict[str, Any], where: str) -> PublishedTable:
    """A table of the package data: a row is a list of numbers, or `{"values": [...], "date": ..., "source": ...}`
    where the source gives each row's provenance; `null` marks a value the source does not list."""
    metrics = tuple(
        PublishedMetric(m["id"], m["label"], tuple(m["run_metrics"]), m.get("transform", "")) for m in raw["metrics"]
    )
    unknown = [m.transform for m in metrics if m.transform not in TRANSFORMS]
    if unknown:
        raise XrayBenchError(
            f"{where}: table {raw['id']!r} has unknown transform(s) {unknown}; known: {list(TRANSFORMS)}"
        )
    for metric in metrics:  # one published column compared with run metrics that improve in different directions
        found = {ours: run_direction(ours, metric.transform) for ours in metric.run_metrics}
        if len({d for d in found.values() if d is not None}) > 1:
            raise XrayBenchError(
                f"{where}: table {raw['id']!r} metric {metric.id!r} is compared with run metrics that improve in "
                f"different directions ({', '.join(f'{TRANSFORMS[metric.transform].format(k)}: {v}' for k, v in found.items())}); "
                "expected one direction per published column"
            )
    rows: dict[str, tuple[float | None, ...]] = {}
    info: dict[str, dict[str, str]] = {}
    for model, entry in raw["rows"].items():
        values = entry["values"] if isinstance(entry, dict) else entry
        numbers = [v for v in values if v is not None]
        if len(values) != len(metrics) or not numbers or not all(isinstance(v, int | float) for v in numbers):
            raise XrayBenchError(f"{where}: table {raw['id']!r} row {model!r} needs {len(metrics)} numbers (or null)")
        rows[model] = tuple(None if v is None else float(v) for v in values)
        if isinstance(entry, dict):
            info[model] = {k: str(v) for k, v in entry.items() if k != "values"}
    return PublishedTable(
        raw["id"], raw["title"], raw["scope"], tuple(raw.get("datasets", ())), metrics, rows,
        tuple(raw.get("tasks", ())), info,
    )  # fmt: skip


@cache
def published_baselines() -> dict[str, Published]:
    """Every published baseline shipped with xraybench, by name."""
    data = json.loads(resources.files("xraybench").joinpath(DATA_FILE).read_text(encoding="utf-8"))
    out = {}
    for name, raw in data["baselines"].items():
        where = f"{DATA_FILE} ({name})"
        tables = tuple(_table(t, where) for t in raw["tables"])
        out[name] = Published(name, raw["title"], raw["source"], raw["note"], tables)
    return out


def get_published(name: str) -> Published:
    """A baseline by name, `published:` prefix allowed."""
    key = name[len(PREFIX) :] if name.startswith(PREFIX) else name
    known = published_baselines()
    if key not in known:
        raise XrayBenchError(f"unknown published baseline {name!r}; known: {', '.join(PREFIX + k for k in known)}")
    return known[key]


# -- leaderboard files --------------------------------------------------------------------------------------


def leaderboard_data(pub: Published) -> dict[str, Any]:
    """One row per model with a `metrics` mapping (None where a table does not list the model)."""
    columns = [m for t in pub.tables for m in t.metrics]
    models = []
    for model in pub.models():
        values: dict[str, float | None] = {}
        for table in pub.tables:
            row = table.rows.get(model)
            values.update({m.id: None if row is None else row[i] for i, m in enumerate(table.metrics)})
        entry: dict[str, Any] = {"model": model, "metrics": values}
        info = {t.id: t.row_info[model] for t in pub.tables if model in t.row_info}
        if info:  # where each table's row comes from and when
            entry["rows"] = info
        models.append(entry)
    return {
        "schema_version": 1,
        "name": pub.name,
        "title": pub.title,
        "published": True,
        "source": pub.source,
        "note": pub.note,
        "metric_columns": [m.id for m in columns],
        "metric_labels": {m.id: m.label for m in columns},
        "run_metrics": {m.id: list(m.run_metrics) for m in columns},
        "tables": [
            {
                "id": t.id,
                "title": t.title,
                "scope": t.scope,
                "datasets": list(t.datasets),
                **({"tasks": list(t.tasks)} if t.tasks else {}),
                "metrics": [m.id for m in t.metrics],
                "models": list(t.rows),
            }
            for t in pub.tables
        ],  # fmt: skip
        "models": models,
    }


def _decimals(value: float) -> int:
    """Decimals of a value as published (at most 4), so a table prints 0.490 beside 0.511, not 0.49."""
    return len(f"{value:.4f}".rstrip("0").split(".")[1])


def render_markdown(pub: Published) -> str:
    out = [f"# Published baseline: {pub.title}", "", f"> **{MARK.capitalize()}.** {pub.note}", ""]
    out += [f"Source: {pub.source}.", ""]
    for table in pub.tables:
        extra = [k for k in ROW_INFO_COLUMNS if any(k in i for i in table.row_info.values())]
        headers = ["Model", *(ROW_INFO_COLUMNS[k] for k in extra), *(m.label for m in table.metrics)]
        out += [f"## {table.title}", ""]
        if table.tasks:
            out += [f"Measured on: {', '.join(table.tasks)} (xraybench tasks).", ""]
        elif table.datasets:
            out += [f"Measured on: {', '.join(table.datasets)}.", ""]
        out.append("| " + " | ".join(headers) + " |")
        out.append(
            "|" + "|".join(":---" if h == "Model" or h in ROW_INFO_COLUMNS.values() else "---:" for h in headers) + "|"
        )
        digits = max(_decimals(v) for values in table.rows.values() for v in values if v is not None)
        for model, values in table.rows.items():
            info = [table.row_info.get(model, {}).get(k, "") for k in extra]
            cells = ["–" if v is None else f"{v:.{digits}f}" for v in values]
            out.append("| " + " | ".join([model, *info, *cells]) + " |")
        sources = sorted({i["source"] for i in table.row_info.values() if "source" in i})
        if sources:
            out += ["", "Row sources: " + "; ".join(f"<{s}>" for s in sources) + "."]
        matched = [
            f"{m.label} = {' / '.join(TRANSFORMS[m.transform].format(r) for r in m.run_metrics)}"
            for m in table.metrics
            if m.run_metrics
        ]
        if matched:
            out += ["", f"Compared with xraybench metrics: {'; '.join(matched)}."]
        out.append("")
    return "\n".join(out)


def render_files(pub: Published) -> dict[str, str]:
    return {
        "leaderboard.json": json.dumps(leaderboard_data(pub), indent=2, ensure_ascii=False) + "\n",
        "leaderboard.md": render_markdown(pub),
    }


def write_published(out_dir: str | Path = OUT_DIR) -> list[Path]:
    """Write `OUT_DIR/NAME/leaderboard.{json,md}` for every baseline; returns the paths written."""
    written = []
    for pub in published_baselines().values():
        folder = Path(out_dir) / pub.name
        folder.mkdir(parents=True, exist_ok=True)
        for filename, text in render_files(pub).items():
            (folder / filename).write_text(text, encoding="utf-8", newline="\n")
            written.append(folder / filename)
    return written


# -- a run beside the published numbers ---------------------------------------------------------------------


def run_values(results: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """Metric values of a run by scope: `suite:NAME` for each scored suite, else each task by name."""
    suites = results.get("suites") or {}
    scopes = {f"suite:{k}": v for k, v in suites.items()} if suites else dict(results.get("tasks") or {})
    out: dict[str, dict[str, float | None]] = {}
    for scope, entry in sorted(scopes.items()):
        metrics = entry.get("metrics") or {}
        out[scope] = {k: (v.get("value") if isinstance(v, dict) else v) for k, v in metrics.items()}
    return out


def run_direction(ours: str, transform: str) -> str | None:
    """Which way our metric `ours` improves in the published number's form (a reciprocal turns it round); None
    where no metric here declares it."""
    from xraybench.metrics import score_direction

    direction = score_direction(ours)
    return FLIPPED[direction] if direction is not None and transform == "reciprocal" else direction


def _transformed(transform: str, value: float | None) -> float | None:
    """Our value in the published number's form (see `PublishedMetric.transform`); None where it has none: a
    reciprocal of a value at or below 0 (1/x turns the order round only for positive values)."""
    if transform == "reciprocal":
        return None if value is None or value <= 0 else 1.0 / value
    return value


def _run_why(transform: str, ours: str, value: float | None) -> str | None:
    """Why a row shows no run value although the run has one."""
    if transform == "reciprocal" and value is not None and value <= 0:
        return (
            f"{ours} is {value:.4f}: one over a value at or below 0 would rank it backwards, so 1/{ours} is not "
            f"shown; a {ours} at or below 0 is lower (better) than the one behind any positive published value"
        )
    return None


def rank_among(value: float | None, published: dict[str, float | None], direction: str | None) -> dict[str, int] | None:
    """The run's place among the published models on one metric, by its direction: {"place": 1 + the models with a
    better value (equal values share a place), "of": the models with a value + 1}; None without a value or a
    direction."""
    if value is None or direction not in ("higher", "lower"):
        return None
    values = [v for v in published.values() if v is not None]
    better = sum(1 for v in values if (v > value if direction == "higher" else v < value))
    return {"place": 1 + better, "of": len(values) + 1}


def _finite(value: float | None) -> float | None:
    """None for a NaN value (no value), so JSON output stays valid."""
    return None if value is None or math.isnan(value) else value


def scope_datasets(results: dict[str, Any], scope: str, kind: str) -> set[str]:
    """Datasets of the run's tasks of one kind (report, vqa, ...) behind a scope (`suite:NAME` or a task)."""
    from xraybench.tasks import SUITES, TASKS

    tasks = results.get("tasks") or {}
    if scope.startswith("suite:"):
        suite = scope[len("suite:") :]
        members = ((results.get("suites") or {}).get(suite) or {}).get("tasks")
        if not members:
            members = list(SUITES[suite].tasks) if suite in SUITES else []
    else:
        members = [scope]
    out = set()
    for name in members:
        known = TASKS.get(name)
        if known is not None and known.kind != kind:
            continue
        dataset = (tasks.get(name) or {}).get("dataset") or (known.dataset if known is not None else None)
        if dataset and known is not None:
            out.add(dataset)
    return out


def scope_tasks(results: dict[str, Any], scope: str) -> set[str]:
    """The run's task names behind a scope (`suite:NAME` or a task)."""
    if not scope.startswith("suite:"):
        return {scope}
    members = ((results.get("suites") or {}).get(scope[len("suite:") :]) or {}).get("tasks") or []
    return set(members) or set(results.get("tasks") or {})


def compare_published(run_dir: str | Path, name: str) -> list[dict[str, Any]]:
    """For every published metric our run also measured on the same datasets: the run's value beside each
    published model's.

    One row per (run scope, published metric, matching run metric); `published` maps model -> value. A scope
    whose datasets the published table was not measured on is left out (a demo-suite number beside the paper's
    MIMIC-CXR/IU X-ray numbers would compare nothing); if nothing is left the comparison is refused with why. A
    scope that covers only some of the table's datasets gets a `coverage` note.
    """
    from xraybench.results import incomplete_note, read_results

    pub = get_published(name)
    results = read_results(run_dir)
    values = run_values(results)
    rows: list[dict[str, Any]] = []
    elsewhere: dict[str, set[str]] = {}  # scope -> datasets of matching metrics measured on other data
    for scope, metrics in values.items():
        for table in pub.tables:
            matched = [(i, m, ours) for i, m in enumerate(table.metrics) for ours in m.run_metrics if ours in metrics]
            if not matched:
                continue
            ours_ds = scope_datasets(results, scope, table.scope)
            shared = ours_ds & set(table.datasets)
            if shared and table.tasks and not scope_tasks(results, scope) & set(table.tasks):
                shared = set()  # the dataset holds several test sets (ReXrank): only the table's tasks compare
            if not shared:
                elsewhere.setdefault(scope, set()).update(ours_ds or {"unknown"})
                continue
            coverage = None
            if ours_ds != set(table.datasets):
                coverage = (
                    f"partial: this run's {table.scope} tasks cover {', '.join(sorted(shared))}"
                    + (f" (and {', '.join(sorted(ours_ds - shared))}, not published)" if ours_ds - shared else "")
                    + f"; the published numbers are over {', '.join(table.datasets)}"
                )
            for i, metric, ours in matched:
                run = _transformed(metric.transform, _finite(metrics[ours]))
                direction = run_direction(ours, metric.transform)
                published = {m: v[i] for m, v in table.rows.items()}
                rows.append(
                    {"task": scope, "metric": TRANSFORMS[metric.transform].format(ours), "published_metric": metric.label,
                     "table": table.id, "run": run, "published": published, "direction": direction,
                     # no place from part of the data: it would rank numbers over other items
                     "rank": None if coverage else rank_among(run, published, direction),
                     "run_why": _run_why(metric.transform, ours, _finite(metrics[ours])),
                     "datasets": sorted(ours_ds), "published_datasets": list(table.datasets), "coverage": coverage,
                     "source": pub.source, "note": MARK, "run_note": incomplete_note(results, scope),
                     **({"published_rows": dict(table.row_info)} if table.row_info else {})}
                )  # fmt: skip
    # a scope compared in one table is not "left out" because another table (another test set) skipped it
    elsewhere = {scope: ds for scope, ds in elsewhere.items() if not any(r["task"] == scope for r in rows)}
    if not rows and elsewhere:
        measured = "; ".join(f"{t.scope}: {', '.join(t.tasks or t.datasets)}" for t in pub.tables if t.datasets)
        ran = "; ".join(f"{scope} on {', '.join(sorted(ds))}" for scope, ds in elsewhere.items())
        raise XrayBenchError(
            f"{run_dir}: nothing to compare with {PREFIX}{pub.name}: the run scored {ran}, but the published numbers "
            f"were measured on other data ({measured}). Run the same datasets (e.g. --tasks xraybench with "
            "--data-root for each) to compare"
        )
    if not rows:
        wanted = sorted({m for t in pub.tables for x in t.metrics for m in x.run_metrics})
        raise XrayBenchError(
            f"{run_dir}: the run has none of the metrics that {PREFIX}{pub.name} reports ({', '.join(wanted)})"
        )
    for row in rows:
        row["left_out"] = {scope: sorted(ds) for scope, ds in elsewhere.items()} or None
    return rows


if __name__ == "__main__":
    for path in write_published():
        print(f"wrote {path}")
