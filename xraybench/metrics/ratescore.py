"""RaTEScore (Zhao et al. 2024, "RaTEScore: A Metric for Radiology Report Generation"): a medical NER model tags the
entities of both reports (abnormality, non-abnormality, disease, non-disease, anatomy), a BioLORD encoder embeds each
entity ([CLS] of its last layer), every entity is matched to its most similar entity in the other report, and the
cosine similarities are averaged with a weight per (entity type, matched type) pair, a penalty where a finding meets
its negation; the score of a pair is the harmonic mean of the two directions, in [0, 1] (higher is better).

Through the authors' own package, `RaTEScore` (Angelakeke/RaTEScore on PyPI, 0.6.0 checked): its `RaTEScore` class
does everything: medspacy's PyRuSH sentence splitting, NER, entity embeddings, the type-weight matrix ("long" by
default, "short" or a JSON file through the option `affinity_matrix`), and the scoring. RadEval ships a copy of the
same code (plus GPU auto-selection and a progress callback), so the authors' package is the reference here.

What we add: weights only from local folders or the Hugging Face cache (never downloaded during scoring), and no
silent numbers. The package keeps one entity list per report by counting sentences, so a report its splitter finds
no sentence in (an empty answer, "." or any text under 3 characters) shifts every later report onto the wrong
reference; here such a pair is a failed sample instead: NaN, 1 in `ratescore_failed`, the reason in
`details["failures"]`, and the corpus value is the mean over the scored pairs (`details["n"]` of them). The package's
own convention stays: a pair where either report has no entity scores 0.5 (counted in `details["no_entities"]`).

One reference per sample (the sample's `reference`). Weights: the NER model (default Angelakeke/RaTE-NER-Deberta,
option `ner_model` / XRAYBENCH_RATESCORE_NER_MODEL) and the entity encoder (default FremyCompany/BioLORD-2023-C,
option `embedding_model` / XRAYBENCH_RATESCORE_EMBEDDING_MODEL); `xraybench weights fetch ratescore` downloads both.
The package is installed with the `ratescore` extra's dependencies plus `pip install --no-deps RaTEScore==0.6.0
medspacy==1.3.1 medspacy_quickumls==3.2` (medspacy pins spacy < 3.8 on Python < 3.12, which drags numpy below 2;
spacy 3.8 runs the two components the package uses, PyRuSH sentence splitting and ConText).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xraybench.errors import XrayBenchError
from xraybench.lazy import require
from xraybench.metrics._local_models import fetch_command, hub_offline, local_model_dir, pick_device
from xraybench.metrics.aggregate import nanmean_scores
from xraybench.metrics.base import MetricSpec, Scores
from xraybench.records import Prediction, Sample

log = logging.getLogger(__name__)

NER_ENV = "XRAYBENCH_RATESCORE_NER_MODEL"
EMBEDDING_ENV = "XRAYBENCH_RATESCORE_EMBEDDING_MODEL"
DEFAULT_NER = "Angelakeke/RaTE-NER-Deberta"  # the package's defaults
DEFAULT_EMBEDDING = "FremyCompany/BioLORD-2023-C"
NO_ENTITY_SCORE = 0.5  # the package's score of a pair where either report has no entity
MAX_REASON_CHARS = 120
# the extra cannot list the package: medspacy's declared spacy pin would pull numpy below 2 (module docstring)
PACKAGE_INSTALL = "pip install --no-deps RaTEScore==0.6.0 medspacy==1.3.1 medspacy_quickumls==3.2"


def _package() -> Any:
    return require(
        "RaTEScore", "ratescore", f"the RaTEScore metric (the package itself, after the extra: {PACKAGE_INSTALL})"
    )


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= MAX_REASON_CHARS else flat[:MAX_REASON_CHARS] + "...")


def unscorable(text: str, role: str) -> str | None:
    """Why the package cannot pair this report with its partner (no sentence after splitting), else None."""
    if not text.strip():
        return f"empty {role}"
    sentences, _ = require("RaTEScore.utils", "ratescore", "the RaTEScore metric").sentence_split([text])
    return None if sentences else f"{role} {_quote(text)} has no sentence the package can split out (3+ characters)"


class RaTEScoreMetric:
    """RaTEScore from local NER and entity-encoder weights through the `RaTEScore` package (see module docstring)."""

    name = "ratescore"
    spec = MetricSpec(kinds=("report",), headline=("ratescore",), directions={"ratescore_failed": "lower"})

    def __init__(
        self,
        ner_model: str | None = None,
        embedding_model: str | None = None,
        affinity_matrix: str = "long",
        batch_size: int = 1,
        device: str | None = None,
    ):
        package = _package()
        if batch_size < 1:
            raise XrayBenchError(f"ratescore: batch_size must be at least 1, not {batch_size}")
        ner = local_model_dir("ratescore", ner_model, option="ner_model", env=NER_ENV, default=DEFAULT_NER,
                              fetch=fetch_command("ratescore"))  # fmt: skip
        embedding = local_model_dir("ratescore", embedding_model, option="embedding_model", env=EMBEDDING_ENV,
                                    default=DEFAULT_EMBEDDING, fetch=fetch_command("ratescore"))  # fmt: skip
        _check_entity_labels(Path(ner))
        use_gpu = str(pick_device(device)).startswith("cuda")
        try:
            with hub_offline("the RaTEScore metric"):
                self.scorer = package.RaTEScore(
                    bert_model=str(ner),
                    eval_model=str(embedding),
                    batch_size=batch_size,
                    use_gpu=use_gpu,
                    affinity_matrix=affinity_matrix,
                )
        except (OSError, ValueError, KeyError) as exc:
            raise XrayBenchError(
                f"ratescore: cannot load the models in {ner} and {embedding} ({' '.join(str(exc).split())[:200]}); "
                f"expected a token-classification checkpoint with B-/I- entity labels such as {DEFAULT_NER} and an "
                f"encoder such as {DEFAULT_EMBEDDING}"
            ) from exc
        self.details = {
            "ner_model": str(ner_model or os.environ.get(NER_ENV) or DEFAULT_NER),
            "embedding_model": str(embedding_model or os.environ.get(EMBEDDING_ENV) or DEFAULT_EMBEDDING),
            "affinity_matrix": affinity_matrix,
            "implementation": f"RaTEScore {_version()} (sentence splitting, NER, embeddings, score)",
        }

    def score_texts(
        self, hypotheses: Sequence[str], references: Sequence[str], ids: Sequence[str]
    ) -> dict[str, Scores]:
        """`ratescore` and `ratescore_failed` of aligned hypothesis / reference texts."""
        n = len(hypotheses)
        if not (n == len(references) == len(ids)):
            raise ValueError(f"{n} hypotheses, {len(references)} references and {len(ids)} ids")
        failures: dict[str, str] = {}
        keep: list[int] = []
        failed = np.zeros(n)
        for i, (hyp, ref) in enumerate(zip(hypotheses, references, strict=True)):
            why = unscorable(hyp, "prediction") or unscorable(ref, "reference")
            if why:
                failures[ids[i]] = why
                failed[i] = 1.0
            else:
                keep.append(i)
        values = np.full(n, np.nan)
        if keep:
            got = self.scorer.compute_score([hypotheses[i] for i in keep], [references[i] for i in keep])
            scores = got[0] if isinstance(got, tuple) else got  # RadEval's copy also returns the entities
            if len(scores) != len(keep):  # the package lost its alignment: no number rather than a wrong one
                raise XrayBenchError(f"ratescore: the package returned {len(scores)} scores for {len(keep)} pairs")
            values[keep] = scores
        if failures:
            log.warning("ratescore: %d of %d pairs not scored (e.g. %s: %s)", len(failures), n,
                        *next(iter(failures.items())))  # fmt: skip
        no_entities = int(np.sum(values == NO_ENTITY_SCORE))
        out = {
            "ratescore": nanmean_scores(
                "ratescore",
                values,
                nan_means="failed: not scored (see ratescore details.failures)",
                failed=len(failures),
                failures=failures,
                no_entities=no_entities,
                **self.details,
            ),
            "ratescore_failed": Scores.mean(
                "ratescore_failed", failed, meaning="share of samples without a RaTEScore value"
            ),
        }
        return out

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        if len(samples) != len(predictions):
            raise ValueError(f"{len(samples)} samples but {len(predictions)} predictions")
        return self.score_texts(
            [p.answer or "" for p in predictions], [s.reference or "" for s in samples], [s.id for s in samples]
        )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("RaTEScore")
    except PackageNotFoundError:  # imported from a source checkout
        return "source"


def _check_entity_labels(ner: Path) -> None:
    """Refuse a NER checkpoint whose labels are not entity tags: the package reads entity types from the label
    names, so generic `LABEL_0..10` (one revision of the hub repo has them) would find no entity in any report and
    score every pair 0.5 without an error."""
    config = ner / "config.json"
    try:
        labels = [str(v) for v in json.loads(config.read_text(encoding="utf-8")).get("id2label", {}).values()]
    except (OSError, ValueError) as exc:
        raise XrayBenchError(f"ratescore: cannot read the NER model's labels from {config}: {exc}") from exc
    if not any(label[:2] in ("B-", "I-") for label in labels):
        raise XrayBenchError(
            f"ratescore: the NER model in {ner} has no B-/I- entity labels in {config} (found {labels[:4]}...); "
            f"every pair would score 0.5. Use a checkpoint with RaTE-NER's entity labels, such as {DEFAULT_NER}"
        )
