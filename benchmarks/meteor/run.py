"""METEOR on 2,000 realistic report pairs: whole-process time of ours vs pycocoevalcap, same run.

Each contender runs in a fresh Python process (imports, JVM start and table loading included), with
`coco` tokenization: pycocoevalcap = `PTBTokenizer` + `Meteor`, ours = `MeteorMetric(tokenizer="coco")`.
Also prints where the jar's and the native port's time goes, checks the values agree, and proves the
native port on `--proof` generated pairs: its segment statistics must equal the jar's exactly, both on
the raw report texts and on their `coco` tokenization.

    .venv/bin/python benchmarks/meteor/run.py [--n 2000] [--backends jar-filtered,native] [--proof 3000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

REFERENCE = """
import json, sys
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
from pycocoevalcap.meteor.meteor import Meteor
pairs = json.load(open(sys.argv[1]))
gts = {i: [{"caption": r}] for i, (r, _) in enumerate(pairs)}
res = {i: [{"caption": h}] for i, (_, h) in enumerate(pairs)}
tok = PTBTokenizer()
score, _ = Meteor().compute_score(tok.tokenize(gts), tok.tokenize(res))
print(json.dumps({"meteor": score}))
"""

OURS = """
import json, sys
from xraybench.metrics.meteor import MeteorMetric
pairs = json.load(open(sys.argv[1]))
scores = MeteorMetric(tokenizer="coco", backend=sys.argv[2]).score_texts([h for _, h in pairs], [[r] for r, _ in pairs])
print(json.dumps({"meteor": scores.value}))
"""

BREAKDOWN = """
import json, sys, time
from xraybench.metrics.meteor import MeteorJar
from xraybench.metrics.tokenize import tokenize_batch
pairs = json.load(open(sys.argv[1]))
hyps = [" ".join(t) for t in tokenize_batch([h for _, h in pairs])]
refs = [[" ".join(t)] for t in tokenize_batch([r for r, _ in pairs])]
t0 = time.perf_counter()
jar = MeteorJar()
jar.stats(["a"], [["a"]])
t1 = time.perf_counter()
lines = jar.stats(hyps, refs)
t2 = time.perf_counter()
jar.evaluate(lines)
t3 = time.perf_counter()
print(json.dumps({"start_s": t1 - t0, "segments_s": t2 - t1, "eval_s": t3 - t2}))
"""


NATIVE_BREAKDOWN = """
import json, sys, time
t0 = time.perf_counter()
from xraybench.metrics.meteor import shared_native
from xraybench.metrics.tokenize import tokenize_batch
pairs = json.load(open(sys.argv[1]))
hyps = [" ".join(t) for t in tokenize_batch([h for _, h in pairs])]
refs = [[" ".join(t)] for t in tokenize_batch([r for r, _ in pairs])]
t1 = time.perf_counter()
native = shared_native()
t2 = time.perf_counter()
native.stats(hyps, refs)
t3 = time.perf_counter()
native.stats(hyps, refs)
t4 = time.perf_counter()
print(json.dumps({"import_tok_s": t1 - t0, "load_s": t2 - t1, "segments_s": t3 - t2, "again_s": t4 - t3}))
"""


def prove_native(n: int) -> None:
    """Segment statistics of the native port vs the jar's, on raw and on coco-tokenized texts."""
    from reports import report_pairs

    from xraybench.metrics.meteor import MeteorJar, corpus_meteor, parse_stats, shared_native
    from xraybench.metrics.tokenize import tokenize_batch

    pairs = report_pairs(n, seed=99)
    raw_h, raw_r = [h for _, h in pairs], [r for r, _ in pairs]
    jar = MeteorJar()
    for name, hyps, refs in (
        ("raw", raw_h, raw_r),
        ("coco", [" ".join(t) for t in tokenize_batch(raw_h)], [" ".join(t) for t in tokenize_batch(raw_r)]),
    ):
        expected = parse_stats(jar.stats(hyps, [[r] for r in refs]))
        mine = shared_native().stats(hyps, [[r] for r in refs])
        differ = int((mine != expected).any(axis=1).sum())
        delta = abs(corpus_meteor(mine) - corpus_meteor(expected))
        print(
            f"proof [{name}]: {n} pairs, segments with any statistic different from the jar: {differ}, "
            f"corpus |delta| {delta:.1e}"
        )
        if differ:
            raise SystemExit("native METEOR differs from the jar")
    jar.close()


def run(code: str, *args: str) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    return time.perf_counter() - start, json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--backends", default="jar-filtered,native", help="comma-separated backends of ours to time")
    parser.add_argument("--proof", type=int, default=3000, help="pairs for the native-vs-jar proof (0: skip)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per contender; the minimum counts")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from reports import report_pairs

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(report_pairs(args.n, seed=2024), handle)
    data = handle.name

    backends = args.backends.split(",")
    times: dict[str, list[float]] = {name: [] for name in ["pycocoevalcap", *backends]}
    values: dict[str, float] = {}
    for _ in range(args.repeats):  # interleaved, so load changes on a shared machine hit all contenders
        seconds, out = run(REFERENCE, data)
        times["pycocoevalcap"].append(seconds)
        values["pycocoevalcap"] = out["meteor"]
        for backend in backends:
            seconds, out = run(OURS, data, backend)
            times[backend].append(seconds)
            values[backend] = out["meteor"]
    ref_s, ref = min(times["pycocoevalcap"]), {"meteor": values["pycocoevalcap"]}
    print(f"pycocoevalcap PTBTokenizer+Meteor: {ref_s:6.2f} s  meteor={ref['meteor']:.6f}")
    for backend in backends:
        ours_s, ours = min(times[backend]), {"meteor": values[backend]}
        delta = abs(ours["meteor"] - ref["meteor"])
        print(
            f"xraybench MeteorMetric[{backend}]:   {ours_s:6.2f} s  meteor={ours['meteor']:.6f}  "
            f"|delta|={delta:.2e}  speed-up x{ref_s / ours_s:.2f}"
        )
    _, parts = run(BREAKDOWN, data)
    print(
        "jar time split: start-up (JVM + resources) {start_s:.2f} s, {n} segments {segments_s:.2f} s, "
        "EVAL {eval_s:.3f} s".format(n=args.n, **parts)
    )
    _, parts = run(NATIVE_BREAKDOWN, data)
    print(
        "native time split: imports + coco tokenization {import_tok_s:.2f} s, resources from the cache "
        "{load_s:.2f} s, {n} segments {segments_s:.2f} s (same batch again, pairs cached: {again_s:.2f} s)".format(
            n=args.n, **parts
        )
    )
    Path(data).unlink()
    if args.proof:
        prove_native(args.proof)


if __name__ == "__main__":
    main()
