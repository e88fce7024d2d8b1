"""Build tiny, randomly initialised BERT checkpoints fully offline, for the model-based metric tests.

Nothing is downloaded: the WordPiece vocabulary is written here (special tokens, every character with and
without the `##` prefix so any ASCII text tokenizes, and common report words from an invented corpus), the
model comes from a narrow `BertConfig`. `build_tiny_bert` writes a folder laid out like a Hugging Face BERT
release (what BERTScore and the CheXbert tokenizer load); `build_tiny_chexbert` writes a checkpoint in the
layout of the public CheXbert `chexbert.pth` (a DataParallel `bert_labeler` state dict);
`build_tiny_roberta` writes a RoBERTa release (byte-level BPE trained here), BERTScore's default family.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

from xraybench.lazy import require

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# Invented report text (not from any dataset): gives the vocabulary whole words, so texts are not all characters.
CORPUS = """\
the heart size is normal and the lungs are clear there is no pleural effusion or pneumothorax
no acute cardiopulmonary abnormality mild cardiomegaly with small bilateral pleural effusions
patchy opacity in the right lower lobe may represent atelectasis or consolidation pulmonary edema is present
the mediastinal contours are within normal limits degenerative changes of the thoracic spine
an endotracheal tube terminates above the carina a nasogastric tube enters the stomach
left basilar opacity pneumonia cannot be excluded lung lesion fracture enlarged cardiomediastinum
"""


def vocabulary() -> list[str]:
    """The WordPiece vocabulary in id order (deterministic)."""
    chars = string.ascii_lowercase + string.digits + string.punctuation
    words = sorted({w for w in CORPUS.split() if len(w) > 1})
    return SPECIAL_TOKENS + list(chars) + [f"##{c}" for c in chars] + words


def build_tiny_bert(
    out_dir: str | Path, seed: int = 0, *, layers: int = 3, hidden: int = 32, max_length: int = 128
) -> Path:
    """Write a tiny BERT (config, weights, WordPiece tokenizer) to `out_dir` and return it.

    `max_length` is both the tokenizer's `model_max_length` and the position table size, so truncation
    of long reports is exercised with short inputs.
    """
    torch = require("torch", "hf", "the tiny BERT")
    transformers = require("transformers", "hf", "the tiny BERT")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vocab = vocabulary()
    vocab_file = out / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizer(vocab=str(vocab_file), do_lower_case=True, model_max_length=max_length)
    tokenizer.save_pretrained(out)
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=max_length,
        pad_token_id=vocab.index("[PAD]"),
    )
    torch.manual_seed(seed)
    transformers.BertModel(config).eval().save_pretrained(out)
    return out


def build_tiny_chexbert(path: str | Path, bert_dir: str | Path, seed: int = 0) -> Path:
    """Write a random CheXbert checkpoint for the tiny BERT in `bert_dir` (see `build_tiny_bert`).

    The layout is the public `chexbert.pth`: `{"model_state_dict": ...}` with DataParallel keys
    `module.bert.*` (including the `position_ids` buffer older transformers saved) and
    `module.linear_heads.N.{weight,bias}`: 13 heads of 4 classes, then No Finding with 2.
    """
    torch = require("torch", "hf", "the tiny CheXbert")
    transformers = require("transformers", "hf", "the tiny CheXbert")
    config = transformers.BertConfig.from_pretrained(bert_dir)
    config.initializer_range = 0.5  # large weights: the [CLS] embedding, hence the labels, depends on the text
    torch.manual_seed(seed)
    bert = transformers.BertModel(config)
    state = {f"module.bert.{k}": v for k, v in bert.state_dict().items()}
    state["module.bert.embeddings.position_ids"] = torch.arange(config.max_position_embeddings).unsqueeze(0)
    for i in range(14):
        head = torch.nn.Linear(config.hidden_size, 4 if i < 13 else 2)
        torch.nn.init.normal_(head.weight, std=1.0)  # spread-out logits: every class gets predicted
        state[f"module.linear_heads.{i}.weight"] = head.weight.detach()
        state[f"module.linear_heads.{i}.bias"] = head.bias.detach()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": 0, "model_state_dict": state}, out)
    return out


def build_tiny_roberta(out_dir: str | Path, seed: int = 0, *, layers: int = 3, hidden: int = 32) -> Path:
    """Write a tiny RoBERTa (config, weights, vocab.json + merges.txt trained on `CORPUS`) to `out_dir`."""
    torch = require("torch", "hf", "the tiny RoBERTa")
    tokenizers = require("tokenizers", "hf", "the tiny RoBERTa")
    transformers = require("transformers", "hf", "the tiny RoBERTa")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE())
    bpe.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(CORPUS.splitlines(), trainer=trainer)
    model = json.loads(bpe.to_str())["model"]
    (out / "vocab.json").write_text(json.dumps(model["vocab"]), encoding="utf-8")
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    tokenizer = transformers.RobertaTokenizer(
        vocab=str(out / "vocab.json"), merges=str(out / "merges.txt"), model_max_length=128
    )
    tokenizer.save_pretrained(out)
    config = transformers.RobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        max_position_embeddings=130,  # RoBERTa's positions start after the padding index
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    transformers.RobertaModel(config).eval().save_pretrained(out)
    return out
