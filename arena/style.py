"""Style features of a report and of a battle, for style-controlled ratings (`arena.ratings.style_controlled`).

Why: a judge may prefer longer or more structured reports whatever they say. Style control (Chatbot Arena's
"Does style matter?", Li, Angelopoulos & Chiang 2024, FastChat `elo_analysis.construct_style_matrices`; Arena-Hard-
Auto v2 uses the same features) adds per-battle style covariates to the Bradley–Terry regression, so a model's
strength is estimated at equal style and the style effects get their own coefficients.

Counts per report (`style_counts`), as Arena-Hard-Auto's `add_markdown_info` counts markdown, plus the section
labels radiology reports use:
- `tokens`: word and punctuation tokens (`\\w+` or one non-space symbol); FastChat counts tokenizer tokens, which
  need a model's tokenizer; this count needs none and is within a few percent of it on English prose;
- `headers`: markdown headers (`# ...` to `###### ...`) and section labels opening a line (`FINDINGS:`,
  `Impression:`: one to four words, capitalised, then a colon);
- `list_items`: lines opening with `-`, `*`, `+`, `•`, `1.` or `1)`;
- `bold`: `**...**` or `__...__` spans.

Per battle each count becomes the normalised difference (a - b) / (a + b + 1), FastChat's `add_one` ratio, and
each feature is then divided by its root mean square over the battles, so a coefficient is the log-odds change per
typical difference. FastChat also subtracts the mean; we do not, because our battles are oriented by model name
(model a is the alphabetically first), so a non-zero mean would act as a spurious "first model" effect, and
without it the feature keeps its sign when a and b swap. A feature with no variation (e.g. no report has a list)
says nothing and is left out, by name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

STYLE_FEATURES = ("tokens", "headers", "list_items", "bold")

_TOKEN = re.compile(r"\w+|[^\w\s]")
_MD_HEADER = re.compile(r"^#{1,6}\s", re.MULTILINE)
_SECTION = re.compile(r"^[ \t]*[A-Z][A-Za-z]*(?:[ /&-][A-Za-z]+){0,3}[ \t]*:", re.MULTILINE)
_LIST = re.compile(r"^[ \t]*(?:[-*+\u2022]|\d+[.)])[ \t]", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")

# FastChat clean-battle files: conv_metadata keys per side ({side} is a or b); a dict value is summed
FASTCHAT_KEYS = {
    "tokens": "sum_assistant_{side}_tokens",
    "headers": "header_count_{side}",
    "list_items": "list_count_{side}",
    "bold": "bold_count_{side}",
}


def style_counts(text: str) -> dict[str, int]:
    """A report's style counts (module docstring), keyed by `STYLE_FEATURES`."""
    headers = len(_MD_HEADER.findall(text)) + len(_SECTION.findall(text))
    return {
        "tokens": len(_TOKEN.findall(text)),
        "headers": headers,
        "list_items": len(_LIST.findall(text)),
        "bold": len(_BOLD.findall(text)),
    }


def fastchat_counts(meta: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, float]] | None:
    """Style counts of both sides from a FastChat battle's `conv_metadata`; None when it has none of the keys.

    Raises ValueError naming the key when a value is not a non-negative number (or a dict of them)."""
    if not any(FASTCHAT_KEYS[f].format(side=s) in meta for f in STYLE_FEATURES for s in "ab"):
        return None
    sides: list[dict[str, float]] = []
    for side in "ab":
        counts: dict[str, float] = {}
        for feature in STYLE_FEATURES:
            key = FASTCHAT_KEYS[feature].format(side=side)
            if key not in meta:
                continue
            value = meta[key]
            parts = list(value.values()) if isinstance(value, Mapping) else [value]
            if not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in parts):
                raise ValueError(f"conv_metadata.{key} must be a non-negative count (or a dict of them), got {value!r}")
            counts[feature] = float(sum(parts))
        sides.append(counts)
    if set(sides[0]) != set(sides[1]):
        raise ValueError(f"conv_metadata gives {sorted(sides[0])} for model a but {sorted(sides[1])} for model b")
    return sides[0], sides[1]


def normalised_differences(counts_a: np.ndarray, counts_b: np.ndarray) -> np.ndarray:
    """(a - b) / (a + b + 1) per battle and feature (FastChat's ratio with `add_one`)."""
    return (counts_a - counts_b) / (counts_a + counts_b + 1.0)


def style_design(
    names: tuple[str, ...], counts_a: np.ndarray, counts_b: np.ndarray
) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...], np.ndarray]:
    """The style covariates of the battles: (X (n, k), kept names, dropped names, scale of each kept feature).

    Each column is the normalised difference divided by its root mean square (not centred; module docstring);
    a column that is zero on every battle is dropped."""
    diff = normalised_differences(counts_a, counts_b)
    rms = np.sqrt((diff**2).mean(axis=0)) if len(diff) else np.zeros(len(names))
    keep = rms > 1e-12
    kept = tuple(n for n, k in zip(names, keep.tolist(), strict=True) if k)
    dropped = tuple(n for n, k in zip(names, keep.tolist(), strict=True) if not k)
    return diff[:, keep] / rms[keep], kept, dropped, rms[keep]
