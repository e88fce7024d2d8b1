"""Benchmark: RaTEScore's cost per 1,000 real IU X-ray report pairs on CPU, ours against the RaTEScore package.

No real weights can be had here, and a model's cost depends on its architecture and the token lengths, not on its
weights: so both models are built at their real size with random weights — the NER model as deberta-v3-base
(`DebertaV2ForTokenClassification`, 12 x 768, RaTE-NER's 11 labels), the entity encoder as BioLORD-2023-C's MPNet
(12 x 768). A 30,522-entry WordPiece vocabulary trained on the IU reports stands in for their tokenizers (DeBERTa-v3's
SentencePiece model cannot be built offline here), so token counts are realistic for radiology text. Random weights
tag a different number of entities than the real NER model would, so the embedding share is indicative only.

Timed in one process, same pairs (`iu_report_pairs`, read in place from `../shared/data/iu_xray/`):
  * anchor: the package's `RaTEScore.compute_score` (batch_size 1, its default);
  * ours: `RaTEScoreMetric.score_texts` (the package plus our sentence check per report), batch_size 1 and 16.
Run: `.venv/bin/python benchmarks/ratescore/run.py [--n 100] [--threads 2] [--batches 1,16]`; prints seconds per 1,000 pairs and
ratios, and whether each of ours gives the package's scores.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "metrics"))
from fixtures_lexical import IU_REPORTS, iu_report_pairs, iu_texts  # noqa: E402


def build_models(work: Path) -> tuple[Path, Path]:
    import tokenizers
    import torch
    import transformers

    from xraybench.testing.tiny_ratescore import RATE_NER_LABELS

    wordpiece = tokenizers.BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(iu_texts(), vocab_size=30522, show_progress=False)
    folders = []
    for name in ("ner", "biolord"):
        out = work / name
        out.mkdir(parents=True)
        wordpiece.save_model(str(out))
        tok = transformers.BertTokenizer(vocab=str(out / "vocab.txt"), do_lower_case=True, model_max_length=512)
        tok.save_pretrained(out)
        torch.manual_seed(0)
        if name == "ner":
            config = transformers.DebertaV2Config(
                vocab_size=30522, relative_attention=True, position_buckets=256, norm_rel_ebd="layer_norm",
                share_att_key=True, pos_att_type=["p2c", "c2p"], position_biased_input=False, max_relative_positions=-1,
                layer_norm_eps=1e-7, type_vocab_size=0, pad_token_id=0,
                id2label=dict(enumerate(RATE_NER_LABELS)), label2id={k: i for i, k in enumerate(RATE_NER_LABELS)},
            )  # fmt: skip
            transformers.DebertaV2ForTokenClassification(config).eval().save_pretrained(out)
        else:
            config = transformers.MPNetConfig(vocab_size=30522, pad_token_id=0)
            transformers.MPNetModel(config).eval().save_pretrained(out)
        folders.append(out)
    return folders[0], folders[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--batches", default="1,16", help="our batch sizes to time, comma-separated")
    args = parser.parse_args()
    if not IU_REPORTS.is_file():
        sys.exit(f"real IU X-ray reports not found at {IU_REPORTS}: nothing to measure")
    import torch
    from RaTEScore import RaTEScore

    from xraybench.metrics.ratescore import RaTEScoreMetric

    if args.threads:
        torch.set_num_threads(args.threads)
    hyps, refs = iu_report_pairs(args.n, seed=0)
    refs1 = [r[0] for r in refs]
    ids = [str(i) for i in range(len(hyps))]
    per_k = 1000 / len(hyps)
    with tempfile.TemporaryDirectory() as tmp:
        ner, encoder = build_models(Path(tmp))
        package = RaTEScore(bert_model=str(ner), eval_model=str(encoder), use_gpu=False)
        start = time.perf_counter()
        expected = np.asarray(package.compute_score(hyps, refs1))
        anchor = time.perf_counter() - start
        rows = []
        for batch in [int(b) for b in args.batches.split(",")]:
            metric = RaTEScoreMetric(str(ner), str(encoder), batch_size=batch, device="cpu")
            start = time.perf_counter()
            got = metric.score_texts(hyps, refs1, ids)["ratescore"].per_sample
            rows.append((batch, time.perf_counter() - start, bool(np.array_equal(got, expected)),
                         float(np.max(np.abs(got - expected)))))  # fmt: skip
    print(f"RaTEScore, {len(hyps)} IU pairs, CPU ({platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} torch threads); seconds per 1,000 pairs")  # fmt: skip
    print(f"  package compute_score (batch 1): {anchor * per_k:8.1f}")
    for batch, seconds, equal, diff in rows:
        print(f"  ours, batch_size {batch:2d}:          {seconds * per_k:8.1f}  ratio to the package "
              f"{anchor / seconds:4.2f}x  scores equal: {equal} (max |diff| {diff:.2e})")  # fmt: skip


if __name__ == "__main__":
    main()
