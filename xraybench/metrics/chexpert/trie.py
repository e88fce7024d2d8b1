"""Template expansion and a trie-shaped alternation regex.

One regex for every phrase keeps labelling to a single `finditer` per report. A flat alternation of
thousands of phrases would be tried branch by branch at every word start; factoring the phrases into a
character trie lets the regex engine reject a position after one or two character tests.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence

SLOT = "~"
_ALTERNATION = re.compile(r"\{([^{}]*)\}")


def expand(template: str) -> list[str]:
    """All literal phrases of a template: `{a|b|}` alternations are expanded, `~` slots are kept."""
    if re.search(r"\{[^}]*\{", template):
        raise ValueError(f"nested alternation in phrase template {template!r}")
    parts = _ALTERNATION.split(template)
    # split() alternates literal text and group bodies: text, body, text, body, ..., text
    choices = [[part] if i % 2 == 0 else part.split("|") for i, part in enumerate(parts)]
    return [_tidy("".join(combo)) for combo in itertools.product(*choices)]


def _tidy(phrase: str) -> str:
    """Collapse the spaces left by empty alternatives; a slot must sit between two words."""
    words = phrase.split()
    if words and SLOT in (words[0], words[-1]):
        raise ValueError(f"a slot must sit between two words: {phrase!r}")
    return " ".join(words)


def slot_regex(words: Sequence[str]) -> str:
    """Regex for a filled slot: one to five slot words ("is again mildly ", "is mild to moderately ").

    It is inlined at every slot of the trie, so it is kept short: one trie over the words, with
    "to"/"and" allowed as words (`strip_regex` only removes them between two degree words).
    """
    return "(?:" + trie_regex([*words, "to", "and"], "") + " ){1,5}"


def strip_regex(words: Sequence[str]) -> str:
    """Regex of what a filled slot leaves in a matched phrase, to map the match back to its key."""
    word = "(?:" + "|".join(sorted((re.escape(a) for a in words), key=len, reverse=True)) + ")"
    return rf"\b{word} (?:(?:to|and) {word} )?"


def key_of(phrase: str) -> str:
    """The lookup key of an expanded phrase: the phrase with its slots removed."""
    return " ".join(w for w in phrase.split() if w != SLOT)


class _Node:
    __slots__ = ("children", "terminal")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.terminal = False


def _atoms(phrase: str) -> list[str]:
    """Characters of a phrase, with `~ ` (a slot and its trailing space) as one atom."""
    atoms: list[str] = []
    i = 0
    while i < len(phrase):
        if phrase[i] == SLOT:
            atoms.append(SLOT)
            i += 2  # the slot regex consumes the space after each adverb itself
        else:
            atoms.append(phrase[i])
            i += 1
    return atoms


def trie_regex(phrases: Iterable[str], slot: str) -> str:
    """A regex matching exactly the given phrases, longest alternative first.

    `slot` is the regex that replaces each `~` slot.
    """
    root = _Node()
    for phrase in phrases:
        for variant in _slot_variants(phrase):
            node = root
            for atom in _atoms(variant):
                node = node.children.setdefault(atom, _Node())
            node.terminal = True
    return _emit(root, slot)


def _slot_variants(phrase: str) -> list[str]:
    """The phrase with each slot either kept (filled with one or more words) or left out.

    Empty slots are spelled out as plain text so that they share the literal path of the trie: the
    regex takes the first branch that matches, and only a shared path makes the longer phrase win
    ("no significant change" over "no significant").
    """
    head, sep, tail = phrase.partition(SLOT + " ")
    if not sep:
        return [phrase]
    return [head + kept + rest for rest in _slot_variants(tail) for kept in (SLOT + " ", "")]


def _emit(node: _Node, slot: str) -> str:
    branches = []
    # The slot goes last so that literal continuations are tried first.
    for atom in sorted(node.children, key=lambda a: (a == SLOT, a)):
        head = slot if atom == SLOT else re.escape(atom)
        branches.append(head + _emit(node.children[atom], slot))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if node.terminal:
        body = f"(?:{body})?"
    return body
