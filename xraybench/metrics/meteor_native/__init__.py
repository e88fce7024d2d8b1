"""METEOR 1.5 (`-l en -norm`) in Python, with the same segment statistics as meteor-1.5.jar.

`NativeMeteor.stats` returns the jar's 23 sufficient statistics per segment (layout in `meteor.py`), so
`meteor_from_stats`/`corpus_meteor` give its scores. No Java is needed at scoring time; the jar file is
still the source of the English resources (read once into a cache, see `resources`).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from xraybench.errors import XrayBenchError
from xraybench.lazy import require
from xraybench.metrics.meteor import N_STATS, meteor_from_stats, sanitize
from xraybench.metrics.meteor_native.aligner import Lexicon, Paraphrases, align_stats
from xraybench.metrics.meteor_native.normalize import java_tokens, java_trim, normalize_line
from xraybench.metrics.meteor_native.paraphrase import ParaphraseTable
from xraybench.metrics.meteor_native.resources import cache_dir, load_resources

__all__ = ["NativeMeteor"]

MAX_CACHED_PAIRS = 200_000
# Aligning is pure Python and CPU-bound: large batches are split over forked workers (they inherit the
# loaded resources). XRAYBENCH_METEOR_WORKERS=1 turns it off.
PARALLEL_MIN_PAIRS = 400
_fork_state: tuple | None = None


def _workers() -> int:
    wanted = os.environ.get("XRAYBENCH_METEOR_WORKERS")
    if wanted is not None:
        return max(1, int(wanted))
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return min(os.cpu_count() or 1, 8)


def _align_range(bounds: tuple[int, int]) -> np.ndarray:
    keys, lexicon, para = _fork_state  # type: ignore[misc]
    return np.stack([align_stats(list(t), list(r), lexicon, para) for t, r in keys[bounds[0] : bounds[1]]])


class NativeMeteor:
    """The jar's aligner and scorer for English, resources loaded once per process."""

    def __init__(self, jar: Path):
        stemmer_module = require("snowballstemmer.english_stemmer", "meteor", "native METEOR's Snowball stemmer")
        folder = cache_dir(jar, jar.parent / "data" / "paraphrase-en.gz")
        resources = load_resources(folder)
        self.prefixes = resources.prefixes
        self.paraphrases = ParaphraseTable(folder)
        # the English stemmer of Snowball 2.x, which equals the jar's; imported directly so an installed
        # PyStemmer (a newer libstemmer) is never picked instead
        stemmer = stemmer_module.EnglishStemmer()
        self.lexicon = Lexicon(stemmer.stemWord, resources.synsets, resources.exceptions, resources.function_words)
        self._normalized: dict[str, list[str]] = {}
        # a pair's statistics depend only on its own words (paraphrase entries outside them cannot
        # match), so they are reused across batches; repeated report pairs are common in real data
        self._pairs: dict[tuple[tuple[str, ...], tuple[str, ...]], np.ndarray] = {}

    def words(self, text: str) -> list[str]:
        """Normalised, lower-cased words of one stdio field (the jar trims each field first)."""
        words = self._normalized.get(text)
        if words is None:
            if len(self._normalized) >= MAX_CACHED_PAIRS:
                self._normalized.clear()
            words = java_tokens(normalize_line(java_trim(sanitize(text)), self.prefixes))
            self._normalized[text] = words
        return words

    def stats(self, hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> np.ndarray:
        """Statistics `(n, 23)` of each hypothesis against its best-scoring reference, as the jar picks it."""
        if len(hypotheses) != len(references):
            raise XrayBenchError(f"METEOR got {len(hypotheses)} hypotheses but {len(references)} reference lists")
        tests = [self.words(h) for h in hypotheses]
        refs = []
        for i, rs in enumerate(references):
            if not rs:
                raise XrayBenchError(f"METEOR needs at least one reference per hypothesis (segment {i} has none)")
            refs.append([self.words(r) for r in rs])
        vocab = {w for ws in tests for w in ws} | {w for rs in refs for ws in rs for w in ws}
        self.lexicon.add_all(vocab)
        para = Paraphrases.of(self.paraphrases.lookup([*tests, *(ws for rs in refs for ws in rs)]))
        self._align_missing([(tuple(t), tuple(r)) for t, rs in zip(tests, refs, strict=True) for r in rs], para)
        rows = np.array([self._pairs[(tuple(t), tuple(r))] for t, rs in zip(tests, refs, strict=True) for r in rs])
        rows = rows.reshape(-1, N_STATS)
        if len(rows) == len(tests):  # one reference each
            return rows
        out = np.zeros((len(tests), N_STATS))
        scores = meteor_from_stats(rows).tolist()  # the same arithmetic row by row as one at a time
        at = 0
        for n, rs in enumerate(refs):
            best = max(range(at, at + len(rs)), key=scores.__getitem__)  # the first of equal scores, as the jar
            out[n] = rows[best]
            at += len(rs)
        return out

    def _align_missing(self, pairs: list[tuple[tuple[str, ...], tuple[str, ...]]], para: Paraphrases) -> None:
        """Align every pair not cached yet, in forked workers when the batch is large."""
        global _fork_state
        missing = list(dict.fromkeys(k for k in pairs if k not in self._pairs))
        if len(self._pairs) + len(missing) > MAX_CACHED_PAIRS:
            self._pairs.clear()
        workers = min(_workers(), len(missing) // (PARALLEL_MIN_PAIRS // 2) or 1)
        if len(missing) < PARALLEL_MIN_PAIRS or workers <= 1:
            for t, r in missing:
                self._pairs[(t, r)] = align_stats(list(t), list(r), self.lexicon, para)
            return
        step = -(-len(missing) // (workers * 4))
        bounds = [(i, min(i + step, len(missing))) for i in range(0, len(missing), step)]
        _fork_state = (missing, self.lexicon, para)
        try:
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                parts = pool.map(_align_range, bounds)
        finally:
            _fork_state = None
        for (lo, hi), rows in zip(bounds, parts, strict=True):
            for key, row in zip(missing[lo:hi], rows, strict=True):
                self._pairs[key] = row
