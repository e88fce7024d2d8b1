"""GREEN assessments written in GREEN's output format, and RadEval's `GREEN` set up as a parser, shared by the
GREEN tests (`test_green.py`, and `test_radeval_offline.py`, which runs the parser in a child process).

The assessments are invented; they cover letters and numbered markers, "No ..." blocks, missing sub-categories,
several matched-findings lines and one answer without the format (index 4, which RadEval scores 0).
"""

from __future__ import annotations

from typing import Any

# RadEval's GREEN sets these in its __init__, which also loads a model; its parsing methods need only these
RADEVAL_CATEGORIES = ["Clinically Significant Errors", "Clinically Insignificant Errors", "Matched Findings"]
RADEVAL_SUB_CATEGORIES = [
    "(a) False report of a finding in the candidate",
    "(b) Missing a finding present in the reference",
    "(c) Misidentification of a finding's anatomic location/position",
    "(d) Misassessment of the severity of a finding",
    "(e) Mentioning a comparison that isn't in the reference",
    "(f) Omitting a comparison detailing a change from a prior study",
]

ASSESSMENTS = [
    """The candidate misses the effusion.

[Clinically Significant Errors]:
(a) False report of a finding in the candidate: 0.
(b) Missing a finding present in the reference: 1. Left pleural effusion.
(c) Misidentification of a finding's anatomic location/position: 0.
(d) Misassessment of the severity of a finding: 2. Edema; cardiomegaly.
(e) Mentioning a comparison that isn't in the reference: 0.
(f) Omitting a comparison detailing a change from a prior study: 1. Interval change.

[Clinically Insignificant Errors]:
(a) False report of a finding in the candidate: 1. Degenerative spine.

[Matched Findings]:
3. Heart size; lungs; no pneumothorax.
""",
    """[Clinically Significant Errors]:
No errors.

[Clinically Insignificant Errors]:
No errors.

[Matched Findings]:
2. Clear lungs; normal heart.
""",
    """[Clinically Significant Errors]:
(1) False report: 2. Nodule; mass.
(3) Location: 1. Left not right.

[Matched Findings]:
1. Effusion.
""",
    """[Clinically Significant Errors]:
(a) False report of a finding in the candidate: 4. A; B; C; D.

[Matched Findings]:
0. None.
""",
    "no structured output at all",
    """[Clinically Significant Errors]: (b) Missing a finding present in the reference: 1. Effusion.
(b) Missing a finding present in the reference: 2. Effusion; edema.
[Matched Findings]:
No matched findings.
""",
    """[Explanation]:
Two findings agree.

[Clinically Significant Errors]:
(e) Mentioning a comparison that isn't in the reference: 1. Stable.

[Matched Findings]:
Matched:
2. Effusion; edema.
5. extra line
""",
]


def radeval_parser(green_module: Any) -> Any:
    """RadEval's `GREEN` (from `radeval.metrics.green_score.green`) without a model: enough for its parsing."""
    parser = green_module.GREEN.__new__(green_module.GREEN)
    parser.categories = list(RADEVAL_CATEGORIES)
    parser.sub_categories = list(RADEVAL_SUB_CATEGORIES)
    return parser
