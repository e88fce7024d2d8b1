"""Benchmark: reports/s of the offline CheXpert-style labeler on one core.

Generates 5,000 realistic reports (findings + impression, MIMIC-like and IU-X-ray-like sentences,
seeded), then times in the same process:
  * ours: `label_reports` (sections, normalisation, one trie-regex scan, scope rules, aggregation);
  * anchor A, naive phrase scan: for every report, a substring test of each of our expanded phrases
    (what a labeler without the combined regex would do just to find candidate mentions);
  * anchor B, tokenisation: `re.findall(r"\\w+")` over the report, the floor of any text processing.
Prints reports/s and the ratios. Run: `.venv/bin/python benchmarks/labeler/run.py [--n 5000]`.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import time

from xraybench.metrics.chexpert import label_reports, normalise
from xraybench.metrics.chexpert.labeler import _tables

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
    reports = make_reports(args.n)
    chars = sum(map(len, reports)) / len(reports)
    ours = best_of(label_reports, reports, repeat=args.repeat)
    naive = best_of(naive_scan, reports, list(tables.entries), repeat=args.repeat)
    tok = best_of(tokenise, reports, repeat=args.repeat)
    print(f"{args.n} reports, {chars:.0f} characters on average; one-time table build {build:.2f} s")
    print(f"ours (full labeling):          {args.n / ours:9.0f} reports/s  ({ours:.3f} s)")
    print(
        f"anchor A, naive phrase scan:   {args.n / naive:9.0f} reports/s  ({naive:.3f} s, {len(tables.entries)} phrases)"
    )
    print(f"anchor B, tokenisation only:   {args.n / tok:9.0f} reports/s  ({tok:.3f} s)")
    print(f"ratio ours / naive scan: {naive / ours:.1f}x faster; ours costs {ours / tok:.1f}x a tokenisation pass")


if __name__ == "__main__":
    main()
