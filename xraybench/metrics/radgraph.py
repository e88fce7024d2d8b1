"""RadGraph F1: entity / relation overlap of RadGraph annotations of generated vs reference reports.

Annotations come from the `radgraph` package's model (`radgraph.RadGraph`); the rewards follow that
package's `F1RadGraph` at its three levels, per report pair:
- simple: the set of (entity tokens, label);
- partial: (tokens, label) for an entity without relations, (tokens, label, True) for one with relations;
- complete: (tokens, label) for an entity without relations, and for each relation of an entity
  (tokens lowercased, label, relation type, target entity's tokens lowercased).
F1 of the two sets (precision = shared / hypothesis set, recall = shared / reference set, 0 when a set
is empty); a pair whose hypothesis or reference is empty, or whose annotation of either side has no entity,
scores 0. The corpus value is the mean over pairs, as `F1RadGraph` reports it. A text of only whitespace counts
as empty (the package's reader fails on it: `F1RadGraph` crashes on such a pair); a report the package's model
does not return an annotation for is an error naming it, not a silent 0.

Weights are never downloaded: the model folder (`<dir>/<model_type>/` with config.json, weights.th and
vocabulary/, as the package unpacks it) comes from the option `model_dir`, XRAYBENCH_RADGRAPH_DIR or the
package's own cache; its BERT encoder is loaded with the Hugging Face hub in offline mode. The package's vendored
AllenNLP was written for transformers 4: on transformers 5 the two tokenizer methods it calls are put back
(`transformers5_compat`), else no model loads.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from xraybench.errors import XrayBenchError
from xraybench.lazy import require
from xraybench.metrics._local_models import fetch_command, hub_offline, pick_device
from xraybench.metrics.base import MetricSpec, Scores
from xraybench.progress import progress_bar
from xraybench.records import Prediction, Sample

MODEL_ENV = "XRAYBENCH_RADGRAPH_DIR"
MODEL_TYPES = ("radgraph", "radgraph-xl", "modern-radgraph-xl", "echograph")
LEVELS = ("simple", "partial", "complete")
Annotation = dict[str, Any]  # {"entities": {"1": {"tokens", "label", "relations": [[type, target id]]}}}


def _entities(annotation: Annotation) -> dict[str, Any]:
    entities = annotation.get("entities")
    if not isinstance(entities, dict):
        raise XrayBenchError("radgraph: an annotation needs an 'entities' dict, as RadGraph produces")
    return entities


def _items(annotation: Annotation, level: str) -> set[tuple[Any, ...]]:
    """The set of matched items of one annotation at `level` (see the module docstring)."""
    entities = _entities(annotation)
    items: set[tuple[Any, ...]] = set()
    for entity in entities.values():
        tokens, label, relations = entity["tokens"], entity["label"], entity["relations"]
        if level == "simple" or not relations:
            items.add((tokens, label))
        elif level == "partial":
            items.add((tokens, label, True))
        else:
            for relation_type, target in relations:
                if target not in entities:
                    raise XrayBenchError(f"radgraph: relation to unknown entity {target!r} in an annotation")
                items.add((tokens.lower(), label, relation_type, entities[target]["tokens"].lower()))
    return items


def _f1(hypothesis: set[tuple[Any, ...]], reference: set[tuple[Any, ...]]) -> float:
    shared = len(hypothesis & reference)
    precision = shared / len(hypothesis) if hypothesis else 0.0
    recall = shared / len(reference) if reference else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def rewards(hypothesis: Annotation, reference: Annotation) -> tuple[float, float, float]:
    """(simple, partial, complete) RadGraph F1 of one annotated pair."""
    if not _entities(hypothesis) or not _entities(reference):
        return 0.0, 0.0, 0.0
    simple, partial, complete = (_f1(_items(hypothesis, lv), _items(reference, lv)) for lv in LEVELS)
    return simple, partial, complete


def score_annotations(
    hypotheses: Sequence[Annotation | None], references: Sequence[Annotation | None]
) -> dict[str, Scores]:
    """`radgraph_f1_{simple,partial,complete}` of aligned annotations; None (an empty report) scores 0."""
    rows = [
        rewards(h, r) if h is not None and r is not None else (0.0, 0.0, 0.0)
        for h, r in zip(hypotheses, references, strict=True)
    ]
    return {
        f"radgraph_f1_{level}": Scores.mean(f"radgraph_f1_{level}", [row[k] for row in rows], level=level)
        for k, level in enumerate(LEVELS)
    }


def find_model_dir(model_dir: str | None, model_type: str) -> Path:
    """The folder that holds `<model_type>/weights.th` (what `RadGraph(model_cache_dir=...)` expects)."""
    given = model_dir or os.environ.get(MODEL_ENV)
    if given:
        root = Path(given).expanduser()
        candidates = [root, root.parent] if root.name == model_type else [root]
    else:
        cache = require("radgraph.radgraph", "radgraph", "RadGraph F1").CACHE_DIR
        candidates = [Path(cache)]
    for candidate in candidates:
        folder = candidate / model_type
        if (folder / "weights.th").is_file() and (folder / "config.json").is_file():
            return candidate
    where = given or f"the radgraph package's cache {candidates[0]}"
    raise XrayBenchError(
        f"radgraph: no {model_type} model (config.json, weights.th) under {where} — download it with "
        f"{_fetch(model_dir, model_type)}; nothing is downloaded during scoring; or set the radgraph option "
        f"`model_dir` or the environment variable {MODEL_ENV} to the folder holding {model_type}/ (the unpacked "
        f"{model_type}.tar.gz of StanfordAIMI/RRG_scorers)"
    )


def _fetch(model_dir: str | None, model_type: str) -> str:
    """`fetch_command` for this model: `weights fetch radgraph` reads XRAYBENCH_RADGRAPH_DIR itself, not the option."""
    root = Path(model_dir).expanduser() if model_dir else None
    root = root.parent if root is not None and root.name == model_type else root  # find_model_dir takes either
    flags = ("--radgraph-dir", str(root)) if root is not None else ()
    flags += ("--radgraph-model-type", model_type) if model_type != "radgraph" else ()
    return fetch_command("radgraph", *flags)


def _special_ids(tokenizer: Any, *texts: str) -> list[list[int]]:
    """The special-token ids `tokenizer` puts around and between `texts` (probe words, one wordpiece each)."""
    full = tokenizer.encode(*texts, add_special_tokens=True)
    parts, start = [], 0
    for text in texts:
        (piece,) = tokenizer.encode(text, add_special_tokens=False)
        at = full.index(piece, start)
        parts.append(full[start:at])
        start = at + 1
    return [*parts, full[start:]]


def _build_inputs(self: Any, ids: list[int], pair: list[int] | None = None) -> list[int]:
    """transformers 4's method: the sequence(s) with the special tokens the tokenizer adds ([CLS] a [SEP] b [SEP])."""
    if pair is None:
        before, after = _special_ids(self, "a")
        return [*before, *ids, *after]
    before, middle, after = _special_ids(self, "a", "b")
    return [*before, *ids, *middle, *pair, *after]


def _encode_plus(self: Any, text: str, text_pair: str | None = None, **kwargs: Any) -> Any:
    """transformers 4's method for one text (or one pair), which is how the package calls it: `__call__` on it.

    transformers 4 read a list of strings as tokens, where `__call__` reads a batch: refused, not misread.
    """
    if not isinstance(text, str) or not isinstance(text_pair, str | None):
        raise TypeError("encode_plus (put back for the radgraph package) takes one text or one pair of texts")
    return self(text, text_pair, **kwargs)


@contextlib.contextmanager
def transformers5_compat() -> Iterator[None]:
    """Let the radgraph package's vendored AllenNLP (written for transformers 4) run on transformers 5, inside the
    block (or the decorated function) only.

    It calls `encode_plus` on one string (or a pair of strings) and `build_inputs_with_special_tokens` on a
    wordpiece segment; transformers 5 removed both. Put back what transformers 4 did for exactly those calls —
    nothing is replaced where the methods exist — and take them away again on leaving, so other code in the process
    (f1chexbert, a `hasattr` check for transformers 4) never sees them.
    """
    base = require("transformers", "hf", "RadGraph F1").PreTrainedTokenizerBase
    added = []
    for name, method in (("encode_plus", _encode_plus), ("build_inputs_with_special_tokens", _build_inputs)):
        if not hasattr(base, name):
            setattr(base, name, method)
            added.append(name)
    try:
        yield
    finally:
        for name in added:
            delattr(base, name)


class NoAnnotation(XrayBenchError):
    """The package returned no annotation for `report` (it printed its own error and skipped it)."""

    def __init__(self, message: str, report: str):
        super().__init__(message)
        self.report = report


class RadGraphMetric:
    """`radgraph_f1_{simple,partial,complete}` from the `radgraph` package's model, local weights only."""

    name = "radgraph"
    spec = MetricSpec(
        kinds=("report",),
        headline=("radgraph_f1_simple", "radgraph_f1_partial", "radgraph_f1_complete"),
        options={"progress": "progress"},
    )

    def __init__(
        self,
        model_dir: str | None = None,
        model_type: str = "radgraph",
        device: str | None = None,
        chunk_size: int = 64,
        progress: bool = True,
    ):
        if model_type not in MODEL_TYPES:
            raise XrayBenchError(f"radgraph: model_type must be one of {', '.join(MODEL_TYPES)}, not {model_type!r}")
        package = require("radgraph", "radgraph", "RadGraph F1")
        self.model_dir = find_model_dir(model_dir, model_type)
        target = pick_device(device)
        cuda = -1 if target == "cpu" else int(target.partition(":")[2] or 0)
        try:
            with hub_offline("RadGraph F1"), transformers5_compat():
                self.model = package.RadGraph(model_type=model_type, model_cache_dir=str(self.model_dir), cuda=cuda)
        except OSError as exc:  # transformers: the BERT encoder named by the model's config is not in the cache
            raise XrayBenchError(
                f"radgraph: cannot load the {model_type} model in {self.model_dir / model_type} "
                f"({' '.join(str(exc).split())[:200]}); the BERT encoder its config names must be in the local "
                f"Hugging Face cache — download model and encoder with {_fetch(model_dir, model_type)}"
            ) from exc
        self.model_type, self.chunk_size, self.progress = model_type, chunk_size, progress

    def annotate(self, reports: Sequence[str]) -> list[Annotation]:
        """One annotation per (non-blank) report, from the package's model."""
        out: list[Annotation] = []
        enabled = self.progress and len(reports) > self.chunk_size
        with progress_bar(len(reports), "RadGraph", enabled=enabled) as advance:
            for start in range(0, len(reports), self.chunk_size):
                chunk = list(reports[start : start + self.chunk_size])
                with transformers5_compat():
                    result = self.model(chunk)
                for i, report in enumerate(chunk):
                    if str(i) not in result:  # the package printed its error and skipped the report
                        raise NoAnnotation(
                            f"radgraph: the {self.model_type} model returned no annotation for report "
                            f"{start + i + 1} of {len(reports)} ({' '.join(report.split())[:80]!r})",
                            report,
                        )
                    out.append(result[str(i)])
                advance(len(chunk))
        return out

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        if len(samples) != len(predictions):
            raise ValueError(f"{len(samples)} samples but {len(predictions)} predictions")
        hyps = [p.answer or "" for p in predictions]
        refs = [s.reference or "" for s in samples]
        unique = list(dict.fromkeys(t for t in hyps + refs if t.strip()))
        try:
            annotations = dict(zip(unique, self.annotate(unique), strict=True))
        except NoAnnotation as exc:  # name the items the text belongs to, not only its place among distinct texts
            ids = [s.id for s, h, r in zip(samples, hyps, refs, strict=True) if exc.report in (h, r)]
            raise XrayBenchError(f"{exc}; items: {', '.join(ids[:10])}{' ...' if len(ids) > 10 else ''}") from None
        both = [bool(h.strip() and r.strip()) for h, r in zip(hyps, refs, strict=True)]
        scores = score_annotations(
            [annotations[h] if ok else None for h, ok in zip(hyps, both, strict=True)],
            [annotations[r] if ok else None for r, ok in zip(refs, both, strict=True)],
        )
        for s in scores.values():
            s.details["model_type"] = self.model_type
        return scores
