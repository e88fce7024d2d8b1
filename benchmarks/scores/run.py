"""Benchmark: the paper's answer score and classification bootstrap CIs against reference code.

1. `answer_score(variant="paper")` on 3,000 realistic VQA-style pairs versus the same formula
   computed with nltk's sentence BLEU (method 2) and rouge-score's ROUGE-1 (the reference packages).
2. Bootstrap 95% CIs (1,000 rounds) of micro-F1, macro-F1 and macro-AUROC on a ChestX-ray14-sized
   test set (25,596 samples x 14 labels) versus recomputing each round with scikit-learn
   (measured on 20 rounds and extrapolated, since 1,000 rounds of scikit-learn take minutes).
Prints the time of each and the ratio. Run: .venv/bin/python benchmarks/scores/run.py
"""

from __future__ import annotations

import random
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from xraybench.metrics.answer_score import answer_score  # noqa: E402
from xraybench.metrics.bootstrap import bootstrap_cis  # noqa: E402
from xraybench.metrics.classification import CXR14_LABELS, ClassificationMetric  # noqa: E402
from xraybench.records import Prediction, Sample  # noqa: E402

PHRASES = ["small left pleural effusion", "right lower lobe consolidation", "no acute cardiopulmonary process",
           "mild cardiomegaly with pulmonary vascular congestion", "left upper lobe nodule measuring 1.5 cm",
           "stable appearance of the mediastinal contours", "bibasilar atelectasis", "the right lung apex",
           "moderate pulmonary edema", "endotracheal tube terminates 4 cm above the carina"]  # fmt: skip


def answer_pairs(n: int) -> list[tuple[str, str]]:
    rng = random.Random(0)
    pairs = []
    for _ in range(n):
        truth = " ".join(rng.sample(PHRASES, rng.randint(1, 3)))
        words = truth.split()
        answer = " ".join(w for w in words if rng.random() < 0.8) + (
            " " + rng.choice(PHRASES) if rng.random() < 0.5 else ""
        )
        pairs.append((answer, truth))
    return pairs


def reference_answer_score(pairs: list[tuple[str, str]]) -> list[float]:
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    from rouge_score import rouge_scorer

    smooth = SmoothingFunction().method2
    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)
    out = []
    for answer, truth in pairs:
        answer = answer or " "  # the released reward turns an empty answer into one space
        b1 = sentence_bleu([truth], answer, weights=(1, 0, 0, 0), smoothing_function=smooth)
        b4 = sentence_bleu([truth], answer, weights=(0.25,) * 4, smoothing_function=smooth)
        out.append((b1 + b4 + scorer.score(answer, truth)["rouge1"].fmeasure) / 3)
    return out


def bench_answer_score() -> None:
    pairs = [p for p in answer_pairs(3000) if len(p[1].split()) > 2]
    start = time.perf_counter()
    ours = [answer_score(a, t, "paper") for a, t in pairs]
    t_ours = time.perf_counter() - start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        ref = reference_answer_score(pairs)
        t_ref = time.perf_counter() - start
    delta = max(abs(x - y) for x, y in zip(ours, ref, strict=True))
    print(
        f"answer_score paper, {len(pairs)} pairs: ours {t_ours:.3f}s, nltk+rouge-score {t_ref:.3f}s, "
        f"ratio {t_ref / t_ours:.1f}x, max |delta| {delta:.1e}"
    )


def bench_bootstrap() -> None:
    rng = np.random.default_rng(0)
    n, k = 25_596, len(CXR14_LABELS)
    truth = rng.random((n, k)) < 0.05
    probs = np.clip(truth * 0.3 + rng.random((n, k)) * 0.7, 0, 1).round(3)
    pred = probs > 0.5
    samples = [Sample(f"s{i}", "cxr14", "cxr14", "test", "q", "|".join(np.array(CXR14_LABELS)[truth[i]]) or "No Finding")
               for i in range(n)]  # fmt: skip
    preds = [Prediction(f"s{i}", "cxr14", "m", "", "|".join(np.array(CXR14_LABELS)[pred[i]]) or "No Finding",
                        scores=dict(zip(CXR14_LABELS, probs[i].tolist(), strict=True))) for i in range(n)]  # fmt: skip
    scores = ClassificationMetric().score(samples, preds)
    names = ["cls_micro_f1", "cls_macro_f1", "cls_macro_auroc"]
    start = time.perf_counter()
    ours = bootstrap_cis({name: scores[name] for name in names}, n_rounds=1000, seed=0)
    t_ours = time.perf_counter() - start

    from sklearn.metrics import f1_score, roc_auc_score

    rounds = 20
    draw = np.random.default_rng(0).integers(0, n, size=(rounds, n))
    start = time.perf_counter()
    for idx in draw:
        f1_score(truth[idx], pred[idx], average="micro", zero_division=0)
        f1_score(truth[idx], pred[idx], average="macro", zero_division=0)
        roc_auc_score(truth[idx], probs[idx], average="macro")
    t_ref = (time.perf_counter() - start) * 1000 / rounds
    print(
        f"bootstrap CIs, 3 metrics x 1000 rounds x {n} samples: ours {t_ours:.2f}s, scikit-learn per round "
        f"{t_ref:.1f}s (extrapolated from {rounds} rounds), ratio {t_ref / t_ours:.1f}x"
    )
    for name, (low, high) in ours.items():
        print(f"  {name}: {scores[name].value:.4f} [{low:.4f}, {high:.4f}]")


if __name__ == "__main__":
    bench_answer_score()
    bench_bootstrap()
