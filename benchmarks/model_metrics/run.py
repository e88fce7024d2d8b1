"""Benchmark: cost per 1,000 real IU X-ray report pairs of the model-based metrics, against the reference packages.

No real weights can be had here, and a model's cost depends on its architecture and the token lengths, not on its
weights: so every model is built at its real size with random weights — CheXbert = bert-base-uncased (12 layers x
768) with its 14 heads in the `chexbert.pth` layout; BERTScore for RadCliQ = distilroberta-base's size (6 layers x
768, layer 5 used). Their WordPiece vocabulary (30,522 entries, as bert-base-uncased) is trained here on the IU
reports themselves, so token counts are realistic for radiology text (real bert-base-uncased splits a few more
words). Pairs: `iu_report_pairs` (each study's findings + impression against another study's), read in place
from `../shared/data/iu_xray/indiana_reports.csv`; one pair = one hypothesis and one reference text to encode.

Timed in one process, same inputs:
  * `chexbert` (all 12 P/R/F1 scores) — ours (batched, longest first) vs f1chexbert's `get_label`, one report a call;
  * `semb_score` — ours vs the [CLS] embeddings one report at a time (CXR-Report-Metric's encode.py batches 18
    with a DataLoader; one at a time is f1chexbert's path) + the cosine;
  * `bertscore` at RadCliQ's settings — ours vs `bert_score.score` (bert-score 0.3.13);
  * RadCliQ-v1 without RadGraph (no RadGraph weights here: its share is not measured) = SembScore + BERTScore +
    BLEU-2 + the formula.
Run: `.venv/bin/python benchmarks/model_metrics/run.py [--n 1000] [--anchor-n 200] [--device cpu]`.
Prints seconds per 1,000 pairs and ours / anchor ratios; the anchor runs on the first `--anchor-n` pairs and is
scaled to 1,000.
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


def build_models(work: Path) -> tuple[Path, Path, Path]:
    """(bert-base-sized folder with an IU-trained WordPiece vocabulary, its chexbert.pth, a 6-layer BERT folder)."""
    import tokenizers
    import torch
    import transformers

    from xraybench.testing.tiny_bert import build_tiny_chexbert

    wordpiece = tokenizers.BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(iu_texts(), vocab_size=30522, show_progress=False)
    folders = []
    for name, layers in (("bert-base", 12), ("distilroberta-size", 6)):
        out = work / name
        out.mkdir(parents=True)
        wordpiece.save_model(str(out))
        tok = transformers.BertTokenizer(vocab_file=str(out / "vocab.txt"), do_lower_case=True, model_max_length=512)
        tok.save_pretrained(out)
        config = transformers.BertConfig(vocab_size=30522, num_hidden_layers=layers)
        torch.manual_seed(0)
        transformers.BertModel(config).eval().save_pretrained(out)
        folders.append(out)
    return folders[0], build_tiny_chexbert(work / "chexbert.pth", folders[0]), folders[1]


def timed(fn, *args):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--anchor-n", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if not IU_REPORTS.is_file():
        sys.exit(f"real IU X-ray reports not found at {IU_REPORTS}: nothing to measure")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from xraybench.metrics.bertscore import BertScoreMetric
    from xraybench.metrics.chexbert import ChexbertMetric
    from xraybench.metrics.radcliq import bleu2_scores, radcliq_v1
    from xraybench.metrics.semb import SembScoreMetric, semb_scores
    from xraybench.records import Prediction, Sample

    hyps, refs = iu_report_pairs(args.n, seed=0)
    refs1 = [r[0] for r in refs]
    samples = [Sample(str(i), "report", "iu_xray", "test", "", r) for i, r in enumerate(refs1)]
    predictions = [Prediction(str(i), "report", "m", h, h) for i, h in enumerate(hyps)]
    per_k = 1000 / len(hyps)
    a = min(args.anchor_n, len(hyps))
    rows: list[tuple[str, float, float | None, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        bert, checkpoint, small = build_models(Path(tmp))
        device = args.device

        chexbert = ChexbertMetric(str(checkpoint), str(bert), device=device, progress=False)
        t_ours, _ = timed(chexbert.score, samples, predictions)
        # anchor: f1chexbert's labelling loop (one report per forward pass) on the same network
        anchor = None
        try:
            import pandas as pd
            from f1chexbert.f1chexbert import generate_attention_masks, tokenize

            labeler = chexbert.labeler
            if not hasattr(type(labeler.tokenizer), "encode_plus"):  # transformers 5 removed it; what 4 did here:
                type(labeler.tokenizer).encode_plus = lambda self, tokens: {
                    "input_ids": [self.cls_token_id, *self.convert_tokens_to_ids(tokens), self.sep_token_id]
                }

            def f1chexbert_labels(texts: list[str]) -> list[list[int]]:
                out = []
                for text in texts:
                    ids = tokenize(pd.Series([text]), labeler.tokenizer)
                    batch = torch.LongTensor(ids)
                    mask = generate_attention_masks(batch, [batch.shape[1]], device)
                    with torch.no_grad():
                        cls = labeler.bert(batch.to(device), attention_mask=mask)[0][:, 0, :]
                        out.append([int((cls @ w.T + b).argmax()) for w, b in labeler.heads])
                return out

            t_anchor, _ = timed(f1chexbert_labels, hyps[:a] + refs1[:a])
            anchor = t_anchor * 1000 / a
        except ImportError as exc:
            print(f"f1chexbert anchor not run: {exc}")
        rows.append(("chexbert (12 scores)", t_ours * per_k, anchor, "f1chexbert get_label loop, one report a pass"))

        semb = SembScoreMetric(str(checkpoint), str(bert), device=device, progress=False)
        t_ours, _ = timed(semb.score, samples, predictions)

        def one_at_a_time(texts_h: list[str], texts_r: list[str]) -> np.ndarray:
            vec = [semb.labeler.embeddings([t])[0].numpy() for t in texts_h + texts_r]
            h, r = np.stack(vec[: len(texts_h)]), np.stack(vec[len(texts_h) :])
            return (h * r).sum(1) / (np.linalg.norm(h, axis=1) * np.linalg.norm(r, axis=1))

        t_anchor, _ = timed(one_at_a_time, hyps[:a], refs1[:a])
        rows.append(("semb_score", t_ours * per_k, t_anchor * 1000 / a, "[CLS] one report a pass + cosine"))

        bs = BertScoreMetric(model=str(small), num_layers=5, device=device, progress=False)
        t_bs, f_bs = timed(lambda: bs.compute(hyps, [[r] for r in refs1]))
        anchor = None
        try:
            import bert_score

            t_anchor, _ = timed(
                lambda: bert_score.score(hyps[:a], refs1[:a], model_type=str(small), num_layers=5, device=device)
            )
            anchor = t_anchor * 1000 / a
        except ImportError:
            pass
        rows.append(("bertscore (distilroberta-base size, layer 5)", t_bs * per_k, anchor, "bert-score 0.3.13"))

        labeler = semb.labeler
        t_rest, _ = timed(
            lambda: radcliq_v1(
                np.column_stack(
                    [np.zeros(len(hyps)), f_bs[:, 2], semb_scores(labeler, hyps, refs1), bleu2_scores(hyps, refs1)]
                )
            )
        )
        rows.append(("radcliq_v1 without RadGraph (BERTScore + SembScore + BLEU-2)", (t_bs + t_rest) * per_k, None, ""))

    print(f"\n{len(hyps)} IU X-ray pairs, device {device}, torch threads {torch.get_num_threads()}, "
          f"{platform.processor() or platform.machine()}")  # fmt: skip
    print("| metric | ours s / 1,000 pairs | anchor s / 1,000 pairs | ratio | anchor |")
    print("|---|---:|---:|---:|---|")
    for name, ours, anchor, what in rows:
        ratio = f"{anchor / ours:.1f}x" if anchor else "-"
        anchor_s = f"{anchor:.1f}" if anchor else "-"
        print(f"| {name} | {ours:.1f} | {anchor_s} | {ratio} | {what} |")


if __name__ == "__main__":
    main()
