"""`xraybench train ...`: build-data, synthesize, sft, coldstart, grpo and init-tiny.

Each sub-command reads its config object from `--config FILE` (YAML); any field can also be given as an option,
which wins over the file. Options default to "not given" here, so a flag never silently overrides the file
with a dataclass default. Heavy modules (torch, TRL) are imported only when a stage runs.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from xraybench.config import add_arguments, from_namespace
from xraybench.errors import XrayBenchError

STAGES = {"sft": "stage 1: instruction SFT", "coldstart": "stage 2: cold-start reasoning SFT",
          "grpo": "stage 3: GRPO with the DeepMedix-R1 reward"}  # fmt: skip


def add_parser(parser: argparse.ArgumentParser) -> None:
    from medix_train.config import GRPOStageConfig, SFTStageConfig, StageCommand, TrainCommand
    from medix_train.data import BuildDataConfig
    from medix_train.synthesize import SynthesizeConfig
    from medix_train.tiny import InitTinyConfig

    sub = parser.add_subparsers(dest="train_command", metavar="TRAIN_COMMAND")
    build = sub.add_parser("build-data", help="training records from the datasets' train splits (leakage-checked)")
    _config_options(build, BuildDataConfig, TrainCommand)  # YAML: shared keys + a section per stage
    synth = sub.add_parser("synthesize", help="cold-start reasoning samples from a teacher LLM, filtered")
    _config_options(synth, SynthesizeConfig, TrainCommand)
    for name, help_text in STAGES.items():
        stage = sub.add_parser(name, help=help_text, description=f"{help_text} (TRL; resumable; HF checkpoints)")
        _config_options(stage, GRPOStageConfig if name == "grpo" else SFTStageConfig, StageCommand)
    tiny = sub.add_parser("init-tiny", help="write a tiny random Qwen2.5-VL with an offline tokenizer/processor")
    add_arguments(tiny, InitTinyConfig)


def _config_options(parser: argparse.ArgumentParser, cls: type, command: type) -> None:
    add_arguments(parser, command)
    add_arguments(parser, cls)
    parser.set_defaults(**{f.name: None for f in dataclasses.fields(cls)})


def _overrides(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if getattr(args, f.name, None) is not None}


def run(args: argparse.Namespace) -> int:
    command = getattr(args, "train_command", None)
    if command is None:
        raise XrayBenchError("xraybench train: choose a sub-command: build-data, synthesize, sft, coldstart, grpo, "
                             "init-tiny (see xraybench train --help)")  # fmt: skip
    if command == "init-tiny":
        return _init_tiny(args)
    if command == "build-data":
        return _build_data(args)
    if command == "synthesize":
        return _synthesize(args)
    return _train(command, args)


def _init_tiny(args: argparse.Namespace) -> int:
    from medix_train.tiny import InitTinyConfig, init_tiny

    config = from_namespace(InitTinyConfig, args)
    files = init_tiny(config.out, seed=config.seed)
    print(f"tiny Qwen2.5-VL (seed {config.seed}) written to {config.out}:")
    for path in files:
        print(f"  {path.name} ({path.stat().st_size:,} bytes)")
    return 0


def _build_data(args: argparse.Namespace) -> int:
    from medix_train.config import TrainCommand
    from medix_train.data import BuildDataConfig, build_data, load_build_config

    if args.stage is None:
        raise XrayBenchError("build-data needs --stage sft|coldstart|grpo")
    overrides = _overrides(args, BuildDataConfig)
    stage = overrides.pop("stage")
    path = build_data(load_build_config(from_namespace(TrainCommand, args).config, stage, **overrides))
    print(f"records: {path} (summary: {path}.summary.json)")
    return 0


def _synthesize(args: argparse.Namespace) -> int:
    from medix_train.config import TrainCommand
    from medix_train.synthesize import SynthesizeConfig, load_synthesize_config, synthesize

    path = from_namespace(TrainCommand, args).config
    report = synthesize(load_synthesize_config(path, **_overrides(args, SynthesizeConfig)))
    for line in report.summary_lines():
        print(line)
    # 3 = incomplete (failed calls, budget, another process): scripts must not start cold-start SFT on part of it
    return 3 if report.n_pending and not report.dry_run else 0


def _train(stage: str, args: argparse.Namespace) -> int:
    from medix_train.config import GRPOStageConfig, SFTStageConfig, StageCommand, load_config
    from medix_train.train import run_coldstart, run_grpo, run_sft

    cls = GRPOStageConfig if stage == "grpo" else SFTStageConfig
    command = from_namespace(StageCommand, args)
    config = load_config(cls, command.config, **_overrides(args, cls))
    runner = {"sft": run_sft, "coldstart": run_coldstart, "grpo": run_grpo}[stage]
    result = runner(config, force=command.force)  # type: ignore[operator]
    how = (
        "already finished"
        if result.already_finished
        else (f"resumed from {result.resumed_from}" if result.resumed_from else "trained")
    )
    print(f"{stage}: {how}; step {result.global_step}; model: {result.output_dir} "
          f"(evaluate: xraybench run --model hf:{result.output_dir} --template reasoning --tasks ...)")  # fmt: skip
    return 0
