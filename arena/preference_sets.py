"""Preference sets whose report texts are derived on the user's machine, never stored: our IU X-ray set.

Why: the IU X-ray reports are licensed CC BY-NC-ND (no derivatives may be distributed), so the repository keeps
only what points at them: per pair the IU uid whose findings section is the reference, how each candidate is
derived from the user's own `indiana_reports.csv` (`{"derive": "mutate", "kind": K}`: `arena.mutator.mutate`
of the reference with seed 0; `{"derive": "report", "uid": U}`: the findings of another report), the SHA-256 of
each derived text (so a changed mutator or CSV fails loudly instead of pairing ratings with other texts), the
dev/hold-out split and the ratings. `derive_pairs` rebuilds the texts; `write_preference_files` writes the
`--preferences` JSON list and the rater file of one split for `xraybench judge-audit`.

The set, the guideline its ratings follow and how the split was made: docs/preferences.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xraybench.errors import DataFormatError, XrayBenchError

SET_DIR = Path(__file__).resolve().parent.parent / "benchmarks" / "preferences"
IU_SPEC = SET_DIR / "iu_h11_pairs.json"  # pairs: uids, derivations, text hashes, split, category
IU_RATINGS = SET_DIR / "iu_h11_ratings.json"  # the rater file (H11's ratings, see docs/preferences.md)
SPLITS = ("dev", "holdout")
SEED = 0  # the mutator seed of every derived candidate


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def iu_findings(iu_dir: str | Path) -> dict[str, str]:
    """uid -> findings section of `indiana_reports.csv` (the widely mirrored IU X-ray layout)."""
    from xraybench.datasets.common import read_csv

    path = Path(iu_dir) / "indiana_reports.csv"
    if not path.exists():
        raise XrayBenchError(f"{path}: not found; the IU preference set derives its texts from the IU X-ray CSV")
    return {row["uid"]: row["findings"].strip() for _, row in read_csv(path, required=("uid", "findings"))}


def _derive(spec: dict[str, Any], reference: str, findings: dict[str, str], where: str, source: Path) -> str:
    from arena.mutator import mutate

    how = spec.get("derive")
    if how == "mutate":
        return mutate(reference, str(spec["kind"]), SEED).text
    if how == "report":
        uid = str(spec.get("uid"))
        if uid not in findings:
            raise DataFormatError(source, f"uid {uid} is not in the IU CSV", record=where)
        return findings[uid]
    raise DataFormatError(source, f"unknown derivation {spec!r}; expected derive 'mutate' or 'report'", record=where)


def derive_pairs(iu_dir: str | Path, split: str | None = None, spec_path: Path = IU_SPEC) -> list[dict[str, Any]]:
    """The pairs of `split` (all when None) in the `--preferences` JSON-list layout, texts rebuilt from the IU CSV;
    a text whose hash differs from the one the ratings were made on is an error naming the pair."""
    if split is not None and split not in SPLITS:
        raise XrayBenchError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    findings = iu_findings(iu_dir)
    out: list[dict[str, Any]] = []
    for spec in json.loads(spec_path.read_text(encoding="utf-8")):
        if split is not None and spec["split"] != split:
            continue
        where = f"id {spec['id']!r}"
        reference = findings.get(spec["uid"])
        if not reference:
            raise DataFormatError(spec_path, f"uid {spec['uid']} has no findings in the IU CSV", record=where)
        texts = {c: _derive(spec[c], reference, findings, where, spec_path) for c in ("C1", "C2")}
        for name, text in (("reference", reference), *texts.items()):
            if text_hash(text) != spec["sha256"][name]:
                raise DataFormatError(
                    spec_path,
                    f"the derived {name} text differs from the one that was rated (the IU CSV or arena.mutator "
                    "changed); its ratings no longer apply",
                    record=where,
                )
        out.append({"id": spec["id"], "ground_truth_report": reference, "C1_report": texts["C1"],
                    "C2_report": texts["C2"], "category": spec["category"]})  # fmt: skip
    return out


BUILTIN = "iu-h11"  # `--preferences iu-h11[:dev|:holdout]`: this set, derived from the user's IU X-ray root


def write_split(folder: Path, iu_dir: str | Path, split: str | None) -> tuple[Path, Path]:
    """`folder/pairs.json` and `folder/ratings.json` of one split (None: every pair)."""
    rater = json.loads(IU_RATINGS.read_text(encoding="utf-8"))
    pairs = derive_pairs(iu_dir, split)
    folder.mkdir(parents=True, exist_ok=True)
    ids = {p["id"] for p in pairs}
    annotations = {k: v for k, v in rater["annotations"].items() if k in ids}
    (folder / "pairs.json").write_text(json.dumps(pairs, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / "ratings.json").write_text(
        json.dumps({**rater, "annotations": annotations}, indent=1) + "\n", encoding="utf-8"
    )
    return folder / "pairs.json", folder / "ratings.json"


def resolve_builtin(name: str, data_roots: Sequence[str], folder: Path) -> tuple[Path, list[Path]] | None:
    """`iu-h11`, `iu-h11:dev` or `iu-h11:holdout` written to `folder` from the IU X-ray data root (`--data-root
    iu_xray=PATH` or XRAYBENCH_DATA_IU_XRAY), as (pair file, [rater file]); None for any other name."""
    set_name, _, split = name.partition(":")
    if set_name != BUILTIN:
        return None
    from xraybench.taskdata import parse_data_roots, resolve_root

    root = resolve_root("iu_xray", parse_data_roots(list(data_roots)))
    assert root is not None  # iu_xray needs a root: resolve_root raises without one
    pairs, ratings = write_split(folder, root, split or None)
    return pairs, [ratings]


def write_preference_files(out: str | Path, iu_dir: str | Path, splits: Sequence[str] = SPLITS) -> dict[str, Path]:
    """Per split, `OUT/SPLIT/pairs.json` and `OUT/SPLIT/ratings.json` (that split's annotations); returns the
    folders. Usage: `xraybench judge-audit --preferences OUT/dev/pairs.json --ratings OUT/dev/ratings.json`."""
    folders: dict[str, Path] = {}
    for split in splits:
        folders[split] = Path(out) / split
        write_split(folders[split], iu_dir, split)
    return folders
