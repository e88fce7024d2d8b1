"""Meteor 1.5's `-norm` text normaliser for English, and the Java string semantics the jar relies on.

The jar (`edu.cmu.meteor.util.Normalizer.normalizeLine(line, LANG_EN, keepPunctuation=true)` followed by
`String.toLowerCase`) is a Moses-style tokeniser. Its regular expressions use Java's ASCII-only classes
(`\\p{Digit}` = `[0-9]`, `\\p{Lower}` = `[a-z]`, `\\s` = `[ \\t\\n\\x0B\\f\\r]`), so they are spelled out here
rather than written with Python's Unicode-aware `\\d`/`\\s`. Every rule runs in the jar's order; the
tests compare the output with the jar's own normaliser token by token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

ALPHA = "A-Za-z\u0160\u017d\u0161\u017e\u0178\xc0-\xd6\xd8-\xf6\xf8-\u017e\u0400-\u04ff\u0500-\u0527\ua640-\ua66e\ua67e-\ua697\u1d00-\u1d7f"
ALNUM = "0-9" + ALPHA
DIGIT = "0-9"

_SEP_OTHER = re.compile(f"([^{ALNUM} \\t\\n\\x0b\\f\\r\\.'`,\\-\u2018\u2019])")
_MULTI_DOT = re.compile(r"\.([\.]+)")
_MULTI_DOT2 = re.compile(r"DOTMULTI\.([^\.])")
_COMMA = re.compile(f"([^{DIGIT}])[,]([^{DIGIT}])")
_COMMA2 = re.compile(f"([{DIGIT}])[,]([^{DIGIT}])")
_COMMA3 = re.compile(f"([^{DIGIT}])[,]([{DIGIT}])")
_QUOTE = re.compile("([`\u2018\u2019])")
_QUOTE2 = re.compile("([\u201c\u201d]|'')")
_RM_DASH = re.compile(f"([{ALNUM}\\.])[\\-]([{ALNUM}])")
_CONT = re.compile(f"([^{ALPHA}])[']([^{ALPHA}])")
_CONT2 = re.compile(f"([^{ALPHA}{DIGIT}])[']([{ALPHA}])")
_CONT3 = re.compile(f"([{ALPHA}])[']([^{ALPHA}])")
_CONT4 = re.compile(f"([{ALPHA}])[']([{ALPHA}])")
_CONT5 = re.compile(f"([{DIGIT}])[']([s])")
_NBP_ALPHA = re.compile(f"[{ALPHA}]")
_WHITE = re.compile("[ \u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\xa0]+")
_TOKEN_SPLIT = re.compile("[ \t\n\r\f]+")  # java.util.StringTokenizer's default delimiters

NBP_ANY, NBP_NUMERIC_ONLY = 1, 2


def java_trim(text: str) -> str:
    """`String.trim()`: drops leading and trailing characters <= U+0020 (not Unicode whitespace)."""
    start, end = 0, len(text)
    while start < end and text[start] <= " ":
        start += 1
    while end > start and text[end - 1] <= " ":
        end -= 1
    return text[start:end]


def java_tokens(text: str) -> list[str]:
    """`new StringTokenizer(text)`'s tokens."""
    return [t for t in _TOKEN_SPLIT.split(text) if t]


def java_hash(word: str) -> int:
    """`String.hashCode()` (31-polynomial over UTF-16 code units, wrapped to a signed 32-bit int).

    The jar compares words (and stems) by these keys, not by the strings, so a hash collision is a match
    there too; using the same keys keeps even that behaviour.
    """
    h = 0
    data = word.encode("utf-16-le")
    for i in range(0, len(data), 2):
        h = (31 * h + (data[i] | data[i + 1] << 8)) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def parse_prefixes(text: str) -> dict[str, int]:
    """The nonbreaking-prefix file: one prefix a line, `#NUMERIC_ONLY#` after it for number-only ones."""
    prefixes: dict[str, int] = {}
    for line in text.splitlines():
        fields = java_tokens(line)
        if not fields or fields[0].startswith("#"):
            continue
        numeric = len(fields) > 1 and fields[1] == "#NUMERIC_ONLY#"
        prefixes[fields[0]] = NBP_NUMERIC_ONLY if numeric else NBP_ANY
    return prefixes


def _split_dots(words: list[str], prefixes: Mapping[str, int]) -> str:
    """Rebuild the line, splitting a final dot off each word unless it is a nonbreaking prefix."""
    joined = " ".join(words)
    if "." not in joined:  # most lines of COCO tokens: nothing to split
        return joined + " " if words else ""
    out = list(words)
    last = len(words) - 1
    for i in [i for i, word in enumerate(words) if word[-1] == "."]:  # the rest stay as they are
        word = words[i]
        if len(word) < 2:
            continue
        pre = word[:-1]
        kind = prefixes.get(pre)
        nxt = words[i + 1] if i < last else ""
        if "." in pre and _NBP_ALPHA.search(pre):
            out[i] = word.replace(".", "")  # U.S. -> US
        elif (
            kind == NBP_ANY
            or (i < last and "a" <= nxt[0] <= "z")
            or (kind == NBP_NUMERIC_ONLY and i < last and "0" <= nxt[0] <= "9")
        ):
            pass
        else:
            out[i] = pre + " ."
    return " ".join(out) + " " if out else ""


def normalize_line(line: str, prefixes: Mapping[str, int]) -> str:
    """The jar's English `-norm` normalisation (punctuation kept), lower-cased as the scorer then does."""
    # each rule runs only when the character it needs is there (`in` is a C scan; most lines of COCO
    # tokens have no comma, quote, dash or dot run, and a rule that cannot match changes nothing)
    s = " " + line + " "
    s = _SEP_OTHER.sub(r" \1 ", s)
    if ".." in s:
        s = _MULTI_DOT.sub(r" DOTMULTI\1", s)
    while "DOTMULTI." in s:  # (also a literal "DOTMULTI." in the text, as in the jar)
        s = _MULTI_DOT2.sub(r"DOTDOTMULTI \1", s)
        s = s.replace("DOTMULTI.", "DOTDOTMULTI")
    if "," in s:
        s = _COMMA.sub(r"\1 , \2", s)
        s = _COMMA2.sub(r"\1 , \2", s)
        s = _COMMA3.sub(r"\1 , \2", s)
    if "`" in s or "\u2018" in s or "\u2019" in s:
        s = _QUOTE.sub("'", s)
    if "''" in s or "\u201c" in s or "\u201d" in s:
        s = _QUOTE2.sub(' " ', s)
    s = s.replace("\u2013", "-").replace("--", "-")
    if "-" in s:
        s = _RM_DASH.sub(r"\1 \2", s)
    if "'" in s:
        s = _CONT.sub(r"\1 ' \2", s)
        s = _CONT2.sub(r"\1 ' \2", s)
        s = _CONT3.sub(r"\1 ' \2", s)
        s = _CONT4.sub(r"\1 '\2", s)
        s = _CONT5.sub(r"\1 '\2", s)
    s = _split_dots(java_tokens(s), prefixes)
    while "DOTDOTMULTI" in s:
        s = s.replace("DOTDOTMULTI", "DOTMULTI.")
    s = s.replace("DOTMULTI", ".")
    s = java_trim(_WHITE.sub(" ", s))
    return s.lower()
