"""Split a free-text chest X-ray report (MIMIC-CXR style) into named sections.

MIMIC-CXR reports are free text with loosely conventional headings. The variety this parser copes
with, each covered by a unit test:

- headings with a colon on their own line or inline ("FINDINGS: text", "... normal. IMPRESSION: text"),
  upper or lower case for the known names, and headings without a colon on a line of their own;
- synonyms: IMPRESSION(S) / CONCLUSION(S); FINDINGS AND IMPRESSION (the same text serves as both
  sections when neither is written separately); view headings such as "PA AND LATERAL VIEWS OF THE
  CHEST:" or "CHEST (PORTABLE AP):", whose text is the findings when no FINDINGS heading exists;
- a preliminary "WET READ" before "FINAL REPORT": everything before FINAL REPORT is kept only as
  `wet_read`, so the final text is what gets scored;
- reports with only an impression (findings is then None), and unknown all-caps headings, which end
  the previous section;
- trailing notification text ("NOTIFICATION: ..." or a sentence such as "Findings were discussed with
  Dr. ___ by telephone at 10:20.") is moved out of findings/impression into `notification`, because it
  describes communication, not the image;
- "___" de-identification tokens are kept verbatim (removing them would change the reference text that
  published scores were computed on).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from xraybench.datasets.common import clean_text

_CANONICAL = {
    "FINDINGS": "findings",
    "FINDING": "findings",
    "FINDINGS AND IMPRESSION": "findings_and_impression",
    "FINDINGS AND IMPRESSIONS": "findings_and_impression",
    "FINDINGS/IMPRESSION": "findings_and_impression",
    "IMPRESSION AND FINDINGS": "findings_and_impression",
    "IMPRESSION": "impression",
    "IMPRESSIONS": "impression",
    "CONCLUSION": "impression",
    "CONCLUSIONS": "impression",
    "EXAMINATION": "examination",
    "EXAM": "examination",
    "STUDY": "examination",
    "PROCEDURE": "examination",
    "INDICATION": "indication",
    "INDICATIONS": "indication",
    "HISTORY": "indication",
    "CLINICAL HISTORY": "indication",
    "CLINICAL INFORMATION": "indication",
    "REASON FOR EXAM": "indication",
    "REASON FOR EXAMINATION": "indication",
    "REASON FOR THIS EXAMINATION": "indication",
    "MEDICAL CONDITION": "indication",
    "TECHNIQUE": "technique",
    "COMPARISON": "comparison",
    "COMPARISONS": "comparison",
    "NOTIFICATION": "notification",
    "NOTIFICATIONS": "notification",
    "RECOMMENDATION": "recommendation",
    "RECOMMENDATIONS": "recommendation",
    "RECOMMENDATION(S)": "recommendation",
    "WET READ": "wet_read",
    "ADDENDUM": "addendum",
    "FINAL REPORT": "final_report",
}

# A heading at the start of a line, ending in a colon.
_LINE_HEADING = re.compile(r"^[ \t]*(?P<name>[A-Za-z][A-Za-z0-9 ,/&()'\-]{0,70}?)[ \t]*:", re.MULTILINE)
# A known heading alone on its line, without a colon ("FINAL REPORT", "IMPRESSION").
_BARE_HEADING = re.compile(r"^[ \t]*(?P<name>[A-Z][A-Z /&()]+?)[ \t]*$", re.MULTILINE)
# A known upper-case heading in the middle of a line ("... is normal. IMPRESSION: ...").
_INLINE_HEADING = re.compile(
    r"(?<![A-Za-z])(?P<name>FINDINGS AND IMPRESSION|FINDINGS|IMPRESSION|CONCLUSION|NOTIFICATION"
    r"|RECOMMENDATION\(S\)|RECOMMENDATIONS?|COMPARISON|INDICATION|TECHNIQUE)[ \t]*:"
)
_VIEW_WORDS = re.compile(r"\b(VIEWS?|CHEST|RADIOGRAPHS?|FILMS?|PORTABLE|SUPINE|UPRIGHT|SEMI-?ERECT)\b")

_RULE = re.compile(r"_{4,}")  # separator lines; de-identification is exactly "___"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9_])")
_ABBREVIATION = re.compile(r"\b(Dr|Drs|Mr|Ms|Mrs|approx|No|St|vs)\.$", re.IGNORECASE)
_NOTIFY_VERB = re.compile(
    r"\b(discussed|communicated|conveyed|telephoned|paged|notified|relayed|called to|were called|was called)\b",
    re.IGNORECASE,
)
_NOTIFY_WHO = re.compile(
    r"(\bDr\b|\bdoctor\b|\bnurse\b|\bNP\b|\bRN\b|\bphysician\b|\bprovider\b|\bteam\b|\bclinician\b"
    r"|\btelephone\b|\bphone\b|\bpager?\b|\b(by|with|to) ___)",
    re.IGNORECASE,
)


@dataclass
class ReportSections:
    """Sections of one report by canonical name (lower case), in order of first appearance."""

    sections: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        text = self.sections.get(name)
        return text or None

    @property
    def findings(self) -> str | None:
        return self.get("findings") or self.get("findings_and_impression") or self.get("chest_views")

    @property
    def impression(self) -> str | None:
        return self.get("impression") or self.get("findings_and_impression")

    def section(self, name: str) -> str | None:
        """`findings`, `impression` (with their fallbacks) or any other canonical section name."""
        if name == "findings":
            return self.findings
        if name == "impression":
            return self.impression
        return self.get(name)


def _canonical(raw: str) -> str | None:
    key = re.sub(r"\s+", " ", raw.strip().upper().replace("&", " AND "))
    key = re.sub(r"\s+", " ", key)
    return _CANONICAL.get(key)


def _classify(raw: str) -> str | None:
    """Canonical name for a line-start heading, or None when it is ordinary text."""
    known = _canonical(raw)
    if known:
        return known
    letters = [c for c in raw if c.isalpha()]
    if len(letters) < 2 or raw != raw.upper() or len(raw.split()) > 10:
        return None
    if _VIEW_WORDS.search(raw):
        return "chest_views"
    return re.sub(r"[^a-z0-9]+", "_", raw.lower()).strip("_")


def _headings(text: str) -> list[tuple[int, int, str]]:
    """(start, body start, canonical name) of every heading, sorted and without overlaps."""
    found: dict[int, tuple[int, int, str]] = {}
    for match in _LINE_HEADING.finditer(text):
        name = _classify(match.group("name"))
        if name:
            found[match.start("name")] = (match.start("name"), match.end(), name)
    for match in _BARE_HEADING.finditer(text):
        name = _canonical(match.group("name"))
        if name and match.start("name") not in found:
            found[match.start("name")] = (match.start("name"), match.end(), name)
    for match in _INLINE_HEADING.finditer(text):
        name = _canonical(match.group("name"))
        if name and match.start("name") not in found:
            found[match.start("name")] = (match.start("name"), match.end(), name)
    ordered: list[tuple[int, int, str]] = []
    for start, body, name in sorted(found.values()):
        if ordered and start < ordered[-1][1]:
            continue  # inside the previous heading (e.g. "IMPRESSION" within "FINDINGS AND IMPRESSION:")
        ordered.append((start, body, name))
    return ordered


def split_sentences(text: str) -> list[str]:
    """Sentences of a cleaned section, not splitting after "Dr." and similar abbreviations."""
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start : match.start()]
        if _ABBREVIATION.search(candidate):
            continue
        pieces.append(candidate)
        start = match.end()
    pieces.append(text[start:])
    return [p for p in (p.strip() for p in pieces) if p]


def is_notification(sentence: str) -> bool:
    """True for a sentence that records who was told about the findings, not what they are."""
    return bool(_NOTIFY_VERB.search(sentence) and _NOTIFY_WHO.search(sentence))


def _strip_notifications(text: str) -> tuple[str, str]:
    kept: list[str] = []
    moved: list[str] = []
    for sentence in split_sentences(text):
        (moved if is_notification(sentence) else kept).append(sentence)
    return " ".join(kept), " ".join(moved)


def parse_report(text: str) -> ReportSections:
    """Parse a report into sections; findings/impression exclude notification sentences."""
    heads = _headings(text)
    final = next((i for i, h in enumerate(heads) if h[2] == "final_report"), None)
    result = ReportSections()
    if final is not None:
        wet = clean_text(_RULE.sub(" ", text[: heads[final][0]]))
        if wet:
            result.sections["wet_read"] = re.sub(r"^WET READ\s*:?\s*", "", wet, flags=re.IGNORECASE)
        heads = heads[final + 1 :]
    for index, (_, body_start, name) in enumerate(heads):
        end = heads[index + 1][0] if index + 1 < len(heads) else len(text)
        body = clean_text(_RULE.sub(" ", text[body_start:end]))
        previous = result.sections.get(name)
        result.sections[name] = f"{previous} {body}".strip() if previous else body
    for name in ("findings", "impression", "findings_and_impression", "chest_views"):
        if result.sections.get(name):
            kept, moved = _strip_notifications(result.sections[name])
            result.sections[name] = kept
            if moved:
                earlier = result.sections.get("notification")
                result.sections["notification"] = f"{earlier} {moved}".strip() if earlier else moved
    return result
