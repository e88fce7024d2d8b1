"""Score the labeler against a human gold standard (`xraybench label --eval GOLD.csv`).

Gold layouts (CSV, one row per report):
* CheXpert: observation columns named as in CheXpert (`Pleural Effusion`, also `pleural_effusion`),
  values 1 / 0 / -1 / blank (also written 1.0, 0.0, -1.0);
* NegBio: a `filename` column and observation columns with 0 / 1 (NIH names such as `Effusion` are
  read as the CheXpert observation).
Columns that name no observation (ids, splits, notes) are ignored and listed in the result.

Texts: a gold file with a text column (`Reports`, `report`, `text`) carries its own; otherwise a
reports CSV is joined on a key column (`filename`, `uid`, `id`, `study_id`, `report_id`, `Path` —
the first one the gold has, or the one named; the reports CSV uses a column of the same name, else
its own first column of that list). Keys match exactly, or else after dropping a folder
and a file extension on both sides (`ecgen-radiology/12.xml` matches `12`). Texts come from the
reports' `Reports`/`report`/`text` column, or `findings` + `impression` (IU X-ray), or the columns
named, joined as sentences. A gold row without a text is an error, never a silent skip.

Scoring: gold and labeler values are both made binary under one `uncertain_as` policy (1 is positive;
-1 is positive under "positive", negative under "negative"; 0 and blank are negative), then P/R/F1
per observation and micro/macro over the gold's observations, with scikit-learn's zero-division rule.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from xraybench.errors import DataFormatError, XrayBenchError
from xraybench.metrics.chexpert.labeler import label_reports
from xraybench.metrics.chexpert.phrases import CHEXPERT_LABELS

KEY_COLUMNS = ("filename", "uid", "id", "study_id", "report_id", "Path")
TEXT_COLUMNS = ("Reports", "report", "text")
SECTION_COLUMNS = ("findings", "impression")
POLICIES = ("positive", "negative")
# Gold column names that mean a CheXpert observation under another name (NIH ChestX-ray14 / NegBio).
ALIASES = {"effusion": "Pleural Effusion", "pleural effusions": "Pleural Effusion", "nofinding": "No Finding"}
_VALUES = {"1": 1, "1.0": 1, "0": 0, "0.0": 0, "-1": -1, "-1.0": -1, "": None}


def _observation(column: str) -> str | None:
    """The CheXpert observation a gold column stands for, or None."""
    name = " ".join(column.replace("_", " ").split()).lower()
    for label in CHEXPERT_LABELS:
        if label.lower() == name:
            return label
    return ALIASES.get(name)


@dataclass
class GoldRow:
    line: int
    key: str
    values: list[int | None]  # one per GoldFile.observations
    text: str | None = None


@dataclass
class GoldFile:
    path: Path
    layout: str  # "chexpert" or "negbio"
    key_column: str | None
    observations: tuple[str, ...]
    ignored_columns: tuple[str, ...]
    rows: list[GoldRow] = field(default_factory=list)


def join_sections(parts: Iterable[str]) -> str:
    """Report sections as one text: each non-empty part ends as a sentence, one part per line."""
    out = []
    for part in parts:
        part = (part or "").strip()
        if part:
            out.append(part if part[-1] in ".?!;:" else part + ".")
    return "\n".join(out)


def read_gold(path: Path, *, key_column: str | None = None) -> GoldFile:
    """Read a gold file in the CheXpert or NegBio layout (see the module doc); errors name file:line."""
    if not path.is_file():
        raise XrayBenchError(f"{path}: no such file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise DataFormatError(path, "empty file; expected a header with observation columns", line=1)
            header = [h.strip() for h in header]
            columns = {name: i for i, name in enumerate(header)}
            obs_cols: list[tuple[int, str]] = []
            ignored = []
            for i, name in enumerate(header):
                obs = _observation(name)
                if obs is None:
                    ignored.append(name)
                elif any(o == obs for _, o in obs_cols):
                    raise DataFormatError(path, f"two columns mean the observation {obs!r} ({name!r})", line=1)
                else:
                    obs_cols.append((i, obs))
            if not obs_cols:
                expected = ", ".join(CHEXPERT_LABELS)
                raise DataFormatError(path, f"no observation columns in the header {header}; expected some of: {expected}", line=1)  # fmt: skip
            if key_column is not None and key_column not in columns:
                raise DataFormatError(path, f"no key column {key_column!r} in the header {header}", line=1)
            key = key_column or next((c for c in KEY_COLUMNS if c in columns), None)
            text_col = next((c for c in TEXT_COLUMNS if c in columns), None)
            rows = []
            for row in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise DataFormatError(path, f"{len(row)} fields, the header has {len(header)}", line=line)
                values = []
                for i, obs in obs_cols:
                    cell = row[i].strip()
                    if cell not in _VALUES:
                        raise DataFormatError(
                            path, f"column {header[i]!r} ({obs}) holds {cell!r}; expected 1, 0, -1 or blank", line=line
                        )
                    values.append(_VALUES[cell])
                row_key = row[columns[key]].strip() if key is not None else str(len(rows) + 1)
                text = row[columns[text_col]] if text_col is not None else None
                rows.append(GoldRow(line, row_key, values, text))
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if not rows:
        raise DataFormatError(path, "no gold rows after the header")
    seen: dict[str, int] = {}
    if key is not None:
        for r in rows:
            if r.key in seen:
                raise DataFormatError(path, f"{key} {r.key!r} repeats line {seen[r.key]}", line=r.line)
            seen[r.key] = r.line
    all_values = {v for r in rows for v in r.values}
    layout = "negbio" if "filename" in columns and all_values <= {0, 1} else "chexpert"
    return GoldFile(path, layout, key, tuple(o for _, o in obs_cols), tuple(ignored), rows)


def _stem(key: str) -> str:
    name = PurePosixPath(key.replace("\\", "/")).name
    return re.sub(r"\.[A-Za-z0-9]{1,5}$", "", name)


def read_report_texts(path: Path, key_column: str, text_columns: Sequence[str] | None = None) -> dict[str, str]:
    """Key -> report text from a reports CSV (see the module doc for the text columns)."""
    if not path.is_file():
        raise XrayBenchError(f"{path}: no such file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            if key_column not in header:
                found = next((c for c in KEY_COLUMNS if c in header), None)
                if found is None:
                    want = ", ".join(dict.fromkeys([key_column, *KEY_COLUMNS]))
                    raise DataFormatError(
                        path, f"no key column in the header {header}; expected one of: {want}", line=1
                    )
                key_column = found
            if text_columns:
                missing = [c for c in text_columns if c not in header]
                if missing:
                    raise DataFormatError(path, f"no text column(s) {missing} in the header {header}", line=1)
                cols = list(text_columns)
            elif (found := next((c for c in TEXT_COLUMNS if c in header), None)) is not None:
                cols = [found]
            elif all(c in header for c in SECTION_COLUMNS):
                cols = list(SECTION_COLUMNS)
            else:
                want = ", ".join(TEXT_COLUMNS) + " or findings + impression"
                raise DataFormatError(path, f"no report text column in the header {header}; expected {want}", line=1)
            texts: dict[str, str] = {}
            lines: dict[str, int] = {}
            for row in reader:
                if None in row or any(row.get(c) is None for c in [key_column, *cols]):
                    raise DataFormatError(path, "the row's field count differs from the header", line=reader.line_num)
                k = row[key_column].strip()
                if k in texts:
                    raise DataFormatError(path, f"{key_column} {k!r} repeats line {lines[k]}", line=reader.line_num)
                texts[k] = join_sections(row[c] for c in cols)
                lines[k] = reader.line_num
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return texts


def attach_texts(gold: GoldFile, texts: Mapping[str, str]) -> None:
    """Give every gold row its text from `texts` (by key, else by key stem); fail on any row left."""
    by_stem: dict[str, str | None] = {}
    for k, t in texts.items():
        s = _stem(k)
        by_stem[s] = None if s in by_stem else t  # an ambiguous stem matches nothing
    missing = []
    for r in gold.rows:
        text = texts.get(r.key)
        if text is None:
            text = by_stem.get(_stem(r.key))
        if text is None:
            missing.append(r)
        else:
            r.text = text
    if missing:
        shown = ", ".join(f"line {r.line} ({r.key!r})" for r in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise DataFormatError(gold.path, f"{len(missing)} gold rows have no report text: {shown}{more}")


@dataclass
class PolicyScores:
    uncertain_as: str
    per_observation: dict[str, dict[str, float]]  # name -> precision, recall, f1, support (gold positives), tp, fp, fn
    micro: dict[str, float]
    macro: dict[str, float]


def score(gold: GoldFile, predicted: Sequence[Sequence[int | None]] | None = None) -> dict[str, PolicyScores]:
    """P/R/F1 of the labeler (or of `predicted`, 14 values per gold row) under both policies."""
    from xraybench.metrics.clinical import prf  # the one home of P/R/F1 with scikit-learn's rules

    if predicted is None:
        absent = [r for r in gold.rows if r.text is None]
        if absent:
            raise DataFormatError(gold.path, "gold rows without report text (attach_texts first)", line=absent[0].line)
        predicted = label_reports([r.text or "" for r in gold.rows])
    cols = [CHEXPERT_LABELS.index(o) for o in gold.observations]
    out = {}
    for policy in POLICIES:
        positive = {1, -1} if policy == "positive" else {1}
        g = np.array([[v in positive for v in r.values] for r in gold.rows], dtype=bool)
        p = np.array([[row[c] in positive for c in cols] for row in predicted], dtype=bool)
        tp, fp, fn = (g & p).sum(0), (~g & p).sum(0), (g & ~p).sum(0)
        per = {}
        for j, obs in enumerate(gold.observations):
            pr, rc, f1 = prf(tp[j : j + 1], fp[j : j + 1], fn[j : j + 1], "micro")
            per[obs] = {"precision": float(pr), "recall": float(rc), "f1": float(f1), "support": int(g[:, j].sum()),
                        "tp": int(tp[j]), "fp": int(fp[j]), "fn": int(fn[j])}  # fmt: skip
        micro = dict(zip(("precision", "recall", "f1"), map(float, prf(tp, fp, fn, "micro")), strict=True))
        macro = dict(zip(("precision", "recall", "f1"), map(float, prf(tp, fp, fn, "macro")), strict=True))
        out[policy] = PolicyScores(policy, per, micro, macro)
    return out
