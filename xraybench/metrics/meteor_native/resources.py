"""The English resources of meteor-1.5.jar, read once from the jar into a compact cache.

Function words, nonbreaking prefixes, WordNet's morphological exceptions and synsets live inside the jar
zip; the paraphrase table is `data/paraphrase-en.gz` next to it. Parsing them costs seconds, so the first
use writes them to `$XRAYBENCH_CACHE/meteor/native-<key>/` (a `marshal` file plus numpy arrays for the
paraphrase index), keyed by the jar's and table's path, size and modification time; later processes load
that in tens of milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xraybench.metrics.meteor_native.normalize import java_tokens, parse_prefixes
from xraybench.metrics.meteor_native.paraphrase import build_phrase_index
from xraybench.metrics.meteor_paraphrase import ParaphraseIndex, _hash, cache_root

FORMAT = 3  # bump when the cache layout changes (2: side hashes of the paraphrase entries; 3: synset index)


class SynsetIndex:
    """WordNet's word -> synset ids (sorted), memory-mapped from the cache and read per batch.

    147,000 words: unpickling them all cost each process ~0.13 s, a batch needs a few thousand. Words are
    found by 64-bit hash (`meteor_paraphrase._hash`, sorted, binary search) and checked against the
    stored string; answers are memoised. `prefetch` looks many words up at once.
    """

    def __init__(self, folder: Path):
        load = lambda name: np.asarray(np.load(folder / name, mmap_mode="r"))  # noqa: E731
        self.hashes, self.word_offsets = load("syn_hashes.npy"), load("syn_word_offsets.npy")
        self.id_offsets, self.ids = load("syn_id_offsets.npy"), load("syn_ids.npy")
        self.words = np.asarray(np.memmap(folder / "syn_words.bin", dtype=np.uint8, mode="r"))
        self._memo: dict[str, tuple[int, ...] | None] = {}

    @staticmethod
    def write(synsets: Mapping[str, tuple[int, ...]], folder: Path) -> None:
        words = list(synsets)
        hashes = np.array([_hash(w) for w in words], dtype=np.uint64)
        order = np.argsort(hashes, kind="stable")
        blobs = [words[i].encode("utf-8") for i in order]
        np.save(folder / "syn_hashes.npy", hashes[order])
        np.save(folder / "syn_word_offsets.npy", np.concatenate(([0], np.cumsum([len(b) for b in blobs]))))
        (folder / "syn_words.bin").write_bytes(b"".join(blobs))
        ids = [synsets[words[i]] for i in order]
        np.save(folder / "syn_id_offsets.npy", np.concatenate(([0], np.cumsum([len(v) for v in ids]))))
        np.save(folder / "syn_ids.npy", np.array([i for v in ids for i in v], dtype=np.int64))

    def prefetch(self, words: Iterable[str]) -> None:
        """Look up every word not looked up yet, in one binary search."""
        todo = [w for w in set(words) if w not in self._memo]
        if not todo:
            return
        wanted = np.fromiter((_hash(w) for w in todo), dtype=np.uint64, count=len(todo))
        found = np.searchsorted(self.hashes, wanted).tolist()
        end = len(self.hashes)
        for word, at, h in zip(todo, found, wanted.tolist(), strict=True):
            value = None
            while at < end and int(self.hashes[at]) == h:  # equal hashes: compare the strings
                lo, hi = self.word_offsets[at], self.word_offsets[at + 1]
                if self.words[lo:hi].tobytes().decode("utf-8") == word:
                    value = tuple(self.ids[self.id_offsets[at] : self.id_offsets[at + 1]].tolist())
                    break
                at += 1
            self._memo[word] = value

    def get(self, word: str, default: tuple[int, ...] | None = None) -> tuple[int, ...] | None:
        if word not in self._memo:
            self.prefetch([word])
        value = self._memo[word]
        return default if value is None else value

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.get(word) is not None


@dataclass(frozen=True)
class Resources:
    """Everything the English aligner needs besides the paraphrase table."""

    function_words: frozenset[str]
    prefixes: dict[str, int]
    exceptions: dict[str, tuple[str, ...]]  # inflected form -> WordNet base forms, in file order
    synsets: SynsetIndex  # word -> synset ids


def _lines(data: bytes) -> list[str]:
    """`BufferedReader.readLine` over a whole file: splits on \\n, \\r\\n or \\r, no trailing empty line."""
    lines = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def _parse(jar: Path) -> dict[str, object]:
    with zipfile.ZipFile(jar) as archive:
        read = archive.read
        function_words = _lines(read("function/english.words"))
        prefixes = parse_prefixes(read("nonbreaking/english.prefixes").decode("utf-8"))
        exceptions: dict[str, list[str]] = {}
        lines = _lines(read("synonym/english.exceptions"))
        for base, forms in zip(lines[0::2], lines[1::2], strict=False):
            for form in java_tokens(forms):
                exceptions.setdefault(form, []).append(base)
        synsets: dict[str, tuple[int, ...]] = {}
        lines = _lines(read("synonym/english.synsets"))
        for word, ids in zip(lines[0::2], lines[1::2], strict=False):
            synsets[word] = tuple(sorted({int(i) for i in java_tokens(ids)}))
    return {
        "function_words": function_words,
        "prefixes": prefixes,
        "exceptions": {k: tuple(v) for k, v in exceptions.items()},
        "synsets": synsets,
    }


def _stat_key(*paths: Path) -> str:
    parts = []
    for path in paths:
        st = path.stat()
        parts.append(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256(f"{FORMAT}|{'|'.join(parts)}".encode()).hexdigest()[:16]


def cache_dir(jar: Path, table: Path) -> Path:
    """Build the cache once (a few seconds plus the paraphrase index) and return its folder."""
    out = cache_root() / f"native-{_stat_key(jar, table)}"
    if (out / "meta.json").exists():
        return out
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    parsed = _parse(jar)
    SynsetIndex.write(parsed.pop("synsets"), tmp)  # type: ignore[arg-type]
    (tmp / "resources.marshal").write_bytes(marshal.dumps(parsed))
    index = ParaphraseIndex(table)
    longest = build_phrase_index(index.ids, index.bounds, tmp)
    meta = {"paraphrase_index": str(index.dir), "format": FORMAT, "longest_side": longest}
    (tmp / "meta.json").write_text(json.dumps(meta))
    try:
        tmp.rename(out)
    except OSError:  # another process finished first
        if not (out / "meta.json").exists():
            raise
    return out


def load_resources(folder: Path) -> Resources:
    data = marshal.loads((folder / "resources.marshal").read_bytes())
    return Resources(
        function_words=frozenset(data["function_words"]),
        prefixes=data["prefixes"],
        exceptions=data["exceptions"],
        synsets=SynsetIndex(folder),
    )
