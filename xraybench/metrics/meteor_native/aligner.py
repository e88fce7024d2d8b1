"""Meteor 1.5's aligner: the four matchers, the beam search and the segment statistics.

A faithful port of `edu.cmu.meteor.aligner.Aligner` as the jar runs it for `-l en`: words are compared
by Java `hashCode` keys; matches are collected per reference position in module order (exact, stem,
synonym, paraphrase), each in the jar's loop order; one-to-one matches covering uncontested words are
fixed; the rest is a left-to-right beam search (40 paths) ranked by weighted match count (held in Java
`int` fields, so `+= length * 0.5` truncates), then fewer chunks, then smaller distance — including the
jar's quirk of adding a new path's distance to its parent. Equality with the jar is what the tests
check, so none of this is "improved".
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from operator import itemgetter

import numpy as np

from xraybench.metrics.meteor_native.normalize import java_hash

try:  # the compiled aligner (built with the package when a C compiler is there; ~50x faster)
    from xraybench.metrics.meteor_native import _align
except ImportError:  # pragma: no cover - depends on the build
    _align = None

Phrase = tuple[str, ...]
# a match: (module, start in reference, length in reference, start in test, length in test)
Match = tuple[int, int, int, int, int]
EXACT, STEM, SYNONYM, PARAPHRASE = 0, 1, 2, 3
ALIGN_WEIGHTS = (1.0, 0.5, 0.5, 0.5)  # MeteorScorer hands the aligner these, not the scoring weights
BEAM_SIZE = 40


class Paraphrases:
    """A batch's usable paraphrase entries: phrase -> paraphrases in table order (see `paraphrase`).

    `prefixes` holds every proper prefix of a phrase, so a scan stops as soon as no longer phrase can match.
    `occurrences` finds, once per sentence of the batch, where its phrases and paraphrases are.
    """

    def __init__(self, table: Mapping[Phrase, list[Phrase]]):
        self.table = table
        self.longest = max((len(p) for p in table), default=0)
        self.first_words = frozenset(p[0] for p in table)
        self.prefixes = frozenset(p[:k] for p in table for k in range(1, len(p)))
        self.sides = frozenset(q for qs in table.values() for q in qs)
        self.side_prefixes = frozenset(q[:k] for q in self.sides for k in range(1, len(q)))
        self.side_longest = max((len(q) for q in self.sides), default=0)
        # one scan finds both: a span is extended while it is a proper prefix of a phrase or a paraphrase
        self._extend = self.prefixes | self.side_prefixes
        self._first = self.first_words | frozenset(q[0] for q in self.sides)
        self._longest = max(self.longest, self.side_longest)
        self._seen: dict[tuple[str, ...], tuple[list[tuple[int, int, Phrase]], dict[Phrase, list[int]]]] = {}

    @classmethod
    def of(cls, table: Mapping[Phrase, list[Phrase]]) -> Paraphrases:
        return cls(table)

    def occurrences(self, words: Sequence[str]) -> tuple[list[tuple[int, int, Phrase]], dict[Phrase, list[int]]]:
        """(the table phrases in `words` as (start, length, phrase), by start then length; each paraphrase
        found in `words` -> its start positions, ascending)."""
        key = tuple(words)
        found = self._seen.get(key)
        if found is not None:
            return found
        n = len(key)
        phrases: list[tuple[int, int, Phrase]] = []
        sides: dict[Phrase, list[int]] = {}
        table, paraphrases, extend, first = self.table, self.sides, self._extend, self._first
        for start in range(n):
            if key[start] not in first:
                continue
            for end in range(start + 1, min(start + self._longest, n) + 1):
                span = key[start:end]
                if span in table:
                    phrases.append((start, end - start, span))
                if span in paraphrases:
                    sides.setdefault(span, []).append(start)
                if span not in extend:
                    break
        found = self._seen[key] = (phrases, sides)
        return found


def _masks(m: Match) -> tuple[int, int]:
    """The test-word and reference-word bit masks of a match (the Python beam search's used-word sets)."""
    return ((1 << m[4]) - 1) << m[3], ((1 << m[2]) - 1) << m[1]


# a partial alignment (the jar's `PartialAlignment`, only the fields its evaluation comparator reads), as an
# immutable tuple: (-(m1 + m2), chunks, distance, m1, m2, idx, last_end, used1, used2, chosen), where
# `chosen` is a linked list (match, rest) of the matches the search picked. The jar mutates path objects,
# but every path continues as exactly one successor, so fresh tuples behave identically.
_RANK = itemgetter(0, 1, 2)  # Constants.PARTIAL_COMPARE_TOTAL; Java's list sort is stable, as Python's is


def _resolve_py(matches: list[list[Match]], definite: list[Match | None], n_test: int) -> list[Match]:
    """The beam search: the matches the best path picked."""
    used1 = used2 = 0
    for m in definite:
        if m is not None:
            mask1, mask2 = _masks(m)
            used1 |= mask1
            used2 |= mask2
    start = (0, 0, 0, 0, 0, 0, -1, used1, used2, None)
    n = len(matches)
    weights = ALIGN_WEIGHTS
    # per match, what extending a path with it needs: masks, test start, weighted lengths, ends, distance
    steps = [
        [
            (
                *_masks(m),
                m[3],
                m[4] * weights[m[0]],
                m[2] * weights[m[0]],
                m[1] + m[2],
                m[3] + m[4],
                abs(m[1] - m[3]),
                m,
            )
            for m in options
        ]
        for options in matches
    ]
    next_paths = [start]
    for current in range(n + 1):
        paths = next_paths
        if len(paths) > 1:
            paths.sort(key=_RANK)
        next_paths = []
        append = next_paths.append
        bit = 1 << current
        options = steps[current] if current < n else ()
        for path in paths[:BEAM_SIZE]:
            neg, chunks, dist, m1, m2, idx, last_end, used1, used2, chosen = path
            if current == n:
                if last_end != -1:
                    path = (neg, chunks + 1, *path[2:])
                append(path)
                continue
            if used2 & bit:
                if current < idx:
                    append(path)
                    continue
                m = definite[idx]
                if m is not None:
                    w = weights[m[0]]
                    m1 = int(m1 + m[4] * w)
                    m2 = int(m2 + m[2] * w)
                    if last_end != -1 and m[3] != last_end:
                        chunks += 1
                    dist += abs(m[1] - m[3])
                    append((-(m1 + m2), chunks, dist, m1, m2, m[1] + m[2], m[3] + m[4], used1, used2, chosen))
                continue
            for mask1, mask2, match_start, w1, w2, end2, end1, delta, m in options:
                if used2 & mask2 or used1 & mask1:
                    continue
                n1 = int(m1 + w1)
                n2 = int(m2 + w2)
                c = chunks + 1 if last_end != -1 and match_start != last_end else chunks
                append((-(n1 + n2), c, dist, n1, n2, end2, end1, used1 | mask1, used2 | mask2, (m, chosen)))
                dist += delta  # the jar adds this to the parent path, not the new one
            if last_end != -1:
                chunks += 1
            append((neg, chunks, dist, m1, m2, idx + 1, -1, used1, used2, chosen))
        if not next_paths:
            next_paths.append(paths[0])
    chosen = min(next_paths, key=_RANK)[9]
    picked = []
    while chosen is not None:
        m, chosen = chosen
        picked.append(m)
    return picked


class Lexicon:
    """Per-word keys shared by all segments of a scorer: hash, stem hash, synonym sets."""

    def __init__(
        self,
        stem: Callable[[str], str],
        synsets: Mapping[str, tuple[int, ...]],
        exceptions: Mapping[str, tuple[str, ...]],
        function_words: frozenset[str],
    ):
        self._stem = stem
        self._synsets = synsets
        self._exceptions = exceptions
        self._function_words = function_words
        self.hash: dict[str, int] = {}
        self.stem_hash: dict[str, int] = {}
        self.syn: dict[str, tuple[int, ...]] = {}  # sorted: the compiled matcher intersects them by merging
        self.function: dict[str, bool] = {}

    def add_all(self, words: Iterable[str]) -> None:
        """`add` each word; a synset index that reads from disk (`resources.SynsetIndex`) is first asked,
        in one batch, for every key `add` can look up (the words, their exception bases and their
        morphological candidates)."""
        new = [w for w in set(words) if w not in self.hash]
        prefetch = getattr(self._synsets, "prefetch", None)
        if prefetch is not None:
            keys = set(new)
            for word in new:
                bases = self._exceptions.get(word)
                if bases is not None:
                    keys.update(bases)
                else:  # `_morph` asks for a candidate, then returns it with a final "ful" kept
                    for suffix, ending in _MORPH_RULES:
                        if word.endswith(suffix):
                            candidate = word[: len(word) - len(suffix)] + ending
                            keys.update((candidate, candidate + "ful"))
            prefetch(keys)
        for word in new:
            self.add(word)

    def add(self, word: str) -> None:
        if word in self.hash:
            return
        self.hash[word] = java_hash(word)
        self.stem_hash[word] = java_hash(self._stem(word))
        sets = set(self._synsets.get(word, ()))
        bases = self._exceptions.get(word)
        if bases is not None:
            for base in bases:
                sets.update(self._synsets.get(base, ()))
        else:
            sets.update(self._synsets.get(self._morph(word), ()))
        self.syn[word] = tuple(sorted(sets))
        self.function[word] = word.lower() in self._function_words

    def _morph(self, word: str) -> str:
        """WordNet's suffix-stripping morphology as the jar's `SynonymDictionary.morph` does it."""
        end = "ful" if word.endswith("ful") else ""
        if word.endswith("ss") or len(word.encode("utf-16-le")) <= 4:  # Java length <= 2
            return word
        for suffix, ending in _MORPH_RULES:
            if word.endswith(suffix):
                candidate = word[: len(word) - len(suffix)] + ending
                if candidate in self._synsets:
                    return candidate + end
        return ""


_MORPH_RULES = (
    ("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"),
    ("ies", "y"), ("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"),
    ("ing", ""), ("er", ""), ("est", ""), ("er", "e"), ("est", "e"),
)  # fmt: skip


def _positions(keys: Sequence[Hashable]) -> dict[Hashable, list[int]]:
    where: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys):
        where.setdefault(key, []).append(i)
    return where


def _collect(
    test: Sequence[str], ref: Sequence[str], lex: Lexicon, para: Paraphrases, modules: int
) -> tuple[list[list[Match]], list[int], list[int]]:
    """All matches per reference position, in the order the jar's matchers add them, and coverage."""
    n1, n2 = len(test), len(ref)
    h1 = [lex.hash[w] for w in test]
    h2 = [lex.hash[w] for w in ref]
    matches: list[list[Match]] = [[] for _ in range(n2)]
    cov1, cov2 = [0] * n1, [0] * n2

    def add(m: Match) -> None:
        matches[m[1]].append(m)
        for k in range(m[4]):
            cov1[m[3] + k] += 1
        for k in range(m[2]):
            cov2[m[1] + k] += 1

    # one-word matches are appended inline: this loop runs for every word pair of every segment
    exact = _positions(h1)
    for j in range(n2):
        for i in exact.get(h2[j], ()):
            matches[j].append((EXACT, j, 1, i, 1))
            cov1[i] += 1
            cov2[j] += 1
    if modules > 1:
        stems = _positions([lex.stem_hash[w] for w in test])
        for j in range(n2):
            hj = h2[j]
            for i in stems.get(lex.stem_hash[ref[j]], ()):
                if h1[i] != hj:
                    matches[j].append((STEM, j, 1, i, 1))
                    cov1[i] += 1
                    cov2[j] += 1
        by_set: dict[int, list[int]] = {}
        for i, w in enumerate(test):
            for syn in lex.syn[w]:
                by_set.setdefault(syn, []).append(i)
        if by_set:
            for j in range(n2):
                sets = lex.syn[ref[j]]
                if not sets:
                    continue
                hits = {i for syn in sets for i in by_set.get(syn, ())}
                hj = h2[j]
                for i in sorted(hits) if len(hits) > 1 else hits:
                    if h1[i] != hj:
                        matches[j].append((SYNONYM, j, 1, i, 1))
                        cov1[i] += 1
                        cov2[j] += 1
        if para.table:
            _paraphrases(test, ref, para, add)
    return matches, cov1, cov2


def _paraphrases(test: Sequence[str], ref: Sequence[str], para: Paraphrases, add: Callable[[Match], None]) -> None:
    """The paraphrase matches of a pair in the jar's order: phrases of the reference (by start, then length),
    each paraphrase of one in table order, each place of it in the test; then the same from the test's side."""
    test_phrases, test_sides = para.occurrences(test)
    ref_phrases, ref_sides = para.occurrences(ref)
    table = para.table
    for start, length, phrase in ref_phrases:
        for words in table[phrase]:
            for pos in test_sides.get(words, ()):
                add((PARAPHRASE, start, length, pos, len(words)))
    for start, length, phrase in test_phrases:
        for words in table[phrase]:
            for pos in ref_sides.get(words, ()):
                add((PARAPHRASE, pos, len(words), start, length))


def align_stats(test: Sequence[str], ref: Sequence[str], lex: Lexicon, para: Paraphrases) -> np.ndarray:
    """The jar's 23 sufficient statistics for one (test, reference) pair of normalised word lists.

    The compiled aligner when it is built, else `align_stats_py` (same values; the tests check both).
    """
    if _align is None:  # pragma: no cover - depends on the build
        return align_stats_py(test, ref, lex, para)
    h1 = [lex.hash[w] for w in test]
    h2 = [lex.hash[w] for w in ref]
    fun1 = [lex.function[w] for w in test]
    fun2 = [lex.function[w] for w in ref]
    if len(test) == len(ref) and h1 == h2:
        return np.array(_align.align_stats(h1, h2, (), (), (), (), fun1, fun2, (), 1))
    found: list[Match] = []
    if para.table:
        _paraphrases(test, ref, para, found.append)
    stems1 = [lex.stem_hash[w] for w in test]
    stems2 = [lex.stem_hash[w] for w in ref]
    syn1 = [lex.syn[w] for w in test]
    syn2 = [lex.syn[w] for w in ref]
    return np.array(_align.align_stats(h1, h2, stems1, stems2, syn1, syn2, fun1, fun2, found, 4))


def align_stats_py(test: Sequence[str], ref: Sequence[str], lex: Lexicon, para: Paraphrases) -> np.ndarray:
    """`align_stats` in Python: the reference for the compiled aligner and the fallback without a C compiler."""
    n1, n2 = len(test), len(ref)
    identical = n1 == n2 and [lex.hash[w] for w in test] == [lex.hash[w] for w in ref]
    matches, cov1, cov2 = _collect(test, ref, lex, para, 1 if identical else 4)

    definite: list[Match | None] = [None] * n2
    for i, candidates in enumerate(matches):
        if len(candidates) == 1:
            m = candidates[0]
            if all(cov2[i + k] == 1 for k in range(m[2])) and all(cov1[m[3] + k] == 1 for k in range(m[4])):
                definite[i] = m
    chosen_matches = definite.copy()
    for m in _resolve_py(matches, definite, n1):
        chosen_matches[m[1]] = m

    fun1 = [lex.function[w] for w in test]
    fun2 = [lex.function[w] for w in ref]
    stage = np.zeros((4, 4))
    for m in chosen_matches:
        if m is not None:
            module, m_start, length, m_match_start, m_match_length = m[:5]
            for k in range(m_match_length):
                stage[module, 2 if fun1[m_match_start + k] else 0] += 1
            for k in range(length):
                stage[module, 3 if fun2[m_start + k] else 1] += 1
    chunks, idx, last_end = 0, 0, -1
    while idx < n2:  # Aligner.getCountAndChunks
        m = chosen_matches[idx]
        if m is None:
            if last_end != -1:
                chunks += 1
                last_end = -1
            idx += 1
            continue
        if last_end != -1 and m[3] != last_end:
            chunks += 1
        idx = m[1] + m[2]
        last_end = m[3] + m[4]
    if last_end != -1:
        chunks += 1
    words1 = stage[:, 0].sum() + stage[:, 2].sum()
    words2 = stage[:, 1].sum() + stage[:, 3].sum()
    head = [n1, n2, sum(fun1), sum(fun2)]
    return np.array([*head, *stage.ravel(), chunks, words1, words2], dtype=np.float64)
