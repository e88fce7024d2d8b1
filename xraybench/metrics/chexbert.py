"""CheXbert labeler and the clinical-efficacy scores computed from its labels.

CheXbert (Smit et al. 2020) is bert-base-uncased with 14 linear heads on the [CLS] embedding: 13 heads with
4 classes (blank, positive, negative, uncertain) and a No Finding head with 2 (blank, positive). The public
checkpoint `chexbert.pth` holds `{"model_state_dict": ...}` saved from `DataParallel`, so keys read
`module.bert.*` and `module.linear_heads.N.{weight,bias}`. Reports are prepared as CheXbert does:
whitespace collapsed, WordPiece-tokenized, [CLS] ... [SEP], cut to 511 tokens + [SEP]; an empty report is
[CLS] [SEP]. The argmax class maps to the CheXpert convention: blank -> None, positive -> 1,
negative -> 0, uncertain -> -1.

`chexbert_{micro,macro}_{precision,recall,f1}_{5,14}` are then computed by the same code as our offline
labeler's `chexpert_*` scores (`xraybench.metrics.clinical`), with the same `uncertain_as` policy.

Weights are never downloaded: the checkpoint comes from the option `checkpoint`, XRAYBENCH_CHEXBERT_CHECKPOINT
or the Hugging Face cache (`chexbert.pth` of StanfordAIMI/RRG_scorers); the tokenizer and BERT config from
the option `tokenizer`, XRAYBENCH_CHEXBERT_TOKENIZER or `bert-base-uncased` in the Hugging Face cache.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from xraybench.errors import DataFormatError
from xraybench.lazy import require
from xraybench.metrics._local_models import fetch_command, local_file, local_model_dir, pick_device
from xraybench.metrics.base import MetricSpec, Scores
from xraybench.metrics.chexpert import CHEXPERT_LABELS
from xraybench.metrics.clinical import ChexpertMetric, positive_matrix
from xraybench.progress import progress_bar
from xraybench.records import Prediction, Sample

CHECKPOINT_ENV = "XRAYBENCH_CHEXBERT_CHECKPOINT"
TOKENIZER_ENV = "XRAYBENCH_CHEXBERT_TOKENIZER"
HUB_CHECKPOINT = ("StanfordAIMI/RRG_scorers", "chexbert.pth")
DEFAULT_TOKENIZER = "bert-base-uncased"
MAX_TOKENS = 512
# head output index -> CheXpert value (the No Finding head only has the first two classes)
CLASS_VALUES: tuple[int | None, ...] = (None, 1, 0, -1)


def prepare(report: str) -> str:
    """CheXbert's report cleaning: newlines to spaces, runs of whitespace collapsed, stripped."""
    return re.sub(r"\s+", " ", report.strip().replace("\n", " ")).strip()


def read_checkpoint(path: Path, hidden_size: int | None = None) -> tuple[dict[str, Any], list[tuple[Any, Any]]]:
    """(BERT state dict, [(head weight, head bias)] * 14) from a `chexbert.pth`-layout checkpoint."""
    torch = require("torch", "hf", "CheXbert")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle / zip errors of a file that is not a torch checkpoint
        raise DataFormatError(path, f"not a readable torch checkpoint ({exc})") from exc
    state = loaded.get("model_state_dict", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict):
        raise DataFormatError(path, "expected a dict with 'model_state_dict' (the chexbert.pth layout)")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    bert = {k.removeprefix("bert."): v for k, v in state.items() if k.startswith("bert.")}
    bert.pop("embeddings.position_ids", None)  # a buffer older transformers saved; rebuilt on load
    heads = []
    for i, label in enumerate(CHEXPERT_LABELS):
        weight, bias = state.get(f"linear_heads.{i}.weight"), state.get(f"linear_heads.{i}.bias")
        classes = 2 if i == len(CHEXPERT_LABELS) - 1 else 4
        if weight is None or bias is None or tuple(weight.shape)[0] != classes or tuple(bias.shape) != (classes,):
            raise DataFormatError(
                path,
                f"expected linear_heads.{i} ({label}) with {classes} outputs, as in chexbert.pth",
                record=f"module.linear_heads.{i}",
            )
        heads.append((weight, bias))
    if not bert:
        raise DataFormatError(path, "no 'module.bert.*' weights, expected the chexbert.pth layout")
    return bert, heads


class ChexbertLabeler:
    """Labels reports with CheXbert; batched, CPU or GPU."""

    def __init__(self, checkpoint: Path, bert_dir: Path, *, device: str = "cpu", batch_size: int = 32):
        torch = require("torch", "hf", "CheXbert")
        transformers = require("transformers", "hf", "CheXbert")
        self.torch, self.device, self.batch_size = torch, device, batch_size
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(bert_dir, local_files_only=True)
        config = transformers.BertConfig.from_pretrained(bert_dir, local_files_only=True)
        bert_state, heads = read_checkpoint(checkpoint)
        self.bert = transformers.BertModel(config)
        result = self.bert.load_state_dict(bert_state, strict=False)
        if result.missing_keys or result.unexpected_keys:
            raise DataFormatError(
                checkpoint,
                f"BERT weights do not fit the config of {bert_dir} (missing {result.missing_keys[:3]}, "
                f"unexpected {result.unexpected_keys[:3]}); expected bert-base-uncased's layout",
            )
        self.bert.eval().to(device)
        self.heads = [(w.to(device, torch.float32), b.to(device, torch.float32)) for w, b in heads]
        self.max_tokens = min(MAX_TOKENS, config.max_position_embeddings)

    def encode(self, report: str) -> list[int]:
        """Token ids as CheXbert builds them (see the module docstring)."""
        tok = self.tokenizer
        pieces = tok.tokenize(prepare(report))
        if not pieces:
            return [tok.cls_token_id, tok.sep_token_id]
        ids = [tok.cls_token_id, *tok.convert_tokens_to_ids(pieces), tok.sep_token_id]
        return ids if len(ids) <= self.max_tokens else ids[: self.max_tokens - 1] + [tok.sep_token_id]

    def _forward(self, reports: Sequence[str], progress: bool, what: str) -> list[Any]:
        """Per report, the [CLS] vector of BERT's last layer (`what="embedding"`, a CPU tensor) or the 14 heads'
        logits on it (`what="logits"`); padded batches, longest first. Eval mode: no dropout, as CheXbert labels."""
        torch = self.torch
        ids = [self.encode(r) for r in reports]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out: list[Any] = [None] * len(ids)
        with progress_bar(len(ids), "CheXbert", enabled=progress and len(ids) > self.batch_size) as advance:
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                width = len(ids[batch[0]])
                tokens = torch.zeros((len(batch), width), dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    tokens[row, : len(ids[i])] = torch.tensor(ids[i])
                    mask[row, : len(ids[i])] = 1
                with torch.no_grad():
                    cls = self.bert(tokens.to(self.device), attention_mask=mask.to(self.device))[0][:, 0, :]
                    if what == "embedding":
                        rows: list[Any] = list(cls.float().cpu())
                    else:
                        head_logits = [(cls @ w.T + b).cpu() for w, b in self.heads]
                        rows = [[h[row] for h in head_logits] for row in range(len(batch))]
                for row, i in enumerate(batch):
                    out[i] = rows[row]
                advance(len(batch))
        return out

    def logits(self, reports: Sequence[str], progress: bool = False) -> list[list[Any]]:
        """Per report, the 14 heads' logits (CPU tensors)."""
        return self._forward(reports, progress, "logits")

    def embeddings(self, reports: Sequence[str], progress: bool = False) -> list[Any]:
        """Per report, the [CLS] embedding the heads read (a CPU float tensor): what CXR-Report-Metric's
        CheXbert `encode.py` saves for SembScore."""
        return self._forward(reports, progress, "embedding")

    def label(self, reports: Sequence[str], progress: bool = False) -> list[list[int | None]]:
        """Per report, 14 values in CheXpert order: 1, 0, -1 (uncertain) or None (blank)."""
        return [[CLASS_VALUES[int(h.argmax())] for h in row] for row in self.logits(reports, progress)]


def load_labeler(
    checkpoint: str | None = None, tokenizer: str | None = None, *, device: str | None = None, batch_size: int = 32
) -> ChexbertLabeler:
    """A labeler from local weights only (see the module docstring for where they are looked for)."""
    fetch = fetch_command("chexbert")  # fetches chexbert.pth and the default tokenizer
    weights = local_file(
        "chexbert", checkpoint, option="checkpoint", env=CHECKPOINT_ENV, hub_file=HUB_CHECKPOINT, fetch=fetch
    )
    default = (tokenizer or os.environ.get(TOKENIZER_ENV) or DEFAULT_TOKENIZER) == DEFAULT_TOKENIZER
    bert_dir = local_model_dir(
        "chexbert", tokenizer, option="tokenizer", env=TOKENIZER_ENV, default=DEFAULT_TOKENIZER,
        fetch=fetch if default else None,
    )  # fmt: skip
    return ChexbertLabeler(weights, bert_dir, device=pick_device(device), batch_size=batch_size)


class ChexbertMetric:
    """CheXbert-label P/R/F1 (micro, macro; 5 and 14 observations), scored as `chexpert_*` is."""

    name = "chexbert"
    spec = MetricSpec(
        kinds=("report",),
        headline=("chexbert_micro_f1_14", "chexbert_micro_f1_5"),
        options={"uncertain_as": "uncertain_as", "progress": "progress"},
    )

    def __init__(
        self,
        checkpoint: str | None = None,
        tokenizer: str | None = None,
        uncertain_as: Literal["positive", "negative"] = "positive",
        batch_size: int = 32,
        device: str | None = None,
        progress: bool = True,
    ):
        self.scorer = ChexpertMetric(uncertain_as)
        self.labeler = load_labeler(checkpoint, tokenizer, device=device, batch_size=batch_size)
        self.progress = progress

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        if len(samples) != len(predictions):
            raise ValueError(f"{len(samples)} samples but {len(predictions)} predictions")
        texts = [p.answer or "" for p in predictions] + [s.reference or "" for s in samples]
        unique = list(dict.fromkeys(texts))
        rows = dict(zip(unique, self.labeler.label(unique, self.progress), strict=True))
        matrix = positive_matrix([rows[t] for t in texts], self.scorer.uncertain_as)
        scores = self.scorer.score_matrices(matrix[: len(predictions)], matrix[len(predictions) :])
        out: dict[str, Scores] = {}
        for name, s in scores.items():
            new = name.replace("chexpert_", "chexbert_", 1)
            out[new] = Scores(new, s.value, s.per_sample, s.aggregate, {**s.details, "labeler": "CheXbert"})
        return out
