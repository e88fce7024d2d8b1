"""The paper's XrayBench export (Hugging Face `Qika/xraybench`, ~14.2k rows) saved locally.

Accepted forms of `root`: a folder of parquet files (the Hub layout, `data/test-00000-of-00001.parquet`),
a `datasets.save_to_disk` folder (`*.arrow` + `state.json`, or `dataset_dict.json` with one folder per
split), JSON (a list of rows, or `{split: [rows]}`) or JSON Lines, or one such file.

The export's exact schema could not be checked offline, so columns are found by name, case-insensitively:
id (`id`, `qid`, `question_id`, `idx`, `sample_id`), question (`question`, `prompt`, `problem`, `query`,
`instruction`), answer (`answer`, `solution`, `ground_truth`, `gt_answer`, `reference`, `report`),
subset (`subset`, `dataset`, `source`, `data_source`) and image (`image`, `images`, `image_path`,
`image_paths`, `img_path`). A missing question or answer column is an error naming the columns found.
Without an id column the id is `row<N>` (position in file order). Images are paths (relative to the
export folder) or Hugging Face image structs; embedded image bytes are written to `extract_images_to`
only when that option is given (otherwise `metadata["embedded_images"]` counts them).

Governance: the export mixes OPEN-I with MIMIC-derived subsets (MIMIC-CXR reports, MIMIC-Ext-MIMIC-CXR-VQA,
Medical-CXR-VQA), so each row is credentialed unless its subset/source column names an openly licensed source
(`OPEN_SOURCES`: OPEN-I / IU X-ray, NIH ChestX-ray14, VQA-RAD, SLAKE); an export without such a column is
credentialed throughout, since its rows cannot be told apart.

Splits come from file/folder names (`test-*.parquet`, `train.jsonl`, `test/` ...). An export whose names
carry no split is a benchmark: its rows form the "test" split and asking for another split is an error,
so baselines can never train on benchmark rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xraybench.datasets.base import Dataset, LoadResult
from xraybench.datasets.common import check_values, clean_text, join_answers, load_json, local_path, read_jsonl
from xraybench.errors import DataFormatError
from xraybench.lazy import require
from xraybench.records import Sample

COLUMNS = {
    "id": ("id", "qid", "question_id", "idx", "sample_id"),
    "question": ("question", "prompt", "problem", "query", "instruction"),
    "answer": ("answer", "solution", "ground_truth", "gt_answer", "reference", "report"),
    "subset": ("subset", "dataset", "source", "data_source"),
    "image": ("image", "images", "image_path", "image_paths", "img_path"),
}
_SPLIT_NAMES = {
    "train": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "test": "test",
}
_SUFFIXES = (".parquet", ".arrow", ".jsonl", ".json")
# subset names (lower-cased, letters and digits only) of openly licensed sources; every other row is credentialed
OPEN_SOURCES = ("openi", "iuxray", "indiana", "chestxray14", "nihcxr", "nihchest", "cxr14", "vqarad", "slake")
_CREDENTIALED_MARKS = ("mimic", "chexpert", "mscxr")  # a name with one of these is credentialed whatever else


def credentialed_subset(subset: str) -> bool:
    """Is a row of this subset credentialed: yes unless the name says an open source (an empty or unknown name
    cannot be told apart from MIMIC-derived rows, so it is refused rather than sent)."""
    key = re.sub(r"[^a-z0-9]", "", subset.lower())
    if not key or any(mark in key for mark in _CREDENTIALED_MARKS):
        return True
    return not (key in ("iu", "nih") or any(name in key for name in OPEN_SOURCES))


def sample_credentialed(sample: Sample) -> bool:
    """The per-sample rule of the export (`Dataset.credentialed_sample`): by the row's subset."""
    return credentialed_subset(str(sample.metadata.get("subset") or ""))


def _split_of(path: Path, base: Path) -> str | None:
    """The split a data file belongs to, from its own name or a folder between it and `base`."""
    for part in [path.stem, *reversed(path.relative_to(base).parts[:-1])]:
        token = re.split(r"[-_.]", part.lower())[0]
        if token in _SPLIT_NAMES:
            return _SPLIT_NAMES[token]
    return None


def _data_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix in _SUFFIXES
        and p.name not in ("state.json", "dataset_info.json", "dataset_dict.json")
    )
    if not files:
        raise DataFormatError(root, "no parquet, arrow, JSON or JSONL data files found in this folder")
    return files


def _without_bytes(table: Any, pa: Any) -> Any:
    """Replace embedded image bytes by a has-bytes flag, so rows stay small when nothing is extracted."""
    compute = require("pyarrow.compute", "hf", "reading the XrayBench parquet/arrow export")
    for index, column in enumerate(table.schema):
        if pa.types.is_struct(column.type) and column.type.get_field_index("bytes") >= 0:
            data = table.column(index)
            has_path = column.type.get_field_index("path") >= 0
            paths = compute.struct_field(data, "path") if has_path else pa.nulls(len(data), pa.string())
            flags = compute.is_valid(compute.struct_field(data, "bytes"))
            flat = pa.StructArray.from_arrays(
                [pa.concat_arrays(paths.chunks) if has_path else paths, pa.concat_arrays(flags.chunks)],
                names=["path", "bytes"],
            )
            table = table.set_column(index, column.name, flat)
    return table


def _arrow_rows(path: Path, keep_bytes: bool) -> Iterator[dict[str, Any]]:
    pa = require("pyarrow", "hf", "reading the XrayBench parquet/arrow export")
    try:
        if path.suffix == ".parquet":
            table = require("pyarrow.parquet", "hf", "reading the XrayBench parquet export").read_table(path)
        else:
            try:
                table = pa.ipc.open_stream(path).read_all()  # datasets.save_to_disk writes the stream format
            except pa.ArrowInvalid:
                table = pa.ipc.open_file(path).read_all()
        rows = (table if keep_bytes else _without_bytes(table, pa)).to_pylist()
    except (pa.ArrowException, OSError, ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        reason = str(exc)[:300]
        raise DataFormatError(path, f"unreadable {path.suffix[1:]} file: {type(exc).__name__}: {reason}") from exc
    for index, row in enumerate(rows):
        yield check_values(row, path, record=f"row {index}")


def _rows(path: Path, keep_bytes: bool) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row) for every row of one data file."""
    if path.suffix in (".parquet", ".arrow"):
        for index, row in enumerate(_arrow_rows(path, keep_bytes)):
            yield f"row {index}", row
    elif path.suffix == ".jsonl":
        for line, row in read_jsonl(path):
            yield f"line {line}", row
    else:
        data = load_json(path)
        items = data if isinstance(data, list) else data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise DataFormatError(path, "expected a JSON list of rows (or an object with a 'data' list)")
        for index, row in enumerate(items):
            yield f"#{index}", row


def _column(row: dict[str, Any], role: str) -> str | None:
    lowered = {k.strip().lower(): k for k in row}
    return next((lowered[name] for name in COLUMNS[role] if name in lowered), None)


def _images(
    value: Any, base: Path, sample_id: str, extract_to: Path | None, source: Path, where: str
) -> tuple[list[str], int]:
    """Image paths from a path, a HF image struct or a list of either; returns (paths, embedded count)."""
    items = value if isinstance(value, list) else [value] if value is not None else []
    paths: list[str] = []
    embedded = 0
    for k, item in enumerate(items):
        if isinstance(item, str) and item.strip():
            paths.append(local_path(base, item.strip(), source, record=where))
        elif isinstance(item, dict) and item.get("path") and not item.get("bytes"):
            paths.append(local_path(base, str(item["path"]), source, record=where))
        elif isinstance(item, dict) and item.get("bytes"):
            if extract_to is None:  # (arrow rows carry a has-bytes flag here, see _without_bytes)
                embedded += 1
                continue
            if not isinstance(item["bytes"], bytes):
                kind = type(item["bytes"]).__name__
                raise DataFormatError(source, f"image 'bytes' should be binary data, got {kind}", record=where)
            suffix = Path(str(item.get("path") or "x.png")).suffix or ".png"
            target = extract_to / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', sample_id)}_{k}{suffix}"
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(item["bytes"])
            paths.append(str(target.resolve()))
    return paths, embedded


def load_xraybench_export(
    root: Path,
    *,
    task: str,
    split: str,
    subset: str | None = None,
    extract_images_to: str | Path | None = None,
) -> LoadResult:
    """Load the local XrayBench export; `subset` keeps rows of one subset (case-insensitive)."""
    root = Path(root)
    wanted = _SPLIT_NAMES.get(split.strip().lower())
    if wanted is None:
        raise DataFormatError("<task options>", f"unknown split {split!r}; expected train, validation or test")
    files = _data_files(root)
    base = root if root.is_dir() else root.parent
    by_split = {f: _split_of(f, base) or "test" for f in files}
    chosen = [f for f in files if by_split[f] == wanted]
    if not chosen:
        raise DataFormatError(
            root, f"no data files for split {wanted!r}; found splits {sorted(set(by_split.values()))}"
        )
    extract = Path(extract_images_to) if extract_images_to else None
    result = LoadResult(samples=[])
    subsets: set[str] = set()
    seen: set[str] = set()
    position = 0
    for path in chosen:
        for where, row in _rows(path, keep_bytes=extract is not None):
            position += 1
            if not isinstance(row, dict):
                raise DataFormatError(path, f"expected an object per row, got {type(row).__name__}", record=where)
            columns = {role: _column(row, role) for role in COLUMNS}
            for role in ("question", "answer"):
                if columns[role] is None:
                    raise DataFormatError(
                        path,
                        f"no {role} column (looked for {list(COLUMNS[role])}); row has {sorted(row)}",
                        record=where,
                    )
            row_subset = clean_text(row[columns["subset"]]) if columns["subset"] else ""
            subsets.add(row_subset)
            if subset is not None and row_subset.lower() != subset.lower():
                continue
            sample_id = clean_text(row[columns["id"]]) if columns["id"] else f"row{position - 1}"
            if sample_id in seen:
                raise DataFormatError(path, f"duplicate id {sample_id!r}", record=where)
            seen.add(sample_id)
            answer = join_answers(row[columns["answer"]])
            if not answer:
                result.drop("empty_answer")
                continue
            image_value = row[columns["image"]] if columns["image"] else None
            images, embedded = _images(image_value, base, sample_id, extract, path, where)
            used = {c for c in columns.values() if c}
            metadata: dict[str, Any] = {
                k: v for k, v in row.items() if k not in used and isinstance(v, (str, int, float, bool))
            }
            metadata["subset"] = row_subset
            if embedded:
                metadata["embedded_images"] = embedded
            result.samples.append(
                Sample(
                    id=sample_id,
                    task=task,
                    dataset="xraybench_hf",
                    split=wanted,
                    prompt=clean_text(row[columns["question"]]),
                    reference=answer,
                    image_paths=images,
                    metadata=metadata,
                    credentialed=credentialed_subset(row_subset),
                )
            )
    if subset is not None and subset.lower() not in {s.lower() for s in subsets}:
        raise DataFormatError(root, f"no rows of subset {subset!r}; subsets present: {sorted(subsets)}")
    return result


# no task of its own: read through `xraybench samples` / published-number comparisons
DATASET = Dataset(
    "xraybench_hf",
    load_xraybench_export,
    "the paper's XrayBench HF export (MIMIC-derived rows credentialed)",
    credentialed_sample=sample_credentialed,
)
