"""`xraybench judge-audit`: how a judge treats known errors, position and length, or how far it agrees with human
preferences (`--preferences`; see `arena.audit` and `arena.preferences`)."""

from __future__ import annotations

import argparse
import json

from xraybench.config import add_arguments, from_namespace


def add_parser(parser: argparse.ArgumentParser) -> None:
    from arena.api import AuditConfig

    add_arguments(parser, AuditConfig)  # `--json`: print audit.json instead of the Markdown summary


def run(args: argparse.Namespace) -> int:
    from arena.api import AuditConfig, run_audit

    config = from_namespace(AuditConfig, args)
    result = run_audit(config)
    report = result.report
    if config.dry_run:
        est = report.estimate
        cost = "unknown price" if est is None or est.cost_usd is None else f"~${est.cost_usd:.4f}"
        calls = 0 if est is None else est.n_calls
        print(f"dry run: {report.n_battles} judgments planned, {report.n_done_before} already in the store, "
              f"{calls} to make ({cost}); no call was made")  # fmt: skip
        return 0
    if config.json:
        print(json.dumps(result.data, indent=2, ensure_ascii=False))
    else:
        markdown = next(p for p in result.written if p.suffix == ".md")  # audit.md, or agreement.md (--preferences)
        print(markdown.read_text(encoding="utf-8"), end="")
        print(f"wrote {', '.join(str(p) for p in result.written)}")
    if report.n_failed or report.n_budget_stopped:
        print("some judgments are missing: rerun the same command to retry them (finished ones are not asked again)")
        return 1
    return 0
