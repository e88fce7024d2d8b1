"""The static leaderboard page: one HTML file with inline CSS and JavaScript, no network resources.

The table is sortable by clicking (or pressing Enter on) a column header; numbers sort numerically, missing
values always last, and equal values keep rating order. A URL fragment `#sort=KEY&dir=asc|desc` opens the
page sorted by that column (a shareable view), by clicking the header through the same code path. The
figures are embedded as `data:` URLs (the PNGs are also written next to the page), so the one file can be mailed,
attached or opened anywhere.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from html import escape
from typing import Any

from arena.leaderboard import (
    DIRECTION_MARKS,
    ENSEMBLE_NOTE,
    FIGURE_TITLES,
    FIGURES,
    STYLE_HEADERS,
    cell_value,
    describe,
    ensemble_tables,
    fmt,
    style_rows,
    table_columns,
)

# columns where a smaller value is better sort ascending on the first click (and so does every metric column whose
# score is lower-is-better: `metric_directions` of the leaderboard, e.g. RadCliQ-v1)
ASCENDING_FIRST = {"rank", "rank_best", "rank_worst", "model"}
HEADER_LABELS = {
    "rank": "Rank",
    "model": "Model",
    "rating": "Rating",
    "ci_low": "CI low",
    "ci_high": "CI high",
    "rank_best": "Best rank",
    "rank_worst": "Worst rank",
    "win_rate": "Win rate",
    "predicted_win_rate": "Pred. win rate",
    "n_battles": "Battles",
    "elo_online": "Online Elo",
    "length_controlled_rating": "Length-controlled",
    "sandwich_ci_low": "Sandwich CI low",
    "sandwich_ci_high": "Sandwich CI high",
    "style_controlled_rating": "Style-controlled",
    "style_ci_low": "Style CI low",
    "style_ci_high": "Style CI high",
    "style_sandwich_ci_low": "Style sandwich CI low",
    "style_sandwich_ci_high": "Style sandwich CI high",
}

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #222; }
h1 { font-size: 1.5rem; }
.meta p { margin: 0.2rem 0; color: #444; }
.proxy { background: #fff4d6; border-left: 4px solid #e0a800; padding: 0.5rem 0.8rem; }
.warning { background: #fde2e1; border-left: 4px solid #c0392b; padding: 0.5rem 0.8rem; }
table { border-collapse: collapse; margin: 1rem 0; font-variant-numeric: tabular-nums; }
th, td { padding: 0.3rem 0.6rem; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th { cursor: pointer; user-select: none; background: #f4f4f4; position: sticky; top: 0; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
td.model, th.model { text-align: left; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
"""

SCRIPT = """
(function () {
  const table = document.getElementById("leaderboard");
  const body = table.tBodies[0];
  const headers = Array.from(table.tHead.rows[0].cells);
  Array.from(body.rows).forEach(function (row, i) { row.dataset.order = String(i); });
  function value(row, col, numeric) {
    const raw = row.cells[col].dataset.v;
    if (raw === undefined || raw === "") return null;
    return numeric ? parseFloat(raw) : raw;
  }
  function sortBy(th) {
    const col = headers.indexOf(th);
    const numeric = th.dataset.type === "num";
    const current = th.getAttribute("aria-sort");
    const dir = current === "ascending" ? "descending"
      : current === "descending" ? "ascending" : th.dataset.first;
    const sign = dir === "ascending" ? 1 : -1;
    const rows = Array.from(body.rows);
    rows.sort(function (r1, r2) {
      const a = value(r1, col, numeric), b = value(r2, col, numeric);
      if (a === null || b === null) {
        if (a !== b) return a === null ? 1 : -1;
      } else if (a !== b) {
        return sign * (numeric ? a - b : (a < b ? -1 : 1));
      }
      return Number(r1.dataset.order) - Number(r2.dataset.order);
    });
    rows.forEach(function (row) { body.appendChild(row); });
    headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
    table.dataset.sorted = th.dataset.key + ":" + dir;
  }
  headers.forEach(function (th) {
    th.addEventListener("click", function () { sortBy(th); });
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") sortBy(th); });
  });
  const params = new URLSearchParams(location.hash.slice(1));
  const key = params.get("sort");
  const th = headers.find(function (h) { return h.dataset.key === key; });
  if (th) {
    const want = params.get("dir") === "asc" ? "ascending" : params.get("dir") === "desc" ? "descending" : null;
    th.click();
    if (want && th.getAttribute("aria-sort") !== want) th.click();
  }
})();
"""


def _header(key: str, label: str, spec: str, ascending_first: bool = False) -> str:
    numeric = spec != "s"
    first = "ascending" if key in ASCENDING_FIRST or ascending_first else "descending"
    classes = ' class="model"' if key == "model" else ""
    sort = ' aria-sort="descending"' if key == "rating" else ""
    return (
        f'<th{classes} data-key="{escape(key)}" data-type="{"num" if numeric else "str"}" '
        f'data-first="{first}" tabindex="0"{sort}>{escape(label)}</th>'
    )


def _cell(key: str, value: Any, spec: str) -> str:
    classes = ' class="model"' if key == "model" else ""
    raw = "" if value is None else (str(value) if spec != "s" else value)
    return f'<td{classes} data-v="{escape(str(raw))}">{escape(fmt(value, spec, "-"))}</td>'


def render_html(data: Mapping[str, Any], figures: Mapping[str, bytes] | None = None) -> str:
    """The page; `figures` (PNG bytes by figure key) are embedded as data URLs, else linked by file name."""
    """The whole page as a string (deterministic for the same data)."""
    columns = table_columns(data)
    directions = {f"metrics.{c}": d for c, d in (data.get("metric_directions") or {}).items()}
    head = "".join(
        _header(key, HEADER_LABELS.get(key, label) + DIRECTION_MARKS.get(directions.get(key, ""), ""), spec,
                directions.get(key) == "lower")
        for key, label, spec in columns
    )  # fmt: skip
    rows = []
    for row in data["models"]:
        cells = "".join(_cell(key, cell_value(row, key), spec) for key, _, spec in columns)
        rows.append(f'<tr data-model="{escape(row["model"])}">{cells}</tr>')
    meta = "".join(f"<p>{escape(line)}</p>" for line in describe(data))
    proxy = (
        f'<p class="proxy"><strong>Proxy judge.</strong> {escape(data["proxy_note"])}</p>' if data["proxy_note"] else ""
    )
    if data.get("banner"):
        proxy = f'<p class="warning" role="alert"><strong>Warning.</strong> {escape(data["banner"])}</p>\n{proxy}'
    flagged = ""
    if data.get("flagged"):
        items = "".join(
            f'<tr><td class="model">{escape(i["model"])}</td><td class="model">{escape(str(i["study_id"]))}</td>'
            f'<td>{i["n_battles"]}</td><td class="model">{escape(", ".join(i["flags"]))}</td></tr>'
            for i in data["flagged"]
        )
        flagged = (
            "<h2>Flagged reports</h2>\n<p>Reports with instruction-like text (judged all the same):</p>\n"
            '<table id="flagged"><thead><tr><th class="model">Model</th><th class="model">Study</th><th>Battles</th>'
            f'<th class="model">Flags</th></tr></thead>\n<tbody>{items}</tbody></table>\n'
        )

    style = ""
    if data.get("style_control"):
        head_cells = "".join(
            f'<th class="model">{escape(h)}</th>' if i == 0 else f"<th>{escape(h)}</th>"
            for i, h in enumerate(STYLE_HEADERS)
        )
        body = "".join(
            "<tr>" + "".join(f'<td class="model">{escape(c)}</td>' if i == 0 else f"<td>{escape(c)}</td>"
                             for i, c in enumerate(row)) + "</tr>"
            for row in style_rows(data)
        )  # fmt: skip
        style = (
            "<h2>Style coefficients</h2>\n"
            f'<table id="style-coefficients"><thead><tr>{head_cells}</tr></thead>\n<tbody>{body}</tbody></table>\n'
            "<p>Positive: the judge favours the report with more of the feature, at equal model strengths.</p>\n"
        )

    ensemble = ""
    if data.get("ensemble"):
        parts = ["<h2>Judge ensemble</h2>\n"]
        for i, (title, (headers, body_rows)) in enumerate(ensemble_tables(data).items()):
            head_cells = "".join(
                f'<th class="model">{escape(h)}</th>' if k == 0 else f"<th>{escape(h)}</th>"
                for k, h in enumerate(headers)
            )
            body = "".join(
                "<tr>" + "".join(f'<td class="model">{escape(c)}</td>' if k == 0 else f"<td>{escape(c)}</td>"
                                 for k, c in enumerate(row)) + "</tr>"
                for row in body_rows
            )  # fmt: skip
            table_id = ("ensemble-judges", "ensemble-ratings", "ensemble-agreement")[i]
            parts.append(
                f"<h3>{escape(title)}</h3>\n"
                f'<table id="{table_id}"><thead><tr>{head_cells}</tr></thead>\n<tbody>{body}</tbody></table>\n'
            )
        parts.append(f"<p>{escape(ENSEMBLE_NOTE)}</p>\n")
        ensemble = "".join(parts)

    def source(key: str) -> str:
        if figures is not None and key in figures:
            return "data:image/png;base64," + base64.b64encode(figures[key]).decode("ascii")
        return escape(FIGURES[key])

    images = "".join(
        f'<figure><img src="{source(key)}" alt="{escape(title)}" data-figure="{escape(FIGURES[key])}">'
        f"<figcaption>{escape(title)}</figcaption></figure>"
        for key, title in FIGURE_TITLES.items()
    )
    title = f"Report Arena leaderboard: {data['name']}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f'<h1>{escape(title)}</h1>\n{proxy}\n<div class="meta">{meta}</div>\n'
        f'<table id="leaderboard" data-sorted="rating:descending">\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{chr(10).join(rows)}\n</tbody>\n</table>\n"
        '<p class="hint">Click a column header to sort; click again to reverse.</p>\n'
        f"{style}"
        f"{ensemble}"
        f"{flagged}"
        f'<div class="figures">{images}</div>\n'
        f"<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
