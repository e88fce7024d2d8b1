"""Shared plumbing of the lexical metrics: tokenizing hypotheses and references once per call.

A metric gets `samples` and `predictions`; `lexical_inputs` turns them into token lists with the
chosen tokenizer, in the order pycocoevalcap would tokenize them (hypotheses in one batch, the
flattened references in another). `score_texts` passes a shared cache so several metrics of one call
tokenize each text only once.

BLEU and CIDEr-D only need, per text, how often each 1..4-gram of its words occurs. `lexical_ngrams`
computes that for all hypotheses and references at once with numpy (words become integer ids, an
n-gram an integer key, and one sort per n counts them); the cache keeps the result for the other metric.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain, count

import numpy as np

from xraybench.errors import XrayBenchError
from xraybench.metrics.aggregate import check_aligned
from xraybench.metrics.tokenize import check_mode, tokenize_batch
from xraybench.records import Prediction, Sample

MAX_N = 4
#: Integer keys stay below this, so a product of two of them never reaches int64's limit.
_KEY_LIMIT = 2**62


@dataclass(frozen=True)
class GramTable:
    """Distinct (text, n-gram) pairs of one order n, sorted, with their counts.

    `key` is `text * modulus + gram`; texts are numbered hypotheses first (0..S-1), then references.
    """

    key: np.ndarray
    count: np.ndarray
    modulus: int

    @property
    def text(self) -> np.ndarray:
        return self.key // self.modulus

    @property
    def gram(self) -> np.ndarray:
        return self.key % self.modulus


@dataclass(frozen=True)
class NgramStats:
    """The n-gram counts of a scored set: S hypotheses, K references (`ref_sample` maps each to its sample)."""

    n_samples: int
    ref_sample: np.ndarray
    hyp_len: np.ndarray
    ref_len: np.ndarray
    tables: tuple[GramTable, ...]

    @property
    def one_reference_each(self) -> bool:
        """Whether reference k belongs to sample k (then reference tables are already keyed by sample)."""
        return len(self.ref_sample) == self.n_samples

    def split(self, n: int) -> tuple[GramTable, GramTable]:
        """(hypothesis table, reference table) of order `n`; reference texts renumbered 0..K-1."""
        table = self.tables[n - 1]
        cut = int(np.searchsorted(table.key, self.n_samples * table.modulus))
        offset = self.n_samples * table.modulus
        hyp = GramTable(table.key[:cut], table.count[:cut], table.modulus)
        ref = GramTable(table.key[cut:] - offset, table.count[cut:], table.modulus)
        return hyp, ref


@dataclass
class TokenCache:
    """Token lists keyed by (mode, tuple of texts): one entry per batch, shared by the metrics of a call."""

    entries: dict[tuple[str, tuple[str, ...]], list[list[str]]] = field(default_factory=dict)
    ngrams: dict[tuple[str, tuple[str, ...], tuple[str, ...], tuple[int, ...]], NgramStats] = field(
        default_factory=dict
    )

    def batch(self, texts: Sequence[str], mode: str) -> list[list[str]]:
        key = (mode, tuple(texts))
        found = self.entries.get(key)
        if found is None:
            found = self.entries[key] = tokenize_batch(list(texts), mode)
        return found


def _split_inputs(
    samples: Sequence[Sample], predictions: Sequence[Prediction]
) -> tuple[list[str], list[str], list[int]]:
    hyps = [p.answer or "" for p in predictions]
    ref_texts = [s.all_references() for s in samples]
    return hyps, [r for refs in ref_texts for r in refs], [len(refs) for refs in ref_texts]


def lexical_inputs(
    samples: Sequence[Sample],
    predictions: Sequence[Prediction],
    mode: str,
    metric: str,
    cache: TokenCache | None = None,
) -> tuple[list[list[str]], list[list[list[str]]]]:
    """(hypothesis tokens per sample, reference token lists per sample) under tokenizer `mode`."""
    check_mode(mode)
    check_aligned(samples, predictions, metric)
    cache = cache or TokenCache()
    hyp_texts, flat_texts, group_sizes = _split_inputs(samples, predictions)
    hyps = cache.batch(hyp_texts, mode)
    flat = cache.batch(flat_texts, mode)
    refs: list[list[list[str]]] = []
    start = 0
    for size in group_sizes:
        refs.append(flat[start : start + size])
        start += size
    return hyps, refs


def words(tokens: list[str]) -> list[str]:
    """pycocoevalcap's BLEU/CIDEr split the joined caption with `str.split()`, which also splits on the
    non-breaking spaces PTB puts inside some tokens (`1\u00a01/2`)."""
    return " ".join(tokens).split()


def lexical_ngrams(
    samples: Sequence[Sample],
    predictions: Sequence[Prediction],
    mode: str,
    metric: str,
    cache: TokenCache | None = None,
) -> NgramStats:
    """1..4-gram counts of the words of every hypothesis and reference (see `NgramStats`)."""
    check_mode(mode)
    check_aligned(samples, predictions, metric)
    cache = cache or TokenCache()
    hyp_texts, flat_texts, group_sizes = _split_inputs(samples, predictions)
    if any(size == 0 for size in group_sizes):
        raise XrayBenchError(f"{metric}: every sample needs at least one reference")
    key = (mode, tuple(hyp_texts), tuple(flat_texts), tuple(group_sizes))
    found = cache.ngrams.get(key)
    if found is None:
        found = cache.ngrams[key] = count_ngrams(
            cache.batch(hyp_texts, mode), cache.batch(flat_texts, mode), group_sizes
        )
    return found


def _compact(keys: np.ndarray) -> np.ndarray:
    """Dense ids 0..G-1 for int64 keys, order kept (used only when keys grow too large to combine)."""
    return np.unique(keys, return_inverse=True)[1].astype(np.int64).reshape(-1)


def count_ngrams(
    hyps: Sequence[Sequence[str]], refs: Sequence[Sequence[str]], group_sizes: Sequence[int]
) -> NgramStats:
    """Count the 1..4-grams of the `words` of token lists: `hyps` one per sample, `refs` flattened,
    `group_sizes` the number of references of each sample."""
    texts = [*hyps, *refs]
    flat = list(chain.from_iterable(texts))
    joined = "".join(flat)
    if not all(flat) or (joined and joined.split(None, 1) != [joined]):  # else each list is its own `words`
        texts = [words(list(tokens)) for tokens in texts]
        flat = list(chain.from_iterable(texts))
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    vocab: defaultdict[str, int] = defaultdict(count().__next__)  # a new word gets the next id
    ids = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
    base = max(len(vocab), 1)
    owner = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    # words left in the text from each position on: an n-gram starts where at least n are left
    left = np.cumsum(lengths)[owner] - np.arange(len(flat), dtype=np.int64)
    grams = ids
    tables: list[GramTable] = []
    for n in range(1, MAX_N + 1):
        if n > 1:
            if int(grams.max(initial=0)) >= _KEY_LIMIT // base:
                grams = _compact(grams)
            grams = grams[:-1] * base + ids[n - 1 :]
        modulus = int(grams.max(initial=0)) + 1
        if modulus >= _KEY_LIMIT // max(len(texts), 1):
            grams = _compact(grams)
            modulus = int(grams.max(initial=0)) + 1
        keys = (owner[: len(grams)] * modulus + grams)[left[: len(grams)] >= n]
        keys.sort(kind="stable")  # nearly sorted already (by text), which the stable sort exploits
        new = np.ones(len(keys), dtype=bool)
        np.not_equal(keys[1:], keys[:-1], out=new[1:])
        first = np.flatnonzero(new)
        tables.append(GramTable(keys[first], np.diff(first, append=len(keys)), modulus))
    n_samples = len(hyps)
    return NgramStats(
        n_samples=n_samples,
        ref_sample=np.repeat(np.arange(n_samples, dtype=np.int64), np.asarray(group_sizes, dtype=np.int64)),
        hyp_len=lengths[:n_samples],
        ref_len=lengths[n_samples:],
        tables=tuple(tables),
    )


def lookup(keys: np.ndarray, values: np.ndarray, queries: np.ndarray, missing: float = 0) -> np.ndarray:
    """The values of `queries` in the sorted distinct `keys`, `missing` where a query is absent."""
    if len(keys) == 0:
        return np.full(len(queries), missing, dtype=values.dtype)
    at = np.searchsorted(keys, queries)
    at[at == len(keys)] = 0
    return np.where(keys[at] == queries, values[at], missing)
