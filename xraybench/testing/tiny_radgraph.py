"""Randomly initialised RadGraph models built offline, in the folder layout the `radgraph` package unpacks.

`RadGraph(model_type="radgraph", model_cache_dir=DIR)` reads `DIR/radgraph/config.json` (an AllenNLP DyGIE++
config), `DIR/radgraph/vocabulary/` (AllenNLP vocabulary files) and `DIR/radgraph/weights.th` (the DyGIE state
dict, loaded strictly). `build_radgraph` writes those three with the package's own classes, so the state dict has
exactly the keys and shapes of a model built from that config.

The config is DyGIE++'s `training_config/template.libsonnet` (dwadden/dygiepp) as RadGraph was trained with it —
span width 8, 20-dim width features, feed-forwards of 2 x 150 (dropout 0.4), relation pruning at 0.5 spans per
word, loss weights NER 0.2 / relation 1.0 / coref 0 / events 0, target task `relation` (the radgraph configs of
sameerkhanna786/RadGraph2 and StanfordMIMI/RaLEs), wordpieces capped at 512 — with the encoder
microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fulltext (BERT-base: 12 x 768, 12 heads, 3,072, a 30,522-entry
uncased WordPiece vocabulary). Label namespaces `radgraph__ner_labels` (the null label "" first, then RadGraph's 4
entity types) and `radgraph__relation_labels` (its 3 relation types); the package tags every report with dataset
"radgraph". The order of the labels inside the real vocabulary files is not public; here it is the order below.

Two differences from the released model, both needed offline: the encoder's `model_name` in config.json is the
path of a local BERT folder (random, the size given) instead of the hub name; and the output biases of the NER and
relation scorers are shifted. The null label scores a fixed 0, and a random head puts a positive score on one of
the 4 entity labels for nearly every span (404 entities in a 54-word IU report: every span of up to 8 words), and
on one of the 3 relation labels for nearly every pair. `build_radgraph` measures the scores on calibration reports
through the package and shifts each head's bias (the same for all its labels, so which label wins stays the random
head's) until a set share of spans / pairs is labelled: random weights then predict a sparse set of entities and
relations, as a trained model does, and F1 values between real reports are neither all 0 nor all 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from xraybench.lazy import require
from xraybench.metrics.radgraph import transformers5_compat

ENCODER = "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract-fulltext"
ENTITY_LABELS = ("OBS-DP", "ANAT-DP", "OBS-DA", "OBS-U")
RELATION_LABELS = ("modify", "located_at", "suggestive_of")
DATASET = "radgraph"  # the `dataset` the package's preprocess_reports gives every report


def radgraph_config(encoder: str = ENCODER, max_wordpieces: int = 512) -> dict[str, Any]:
    """The DyGIE++ config the radgraph package reads (see the module docstring)."""
    bert = {"type": "pretrained_transformer_mismatched", "model_name": encoder, "max_length": max_wordpieces}
    return {
        "dataset_reader": {"type": "dygie", "token_indexers": {"bert": bert}, "max_span_width": 8},
        "model": {
            "type": "dygie",
            "embedder": {"token_embedders": {"bert": bert}},
            "initializer": {"regexes": [["_span_width_embedding.weight", {"type": "xavier_normal"}]]},
            "module_initializer": {
                "regexes": [[".*weight", {"type": "xavier_normal"}], [".*weight_matrix", {"type": "xavier_normal"}]]
            },
            "loss_weights": {"ner": 0.2, "relation": 1.0, "coref": 0.0, "events": 0.0},
            "feature_size": 20,
            "max_span_width": 8,
            "target_task": "relation",
            "feedforward_params": {"num_layers": 2, "hidden_dims": 150, "dropout": 0.4},
            "modules": {
                "coref": {"spans_per_word": 0.3, "max_antecedents": 100, "coref_prop": 0},
                "ner": {},
                "relation": {"spans_per_word": 0.5},
                "events": {
                    "trigger_spans_per_word": 0.3,
                    "argument_spans_per_word": 0.8,
                    "loss_weights": {"trigger": 0.2, "arguments": 1.0},
                },
            },
        },
    }


def build_wordpiece_bert(
    out_dir: str | Path,
    texts: Iterable[str],
    *,
    seed: int = 0,
    layers: int = 12,
    hidden: int = 768,
    heads: int = 12,
    intermediate: int = 3072,
    vocab_size: int = 30522,
) -> Path:
    """A random uncased BERT (default: BERT-base, BiomedBERT's size) whose WordPiece vocabulary is trained on `texts`."""
    tokenizers = require("tokenizers", "hf", "the random RadGraph encoder")
    torch = require("torch", "hf", "the random RadGraph encoder")
    transformers = require("transformers", "hf", "the random RadGraph encoder")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wordpiece = tokenizers.BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(texts, vocab_size=vocab_size, show_progress=False)
    wordpiece.save_model(str(out))
    # transformers 5 takes the vocabulary file as `vocab` (it ignores `vocab_file`: every word would be [UNK])
    tok = transformers.BertTokenizer(vocab=str(out / "vocab.txt"), do_lower_case=True, model_max_length=512)
    tok.save_pretrained(out)
    config = transformers.BertConfig(
        vocab_size=max(vocab_size, len(tok)),  # the real table size even where the corpus yields fewer pieces
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=512,
    )
    torch.manual_seed(seed)
    transformers.BertModel(config).eval().save_pretrained(out)
    return out


@transformers5_compat()  # the package's AllenNLP tokenizer code, as the metric runs it
def build_radgraph(
    out_dir: str | Path,
    encoder_dir: str | Path,
    calibration_texts: Sequence[str],
    *,
    seed: int = 0,
    entity_rate: float = 0.08,
    relation_rate: float = 0.5,
) -> Path:
    """Write `out_dir/radgraph/` (config.json, vocabulary/, weights.th) over the BERT in `encoder_dir`.

    The NER output bias is set so that a fraction `entity_rate` of the candidate spans (every span of up to 8 words)
    of `calibration_texts` gets an entity label, and the relation output bias so that a fraction `relation_rate`
    of the candidate span pairs gets a relation label (a relation reaches the annotation only between two
    entities). Returns `out_dir`, the folder `RadGraph(model_cache_dir=...)` and our metric's `model_dir` take.
    """
    torch = require("torch", "hf", "the random RadGraph model")
    package = require("radgraph", "radgraph", "the random RadGraph model")
    from radgraph.allennlp.data import Vocabulary
    from radgraph.allennlp.modules import text_field_embedders, token_embedders
    from radgraph.dygie.models import dygie

    folder = Path(out_dir) / "radgraph"
    folder.mkdir(parents=True, exist_ok=True)
    config = radgraph_config(str(Path(encoder_dir).resolve()))
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    vocab = Vocabulary()  # AllenNLP's default: namespaces ending in "labels" / "tags" are not padded
    vocab.add_tokens_to_namespace(["", *ENTITY_LABELS], f"{DATASET}__ner_labels")  # "" (no entity) must be index 0
    vocab.add_tokens_to_namespace(list(RELATION_LABELS), f"{DATASET}__relation_labels")
    vocab.save_to_files(str(folder / "vocabulary"))
    (folder / "vocabulary" / ".lock").unlink(missing_ok=True)  # AllenNLP's file lock, not part of the layout

    torch.manual_seed(seed)
    bert = config["model"]["embedder"]["token_embedders"]["bert"]
    embedder = text_field_embedders.BasicTextFieldEmbedder(
        {"bert": token_embedders.PretrainedTransformerMismatchedEmbedder(bert["model_name"], bert["max_length"])}
    )
    params = {
        k: v for k, v in config["model"].items() if k not in ("type", "embedder", "initializer", "module_initializer")
    }
    model = dygie.DyGIE(vocab=vocab, embedder=embedder, **params)
    torch.save(model.state_dict(), folder / "weights.th")

    # the scores the package computes on the calibration texts, through its own loader and forward pass
    loaded = package.RadGraph(model_type=DATASET, model_cache_dir=str(out_dir), cuda=-1)
    ner_scorer = loaded.model._ner._ner_scorers[f"{DATASET}__ner_labels"]
    relation = loaded.model._relation
    entity_scores: list[Any] = []
    relation_scores: list[Any] = []
    ner_hook = ner_scorer.register_forward_hook(lambda _m, _i, out: entity_scores.append(out.max(-1).values.flatten()))
    compute = relation._compute_relation_scores

    def record(*args: Any) -> Any:
        scores = compute(*args)  # (1, spans, spans, 1 + labels): the null label's 0 first
        relation_scores.append(scores[..., 1:].max(-1).values.flatten())
        return scores

    relation._compute_relation_scores = record
    with torch.no_grad():
        loaded(list(calibration_texts))
    ner_hook.remove()
    entity_shift = -float(torch.quantile(torch.cat(entity_scores), 1 - entity_rate))
    relation_shift = -float(torch.quantile(torch.cat(relation_scores), 1 - relation_rate))
    with torch.no_grad():  # the same shift for every label: which label wins is the random head's
        model._ner._ner_scorers[f"{DATASET}__ner_labels"][1]._module.bias.add_(entity_shift)
        model._relation._relation_scorers[f"{DATASET}__relation_labels"].bias.add_(relation_shift)
    torch.save(model.state_dict(), folder / "weights.th")
    return Path(out_dir)
