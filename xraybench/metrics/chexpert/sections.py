"""Pick the part of a report that states findings.

Full reports carry an indication ("r/o pneumonia"), history and comparison sections whose words are
not findings of this study. When a report has recognised headings we keep only the findings and
impression; a report without headings (a generated report, one section) is used whole.
"""

from __future__ import annotations

import re

_KEEP = {"findings", "finding", "impression", "impressions", "conclusion", "conclusions", "summary", "opinion", "interpretation", "final impression", "addendum"}  # fmt: skip
_SKIP = (
    "indication", "indications", "history", "clinical history", "clinical indication", "clinical information",
    "clinical data", "clinical notes", "reason for exam", "reason for examination", "reason for study",
    "examination", "exam", "technique", "comparison", "comparisons", "procedure", "type of exam",
    "notification", "wet read", "recommendation", "recommendations", "reference exam", "study",
)  # fmt: skip
_NAMES = sorted([*_KEEP, *_SKIP], key=len, reverse=True)
_HEADING = re.compile(
    r"(?:^|(?<=[.;\n]))[ \t]*(" + "|".join(re.escape(n).replace(r"\ ", r"\s+") for n in _NAMES) + r")[ \t]*:",
    re.IGNORECASE | re.MULTILINE,
)


def findings_text(report: str) -> str:
    """The findings and impression of `report`, or the whole text when it has no known headings.

    A heading counts at the start of a line or after a sentence end, followed by a colon. If headings
    exist but none is findings/impression, the text outside skipped sections is kept.
    """
    matches = list(_HEADING.finditer(report))
    if not matches:
        return report
    kept: list[str] = []
    unskipped: list[str] = [report[: matches[0].start()]]
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(report)
        body = report[m.end() : end]
        name = " ".join(m.group(1).lower().split())
        if name in _KEEP:
            kept.append(body)
        if name not in _SKIP:
            unskipped.append(body)
    # a section break is a sentence break, even when a section does not end with a full stop
    return ".\n".join(kept) if kept else ".\n".join(unskipped)
