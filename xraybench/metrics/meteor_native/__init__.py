"""METEOR 1.5 (`-l en -norm`) in Python, with the same segment statistics as meteor-1.5.jar.

`NativeMeteor.stats` returns the jar's 23 sufficient statistics per segment (layout in `meteor.py`), so
`meteor_from_stats`/`corpus_meteor` give its scores. No Java is needed at scoring time; the jar file is
still the source of the English resources (read once into a cache, see `resources`).
"""

from __future__ import annotations

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
        for word in vocab:
            self.lexicon.add(word)
        para = Paraphrases.of(self.paraphrases.lookup(vocab))
        out = np.zeros((len(tests), N_STATS))
        for n, (test, rs) in enumerate(zip(tests, refs, strict=True)):
            best, best_score = None, -1.0
            for ref in rs:
                key = (tuple(test), tuple(ref))
                row = self._pairs.get(key)
                if row is None:
                    if len(self._pairs) >= MAX_CACHED_PAIRS:
                        self._pairs.clear()
                    row = self._pairs[key] = align_stats(test, ref, self.lexicon, para)
                score = float(meteor_from_stats(row))
                if score > best_score:
                    best, best_score = row, score
            out[n] = best
        return out
