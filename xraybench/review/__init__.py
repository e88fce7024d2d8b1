"""Blinded expert reader studies: two runs' reasoning side by side, rated in a local web page.

`study` samples and assigns cases and issues reviewer links, `store` keeps everything in one SQLite file,
`server` serves the rating page, `stats` turns answers into preference shares and agreement, and `export`
writes the raw answers and the results summary. Nothing here imports torch or the arena.
"""

from __future__ import annotations

# the rated dimensions, in page order: (key, label shown to reviewers, the question they answer)
DIMENSIONS: tuple[tuple[str, str, str], ...] = (
    ("relevance", "Relevance", "Which reasoning stays on the findings that matter for this image and question?"),
    ("correctness", "Correctness", "Which reasoning and answer are more clinically correct?"),
    ("completeness", "Completeness", "Which covers more of what a radiologist would mention?"),
    ("grounded", "Grounded preference", "Whose boxes point at the regions its reasoning talks about?"),
    ("overall", "Overall preference", "Which output would you rather sign off on?"),
)
DIMENSION_KEYS: tuple[str, ...] = tuple(d[0] for d in DIMENSIONS)
CHOICES: tuple[str, ...] = ("left", "right", "tie")
STUDY_FILE = "study.sqlite"
DEFAULT_ROOT = "reviews"
DEFAULT_PORT = 8765
