"""BERTScore (precision, recall, F1) with the semantics of the `bert-score` package, on transformers.

What `bert_score.score` does, reproduced here: each text is stripped and encoded with the model's special
tokens (truncated to the tokenizer's maximum length); the model keeps only its first `num_layers` layers
and the last kept layer's token embeddings are compared by cosine similarity. Precision is the weighted
mean, over candidate tokens, of the best similarity to any reference token (special tokens included as
match targets); recall is the converse; F1 = 2PR / (P + R), with NaN set to 0. Weights are 1 for every
token but [CLS] / [SEP] (weight 0) unless `idf=True`, which weighs each token id by
log((M + 1) / (df + 1)) over the M references. A text of special tokens only scores P = R = F = 0. With
several references each of P, R and F is the best over them. `baseline` (a `bert-score` rescale file,
CSV `LAYER,P,R,F`) rescales each value x to (x - b) / (1 - b) with the row of the used layer.

Weights are never downloaded: `model` (or XRAYBENCH_BERTSCORE_MODEL) is a local folder or a repo id
already in the Hugging Face cache; the default is bert-score's English default, roberta-large, layer 17.
`num_layers` (or XRAYBENCH_BERTSCORE_NUM_LAYERS) defaults to bert-score's recommended layer of the model.
"""

from __future__ import annotations

import csv
import math
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xraybench.errors import DataFormatError, XrayBenchError
from xraybench.lazy import require
from xraybench.metrics._local_models import fetch_command, local_model_dir, pick_device
from xraybench.metrics.base import MetricSpec, Scores
from xraybench.progress import progress_bar
from xraybench.records import Prediction, Sample

MODEL_ENV = "XRAYBENCH_BERTSCORE_MODEL"
LAYERS_ENV = "XRAYBENCH_BERTSCORE_NUM_LAYERS"
DEFAULT_MODEL = "roberta-large"
# bert-score's recommended layers (tuned on WMT16) for the checkpoints used in report-generation papers.
DEFAULT_LAYERS: dict[str, int] = {
    "roberta-large": 17,
    "roberta-base": 10,
    "distilroberta-base": 5,
    "bert-base-uncased": 9,
    "bert-large-uncased": 18,
    "distilbert-base-uncased": 5,
    "microsoft/deberta-xlarge-mnli": 40,
    "microsoft/deberta-large-mnli": 18,
    "allenai/scibert_scivocab_uncased": 8,
}
PREFIX_SPACE_MODELS = frozenset(["roberta", "gpt2", "xlm-roberta", "longformer", "bart"])


def default_layers(name: str) -> int | None:
    """The recommended layer of a repo id or of a local folder named like one."""
    return DEFAULT_LAYERS.get(name) or DEFAULT_LAYERS.get(Path(name).name)


def read_baseline(path: str | Path, num_layers: int) -> tuple[float, float, float]:
    """(P, R, F) baselines of `num_layers` from a bert-score rescale file (row index = layer)."""
    file = Path(path)
    if not file.is_file():
        raise XrayBenchError(f"bertscore: baseline file {file} does not exist")
    with file.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows or [c.strip() for c in rows[0][:4]] != ["LAYER", "P", "R", "F"]:
        raise DataFormatError(file, "expected a bert-score baseline file with header LAYER,P,R,F", line=1)
    if len(rows) <= num_layers + 1:
        raise DataFormatError(file, f"no baseline row for layer {num_layers} ({len(rows) - 1} rows)")
    try:
        p, r, f = (float(v) for v in rows[num_layers + 1][1:4])
    except ValueError as exc:
        raise DataFormatError(file, "expected three numbers P,R,F", line=num_layers + 2) from exc
    return p, r, f


class BertScorer:
    """A loaded, layer-truncated encoder that embeds texts and greedily matches them (reusable)."""

    def __init__(self, model_dir: Path, num_layers: int, *, device: str = "cpu", batch_size: int = 64):
        transformers = require("transformers", "hf", "BERTScore")
        self.torch = require("torch", "hf", "BERTScore")
        config = transformers.AutoConfig.from_pretrained(model_dir, local_files_only=True)
        extra = {"add_prefix_space": True} if config.model_type in PREFIX_SPACE_MODELS else {}
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir, local_files_only=True, **extra)
        model = transformers.AutoModel.from_pretrained(model_dir, local_files_only=True)
        self.model = _truncate(model, num_layers).eval().to(device)
        self.device, self.batch_size = device, batch_size
        limit = self.tokenizer.model_max_length
        self.max_length = limit if limit < 100_000 else getattr(config, "max_position_embeddings", 512)

    def encode(self, text: str) -> list[int]:
        ids: list[int] = self.tokenizer(
            text.strip(), add_special_tokens=True, truncation=True, max_length=self.max_length
        )["input_ids"]
        return ids

    def embed(self, ids: Sequence[Sequence[int]], progress: bool = True) -> list[Any]:
        """Unit-normalised last-layer embeddings (CPU float32, one (length, dim) tensor per sequence).

        Sequences are run longest first in padded batches so each batch wastes little padding.
        """
        torch = self.torch
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out: list[Any] = [None] * len(ids)
        pad = self.tokenizer.pad_token_id or 0
        with progress_bar(len(ids), "BERTScore", enabled=progress and len(ids) > self.batch_size) as advance:
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                width = len(ids[batch[0]])
                tokens = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    tokens[row, : len(ids[i])] = torch.tensor(ids[i])
                    mask[row, : len(ids[i])] = 1
                with torch.no_grad():
                    hidden = self.model(tokens.to(self.device), attention_mask=mask.to(self.device))[0]
                hidden = (hidden / hidden.norm(dim=-1, keepdim=True)).float().cpu()
                for row, i in enumerate(batch):
                    out[i] = hidden[row, : len(ids[i])]
                advance(len(batch))
        return out

    def match(self, hyps: list[Any], refs: list[Any], hyp_w: list[Any], ref_w: list[Any]) -> np.ndarray:
        """(n, 3) float32 P, R, F of aligned embedding / weight pairs, in batches on the device."""
        torch = self.torch
        rows = []
        for start in range(0, len(hyps), self.batch_size):
            end = start + self.batch_size
            h, hm, hw = _pad(torch, hyps[start:end], hyp_w[start:end], self.device)
            r, rm, rw = _pad(torch, refs[start:end], ref_w[start:end], self.device)
            with torch.no_grad():
                sim = torch.bmm(h, r.transpose(1, 2))
                sim = sim.masked_fill(~(hm[:, :, None] & rm[:, None, :]), float("-inf"))
                word_p = sim.max(dim=2).values.masked_fill(~hm, 0.0)
                word_r = sim.max(dim=1).values.masked_fill(~rm, 0.0)
                p = (word_p * (hw / hw.sum(dim=1, keepdim=True))).sum(dim=1)
                r_ = (word_r * (rw / rw.sum(dim=1, keepdim=True))).sum(dim=1)
                f = 2 * p * r_ / (p + r_)
                empty = (hm.sum(dim=1) == 2) | (rm.sum(dim=1) == 2)  # special tokens only
                p, r_ = p.masked_fill(empty, 0.0), r_.masked_fill(empty, 0.0)
                f = f.masked_fill(torch.isnan(f), 0.0)
            rows.append(torch.stack([p, r_, f], dim=-1).cpu())
        return torch.cat(rows).numpy() if rows else np.zeros((0, 3), dtype=np.float32)


def _pad(torch: Any, embeddings: list[Any], weights: list[Any], device: str) -> tuple[Any, Any, Any]:
    emb = torch.nn.utils.rnn.pad_sequence(embeddings, batch_first=True).to(device)
    w = torch.nn.utils.rnn.pad_sequence(weights, batch_first=True).to(device)
    lengths = torch.tensor([len(e) for e in embeddings], device=device)
    mask = torch.arange(emb.shape[1], device=device)[None, :] < lengths[:, None]
    return emb, mask, w


def _truncate(model: Any, num_layers: int) -> Any:
    """Keep the first `num_layers` transformer layers, as bert-score does (BERT-, RoBERTa-, DistilBERT-like)."""
    torch = require("torch", "hf", "BERTScore")
    for owner, attribute in (("encoder", "layer"), ("transformer", "layer")):
        stack = getattr(getattr(model, owner, None), attribute, None)
        if isinstance(stack, torch.nn.ModuleList):
            if not 0 <= num_layers <= len(stack):
                raise XrayBenchError(f"bertscore: num_layers must be between 0 and {len(stack)}, not {num_layers}")
            setattr(getattr(model, owner), attribute, torch.nn.ModuleList(list(stack)[:num_layers]))
            return model
    raise XrayBenchError(f"bertscore: unsupported architecture {type(model).__name__} (expected a BERT-like encoder)")


class BertScoreMetric:
    """`bertscore_{precision,recall,f1}`: per-sample BERTScore, corpus value = mean (as bert-score reports)."""

    name = "bertscore"
    spec = MetricSpec(kinds=("report",), headline=("bertscore_f1",), options={"progress": "progress"})

    def __init__(
        self,
        model: str | None = None,
        num_layers: int | None = None,
        idf: bool = False,
        baseline: str | None = None,
        batch_size: int = 64,
        device: str | None = None,
        progress: bool = True,
    ):
        self.model_name = model or os.environ.get(MODEL_ENV) or DEFAULT_MODEL
        flags = () if self.model_name == DEFAULT_MODEL else ("--bertscore-model", self.model_name)
        self.model_dir = local_model_dir(
            "bertscore", self.model_name, option="model", env=MODEL_ENV, fetch=fetch_command("bertscore", *flags)
        )
        layers = num_layers if num_layers is not None else os.environ.get(LAYERS_ENV) or default_layers(self.model_name)
        if layers is None:
            raise XrayBenchError(
                f"bertscore: no recommended layer known for {self.model_name!r}; "
                f"set the option `num_layers` or the environment variable {LAYERS_ENV}"
            )
        try:
            self.num_layers = int(layers)
        except ValueError as exc:
            raise XrayBenchError(f"bertscore: num_layers must be an integer, not {layers!r}") from exc
        self.idf = bool(idf)
        self.baseline = read_baseline(baseline, self.num_layers) if baseline else None
        self.baseline_path = baseline
        self.scorer = BertScorer(self.model_dir, self.num_layers, device=pick_device(device), batch_size=batch_size)
        self.progress = progress

    def compute(self, candidates: Sequence[str], references: Sequence[Sequence[str]]) -> np.ndarray:
        """(n, 3) P, R, F per candidate (best over its references), rescaled when a baseline is set."""
        torch = self.scorer.torch
        flat_refs = [r for group in references for r in group]
        texts = list(dict.fromkeys([*candidates, *flat_refs]))
        ids = [self.scorer.encode(t) for t in texts]
        embedded = dict(zip(texts, self.scorer.embed(ids, self.progress), strict=True))
        weight_of = self._weights(dict(zip(texts, ids, strict=True)), flat_refs)
        hyps = [c for c, group in zip(candidates, references, strict=True) for _ in group]
        scores = self.scorer.match(
            [embedded[h] for h in hyps],
            [embedded[r] for r in flat_refs],
            [weight_of(h) for h in hyps],
            [weight_of(r) for r in flat_refs],
        )
        best = []
        start = 0
        for group in references:
            best.append(torch.from_numpy(scores[start : start + len(group)]).max(dim=0).values)
            start += len(group)
        out = torch.stack(best) if best else torch.zeros((0, 3))
        if self.baseline is not None:
            base = torch.tensor(self.baseline, dtype=torch.float32)
            out = (out - base) / (1 - base)
        return out.numpy().astype(np.float64)

    def _weights(self, ids: dict[str, list[int]], flat_refs: list[str]) -> Any:
        """text -> per-token weight tensor: 1 (0 for [CLS]/[SEP]) or the idf over the references."""
        torch = self.scorer.torch
        tokenizer = self.scorer.tokenizer
        if self.idf:
            df = Counter(token for ref in flat_refs for token in set(ids[ref]))
            m = len(flat_refs)
            unseen = math.log(m + 1)
            table = {token: math.log((m + 1) / (count + 1)) for token, count in df.items()}
            return lambda text: torch.tensor([table.get(t, unseen) for t in ids[text]], dtype=torch.float32)
        special = {tokenizer.sep_token_id, tokenizer.cls_token_id}
        return lambda text: torch.tensor([0.0 if t in special else 1.0 for t in ids[text]], dtype=torch.float32)

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        if len(samples) != len(predictions):
            raise ValueError(f"{len(samples)} samples but {len(predictions)} predictions")
        references = [[r or "" for r in s.all_references()] or [""] for s in samples]
        values = self.compute([p.answer or "" for p in predictions], references)
        details = {
            "model": self.model_name,
            "num_layers": self.num_layers,
            "idf": self.idf,
            "rescaled_with": self.baseline_path,
        }
        return {
            f"bertscore_{stat}": Scores.mean(f"bertscore_{stat}", values[:, k], **details)
            for k, stat in enumerate(("precision", "recall", "f1"))
        }
