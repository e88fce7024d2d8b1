"""Typed configs for the training stages, read from YAML, overridable from the command line.

One dataclass per command (`sft` and `coldstart` share `SFTStageConfig`; `grpo` has `GRPOStageConfig`) drives
both `xraybench train ...` and the Python API (`medix_train.train.run_sft(config)`). Every setting that changes
the result is a field here with an explicit value, so a run never silently inherits a TRL default (TRL's
defaults differ from the authors' RL setup: bf16 on, 8 generations, KL beta 0, max_length 1024, ...).
YAML files are read by `xraybench.config.load_config` (one coercion for every command): errors name the file, the
key and what was expected; an unknown key suggests the closest known one.

GRPO's rollout decoding is xraybench's one `GenerateConfig` (`temperature`, `top_p`, `max_tokens`; the stage's
`seed`): the fields are redeclared from it (same flag, type, validation as `xraybench run`) and
`grpo_generation_args` is the one mapping to `trl.GRPOConfig`'s keys. `max_completion_length` is the old name of
`max_tokens` (still read, with a warning).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from xraybench import config as xraybench_config
from xraybench.config import Seeded, option, shared_option
from xraybench.errors import XrayBenchError
from xraybench.generate import GenerateConfig, check_generation
from xraybench.models.images import DEEPMEDIX_IMAGE_SIZE, DEEPMEDIX_MAX_PIXELS

C = TypeVar("C")

RESUME_HELP = "auto: continue from the last complete checkpoint in output_dir; never: start over; or a checkpoint path"
REPORT_TO = ("auto", "none", "tensorboard", "wandb")
LOSS_TYPES = ("grpo", "dr_grpo", "dapo", "bnpo")
REWARD_VARIANTS = ("paper", "word")
SHAPING = ("none", "distinct_characters")
VLLM_MODES = ("colocate", "server")


def rollout_option(name: str, default: Any, *, help: str | None = None, deprecated: tuple[str, ...] = ()) -> Any:
    """`GenerateConfig`'s field `name` for the GRPO rollouts: its flag, type and validation with the trainer's
    `default`, `help` (default: the shared help) and old names (`deprecated`, instead of the shared ones)."""
    meta = dict({f.name: f for f in dataclasses.fields(GenerateConfig)}[name].metadata)
    meta.update(defined_in="GenerateConfig", deprecated=deprecated, help=help or f"rollouts: {meta['help']}")
    return option(default, kw_only=True, **meta)


@dataclass
class LoraSettings:
    """LoRA adapters (peft); the final model is saved merged so `hf:` loads it without peft."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )


@dataclass
class VLLMSettings:
    """vLLM rollouts for GRPO (GPU only; `pip install vllm` at the version TRL supports)."""

    mode: str = "colocate"
    gpu_memory_utilization: float = 0.3
    tensor_parallel_size: int = 1
    enable_sleep_mode: bool = False

    def __post_init__(self) -> None:
        _choice("vllm.mode", self.mode, VLLM_MODES)


@dataclass
class StageConfig(Seeded):
    """Settings every stage shares: model, data, output, optimisation, images, checkpoints, logging."""

    model: str | None = option(None, help="input checkpoint folder (HF format)")
    data: list[str] = option([], help="record file(s) (JSONL), comma-separated", split_commas=True)
    output_dir: str | None = option(None, help="output folder: checkpoints, final model, metrics")
    learning_rate: float = option(1e-5, help="peak learning rate")
    lr_scheduler_type: str = option("cosine", help="transformers scheduler name")
    warmup_steps: float = option(0.0, help="warm-up steps, or a fraction of all steps when < 1")
    weight_decay: float = option(0.0, help="AdamW weight decay")
    max_grad_norm: float = option(1.0, help="gradient clipping norm")
    num_train_epochs: float = option(1.0, help="epochs (ignored when max_steps > 0)")
    max_steps: int = option(-1, help="total optimiser steps; -1: from num_train_epochs")
    per_device_train_batch_size: int = option(1, help="batch size per device")
    gradient_accumulation_steps: int = option(1, help="gradient accumulation steps")
    gradient_checkpointing: bool = option(False, help="trade compute for activation memory")
    image_size: int | None = option(
        DEEPMEDIX_IMAGE_SIZE, help="resize every image to SIZE x SIZE before the processor (DeepMedix: 512)"
    )
    max_pixels: int = option(DEEPMEDIX_MAX_PIXELS, help="processor max_pixels (DeepMedix: 262144 = 512x512)")
    min_pixels: int = option(56 * 56, help="processor min_pixels")
    freeze_vision_tower: bool = option(False, help="keep the vision encoder's weights fixed")
    dtype: str = option("float32", help="weights dtype when loading: float32, bfloat16, float16 or auto")
    bf16: bool = option(False, help="bf16 mixed precision (GPU; keep False on CPU)")
    attn_implementation: str | None = option(None, help="eager, sdpa, flash_attention_2 (default: transformers')")
    seed: int = shared_option(Seeded, "seed", help="seed for data order, dropout, sampling and LoRA init")
    save_steps: int = option(500, help="checkpoint every N steps")
    save_total_limit: int | None = option(3, help="keep at most N checkpoints")
    logging_steps: int = option(10, help="log metrics every N steps")
    report_to: str = option("auto", help="auto (tensorboard/wandb when installed), none, tensorboard or wandb")
    resume: str = option("auto", help=RESUME_HELP)
    dataloader_num_workers: int = option(0, help="image-loading worker processes")
    lora: LoraSettings | None = None

    REQUIRED: typing.ClassVar[tuple[str, ...]] = ("model", "data", "output_dir")

    def __post_init__(self) -> None:
        _choice("report_to", self.report_to, REPORT_TO)
        _choice("dtype", self.dtype, ("float32", "bfloat16", "float16", "auto"))
        if self.max_steps == 0 or self.max_steps < -1:
            raise XrayBenchError(f"max_steps must be -1 or > 0, got {self.max_steps}")


@dataclass
class SFTStageConfig(StageConfig):
    """Stage 1 (instruction SFT) and stage 2 (cold-start reasoning SFT): TRL SFTTrainer on chat records."""

    max_length: int | None = option(
        4096, help="token limit per sample (must exceed the image tokens: 324 for a 512x512 image); 0: none"
    )
    assistant_only_loss: bool = option(True, help="train on the assistant turn only (prompt tokens masked)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_length == 0:
            self.max_length = None
        tokens = image_tokens(self.image_size or 0, self.max_pixels)
        if self.max_length is not None and self.max_length <= tokens:
            # truncation would cut image placeholder tokens and the forward pass fails on the mismatch
            raise XrayBenchError(
                f"max_length {self.max_length} does not even hold one image ({tokens} tokens at image_size "
                f"{self.image_size}); raise it well above that or set it to 0 (no limit)"
            )


@dataclass
class GRPOStageConfig(StageConfig):
    """Stage 3: TRL GRPOTrainer with the DeepMedix-R1 reward on prompts with ground truths."""

    learning_rate: float = option(1e-6, help="peak learning rate (DeepMedix-R1: 1e-6)")
    lr_scheduler_type: str = option("constant", help="transformers scheduler name")
    num_generations: int = option(5, help="completions per prompt (group size; DeepMedix-R1: 5)")
    beta: float = option(0.01, help="KL coefficient against the reference model (DeepMedix-R1: 0.01)")
    loss_type: str = option("grpo", help="grpo, dr_grpo, dapo or bnpo")
    scale_rewards: str = option("group", help="advantage scaling: group, batch or none")
    epsilon: float = option(0.2, help="lower clip range of the policy ratio")
    epsilon_high: float | None = option(0.28, help="upper clip range (None: same as epsilon)")
    num_iterations: int = option(1, help="policy updates per generation batch")
    steps_per_generation: int | None = option(
        None,
        help="micro-batches generated per rollout (None: one update batch, i.e. gradient_accumulation_steps); "
        "DeepMedix-R1's 512-prompt rollouts with 4 updates each need 4 x gradient_accumulation_steps",
    )
    # rollout decoding: `GenerateConfig`'s fields (grpo_generation_args maps them to TRL's keys)
    max_tokens: int = rollout_option(
        "max_tokens", 2048, deprecated=("max_completion_length",), help="rollouts: at most this many new tokens "
        "per completion (DeepMedix-R1: 2048; old name max_completion_length)",
    )  # fmt: skip
    temperature: float = rollout_option("temperature", 1.0, help="rollouts: sampling temperature, > 0 (GRPO samples)")
    top_p: float = rollout_option("top_p", 1.0)
    reward_variant: str = option("paper", help="paper (character-level BLEU, as released) or word")
    split_reward_terms: bool = option(False, help="log format/accuracy/coordinate as separate reward columns")
    shaping_reward: str = option(
        "none", help="tiny CPU runs only: distinct_characters adds a small reward that varies on random text"
    )
    shaping_weight: float = option(0.1, help="weight of the shaping reward")
    vllm: VLLMSettings | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_generation(self)  # a bad --temperature / --top-p / --max-tokens fails as it does for `xraybench run`
        grpo_generation_args(self.generate_config())  # and what TRL's rollouts cannot do, before any model loads
        _choice("loss_type", self.loss_type, LOSS_TYPES)
        _choice("reward_variant", self.reward_variant, REWARD_VARIANTS)
        _choice("shaping_reward", self.shaping_reward, SHAPING)
        _choice("scale_rewards", self.scale_rewards, ("group", "batch", "none"))
        if self.num_generations < 2:
            raise XrayBenchError(f"num_generations must be >= 2 (a group needs a spread), got {self.num_generations}")
        if self.steps_per_generation is not None and self.steps_per_generation % self.gradient_accumulation_steps:
            raise XrayBenchError(
                f"steps_per_generation ({self.steps_per_generation}) must be a multiple of gradient_accumulation_steps "
                f"({self.gradient_accumulation_steps}): a rollout feeds whole optimiser steps"
            )

    def generate_config(self) -> GenerateConfig:
        """The rollouts' decoding as xraybench's one `GenerateConfig` (sampling is seeded by the stage's seed)."""
        return GenerateConfig(
            temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens, seed=self.seed
        )


# `GenerateConfig` fields TRL's GRPO rollouts have no equivalent for, and why (a non-default value is refused)
NOT_IN_TRL = {
    "stop_seqs": "TRL's rollouts stop only at EOS or max_tokens (transformers' stop_strings need a tokenizer that "
    "TRL does not pass to generate)",
    "timeout_s": "rollouts are generated in the training processes, not requested from an API",
    "max_answer_bytes": "rollouts are generated in the training processes, not requested from an API",
}


def grpo_generation_args(generate: GenerateConfig) -> dict[str, Any]:
    """`generate` as `trl.GRPOConfig` keys: the one mapping of the rollouts' decoding. TRL's other sampling knobs
    (top_k, min_p, repetition_penalty) are set to "off" so the rollouts decode as `generate` says, whatever TRL's
    defaults. Refuses what TRL cannot do rather than dropping it, and greedy decoding (temperature 0), under which
    every completion of a group is the same text and GRPO's advantages are all 0."""
    default = GenerateConfig()
    refused = [
        f"{name}={getattr(generate, name)!r} ({why})"
        for name, why in NOT_IN_TRL.items()
        if getattr(generate, name) != getattr(default, name)
    ]
    if refused:
        raise XrayBenchError(f"GRPO rollouts cannot use {'; '.join(refused)}; leave it out of the trainer's config")
    if generate.temperature == 0:
        raise XrayBenchError(
            "--temperature must be > 0 for GRPO rollouts, got 0 (greedy decoding gives every completion of a group the "
            "same text, so the group advantages are all 0 and nothing is learned)"
        )
    args: dict[str, Any] = {
        "temperature": generate.temperature,
        "top_p": generate.top_p,
        "max_completion_length": generate.max_tokens,
        "top_k": 0,
        "min_p": None,
        "repetition_penalty": 1.0,
    }
    if generate.seed is not None:
        # TRL seeds torch (hence transformers sampling) with TrainingArguments.seed; vLLM rollouts are seeded by TRL
        args["seed"] = generate.seed
    return args


@dataclass
class TrainCommand:
    """What a `train` sub-command takes beside its config: the YAML file it starts from."""

    config: str | None = option(None, help="YAML config file; options given on the command line win over its keys")


@dataclass
class StageCommand(TrainCommand):
    """`train sft|coldstart|grpo`: the YAML file and whether to retrain a finished stage."""

    force: bool = option(False, help="retrain even if the stage finished (removes its checkpoints first)")


def image_tokens(image_size: int, max_pixels: int) -> int:
    """Qwen2.5-VL placeholder tokens for a square image (28x28 pixels per token): 324 at 512x512."""
    side = image_size if image_size else int(max_pixels**0.5)
    return max(1, round(side / 28)) ** 2


def _choice(key: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise XrayBenchError(f"{key}: expected one of {', '.join(choices)}, got {value!r}")


def load_config(cls: type[C], path: str | Path | None = None, **overrides: Any) -> C:
    """A `cls` from the YAML file `path` and CLI `overrides` (those not None win); relative paths are cwd-relative.
    The one loader and coercion of every command (`xraybench.config.load_config`)."""
    return xraybench_config.load_config(cls, path, **overrides)


def config_dict(config: Any) -> dict[str, Any]:
    """The config as plain data (for the finished-stage marker and logs)."""
    return dataclasses.asdict(config)
