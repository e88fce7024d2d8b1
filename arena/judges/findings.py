"""`metric:findings`: findings-level matching with laterality, severity and comparison (weighted clinical errors).

Why: `metric:clinical` compares CheXpert labels only, so a report that puts the effusion on the wrong side, calls
mild cardiomegaly severe or invents a comparison with a prior study has the reference's labels and wins on wording
(docs/judge-audit.md). This judge reads each report as findings: per sentence, the CheXpert observations it states
(the offline labeler, positive or uncertain), the incidental findings of `INCIDENTAL` (granulomas, degenerative
changes, a tortuous aorta, hernias ...) and each kind of device of `DEVICES` (a line, a PICC, a pacemaker), each with the sides (`left`, `right`, `bilateral`) and
severity levels (trace/minimal < small/mild < moderate < large/severe) its sentence names. Against the reference a
candidate's errors are weighted by how far they mislead a reader (the guideline of docs/preferences.md):

| error | weight |
|---|---:|
| a CheXpert observation present in one report and absent in the other (`metric:clinical`'s errors) | 1 (0.5 uncertain) |
| a finding (or device) both report, on another side / with a disjoint severity | 0.5 |
| an incidental finding missing or added; its side or severity wrong | 0.25 |
| a comparison with an earlier study ("stable", "new", "compared to prior") in one report only | 0.25 |
| a negated finding with another severity ("no large effusion" / "no small effusion") | 0.1 |

A weighted difference of at least 2 is a strong win, of at least 0.1 a win; equal weights are a near-tie that the
lexical score breaks as in `metric:clinical` (a win at a difference of at least 0.05). Sides and severities are
compared only where both reports name them for the same finding, so a report silent on the side is not wrong.
The weights follow the guideline, set before the judge was run on any rated pair; see docs/preferences.md for its
agreement on our IU X-ray preference set (dev and hold-out).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from arena.judges.clinical import CLINICAL, OBSERVATIONS, ClinicalJudge, clinical_errors
from arena.judges.lexical import lexical_score
from arena.judges.local import Decision, Thresholds, decision
from arena.mutator import parse_report, speaks_of_change
from xraybench.metrics.chexpert import CHEXPERT_LABELS

FINDINGS = Thresholds(strong=CLINICAL.strong, win=0.1)  # in weighted errors (those of B minus those of A)
WEIGHTS = {"attribute": 0.5, "incidental": 0.25, "comparison": 0.25, "negated_severity": 0.1}
# Incidental or chronic findings the CheXpert observations do not name: key -> pattern.
INCIDENTAL: dict[str, str] = {
    "granuloma": r"granulom\w*",
    "degenerative change": r"degenerative|spondylosis|arthriti\w*|osteophyt\w*",
    "spinal curvature": r"scoliosis|kyphosis|curvature",
    "aortic tortuosity/atherosclerosis": r"tortu\w*|ectasia|unfold\w*|atherosclero\w*",
    "hernia": r"hernia",
    "diaphragm eventration/elevation": r"eventration|elevat\w*",
    "scarring/fibrosis": r"scar\w*|fibros\w*|fibrotic",
    "emphysema/hyperinflation": r"emphysem\w*|hyperexpan\w*|hyperinfla\w*|copd",
    "surgical clips/sternotomy": r"clips?|sternotomy|cabg",
    "hilar/lymph nodes": r"hil(?:ar|um)|lymph",
    "breast/nipple": r"nipple|breast|implants?",
    "epicardial fat": r"epicardial",
    "pectus": r"pectus",
    "pleural thickening/capping": r"pleural (?:thickening|retraction|capping)|apical (?:capping|pleural)",
}
# Devices, each kind on its own (a right subclavian line and a left PICC): their sides and sizes are attributes;
# a device present in one report only is the CheXpert "Support Devices" label's error already.
DEVICES: dict[str, str] = {
    "central venous catheter": r"catheters?|central (?:venous )?lines?|venous lines?|ports?",
    "PICC": r"picc",
    "pacemaker/defibrillator": r"pacemaker|pacer|icd|defibrillator|generator|leads?",
    "tube": r"tubes?",
    "stimulator": r"stimulator",
}
_TERMS = {key: re.compile(rf"\b(?:{pattern})\b", re.I) for key, pattern in {**INCIDENTAL, **DEVICES}.items()}
_SIDES = {"left": "left", "right": "right", "bilateral": "bilateral", "bilaterally": "bilateral",
          "both": "bilateral", "bibasilar": "bilateral", "biapical": "bilateral", "bibasal": "bilateral"}  # fmt: skip
_SIDE = re.compile(r"\b(" + "|".join(_SIDES) + r")\b", re.I)
SEVERITY_LEVELS = {
    "trace": 0, "minimal": 0, "minimally": 0, "tiny": 0,
    "small": 1, "mild": 1, "mildly": 1, "slight": 1, "slightly": 1, "subtle": 1,
    "moderate": 2, "moderately": 2,
    "large": 3, "severe": 3, "severely": 3, "marked": 3, "markedly": 3, "extensive": 3, "massive": 3,
}  # fmt: skip
_SEVERITY = re.compile(r"\b(" + "|".join(SEVERITY_LEVELS) + r")\b", re.I)
_NEGATION = re.compile(r"\b(?:no|without|negative for|free of|clear of|not)\b", re.I)
_NO_CHANGE = re.compile(r"\bno (?:significant |interval |appreciable )*change\b", re.I)  # "no change in the hernia"


@dataclass
class Finding:
    """What a report says of one finding: stated (or only negated), and the sides / severity levels it names."""

    present: bool = False
    uncertain: bool = False
    sides: set[str] = field(default_factory=set)
    levels: set[int] = field(default_factory=set)
    negated_levels: set[int] = field(default_factory=set)


@dataclass
class ReadReport:
    findings: dict[str, Finding]
    compares: bool


def _negated_before(sentence: str, start: int) -> bool:
    return bool(_NEGATION.search(_NO_CHANGE.sub("", sentence[:start])))


class FindingsJudge(ClinicalJudge):
    """`metric:clinical`'s label errors plus laterality, severity, incidental findings and comparison."""

    NAME = "metric:findings"
    THRESHOLDS = FINDINGS  # its `strong` and `win` options replace these; `clinical` stays metric:clinical's record

    def metric_params(self) -> dict[str, Any]:
        return {**super().metric_params(), "clinical": vars(CLINICAL), "findings": vars(self.thresholds), "weights": WEIGHTS,
                "incidental": sorted(INCIDENTAL), "devices": sorted(DEVICES), "version": "1"}  # fmt: skip

    def prepare_labels(self, texts: Iterable[str]) -> None:
        """Label every text and each of its sentences (sentences carry the sides and severities)."""
        texts = list(texts)
        super().prepare_labels([*texts, *(s.text for t in texts for s in parse_report(t).sentences)])

    def read(self, text: str) -> ReadReport:
        findings: dict[str, Finding] = {}
        compares = False
        for sentence in parse_report(text).sentences:
            s = sentence.text
            compares = compares or speaks_of_change(s)
            sides = {_SIDES[m.lower()] for m in _SIDE.findall(s)}
            levels = {SEVERITY_LEVELS[m.lower()] for m in _SEVERITY.findall(s)}
            labels = self.labels_of(s)
            for i in OBSERVATIONS:
                if labels[i] in (1, -1):
                    f = findings.setdefault(CHEXPERT_LABELS[i], Finding())
                    f.present, f.uncertain = True, f.uncertain or labels[i] == -1
                    f.sides |= sides
                    f.levels |= levels
                elif labels[i] == 0:
                    findings.setdefault(CHEXPERT_LABELS[i], Finding()).negated_levels |= levels
            for key, pattern in _TERMS.items():
                match = pattern.search(s)
                if match is None:
                    continue
                f = findings.setdefault(key, Finding())
                if _negated_before(s, match.start()):
                    f.negated_levels |= levels
                else:
                    f.present = True
                    f.sides |= sides
                    f.levels |= levels
        return ReadReport(findings, compares)

    def finding_errors(self, candidate: str, reference: str) -> list[dict[str, Any]]:
        """Errors beyond the label disagreements: sides, severities, incidental findings, comparison."""
        cand, ref = self.read(candidate), self.read(reference)
        errors: list[dict[str, Any]] = []
        for key in sorted(set(cand.findings) | set(ref.findings)):
            c, r = cand.findings.get(key, Finding()), ref.findings.get(key, Finding())
            incidental = key in INCIDENTAL
            weight = WEIGHTS["incidental"] if incidental else WEIGHTS["attribute"]
            if key in DEVICES:
                weight = WEIGHTS["attribute"]
            if incidental and c.present != r.present:
                kind = "false_finding" if c.present else "missing_finding"
                errors.append({"type": kind, "description": f"{key}: {'present' if c.present else 'absent'} in the "
                               f"candidate, {'present' if r.present else 'absent'} in the reference", "weight": weight})  # fmt: skip
            if not (c.present and r.present):
                if c.negated_levels and r.negated_levels and not c.negated_levels & r.negated_levels:
                    errors.append({"type": "wrong_severity", "description": f"{key} (negated): severity "
                                   f"{sorted(c.negated_levels)} in the candidate, {sorted(r.negated_levels)} in the "
                                   "reference", "weight": WEIGHTS["negated_severity"]})  # fmt: skip
                continue
            if c.sides and r.sides and c.sides != r.sides:
                errors.append({"type": "wrong_location", "description": f"{key}: {'/'.join(sorted(c.sides))} in the "
                               f"candidate, {'/'.join(sorted(r.sides))} in the reference", "weight": weight})  # fmt: skip
            if c.levels and r.levels and not c.levels & r.levels:
                errors.append({"type": "wrong_severity", "description": f"{key}: severity {sorted(c.levels)} in the "
                               f"candidate, {sorted(r.levels)} in the reference", "weight": weight})  # fmt: skip
        if cand.compares != ref.compares:
            errors.append({
                "type": "spurious_comparison" if cand.compares else "missing_comparison",
                "description": "the candidate " + ("compares with an earlier study; the reference does not"
                                                   if cand.compares else "omits the reference's comparison"),
                "weight": WEIGHTS["comparison"],
            })  # fmt: skip
        return errors

    def errors(self, candidate: str, reference: str) -> list[dict[str, Any]]:
        return clinical_errors(self.labels_of(candidate), self.labels_of(reference)) + self.finding_errors(
            candidate, reference
        )

    def decide(self, reference: str, text_a: str, text_b: str) -> Decision:
        errors_a, errors_b = self.errors(text_a, reference), self.errors(text_b, reference)
        weight_a, weight_b = sum(e["weight"] for e in errors_a), sum(e["weight"] for e in errors_b)
        lex_a, lex_b = lexical_score(text_a, reference), lexical_score(text_b, reference)
        lines = [
            self.header(),
            f"Weighted findings errors against the reference: A {weight_a:g}, B {weight_b:g} "
            f"(strong win at a difference >= {self.thresholds.strong:g}, win at >= {self.thresholds.win:g}).",
        ]
        lines += [f"A: {e['description']} ({e['weight']:g})" for e in errors_a]
        lines += [f"B: {e['description']} ({e['weight']:g})" for e in errors_b]
        level = self.thresholds.level(round(weight_b - weight_a, 6))
        lines.append(f"Lexical score (mean of ROUGE-L F1 and BLEU-4): A {lex_a:.4f}, B {lex_b:.4f}.")
        if level == "tie":
            level = Thresholds(strong=float("inf"), win=self.tie_break).level(lex_a - lex_b)
            lines.append(
                f"Equal weighted errors: lexical difference {lex_a - lex_b:+.4f} (win at >= {self.tie_break})."
            )
        strip_a = [{k: e[k] for k in ("type", "description")} for e in errors_a]
        strip_b = [{k: e[k] for k in ("type", "description")} for e in errors_b]
        return decision(lines, level, strip_a, strip_b)
