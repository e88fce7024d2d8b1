"""Benchmark: cost per 1,000 real IU X-ray report pairs of the model-based metrics, against the reference packages.

No real weights can be had here, and a model's cost depends on its architecture and the token lengths, not on its
weights: so every model is built at its real size with random weights — CheXbert = bert-base-uncased (12 layers x
768) with its 14 heads in the `chexbert.pth` layout; BERTScore for RadCliQ = distilroberta-base's size (6 layers x
768, layer 5 used); RadGraph = the `radgraph` package's model folder (`xraybench.testing.tiny_radgraph`: DyGIE++'s
config as RadGraph was trained with it, over a BERT-base encoder, BiomedBERT's size). Their WordPiece vocabulary
(30,522 entries, as bert-base-uncased and BiomedBERT) is trained here on the IU reports themselves, so token counts
are realistic for radiology text (real bert-base-uncased splits a few more words). Pairs: 2n studies' findings +
impression (`iu_report_pairs`' shuffled texts), the first n against the other n, read in place from
`../shared/data/iu_xray/indiana_reports.csv`; one pair = one hypothesis and one reference text to encode.

Timed in one process, same inputs:
  * `chexbert` (all 12 P/R/F1 scores) — ours (batched, longest first) vs f1chexbert's `get_label`, one report a call;
  * `semb_score` — ours vs the [CLS] embeddings one report at a time (CXR-Report-Metric's encode.py batches 18
    with a DataLoader; one at a time is f1chexbert's path) + the cosine;
  * `bertscore` at RadCliQ's settings — ours vs `bert_score.score` (bert-score 0.3.13);
  * `radgraph` (simple/partial/complete) — ours vs the package's `F1RadGraph(reward_level="all")`, same model
    (both annotate through the package's DyGIE, one report per forward pass; ours annotates each distinct text once);
  * `radcliq` (RadCliQ-v1 and its four inputs) through our metric, and RadGraph's share of its time.
Run: `.venv/bin/python benchmarks/model_metrics/run.py [--n 1000] [--anchor-n 200] [--device cpu] [--metrics a,b]`.
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

METRICS = ("chexbert", "semb", "bertscore", "radgraph", "radcliq")


def build_models(work: Path, calibration: list[str]) -> tuple[Path, Path, Path, Path]:
    """(bert-base-sized folder with an IU-trained WordPiece vocabulary, its chexbert.pth, a 6-layer BERT folder,
    a RadGraph model folder over the bert-base-sized encoder)."""
    from xraybench.testing.tiny_bert import build_tiny_chexbert
    from xraybench.testing.tiny_radgraph import build_radgraph, build_wordpiece_bert

    bert = build_wordpiece_bert(work / "bert-base", iu_texts())
    small = build_wordpiece_bert(work / "distilroberta-size", iu_texts(), layers=6)
    radgraph = build_radgraph(work / "radgraph", bert, calibration)
    return bert, build_tiny_chexbert(work / "chexbert.pth", bert), small, radgraph


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
    parser.add_argument("--metrics", default=",".join(METRICS), help=f"comma-separated subset of {', '.join(METRICS)}")
    args = parser.parse_args()
    chosen = set(args.metrics.split(","))
    if chosen - set(METRICS):
        parser.error(f"--metrics: unknown {', '.join(sorted(chosen - set(METRICS)))}; known: {', '.join(METRICS)}")
    if not IU_REPORTS.is_file():
        sys.exit(f"real IU X-ray reports not found at {IU_REPORTS}: nothing to measure")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from xraybench.metrics._local_models import hub_offline
    from xraybench.metrics.bertscore import BertScoreMetric
    from xraybench.metrics.chexbert import ChexbertMetric
    from xraybench.metrics.radcliq import RadCliqMetric
    from xraybench.metrics.radgraph import RadGraphMetric
    from xraybench.metrics.semb import SembScoreMetric
    from xraybench.records import Prediction, Sample

    # 2n distinct studies, the first n against the next n: no text is on both sides (iu_report_pairs pairs each
    # study with the next one, so every reference is also a hypothesis — halving the work of a metric that
    # encodes each distinct text once, which a real run's model outputs and references do not share)
    texts, _ = iu_report_pairs(2 * args.n, seed=0)
    hyps, refs1 = texts[: args.n], texts[args.n :]
    samples = [Sample(str(i), "report", "iu_xray", "test", "", r) for i, r in enumerate(refs1)]
    predictions = [Prediction(str(i), "report", "m", h, h) for i, h in enumerate(hyps)]
    per_k = 1000 / len(hyps)
    a = min(args.anchor_n, len(hyps))
    rows: list[tuple[str, float, float | None, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        calibration, _ = iu_report_pairs(20, seed=1)  # for the RadGraph heads' output biases (see tiny_radgraph)
        bert, checkpoint, small, radgraph_dir = build_models(Path(tmp), calibration)
        device = args.device

        if "chexbert" in chosen:
            chexbert = ChexbertMetric(str(checkpoint), str(bert), device=device, progress=False)
            t_ours, _ = timed(chexbert.score, samples, predictions)
            # anchor: f1chexbert's labelling loop (one report per forward pass) on the same network
            anchor = None
            try:
                import pandas as pd
                from f1chexbert.f1chexbert import generate_attention_masks, tokenize

                labeler = chexbert.labeler
                tokenizer_class = type(labeler.tokenizer)
                patched = "encode_plus" not in vars(tokenizer_class)
                if patched:  # transformers 5 removed it; what 4 did on a token list (for this anchor only)
                    tokenizer_class.encode_plus = lambda self, tokens: {
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

                try:
                    t_anchor, _ = timed(f1chexbert_labels, hyps[:a] + refs1[:a])
                finally:
                    if patched:
                        del tokenizer_class.encode_plus
                anchor = t_anchor * 1000 / a
            except ImportError as exc:
                print(f"f1chexbert anchor not run: {exc}")
            rows.append(
                ("chexbert (12 scores)", t_ours * per_k, anchor, "f1chexbert get_label loop, one report a pass")
            )

        if "semb" in chosen:
            semb = SembScoreMetric(str(checkpoint), str(bert), device=device, progress=False)
            t_ours, _ = timed(semb.score, samples, predictions)

            def one_at_a_time(texts_h: list[str], texts_r: list[str]) -> np.ndarray:
                vec = [semb.labeler.embeddings([t])[0].numpy() for t in texts_h + texts_r]
                h, r = np.stack(vec[: len(texts_h)]), np.stack(vec[len(texts_h) :])
                return (h * r).sum(1) / (np.linalg.norm(h, axis=1) * np.linalg.norm(r, axis=1))

            t_anchor, _ = timed(one_at_a_time, hyps[:a], refs1[:a])
            rows.append(("semb_score", t_ours * per_k, t_anchor * 1000 / a, "[CLS] one report a pass + cosine"))

        if "bertscore" in chosen:
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

        if "radgraph" in chosen:
            radgraph = RadGraphMetric(model_dir=str(radgraph_dir), device=device, progress=False)
            t_rg, ours_rg = timed(radgraph.score, samples, predictions)
            anchor = None
            try:
                from radgraph import F1RadGraph

                from xraybench.metrics.radgraph import transformers5_compat

                with hub_offline("RadGraph F1"), transformers5_compat():  # the package needs it as ours does
                    f1radgraph = F1RadGraph(
                        reward_level="all",
                        model_type="radgraph",
                        model_cache_dir=str(radgraph_dir),
                        cuda=-1 if device == "cpu" else 0,
                    )
                with transformers5_compat():
                    t_anchor, (_, package_rg, _, _) = timed(lambda: f1radgraph(refs=refs1[:a], hyps=hyps[:a]))
                anchor = t_anchor * 1000 / a
                for k, level in enumerate(("simple", "partial", "complete")):  # same model: the values must agree
                    if list(ours_rg[f"radgraph_f1_{level}"].per_sample[:a]) != list(package_rg[k]):
                        sys.exit(f"radgraph_f1_{level}: ours differs from F1RadGraph on the same pairs")
            except ImportError as exc:
                print(f"F1RadGraph anchor not run: {exc}")
            rows.append(
                ("radgraph (simple, partial, complete)", t_rg * per_k, anchor, "radgraph F1RadGraph, same model")
            )

        if "radcliq" in chosen:
            baseline = None
            try:
                import bert_score

                baseline = str(Path(bert_score.__file__).parent / "rescale_baseline" / "en" / "distilroberta-base.tsv")
            except ImportError:
                sys.exit("radcliq needs bert-score's distilroberta-base rescale file (dev extra)")
            radcliq = RadCliqMetric(
                checkpoint=str(checkpoint), tokenizer=str(bert), radgraph_dir=str(radgraph_dir),
                bertscore_model=str(small), bertscore_num_layers=5, bertscore_baseline=baseline,
                device=device, progress=False,
            )  # fmt: skip
            annotate, spent = radcliq.radgraph.annotate, []

            def timed_annotate(texts: list[str]) -> list[dict]:
                t, out = timed(annotate, texts)
                spent.append(t)
                return out

            radcliq.radgraph.annotate = timed_annotate
            t_cliq, _ = timed(radcliq.score, samples, predictions)
            rows.append(("radcliq (RadCliQ-v1 and its four inputs)", t_cliq * per_k, None, ""))
            rows.append((f"of which RadGraph ({sum(spent) / t_cliq:.0%})", sum(spent) * per_k, None, ""))

    print(f"\n{len(hyps)} IU X-ray pairs ({len(set(hyps + refs1))} distinct texts), device {device}, torch threads {torch.get_num_threads()}, "
          f"{platform.processor() or platform.machine()}")  # fmt: skip
    print("| metric | ours s / 1,000 pairs | anchor s / 1,000 pairs | ratio | anchor |")
    print("|---|---:|---:|---:|---|")
    for name, ours, anchor, what in rows:
        ratio = f"{anchor / ours:.1f}x" if anchor else "-"
        anchor_s = f"{anchor:.1f}" if anchor else "-"
        print(f"| {name} | {ours:.1f} | {anchor_s} | {ratio} | {what} |")


if __name__ == "__main__":
    main()
