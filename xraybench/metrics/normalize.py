"""Answer normalisation for VQA-style scoring.

Models answer "Yes.", "yes, there is", "No, there is no effusion" or "Two" where the reference says
"yes", "no" or "2"; comparing raw strings would score format, not content. Normalisation follows the
SQuAD convention (lower case, punctuation and articles removed, whitespace collapsed) plus two
additions for closed and numeric answers: a leading yes/no variant maps to "yes"/"no", and number
words and numerals in different spellings ("two", "2.0") map to one form.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

ARTICLES = re.compile(r"\b(a|an|the)\b")
# Punctuation is any non-word, non-space character; a decimal point between digits is kept.
PUNCT = re.compile(r"(?<!\d)\.|\.(?!\d)|[^\w\s.]|_")
_NUMBER_NAMES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty"
)
NUMBER_WORDS = {word: str(i) for i, word in enumerate(_NUMBER_NAMES.split(" "))}
NUMERAL = re.compile(r"^\d+\.\d+$|^\d+$")
YES_WORDS = {"yes", "yeah", "yep", "true", "correct", "affirmative", "positive", "present"}
NO_WORDS = {"no", "nope", "false", "incorrect", "negative", "absent"}
# Answers that deny by phrase rather than by a leading "no": "there is no ...", "there are no ...".
NO_PHRASE = re.compile(r"^(there (is|are|was|were) no|no evidence of|not (present|seen|visible))\b")


def normalize_text(text: str) -> str:
    """SQuAD-style: NFKC, lower case, punctuation and articles removed, numbers unified, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = PUNCT.sub(" ", text)
    text = ARTICLES.sub(" ", text)
    return " ".join(_number(token) for token in text.split())


def _number(token: str) -> str:
    if token in NUMBER_WORDS:
        return NUMBER_WORDS[token]
    if NUMERAL.match(token):
        value = float(token)
        return str(int(value)) if value.is_integer() else repr(value)
    return token


def yes_no(text: str) -> str | None:
    """'yes' or 'no' when the answer starts with a yes/no variant, else None."""
    norm = normalize_text(text)
    if not norm:
        return None
    first = norm.split(" ", 1)[0]
    if first in YES_WORDS:
        return "yes"
    if first in NO_WORDS or NO_PHRASE.match(norm):
        return "no"
    return None


def normalize_answer(text: str) -> str:
    """The comparison form of an answer: 'yes'/'no' for yes/no variants, else `normalize_text`."""
    return yes_no(text) or normalize_text(text)


def split_list(text: str) -> list[str]:
    """Items of a '|'-separated list answer, normalised, empty items dropped.

    A prediction without '|' is split on commas and semicolons instead, since models often write
    "effusion, atelectasis" for a list question.
    """
    parts = text.split("|") if "|" in text else re.split(r"[,;]", text)
    items = [normalize_text(p) for p in parts]
    return [item for item in items if item]


def set_f1(prediction: Sequence[str], reference: Sequence[str]) -> float:
    """F1 of two item sets; two empty sets agree (1.0)."""
    pred, ref = set(prediction), set(reference)
    if not pred and not ref:
        return 1.0
    hits = len(pred & ref)
    if hits == 0:
        return 0.0
    precision = hits / len(pred)
    recall = hits / len(ref)
    return 2 * precision * recall / (precision + recall)
