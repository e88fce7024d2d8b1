"""Only the paraphrase-table entries a batch can use, so the METEOR jar starts in a fraction of a second.

meteor-1.5.jar spends ~90% of its start-up (5+ s) reading `paraphrase-en.gz` (5.3 million entries). A
paraphrase match needs every word of both phrases among the batch's words, so an entry with a word that
occurs nowhere in the batch can never match: dropping it cannot change any alignment. We keep an entry
when each of its words is a substring of some lower-cased whitespace token of the batch (also after the
character replacements of the jar's normaliser) — a superset of the words the jar's tokeniser can
produce — and hand the jar that small table (`-a`), in the original order. 64-bit word hashes pick the
entries; a hash collision can only keep an extra entry, never drop a needed one.

The table is indexed once into `$XRAYBENCH_CACHE/meteor/<table hash>/` (numpy arrays, memory-mapped).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
from array import array
from collections.abc import Iterable
from pathlib import Path

import numpy as np

# characters the jar's normaliser rewrites (`‘’` and backquote to `'`, `“”` and `''` to `"`, en dash to `-`)
_VARIANTS = (("`", "'"), ("\u2018", "'"), ("\u2019", "'"), ("\u201c", '"'), ("\u201d", '"'), ("''", '"'))
_DASHES = ("-", "--")
_JAVA_SPACE = re.compile("[ \t\n\r\f]+")  # java.util.StringTokenizer's default delimiters


def _hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


def cache_root() -> Path:
    return Path(os.environ.get("XRAYBENCH_CACHE", Path.home() / ".cache" / "xraybench")) / "meteor"


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _build(table: Path, out: Path) -> None:
    """Index the gzipped table (probability, phrase, paraphrase; one line each) into numpy arrays."""
    words: dict[str, int] = {}
    ids = array("i")
    bounds = array("q")
    probs = array("d")
    with gzip.open(table, "rt", encoding="utf-8") as handle:
        while True:
            prob = handle.readline()
            if not prob:
                break
            phrase, para = handle.readline(), handle.readline()
            probs.append(float(prob))
            for text in (phrase, para):
                bounds.append(len(ids))
                for word in _JAVA_SPACE.split(text.strip(" \t\n\r\f")):
                    if word:
                        ids.append(words.setdefault(word, len(words)))
    bounds.append(len(ids))
    vocab = list(words)
    hashes = np.array([_hash(w) for w in vocab], dtype=np.uint64)
    order = np.argsort(hashes, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    blob = [vocab[i].encode("utf-8") for i in order]
    offsets = np.zeros(len(blob) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(b) for b in blob])
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    np.save(tmp / "hashes.npy", hashes[order])
    id_type = np.uint16 if len(vocab) <= 1 << 16 else np.int32
    np.save(tmp / "ids.npy", rank[np.frombuffer(ids, dtype=np.int32)].astype(id_type))
    np.save(
        tmp / "bounds.npy", np.frombuffer(bounds, dtype=np.int64).astype(np.uint32 if len(ids) < 1 << 32 else np.int64)
    )
    np.save(tmp / "probs.npy", np.frombuffer(probs, dtype=np.float64))
    np.save(tmp / "offsets.npy", offsets)
    (tmp / "vocab.bin").write_bytes(b"".join(blob))
    np.save(tmp / "maxlen.npy", np.array([max(len(w) for w in vocab)]))
    tmp.rename(out)


class ParaphraseIndex:
    """The jar's paraphrase table, indexed for picking the entries a set of texts can use."""

    def __init__(self, table: Path):
        self.dir = cache_root() / _file_hash(table)
        if not (self.dir / "ids.npy").exists():
            from rich.console import Console

            # one-time, ~20 s: say so rather than look hung
            with Console(stderr=True).status(f"METEOR: indexing the paraphrase table once into {self.dir}"):
                _build(table, self.dir)
        load = lambda name: np.load(self.dir / name, mmap_mode="r")  # noqa: E731
        self.hashes, self.ids, self.bounds = load("hashes.npy"), load("ids.npy"), load("bounds.npy")
        self.probs, self.offsets = load("probs.npy"), load("offsets.npy")
        self.vocab = np.memmap(self.dir / "vocab.bin", dtype=np.uint8, mode="r")
        self.maxlen = int(load("maxlen.npy")[0])

    def _candidates(self, texts: Iterable[str]) -> set[str]:
        tokens: set[str] = set()
        for text in texts:
            variants = {text.lower(), text.casefold()}
            for old, new in _VARIANTS:
                variants |= {v.replace(old, new) for v in variants}
            variants |= {v.replace("\u2013", d) for v in variants for d in _DASHES}
            for variant in variants:
                tokens.update(variant.split())
        words: set[str] = set()
        for token in tokens:
            n = len(token)
            for i in range(n):
                for j in range(i + 1, min(n, i + self.maxlen) + 1):
                    words.add(token[i:j])
        return words

    def select(self, texts: Iterable[str]) -> np.ndarray:
        """Indices (in table order) of the entries whose words all occur in `texts`."""
        present = np.zeros(len(self.hashes), dtype=bool)
        wanted = np.fromiter((_hash(w) for w in self._candidates(texts)), dtype=np.uint64)
        left = np.searchsorted(self.hashes, wanted, side="left")
        right = np.searchsorted(self.hashes, wanted, side="right")
        for lo, hi in zip(left[right > left], right[right > left], strict=True):  # equal hashes: mark every one
            present[lo:hi] = True
        missing = np.concatenate(([0], np.cumsum(~present[self.ids], dtype=np.int64)))
        bounds = np.asarray(self.bounds, dtype=np.int64)
        phrase_ok = missing[bounds[1:]] == missing[bounds[:-1]]
        return np.flatnonzero(phrase_ok[0::2] & phrase_ok[1::2])

    def _word(self, word_id: int) -> str:
        return bytes(self.vocab[self.offsets[word_id] : self.offsets[word_id + 1]]).decode("utf-8")

    def write(self, entries: np.ndarray, path: Path) -> None:
        """Write the chosen entries as a gzipped table in the jar's format."""
        lines = []
        for entry in entries:
            lines.append(repr(float(self.probs[entry])))
            for k in (2 * entry, 2 * entry + 1):
                lines.append(" ".join(self._word(int(i)) for i in self.ids[self.bounds[k] : self.bounds[k + 1]]))
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as handle:
            handle.write("".join(line + "\n" for line in lines))
