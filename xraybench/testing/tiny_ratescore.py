"""Tiny, randomly initialised RaTEScore checkpoints built offline, in the official models' classes and layouts.

- NER: Angelakeke/RaTE-NER-Deberta is a `DebertaV2ForTokenClassification` (deberta-v3-base: relative attention,
  p2c + c2p, layer-norm relative embeddings, no absolute positions) with the 11 BIO labels below; here a narrow one.
- Entity encoder: FremyCompany/BioLORD-2023-C is an `MPNetModel` (all-mpnet-base-v2 lineage); here a narrow one.
Both tokenizers are the WordPiece tokenizer of `tiny_bert` (DeBERTa-v3's SentencePiece model cannot be trained
offline without `sentencepiece`); its [CLS] / [SEP] are the special tokens the package's NER post-processing skips.
"""

from __future__ import annotations

from pathlib import Path

from xraybench.lazy import require
from xraybench.testing.tiny_bert import vocabulary

# RaTE-NER-Deberta's labels, in its config's id order
RATE_NER_LABELS = ("B-ABNORMALITY", "I-ABNORMALITY", "B-NON-ABNORMALITY", "I-NON-ABNORMALITY", "B-DISEASE",
                   "I-DISEASE", "B-NON-DISEASE", "I-NON-DISEASE", "B-ANATOMY", "I-ANATOMY", "O")  # fmt: skip


def _tokenizer(out: Path, max_length: int) -> int:
    transformers = require("transformers", "hf", "the tiny RaTEScore models")
    vocab = vocabulary()
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    transformers.BertTokenizer(
        vocab=str(out / "vocab.txt"), do_lower_case=True, model_max_length=max_length
    ).save_pretrained(out)
    return len(vocab)


def build_tiny_rate_ner(out_dir: str | Path, seed: int = 0, *, hidden: int = 32, layers: int = 2) -> Path:
    """A random DeBERTa-v2 token classifier with RaTE-NER's labels and deberta-v3's attention settings."""
    torch = require("torch", "hf", "the tiny RaTEScore models")
    transformers = require("transformers", "hf", "the tiny RaTEScore models")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    size = _tokenizer(out, 512)
    config = transformers.DebertaV2Config(
        vocab_size=size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
        intermediate_size=2 * hidden, max_position_embeddings=512, relative_attention=True, position_buckets=16,
        norm_rel_ebd="layer_norm", share_att_key=True, pos_att_type=["p2c", "c2p"], position_biased_input=False,
        max_relative_positions=-1, layer_norm_eps=1e-7, type_vocab_size=0, pad_token_id=0,
        id2label=dict(enumerate(RATE_NER_LABELS)), label2id={k: i for i, k in enumerate(RATE_NER_LABELS)},
    )  # fmt: skip
    torch.manual_seed(seed)
    transformers.DebertaV2ForTokenClassification(config).eval().save_pretrained(out)
    return out


def build_tiny_biolord(out_dir: str | Path, seed: int = 0, *, hidden: int = 32, layers: int = 2) -> Path:
    """A random MPNet encoder (BioLORD-2023-C's class)."""
    torch = require("torch", "hf", "the tiny RaTEScore models")
    transformers = require("transformers", "hf", "the tiny RaTEScore models")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    size = _tokenizer(out, 512)
    config = transformers.MPNetConfig(
        vocab_size=size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
        intermediate_size=2 * hidden, max_position_embeddings=514, pad_token_id=0,
    )  # fmt: skip
    torch.manual_seed(seed)
    transformers.MPNetModel(config).eval().save_pretrained(out)
    return out
