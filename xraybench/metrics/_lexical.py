"""Shared plumbing of the lexical metrics: tokenizing hypotheses and references once per call.

A metric gets `samples` and `predictions`; `lexical_inputs` turns them into token lists with the
chosen tokenizer, in the order pycocoevalcap would tokenize them (hypotheses in one batch, the
flattened references in another). `score_texts` passes a shared cache so several metrics of one call
tokenize each text only once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from xraybench.metrics.aggregate import check_aligned
from xraybench.metrics.tokenize import check_mode, tokenize_batch
from xraybench.records import Prediction, Sample


@dataclass
class TokenCache:
    """Token lists keyed by (mode, tuple of texts): one entry per batch, shared by the metrics of a call."""

    entries: dict[tuple[str, tuple[str, ...]], list[list[str]]] = field(default_factory=dict)

    def batch(self, texts: Sequence[str], mode: str) -> list[list[str]]:
        key = (mode, tuple(texts))
        found = self.entries.get(key)
        if found is None:
            found = self.entries[key] = tokenize_batch(list(texts), mode)
        return found


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
    hyps = cache.batch([p.answer or "" for p in predictions], mode)
    ref_texts = [s.all_references() for s in samples]
    flat = cache.batch([r for refs in ref_texts for r in refs], mode)
    refs: list[list[list[str]]] = []
    start = 0
    for group in ref_texts:
        refs.append(flat[start : start + len(group)])
        start += len(group)
    return hyps, refs


def words(tokens: list[str]) -> list[str]:
    """pycocoevalcap's BLEU/CIDEr split the joined caption with `str.split()`, which also splits on the
    non-breaking spaces PTB puts inside some tokens (`1\u00a01/2`)."""
    return " ".join(tokens).split()
