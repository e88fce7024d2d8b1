"""Draw the IU X-ray reports of our labeler gold standard (seeded, enriched), and show their text.

The sample is fixed by `SEED` and by the unmodified `indiana_reports.csv`: 300 reports with a non-empty
findings or impression text, enriched so that every one of the seven evaluated findings has positives
and the hard-negative wordings of issue 14 are present:

* 20 per finding from the reports whose *MeSH* indexing (human-made, not our labeler) names it
  (Edema: "Edema" or "Congestion");
* 12 per hard-negative wording found in the text (a negated list "heart (size) and ... normal/within
  limits", "no definite", resolved/resolving, infection words, vascular wording, hedges);
* the rest drawn at random from all reports.

`HOLDOUT` of the 300, drawn with the same seed before any labelling, are the held-out part: they were
not looked at while the labeler was being changed. Without options it prints `uid,split`; `--show`
prints the texts (findings + impression only) for labelling.

Run: `.venv/bin/python tests/metrics/chexpert_eval/sample_iu_gold.py [--show dev|holdout]`
"""

from __future__ import annotations

import argparse
import csv
import random
import re
from pathlib import Path

from xraybench.metrics.chexpert.evaluate import join_sections

HERE = Path(__file__).parent
IU_REPORTS = HERE.parents[2] / ".." / "shared" / "data" / "iu_xray" / "indiana_reports.csv"
SEED = 14
SIZE = 300
HOLDOUT = 100
PER_FINDING = 20
PER_WORDING = 12
MESH = {
    "Atelectasis": "Atelectasis",
    "Cardiomegaly": "Cardiomegaly",
    "Pleural Effusion": "Pleural Effusion",
    "Pneumonia": "Pneumonia",
    "Pneumothorax": "Pneumothorax",
    "Consolidation": "Consolidation",
    "Edema": "Edema|Congestion",
}
HARD_WORDING = {
    "negated list": r"\b(heart|heart size|cardiac silhouette)( size)? and [a-z ]{3,40}(normal|within|limits)",
    "no definite": r"\bno (definite|definitive|convincing|visible)\b",
    "resolved": r"\bresol",
    "infection": r"\binfect|\binflamm|\bbronchit|\baspiration",
    "vascular": r"\bvascula|\bvasculature|\bcongest",
    "hedge": r"\b(may|likely|possibl[ey]|probabl[ey]|question|suggest|suspicious|concern)",
}


def report_text(row: dict[str, str]) -> str:
    """Findings and impression of one IU row, as `xraybench label --eval`, the benchmark and the tests read them."""
    return join_sections(row.get(col) or "" for col in ("findings", "impression"))


def read_rows(path: Path = IU_REPORTS) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def draw(rows: list[dict[str, str]]) -> list[tuple[str, str]]:
    """(uid, split) for the 300 reports, in draw order."""
    rng = random.Random(SEED)
    rows = [r for r in rows if report_text(r)]
    chosen: list[str] = []
    seen: set[str] = set()

    def take(pool: list[dict[str, str]], n: int) -> None:
        pool = [r for r in pool if r["uid"] not in seen]
        for r in rng.sample(pool, min(n, len(pool))):
            chosen.append(r["uid"])
            seen.add(r["uid"])

    for pattern in MESH.values():
        take([r for r in rows if re.search(pattern, r["MeSH"])], PER_FINDING)
    for pattern in HARD_WORDING.values():
        take([r for r in rows if re.search(pattern, report_text(r), re.IGNORECASE)], PER_WORDING)
    take(rows, SIZE - len(chosen))
    holdout = set(rng.sample(chosen, HOLDOUT))
    return [(uid, "holdout" if uid in holdout else "dev") for uid in chosen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", choices=["dev", "holdout"])
    args = parser.parse_args()
    rows = read_rows()
    sample = draw(rows)
    by_uid = {r["uid"]: r for r in rows}
    for uid, split in sorted(sample, key=lambda s: int(s[0])):
        if args.show is None:
            print(f"{uid},{split}")
        elif split == args.show:
            print(f"[{uid}] {report_text(by_uid[uid])}\n")


if __name__ == "__main__":
    main()
