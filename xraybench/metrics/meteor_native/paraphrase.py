"""The paraphrase entries a batch can use, as the lookup the jar's `ParaphraseTransducer` answers.

The jar stores `paraphrase-en.gz` as a trie over the phrase side; for the words of a sentence from a
position it returns, by increasing phrase length and then in table order, every paraphrase of each
phrase found. An entry matters only when every word of both its sides occurs in the batch, so we pick
exactly those entries (rarest-word groups from the cache, then an exact check) and keep, per phrase, its
paraphrases in table order: the same answers in the same order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from xraybench.metrics.meteor_paraphrase import _hash

Phrase = tuple[str, ...]


class ParaphraseTable:
    """The memory-mapped paraphrase index (from `meteor_paraphrase`) plus its rarest-word groups."""

    def __init__(self, folder: Path):
        index_dir = Path(json.loads((folder / "meta.json").read_text())["paraphrase_index"])
        load = lambda d, name: np.load(d / name, mmap_mode="r")  # noqa: E731
        self.hashes = load(index_dir, "hashes.npy")
        self.ids = load(index_dir, "ids.npy")
        self.bounds = load(index_dir, "bounds.npy")
        self.offsets = load(index_dir, "offsets.npy")
        self.vocab = np.memmap(index_dir / "vocab.bin", dtype=np.uint8, mode="r")
        self.order = load(folder, "rare_order.npy")
        self.group = load(folder, "rare_group.npy")

    def _word(self, word_id: int) -> str:
        return bytes(self.vocab[self.offsets[word_id] : self.offsets[word_id + 1]]).decode("utf-8")

    def _word_ids(self, words: Iterable[str]) -> np.ndarray:
        """Ids of the given words that occur in the table (hash lookup, then an exact string check)."""
        words = list(words)
        wanted = np.fromiter((_hash(w) for w in words), dtype=np.uint64, count=len(words))
        pos = np.searchsorted(self.hashes, wanted)
        found = []
        for word, p, h in zip(words, pos.tolist(), wanted.tolist(), strict=True):
            while p < len(self.hashes) and int(self.hashes[p]) == h:
                if self._word(p) == word:
                    found.append(p)
                    break
                p += 1
        return np.array(sorted(found), dtype=np.int64)

    def lookup(self, words: Iterable[str]) -> dict[Phrase, list[Phrase]]:
        """Phrase -> its paraphrases (table order), for the entries made only of `words`."""
        present_ids = self._word_ids(words)
        if len(present_ids) == 0:
            return {}
        group = np.asarray(self.group)
        starts, ends = group[present_ids], group[present_ids + 1]
        sizes = ends - starts
        if sizes.sum() == 0:
            return {}
        offsets = np.repeat(starts - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())
        entries = np.sort(np.asarray(self.order)[offsets].astype(np.int64))
        bounds = self.bounds
        lo = np.asarray(bounds[2 * entries], dtype=np.int64)
        hi = np.asarray(bounds[2 * entries + 2], dtype=np.int64)
        lengths = hi - lo
        flat = np.repeat(lo - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        present = np.zeros(len(self.hashes), dtype=bool)
        present[present_ids] = True
        ok = present[np.asarray(self.ids)[flat]]
        missing = np.concatenate(([0], np.cumsum(~ok)))
        edges = np.concatenate(([0], np.cumsum(lengths)))
        keep = entries[missing[edges[1:]] == missing[edges[:-1]]]
        table: dict[Phrase, list[Phrase]] = {}
        names: dict[int, str] = {}
        for entry in keep.tolist():
            b0, b1, b2 = (int(x) for x in bounds[2 * entry : 2 * entry + 3])
            ids = self.ids[b0:b2].tolist()
            for i in ids:
                if i not in names:
                    names[i] = self._word(i)
            phrase = tuple(names[i] for i in ids[: b1 - b0])
            table.setdefault(phrase, []).append(tuple(names[i] for i in ids[b1 - b0 :]))
        return table
