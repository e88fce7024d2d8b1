"""Scoring overhead of `xraybench run --model predictions:FILE` (samples/s, METEOR excluded).

Writes an IU X-ray R2Gen-layout dataset of N invented reports and a predictions file, then times the
whole run (load, align, BLEU/ROUGE-L/CIDEr with PTB-rule tokenization, CheXpert labeling + F1, 1,000-round
bootstrap CIs for every metric, results.json). Anchor, same run and same texts: pycocoevalcap's
Bleu + Rouge + Cider alone (no tokenization, no CIs, no clinical metric).

    .venv/bin/python benchmarks/scoring/run.py [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "meteor"))
from reports import report_pairs  # noqa: E402

from xraybench.runner import RunConfig, run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    pairs = report_pairs(args.n, seed=7)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "iu_xray"
        root.mkdir()
        items = [
            {"id": f"CXR{i}_IM-{i}", "report": ref, "image_path": [f"CXR{i}/0.png"], "split": "test"}
            for i, (ref, _) in enumerate(pairs)
        ]
        train = [
            {"id": "CXR999999_IM-0", "report": "The lungs are clear.", "image_path": ["x/0.png"], "split": "train"}
        ]
        (root / "annotation.json").write_text(json.dumps({"train": train, "val": [], "test": items}))
        preds = Path(tmp) / "preds.jsonl"
        preds.write_text(
            "".join(
                json.dumps({"id": it["id"], "prediction": hyp}) + "\n"
                for it, (_, hyp) in zip(items, pairs, strict=True)
            )
        )
        config = RunConfig(
            model=f"predictions:{preds}",
            tasks=["iu_xray_findings"],
            out=str(Path(tmp) / "run"),
            data_roots=[f"iu_xray={root}"],
            skip_metrics=["meteor"],
            progress=False,
        )
        start = time.perf_counter()
        results = run(config)
        ours = time.perf_counter() - start

    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    gts = {i: [ref] for i, (ref, _) in enumerate(pairs)}
    res = {i: [hyp] for i, (_, hyp) in enumerate(pairs)}
    start = time.perf_counter()
    for scorer in (Bleu(4), Rouge(), Cider()):
        scorer.compute_score(gts, res)
    anchor = time.perf_counter() - start

    metrics = results["tasks"]["iu_xray_findings"]["metrics"]
    print(f"n={args.n} metrics computed: {len(metrics)} (with 95% CIs)")
    print(f"xraybench run, predictions:  {ours:6.2f} s  {args.n / ours:8.0f} samples/s")
    print(f"pycocoevalcap B+R+C only:    {anchor:6.2f} s  {args.n / anchor:8.0f} samples/s")
    print(f"ratio (anchor time / ours):  {anchor / ours:.2f}x")


if __name__ == "__main__":
    main()
