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
from dataclasses import dataclass
from pathlib import Path

from xraybench.metrics.meteor_native.normalize import java_tokens, parse_prefixes
from xraybench.metrics.meteor_native.paraphrase import build_phrase_index
from xraybench.metrics.meteor_paraphrase import ParaphraseIndex, cache_root

FORMAT = 2  # bump when the cache layout changes (2: side hashes of the paraphrase entries)


@dataclass(frozen=True)
class Resources:
    """Everything the English aligner needs besides the paraphrase table."""

    function_words: frozenset[str]
    prefixes: dict[str, int]
    exceptions: dict[str, tuple[str, ...]]  # inflected form -> WordNet base forms, in file order
    synsets: dict[str, tuple[int, ...]]  # word -> synset ids


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
    (tmp / "resources.marshal").write_bytes(marshal.dumps(_parse(jar)))
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
        synsets=data["synsets"],
    )
