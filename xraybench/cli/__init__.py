"""The `xraybench` command. Each sub-command lives in its own module, imported only when used."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from xraybench import __version__
from xraybench.errors import XrayBenchError

# name -> (module, one-line help). A new command = one module with add_parser/run + one line here.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("xraybench.cli.run", "evaluate a model on tasks/suites into a resumable run folder"),
    "list": ("xraybench.cli.list_cmd", "list tasks, suites, datasets, model adapters and metrics"),
    "samples": ("xraybench.cli.samples", "print a task's samples (for running external models)"),
    "validate": ("xraybench.cli.validate", "check a predictions file against tasks without scoring"),
    "score": ("xraybench.cli.score", "score hypothesis/reference text files"),
    "label": ("xraybench.cli.label", "label reports with the offline CheXpert-style labeler"),
    "weights": ("xraybench.cli.weights", "download model-based metrics' weights (chexbert, radgraph, bertscore)"),
    "compare": ("xraybench.cli.compare", "paired bootstrap / randomisation test between two runs"),
    "render": (
        "xraybench.cli.render",
        "draw a prediction's boxes and reasoning steps on its X-ray, or a contact sheet",
    ),
    "review": ("xraybench.cli.review", "blinded expert reader studies: create, serve the rating page, results"),
    "reasoning-score": ("xraybench.cli.reasoning_score", "judge-based scores of a run's reasoning"),
    "arena": ("arena.cli", "Report Arena: judge battles, export them, ratings with CIs, leaderboards"),
    "submit": ("xraybench.cli.submit", "validate, score and judge a model's predictions into an arena"),
    "judge-audit": ("arena.audit_cli", "audit a judge with injected report errors, position and length bias"),
    "train": ("medix_train.cli", "DeepMedix-R1 trainer: build-data, synthesize, sft, coldstart, grpo, init-tiny"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xraybench", description="Evaluate chest X-ray foundation models.")
    parser.add_argument("--version", action="version", version=f"xraybench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        module.add_parser(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in COMMANDS else None
    parser = build_parser(only=command)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        code = int(module.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below, not at interpreter exit
        return code
    except BrokenPipeError:
        # `xraybench ... --json | head`: the reader stopped reading; not an error of ours, and no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command killed by a closed pipe
    except XrayBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume", file=sys.stderr)
        return 130
    except OSError as exc:
        from xraybench.files import is_disk_full

        if not is_disk_full(exc):
            raise
        # a writer that does not name its file itself (they should: `xraybench.files`); never a raw traceback
        where = f" writing {exc.filename}" if exc.filename else ""
        print(
            f"error: no space left on device{where}. What was finished before is kept (every store and run folder"
            " is written append-only or replaced atomically); free some space and rerun the same command.",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
