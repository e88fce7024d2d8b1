"""Lexical benchmark: the whole COCO-style pipeline, ours vs pycocoevalcap, in the same run.

Two sets of `--n` pairs (default 2,000 each; tests/metrics/fixtures_lexical.py builds both):
- `iu`: real reports, each IU X-ray / Open-i study's findings + impression text paired with another
  study's (`iu_report_pairs`, read in place from ../shared/data/iu_xray/indiana_reports.csv; skipped with
  a message when the file is missing);
- `generated`: invented report pairs (`report_pairs`, deterministic).
Anchor: pycocoevalcap's PTBTokenizer (Java) + Bleu(4) + Meteor + Rouge + Cider.
Ours: `coco` tokenization + BLEU + METEOR + ROUGE-L + CIDEr-D through the metric registry.
Prints both totals, per-stage times (the best of `--repeat` runs of each pipeline, alternating, so
that a busy moment on a shared machine does not decide a ratio; METEOR: the first run), the ratio, and
the difference per metric. Our BLEU, the first metric run, also pays for the 1..4-gram counts it shares with CIDEr-D.
Then the whole process: each pipeline as a fresh Python process (interpreter, imports, JVM, resources
and the work), alternating, best of `--repeat` wall times (the headline) and, beside them, the best CPU
seconds of each child (user + system, all threads; less moved by other jobs on a shared machine)
(`--no-process` skips this part).

    .venv/bin/python benchmarks/lexical/run.py [--sets iu,generated] [--n 2000] [--no-meteor] [--repeat 3]
        [--no-process]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "metrics"))

from fixtures_lexical import IU_REPORTS, iu_report_pairs, report_pairs  # noqa: E402

SETS = ("iu", "generated")


def reference(hyps: list[str], refs: list[list[str]], meteor: bool) -> tuple[dict[str, float], dict[str, float]]:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    times: dict[str, float] = {}
    t = time.perf_counter()
    tok = PTBTokenizer()
    gts = tok.tokenize({i: [{"caption": r} for r in rs] for i, rs in enumerate(refs)})
    res = tok.tokenize({i: [{"caption": h}] for i, h in enumerate(hyps)})
    times["tokenize"] = time.perf_counter() - t
    values: dict[str, float] = {}
    t = time.perf_counter()
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    times["bleu"] = time.perf_counter() - t
    values.update({f"bleu_{k + 1}": bleu[k] for k in range(4)})
    if meteor:
        from pycocoevalcap.meteor.meteor import Meteor

        t = time.perf_counter()
        scorer = Meteor()
        values["meteor"], _ = scorer.compute_score(gts, res)
        times["meteor"] = time.perf_counter() - t
        del scorer
    t = time.perf_counter()
    values["rouge_l"], _ = Rouge().compute_score(gts, res)
    times["rouge_l"] = time.perf_counter() - t
    t = time.perf_counter()
    values["cider"], _ = Cider().compute_score(gts, res)
    times["cider"] = time.perf_counter() - t
    return values, times


def ours(hyps: list[str], refs: list[list[str]], meteor: bool) -> tuple[dict[str, float], dict[str, float]]:
    from xraybench.metrics import METRICS
    from xraybench.metrics._lexical import TokenCache
    from xraybench.metrics.api import build_records

    times: dict[str, float] = {}
    samples, predictions = build_records(hyps, refs)
    cache = TokenCache()
    t = time.perf_counter()
    cache.batch(hyps, "coco")
    cache.batch([r for rs in refs for r in rs], "coco")
    times["tokenize"] = time.perf_counter() - t
    values: dict[str, float] = {}
    names = ["bleu", "meteor", "rouge_l", "cider"] if meteor else ["bleu", "rouge_l", "cider"]
    for name in names:
        t = time.perf_counter()
        metric = METRICS.get(name)(cache=cache)
        values.update({k: s.value for k, s in metric.score(samples, predictions).items()})
        times[name] = time.perf_counter() - t
    return values, times


def best_times(best: dict[str, float], times: dict[str, float]) -> dict[str, float]:
    """The best time per stage so far; METEOR keeps its first, cold run (the native scorer keeps the
    pairs it aligned for the rest of the process, so a repeat in one process would measure a cache)."""
    return {k: v if k not in best else best[k] if k == "meteor" else min(v, best[k]) for k, v in times.items()}


def whole_process(args: argparse.Namespace, hyps: list[str], refs: list[list[str]]) -> None:
    """Wall time of each pipeline as a fresh process (the `--pipeline` mode of this script), given the
    generated pairs in a JSON file so that neither child spends time generating them."""
    best: dict[str, float] = {}
    cpu: dict[str, float] = {}  # CPU seconds (user + system, all threads) of the child: steadier under load
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "pairs.json"
        data.write_text(json.dumps([hyps, refs]))
        for _ in range(max(args.repeat, 1)):
            for pipeline in ("pycocoevalcap", "ours"):
                command = [sys.executable, __file__, "--pipeline", pipeline, "--data", str(data)]
                command += ["--no-meteor"] if args.no_meteor else []
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True)
                best[pipeline] = min(time.perf_counter() - t, best.get(pipeline, float("inf")))
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                cpu[pipeline] = min(used, cpu.get(pipeline, float("inf")))
    ratio, cpu_ratio = best["pycocoevalcap"] / best["ours"], cpu["pycocoevalcap"] / cpu["ours"]
    print(
        f"whole process: pycocoevalcap {best['pycocoevalcap']:.2f} s, ours {best['ours']:.2f} s, {ratio:.1f}x"
        f" (CPU: {cpu['pycocoevalcap']:.2f} s vs {cpu['ours']:.2f} s, {cpu_ratio:.1f}x)"
    )


def pairs(name: str, n: int) -> tuple[list[str], list[list[str]]] | None:
    if name == "generated":
        return report_pairs(n, seed=2024)
    if not IU_REPORTS.is_file():
        print(f"iu: skipped, {IU_REPORTS} not found")
        return None
    return iu_report_pairs(n, seed=0)


def compare(args: argparse.Namespace, name: str, hyps: list[str], refs: list[list[str]]) -> None:
    meteor = not args.no_meteor
    ref_times: dict[str, float] = {}
    our_times: dict[str, float] = {}
    for _ in range(max(args.repeat, 1)):
        ref_values, times = reference(hyps, refs, meteor)
        ref_times = best_times(ref_times, times)
        our_values, times = ours(hyps, refs, meteor)
        our_times = best_times(our_times, times)
    print(
        f"\n== {name}: {len(hyps)} report pairs, METEOR {'included' if meteor else 'left out'}, best of {max(args.repeat, 1)} runs"
    )
    print(f"{'stage':10s} {'pycocoevalcap s':>16s} {'ours s':>10s} {'ratio':>8s}")
    for stage in ref_times:
        print(
            f"{stage:10s} {ref_times[stage]:16.3f} {our_times[stage]:10.3f} {ref_times[stage] / our_times[stage]:8.1f}x"
        )
    total_ref, total_ours = sum(ref_times.values()), sum(our_times.values())
    print(f"{'total':10s} {total_ref:16.3f} {total_ours:10.3f} {total_ref / total_ours:8.1f}x")
    for key in ref_values:
        delta = abs(ref_values[key] - our_values[key])
        print(f"{key:8s} pycocoevalcap {ref_values[key]:.6f} ours {our_values[key]:.6f} |delta| {delta:.2e}")
    if not args.no_process:
        whole_process(args, hyps, refs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, from {', '.join(SETS)}")
    parser.add_argument("--n", type=int, default=2000, help="pairs per set")
    parser.add_argument("--no-meteor", action="store_true", help="leave METEOR out of both pipelines")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each pipeline; the best time per stage counts")
    parser.add_argument("--no-process", action="store_true", help="skip the whole-process timing")
    parser.add_argument("--pipeline", choices=["pycocoevalcap", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    meteor = not args.no_meteor
    if args.pipeline:  # one pipeline, once: the child process of `whole_process`
        hyps, refs = json.loads(args.data.read_text())
        (reference if args.pipeline == "pycocoevalcap" else ours)(hyps, refs, meteor)
        return
    for name in args.sets.split(","):
        if name not in SETS:
            parser.error(f"unknown set {name!r}; expected one of {', '.join(SETS)}")
        data = pairs(name, args.n)
        if data is not None:
            compare(args, name, *data)


if __name__ == "__main__":
    main()
