"""Benchmark: reports/s of the offline CheXpert-style labeler on one core.

Two report sets, each timed in the same process: the 3,851 real IU X-ray reports
(`../shared/data/iu_xray/indiana_reports.csv`, findings + impression joined as `xraybench label
--eval` joins them; skipped with a note when the file is absent), and 5,000 generated realistic
reports (MIMIC-like and IU-X-ray-like sentences, seeded). Contenders:
  * ours: `label_reports` (sections, normalisation, one trie-regex scan, scope rules, aggregation);
  * anchor A, naive phrase scan: for every report, a substring test of each of our expanded phrases
    (what a labeler without the combined regex would do just to find candidate mentions);
  * anchor B, tokenisation: `re.findall(r"\\w+")` over the report, the floor of any text processing.
Prints reports/s and the ratios per set. Run: `.venv/bin/python benchmarks/labeler/run.py [--n 5000]`.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import time
from pathlib import Path

from xraybench.metrics.chexpert import label_reports, normalise
from xraybench.metrics.chexpert.evaluate import join_sections
from xraybench.metrics.chexpert.labeler import _tables

IU_REPORTS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "iu_xray" / "indiana_reports.csv"

FINDINGS = [
    "The heart size is normal.", "The heart size is mildly enlarged.", "Moderate cardiomegaly is unchanged.",
    "The cardiomediastinal silhouette is within normal limits.", "Heart size and mediastinal contours are normal.",
    "The mediastinal and hilar contours are unremarkable.", "The lungs are clear.",
    "There is no focal consolidation, pleural effusion or pneumothorax.", "No pleural effusion or pneumothorax.",
    "There is mild pulmonary vascular congestion.", "Mild interstitial pulmonary edema has improved.",
    "Small bilateral pleural effusions are present with adjacent bibasilar atelectasis.",
    "Patchy opacity in the right lower lobe may reflect atelectasis, though pneumonia cannot be excluded.",
    "Left basilar opacity, atelectasis versus consolidation.", "A 1.2 cm nodule in the right upper lobe is stable.",
    "An endotracheal tube terminates 4 cm above the carina.", "A nasogastric tube courses below the diaphragm.",
    "Right PICC line terminates in the mid SVC.", "Left chest wall pacemaker leads are unchanged.",
    "No acute osseous abnormality.", "Old healed left rib fractures are noted.", "Biapical pleural thickening.",
    "There is a small right apical pneumothorax.", "The previously seen left pleural effusion has resolved.",
    "No change in the moderate right pleural effusion.", "Blunting of the left costophrenic angle.",
    "Degenerative changes of the thoracic spine.", "The osseous structures are intact.",
]  # fmt: skip
IMPRESSIONS = [
    "No acute cardiopulmonary process.", "Mild pulmonary edema.", "Right lower lobe pneumonia.",
    "Possible early pneumonia at the left base.", "Small bilateral effusions and bibasilar atelectasis.",
    "Support devices in standard position.", "Interval resolution of the right pneumothorax.",
    "Stable cardiomegaly without pulmonary edema.", "Findings concerning for multifocal pneumonia.",
]  # fmt: skip


def make_reports(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        findings = " ".join(rng.sample(FINDINGS, rng.randint(4, 8)))
        impression = " ".join(rng.sample(IMPRESSIONS, rng.randint(1, 2)))
        if i % 2:
            out.append(f"FINDINGS: {findings}\n\nIMPRESSION: {impression}")
        else:  # IU-like: one paragraph, no headings
            out.append(f"{findings} {impression}")
    return out


def naive_scan(reports: list[str], phrases: list[str]) -> int:
    hits = 0
    for report in reports:
        text = normalise(report)
        for phrase in phrases:
            if phrase in text:
                hits += 1
    return hits


def tokenise(reports: list[str]) -> int:
    word = re.compile(r"\w+")
    return sum(len(word.findall(r)) for r in reports)


def best_of(fn, *args, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def iu_reports(path: Path = IU_REPORTS) -> list[str]:
    """The real IU X-ray reports, findings + impression (empty ones kept: users score them too)."""
    with path.open(newline="", encoding="utf-8") as fh:
        return [join_sections((row["findings"], row["impression"])) for row in csv.DictReader(fh)]


def run_set(title: str, reports: list[str], phrases: list[str], repeat: int) -> None:
    n = len(reports)
    chars = sum(map(len, reports)) / n
    ours = best_of(label_reports, reports, repeat=repeat)
    naive = best_of(naive_scan, reports, phrases, repeat=repeat)
    tok = best_of(tokenise, reports, repeat=repeat)
    print(f"\n{title}: {n} reports, {chars:.0f} characters on average")
    print(f"ours (full labeling):          {n / ours:9.0f} reports/s  ({ours:.3f} s)")
    print(f"anchor A, naive phrase scan:   {n / naive:9.0f} reports/s  ({naive:.3f} s, {len(phrases)} phrases)")
    print(f"anchor B, tokenisation only:   {n / tok:9.0f} reports/s  ({tok:.3f} s)")
    print(f"ratio ours / naive scan: {naive / ours:.1f}x faster; ours costs {ours / tok:.1f}x a tokenisation pass")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    start = time.perf_counter()
    tables = _tables()
    build = time.perf_counter() - start
    print(f"one-time table build {build:.2f} s")
    phrases = list(tables.entries)
    if IU_REPORTS.is_file():
        run_set("real IU X-ray reports", iu_reports(), phrases, args.repeat)
    else:
        print(f"\nreal IU X-ray reports: skipped, {IU_REPORTS} is absent")
    run_set("generated reports", make_reports(args.n), phrases, args.repeat)


if __name__ == "__main__":
    main()
