"""Shared fixture sets for the lexical metric tests (and the lexical benchmark's report generator).

The sets below are invented. `report_pairs` writes radiology-style findings/impressions with negations,
sizes, laterality and the punctuation real reports carry, deterministically from a seed. `iu_texts` and
`iu_report_pairs` read real reports from the IU X-ray / Open-i `indiana_reports.csv` in
`../shared/data/iu_xray/` (CC BY-NC-ND: read in place and unmodified, never copied into the repository).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

IU_REPORTS = Path(__file__).resolve().parents[3] / "shared" / "data" / "iu_xray" / "indiana_reports.csv"

REALISTIC_HYPS = [
    "The heart size is normal. The mediastinal contours are unremarkable. No focal consolidation, pleural effusion or pneumothorax.",
    "Mild cardiomegaly. Small left pleural effusion with adjacent atelectasis. No pneumothorax.",
    "FINDINGS: Lungs are clear bilaterally. IMPRESSION: No acute cardiopulmonary process.",
    "1. Right lower lobe opacity, concerning for pneumonia. 2. Stable 1.5 cm nodule in the left upper lobe.",
    "Interval placement of a right-sided PICC line with tip at the cavoatrial junction.",
    "Degenerative changes of the thoracic spine. XXXX sternotomy wires are intact.",
]
REALISTIC_REFS = [
    ["Heart size is normal. Mediastinum is unremarkable. Lungs are clear without effusion or pneumothorax."],
    ["Cardiomegaly, mild. Left pleural effusion (small) and basilar atelectasis. No pneumothorax is seen."],
    ["The lungs are clear. No acute cardiopulmonary abnormality."],
    ["Right lower lobe consolidation may represent pneumonia. 1.4 x 1.5 cm left upper lobe nodule is unchanged."],
    ["Right PICC terminates at the cavoatrial junction. No pneumothorax."],
    ["Median sternotomy wires. Degenerative disease of the spine. Otherwise normal chest."],
]

SETS: dict[str, tuple[list[str], list[list[str]]]] = {
    "realistic": (REALISTIC_HYPS, REALISTIC_REFS),
    "empty_hypotheses": (
        ["", "No acute process.", "", "   "],
        [["No acute process."], ["No acute process."], ["Normal chest."], ["Clear lungs."]],
    ),
    "one_word": (
        ["Normal.", "normal", "Effusion", "pneumothorax."],
        [["Normal"], ["Normal."], ["effusion."], ["No pneumothorax."]],
    ),
    "unicode": (
        [
            "Opacité basale droite — stable.",
            "Size 5\u00a0mm × 3 mm; ± atelectasis.",
            "Naïve café “quotes” ‘single’ … done.",
        ],
        [["Opacité basale droite, stable."], ["Size 5 mm x 3 mm, with atelectasis."], ["Café naïve “quotes” done…"]],
    ),
    "numbers_punctuation": (
        [
            "Nodule 1.5cm (previously 1.2 cm); 3-4 mm foci at T11-T12, 10:30 a.m. e.g. s/p CABG.",
            "Dr. Smith called at 2 p.m. re: findings [see prior]. {no change} ... stable!",
            "Pt's ET tube 5 cm above carina -- unchanged; NG tube can't be seen. 1 1/2 ratio 50% 1/2",
        ],
        [
            ["Nodule measures 1.5 cm (previously 1.2 cm). 3-4 mm foci at T11-T12."],
            ["Findings discussed with Dr. Smith at 2 p.m. No change."],
            ["ET tube 5 cm above the carina; NG tube isn't seen."],
        ],
    ),
    "multiple_references": (
        ["No acute cardiopulmonary process.", "Small right effusion."],
        [
            ["No acute cardiopulmonary abnormality.", "No acute process.", "Normal chest radiograph."],
            [
                "Right pleural effusion, small.",
                "Small right pleural effusion.",
                "Tiny right effusion; no pneumothorax.",
            ],
        ],
    ),
}


_FINDINGS = [
    "{no} focal consolidation", "{no} pleural effusion", "{no} pneumothorax", "{no} pulmonary edema",
    "{a} {side} pleural effusion", "{a} {side} {lobe} opacity", "atelectasis at the {side} base",
    "{a} {size} cm nodule in the {side} {lobe}", "cardiomegaly", "{mild} cardiomegaly",
    "the heart size is {normal}", "the mediastinal contours are {normal}", "{side}-sided PICC line in place",
    "degenerative changes of the thoracic spine", "{no} acute osseous abnormality", "XXXX opacity",
    "endotracheal tube {size} cm above the carina", "{mild} interstitial prominence", "{no} free air",
]  # fmt: skip
_CHOICES = {
    "no": ["no", "No", "without", "no evidence of", "there is no"],
    "a": ["a small", "a moderate", "a large", "small", "trace"],
    "side": ["left", "right", "bilateral"],
    "lobe": ["upper lobe", "lower lobe", "middle lobe", "lung base", "apex"],
    "size": ["1.5", "2", "0.8", "3-4", "12"],
    "mild": ["mild", "moderate", "severe", "minimal"],
    "normal": ["normal", "within normal limits", "unremarkable", "stable"],
}


def _sentence(rng: random.Random) -> str:
    template = rng.choice(_FINDINGS)
    text = template.format(**{k: rng.choice(v) for k, v in _CHOICES.items()})
    text = text[0].upper() + text[1:]
    return text + rng.choice([".", ".", ".", ";", ", unchanged.", " (stable)."])


def report(rng: random.Random, sentences: tuple[int, int] = (3, 8)) -> str:
    body = " ".join(_sentence(rng) for _ in range(rng.randint(*sentences)))
    if rng.random() < 0.3:
        body = "FINDINGS: " + body + " IMPRESSION: " + _sentence(rng)
    if rng.random() < 0.1:
        body = "1. " + body.replace(". ", ". 2. ", 1)
    return body


def report_pairs(n: int, seed: int = 0) -> tuple[list[str], list[list[str]]]:
    """`n` (hypothesis, [reference]) pairs of generated reports; hypotheses share some sentences with references."""
    rng = random.Random(seed)
    hyps: list[str] = []
    refs: list[list[str]] = []
    for _ in range(n):
        ref = report(rng)
        parts = ref.split(". ")
        keep = [p for p in parts if rng.random() < 0.6] or parts[:1]
        hyp = ". ".join(keep)
        if rng.random() < 0.5:
            hyp += " " + _sentence(rng)
        hyps.append(hyp)
        refs.append([ref])
    return hyps, refs


def long_set() -> tuple[list[str], list[list[str]]]:
    """Very long reports (hundreds of tokens each)."""
    rng = random.Random(11)
    hyps = [report(rng, (40, 60)) for _ in range(3)]
    refs = [[report(rng, (40, 60)), report(rng, (30, 50))] for _ in range(3)]
    return hyps, refs


SETS["generated"] = report_pairs(40, seed=3)
SETS["very_long"] = long_set()


def iu_rows(path: Path = IU_REPORTS) -> list[dict[str, str]]:
    """The rows of `indiana_reports.csv`, in file order."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def iu_texts(path: Path = IU_REPORTS) -> list[str]:
    """Every non-empty findings and impression text of the file, in file order (findings first per study)."""
    return [row[column] for row in iu_rows(path) for column in ("findings", "impression") if row[column]]


def iu_report_pairs(n: int | None = None, seed: int = 0, path: Path = IU_REPORTS) -> tuple[list[str], list[list[str]]]:
    """Real (hypothesis, [reference]) pairs: each study's findings + impression text paired with another
    study's, in a seeded order (study i of the shuffle against study i + 1); the first `n` pairs, or all."""
    texts = [" ".join(part for part in (row["findings"], row["impression"]) if part) for row in iu_rows(path)]
    texts = [text for text in texts if text.strip()]
    random.Random(seed).shuffle(texts)
    count = len(texts) if n is None else min(n, len(texts))
    return texts[:count], [[texts[(i + 1) % len(texts)]] for i in range(count)]
