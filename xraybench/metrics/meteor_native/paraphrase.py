"""The paraphrase entries a batch can use, as the lookup the jar's `ParaphraseTransducer` answers.

The jar stores `paraphrase-en.gz` as a trie over the phrase side; for the words of a sentence from a
position it returns, by increasing phrase length and then in table order, every paraphrase of each
phrase found. The aligner looks a phrase up only where it occurs as consecutive words of a sentence,
and keeps a paraphrase only where that occurs in the other sentence of the pair; so an entry matters
only when both its sides occur as consecutive words somewhere in the batch. We pick those entries and
keep, per phrase, its paraphrases in table order: the same answers in the same order.

The pick runs in numpy on 64-bit hashes of word-id sequences (`side_hashes`): the cache holds each
entry's phrase hash (sorted, for a binary search) and paraphrase hash, computed once from the table
(`build_phrase_index`); a batch hashes its n-grams the same way. A hash collision can only keep an extra
entry (whose words are then checked against the batch), never drop a usable one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from xraybench.metrics.meteor_paraphrase import _hash

Phrase = tuple[str, ...]
_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd: a side hashes to sum((id + 1) * BASE**k) mod 2**64
_CHUNK = 1 << 20  # entries hashed at a time when the index is built (bounds the memory used)


def _powers(longest: int) -> np.ndarray:
    """BASE**0 .. BASE**(longest - 1) mod 2**64 (array arithmetic wraps silently)."""
    steps = np.full(max(longest, 1), _BASE, dtype=np.uint64)
    steps[0] = 1
    return np.cumprod(steps, dtype=np.uint64)


def side_hashes(ids: np.ndarray, starts: np.ndarray, powers: np.ndarray) -> np.ndarray:
    """The hash of each word-id sequence `ids[starts[i]:starts[i + 1]]` (the last runs to the end).

    Sequences must not be empty; `powers` must cover the longest one.
    """
    if len(starts) == 0:
        return np.zeros(0, dtype=np.uint64)
    lengths = np.diff(starts, append=len(ids))
    position = np.arange(len(ids), dtype=np.int64) - np.repeat(starts, lengths)
    terms = (np.asarray(ids).astype(np.uint64) + np.uint64(1)) * powers[position]
    return np.add.reduceat(terms, starts)


def build_phrase_index(ids: np.ndarray, bounds: np.ndarray, out: Path) -> int:
    """Write the hash arrays of the table's entries into `out`; returns the longest side's length.

    `phrase_hashes.npy` (sorted) with `phrase_entries.npy` (the entry of each, table order among equal
    hashes) and `para_hashes.npy` (by entry).
    """
    bounds = np.asarray(bounds, dtype=np.int64)
    sides = np.diff(bounds)
    if len(sides) and sides.min() == 0:
        raise ValueError("paraphrase table has an empty phrase; the native METEOR index does not support it")
    longest = int(sides.max(initial=1))
    powers = _powers(longest)
    n_entries = (len(bounds) - 1) // 2
    phrase = np.empty(n_entries, dtype=np.uint64)
    para = np.empty(n_entries, dtype=np.uint64)
    for first in range(0, n_entries, _CHUNK):
        last = min(first + _CHUNK, n_entries)
        lo, hi = bounds[2 * first], bounds[2 * last]
        sums = side_hashes(np.asarray(ids[lo:hi]), bounds[2 * first : 2 * last] - lo, powers)
        phrase[first:last], para[first:last] = sums[0::2], sums[1::2]
    order = np.argsort(phrase, kind="stable")
    np.save(out / "phrase_hashes.npy", phrase[order])
    np.save(out / "phrase_entries.npy", order.astype(np.int32))
    np.save(out / "para_hashes.npy", para)
    return longest


class ParaphraseTable:
    """The memory-mapped paraphrase index (from `meteor_paraphrase`) plus the entries' side hashes."""

    def __init__(self, folder: Path):
        meta = json.loads((folder / "meta.json").read_text())
        index_dir = Path(meta["paraphrase_index"])
        load = lambda d, name: np.load(d / name, mmap_mode="r")  # noqa: E731
        self.hashes = load(index_dir, "hashes.npy")
        self.ids = load(index_dir, "ids.npy")
        self.bounds = load(index_dir, "bounds.npy")
        self.offsets = load(index_dir, "offsets.npy")
        self.vocab = np.memmap(index_dir / "vocab.bin", dtype=np.uint8, mode="r")
        self.phrase_hashes = load(folder, "phrase_hashes.npy")
        self.phrase_entries = load(folder, "phrase_entries.npy")
        self.para_hashes = load(folder, "para_hashes.npy")
        self.longest = int(meta["longest_side"])
        self.powers = _powers(self.longest)

    def _word(self, word_id: int) -> str:
        return bytes(self.vocab[self.offsets[word_id] : self.offsets[word_id + 1]]).decode("utf-8")

    def _word_ids(self, words: Iterable[str]) -> dict[str, int]:
        """Table word id of each given word that occurs in the table (hash lookup, then an exact string check)."""
        words = list(words)
        wanted = np.fromiter((_hash(w) for w in words), dtype=np.uint64, count=len(words))
        pos = np.searchsorted(self.hashes, wanted)
        hashes = np.asarray(self.hashes)
        end = len(hashes)
        found: dict[str, int] = {}
        for word, p, h in zip(words, pos.tolist(), wanted.tolist(), strict=True):
            while p < end and int(hashes[p]) == h:
                if self._word(p) == word:
                    found[word] = p
                    break
                p += 1
        return found

    def _ngram_hashes(self, sentences: Iterable[Sequence[str]], ids_of: dict[str, int]) -> np.ndarray:
        """Distinct hashes of every run of 1..`longest` consecutive words of the sentences, all in the table."""
        words: list[str] = []
        for sentence in sentences:
            words += sentence
            words.append("")  # sentence boundary (never a table word)
        known = {w: ids_of.get(w, -1) for w in set(words)}
        ids = np.fromiter(map(known.__getitem__, words), dtype=np.int64, count=len(words))
        valid = ids >= 0
        values = np.where(valid, ids, 0).astype(np.uint64) + np.uint64(1)
        found = []
        running = np.zeros(len(ids), dtype=np.uint64)
        ok = np.ones(len(ids), dtype=bool)
        for k in range(self.longest):  # windows of k + 1 words, by start position
            n = len(ids) - k
            running = running[:n] + values[k:] * self.powers[k : k + 1]
            ok = ok[:n] & valid[k:]
            found.append(running[ok])
        return np.unique(np.concatenate(found))

    def lookup(self, sentences: Iterable[Sequence[str]]) -> dict[Phrase, list[Phrase]]:
        """Phrase -> its paraphrases (table order), for the entries whose phrase and paraphrase each occur
        as consecutive words of some sentence of the batch."""
        sentences = [list(s) for s in sentences]
        ids_of = self._word_ids({w for s in sentences for w in s})
        if not ids_of:
            return {}
        grams = self._ngram_hashes(sentences, ids_of)
        lo = np.searchsorted(self.phrase_hashes, grams, side="left")
        hi = np.searchsorted(self.phrase_hashes, grams, side="right")
        sizes = hi - lo
        if sizes.sum() == 0:
            return {}
        at = np.repeat(lo - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())
        entries = np.unique(np.asarray(self.phrase_entries[at], dtype=np.int64))  # table order
        entries = entries[np.isin(self.para_hashes[entries], grams)]
        # the words of the chosen entries, checked against the batch (a collision can only add an entry)
        bounds = self.bounds
        lo, mid, hi = (np.asarray(bounds[2 * entries + k], dtype=np.int64) for k in range(3))
        lengths = hi - lo
        edges = np.concatenate(([0], np.cumsum(lengths)))
        word_ids = np.asarray(self.ids[np.repeat(lo - edges[:-1], lengths) + np.arange(edges[-1])], dtype=np.int64)
        present = np.zeros(len(self.hashes), dtype=bool)
        present[list(ids_of.values())] = True
        missing = np.concatenate(([0], np.cumsum(~present[word_ids])))
        names = {i: w for w, i in ids_of.items()}
        all_words = word_ids.tolist()
        table: dict[Phrase, list[Phrase]] = {}
        rows = zip(edges[:-1].tolist(), (mid - lo).tolist(), lengths.tolist(), strict=True)
        for (start, cut, size), whole in zip(rows, (missing[edges[1:]] == missing[edges[:-1]]).tolist(), strict=True):
            if whole:
                words = [names[i] for i in all_words[start : start + size]]
                table.setdefault(tuple(words[:cut]), []).append(tuple(words[cut:]))
        return table
