"""The three training stages on TRL: `run_sft`, `run_coldstart` (SFTTrainer) and `run_grpo` (GRPOTrainer).

Each stage loads its input checkpoint from disk, reads its record files with `medix_train.data.read_records`,
loads and resizes images lazily (a dataset transform, so a 351K-sample stage does not hold pixels in memory),
trains with every setting taken from the config, checkpoints in Hugging Face format, resumes from the last
complete checkpoint after a kill, and finally saves a model `xraybench run --model hf:OUTPUT_DIR` evaluates
(LoRA merged, processor and chat template beside it) plus a finished marker.

Why things are done this way (see /work/shared/probes/README.md):
- the processor is built explicitly (`xraybench.models.hf.load_processor`) and passed to the trainer:
  `AutoProcessor` can silently return a bare tokenizer and the video processor needs torchvision;
- "assistant turn only" is done by splitting each chat into prompt + completion and TRL's completion-only loss:
  TRL's own `assistant_only_loss` needs `{% generation %}` markers in the chat template, which Qwen's lacks;
- a resume loads the checkpoint's weights with `checkpoints.load_weights` (`strict_resume`), not with the
  Trainer's own non-strict loader, which silently skips keys saved in the hub layout (see medix_train.checkpoints);
- GRPO's reference model is reloaded by TRL from the policy's own path, which is why the policy is always loaded
  from a saved folder (never built in memory), and a resumed run keeps the stage's input as its reference.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medix_train import checkpoints
from medix_train.config import GRPOStageConfig, SFTStageConfig, StageConfig, config_dict, grpo_generation_args
from xraybench.errors import XrayBenchError
from xraybench.files import AppendLog
from xraybench.lazy import require

METRICS_FILE = "metrics.jsonl"


@dataclass(frozen=True)
class StageResult:
    """What a stage call did: where the model is, the final step, and whether it resumed or was already done."""

    stage: str
    output_dir: Path
    global_step: int
    resumed_from: str | None
    already_finished: bool


def run_sft(config: SFTStageConfig, *, force: bool = False) -> StageResult:
    """Stage 1: instruction SFT on `sft.jsonl` chat records (prompt rendered with the plain template)."""
    return _run_sft_stage("sft", config, force)


def run_coldstart(config: SFTStageConfig, *, force: bool = False) -> StageResult:
    """Stage 2: cold-start reasoning SFT on `coldstart.jsonl`, starting from the stage-1 output."""
    return _run_sft_stage("coldstart", config, force)


def run_grpo(config: GRPOStageConfig, *, force: bool = False) -> StageResult:
    """Stage 3: GRPO with the DeepMedix-R1 reward on `grpo.jsonl` prompts, starting from the stage-2 output."""
    trl = require("trl", "train", "GRPO training")
    from medix_train.rewards import trl_reward_funcs

    funcs: list[Callable[..., list[float]]] = list(
        trl_reward_funcs(config.reward_variant, split=config.split_reward_terms)
    )
    weights = [1.0] * len(funcs)
    if config.shaping_reward == "distinct_characters":
        funcs.append(distinct_characters_reward)
        weights.append(config.shaping_weight)
    # TRL's own checks (a generation batch holds whole groups) run now, not after minutes of model loading
    grpo_config(config, report_targets(config.report_to), reward_weights=weights)

    def build(model: Any, processor: Any, args: dict[str, Any], report_to: list[str]) -> Any:
        dataset = _dataset(config, "grpo", _grpo_row)
        processor.tokenizer.padding_side = "left"  # generation needs the prompts flush right
        grpo_args = grpo_config(config, report_to, reward_weights=weights, args=args)
        return strict_resume(trl.GRPOTrainer)(
            model=model,
            args=grpo_args,
            reward_funcs=funcs,
            train_dataset=dataset,
            processing_class=processor,
            peft_config=_peft_config(config),
        )

    return _run_stage("grpo", config, force, build)


def grpo_config(
    config: GRPOStageConfig, report_to: list[str], *, reward_weights: list[float], args: dict[str, Any] | None = None
) -> Any:
    """The `trl.GRPOConfig` of a GRPO stage: the TrainingArguments both stages share (`args`, default: the config's),
    the GRPO settings and the rollouts' decoding through the one mapping of the stage's `GenerateConfig`
    (`grpo_generation_args`; its seed is the stage's seed, which `args` already holds)."""
    trl = require("trl", "train", "GRPO training")
    vllm = config.vllm
    try:
        return trl.GRPOConfig(
            **{**(_training_args(config) if args is None else args), **grpo_generation_args(config.generate_config())},
            report_to=report_to,
            num_generations=config.num_generations,
            beta=config.beta,
            loss_type=config.loss_type,
            scale_rewards=config.scale_rewards,
            epsilon=config.epsilon,
            epsilon_high=config.epsilon_high,
            num_iterations=config.num_iterations,
            steps_per_generation=config.steps_per_generation,
            reward_weights=reward_weights,
            use_vllm=vllm is not None,
            **(
                {
                    "vllm_mode": vllm.mode,
                    "vllm_gpu_memory_utilization": vllm.gpu_memory_utilization,
                    "vllm_tensor_parallel_size": vllm.tensor_parallel_size,
                    "vllm_enable_sleep_mode": vllm.enable_sleep_mode,
                }
                if vllm is not None
                else {}
            ),
        )
    except ValueError as exc:  # TRL's own checks (the generation batch must hold whole groups), before any step
        hint = ""
        if "num_generations" in str(exc):
            hint = (
                " (a rollout is per_device_train_batch_size x processes x steps_per_generation completions, "
                "steps_per_generation defaulting to gradient_accumulation_steps: make it a multiple of num_generations)"
            )
        raise XrayBenchError(f"grpo: TRL refuses these settings: {exc}{hint}") from None


def distinct_characters_reward(completions: list[Any], **kwargs: Any) -> list[float]:
    """Tiny CPU runs only: the share of distinct characters in a completion.

    A randomly initialised model never writes `<think>` or `\\boxed{}`, so every completion of a group scores the
    same DeepMedix reward, the group advantages are all 0 and GRPO would not move the weights. This small term
    varies on random text, so the tiny end-to-end run exercises real gradients. Never used by the real recipe.
    """
    from medix_train.rewards import completion_text

    texts = [completion_text(c) for c in completions]
    return [len(set(t)) / len(t) if t else 0.0 for t in texts]


def _run_sft_stage(stage: str, config: SFTStageConfig, force: bool) -> StageResult:
    trl = require("trl", "train", "SFT training")

    def build(model: Any, processor: Any, args: dict[str, Any], report_to: list[str]) -> Any:
        dataset = _dataset(config, stage, _sft_row)
        sft_args = trl.SFTConfig(
            **args,
            report_to=report_to,
            max_length=config.max_length,
            completion_only_loss=config.assistant_only_loss,
            packing=False,
        )
        return strict_resume(trl.SFTTrainer)(
            model=model,
            args=sft_args,
            train_dataset=dataset,
            processing_class=processor,
            peft_config=_peft_config(config),
        )

    return _run_stage(stage, config, force, build)


Builder = Callable[[Any, Any, dict[str, Any], list[str]], Any]


def strict_resume(trainer_cls: type) -> type:
    """`trainer_cls` whose resume loads the checkpoint's weights strictly, under the live model's own key names.

    Only the single-process / DDP path is replaced: DeepSpeed and FSDP resume through their own state files,
    which hold the live keys and are loaded strictly by them.
    """

    class StrictResume(trainer_cls):  # type: ignore[misc, valid-type]
        def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
            if self.is_fsdp_enabled or self.is_deepspeed_enabled:
                super()._load_from_checkpoint(resume_from_checkpoint, model)
                return
            checkpoints.load_weights(self.model if model is None else model, Path(resume_from_checkpoint))

        # TRL's SFTTrainer counts its logged `num_tokens` in an attribute that a resume would restart at 0; it is
        # saved beside each checkpoint (before the Trainer's own files, so a complete checkpoint always has it)
        def _save_checkpoint(self, model: Any, trial: Any) -> None:
            if hasattr(self, "_total_train_tokens") and self.args.should_save:
                folder = Path(self._get_output_dir(trial=trial)) / f"checkpoint-{self.state.global_step}"
                checkpoints.write_counters(folder, {"num_tokens": int(self._total_train_tokens)})
            super()._save_checkpoint(model, trial)

        def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
            super()._load_optimizer_and_scheduler(checkpoint)
            if checkpoint is not None and hasattr(self, "_total_train_tokens"):
                self._total_train_tokens = checkpoints.read_counters(Path(checkpoint))["num_tokens"]

    StrictResume.__name__ = StrictResume.__qualname__ = f"StrictResume{trainer_cls.__name__}"
    return StrictResume


def _run_stage(stage: str, config: StageConfig, force: bool, build: Builder) -> StageResult:
    """Shared by the stages: resume logic, model and processor loading, training, final save and marker."""
    assert config.model is not None and config.output_dir is not None  # load_config checks the required keys
    out = Path(config.output_dir)
    if out.resolve() == Path(config.model).resolve():
        raise XrayBenchError(f"{stage}: output_dir {out} is the input model's folder; choose another output_dir")
    settings = config_dict(config)
    if force:
        checkpoints.clear(out)
    else:
        marker = checkpoints.finished(out, stage, settings, type(config))
        if marker is not None:
            _say(f"{stage}: already finished in {out} at step {marker['global_step']} (pass --force to retrain)")
            return StageResult(stage, out, int(marker["global_step"]), marker.get("resumed_from"), True)
    resume = checkpoints.resume_point(out, "never" if force else config.resume)
    if resume is not None:
        _say(f"{stage}: resuming from {resume} (step {checkpoints.global_step(resume)})")
    model = _load_model(config)
    processor = _load_processor(config)
    out.mkdir(parents=True, exist_ok=True)
    trainer = build(model, processor, _training_args(config), report_targets(config.report_to))
    trainer.add_callback(_metrics_callback(out / METRICS_FILE, stage))
    started = time.time()
    trainer.train(resume_from_checkpoint=str(resume) if resume is not None else None)
    _save_final(trainer, processor, out, lora=config.lora is not None)
    result = StageResult(stage, out, trainer.state.global_step, resume.name if resume else None, False)
    if trainer.is_world_process_zero():
        checkpoints.write_marker(
            out,
            {
                "stage": stage,
                "global_step": result.global_step,
                "resumed_from": result.resumed_from,
                "input_model": config.model,
                "train_seconds": round(time.time() - started, 1),
                "config": settings,
            },
        )
    _say(f"{stage}: finished at step {result.global_step}; model saved to {out}")
    return result


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def report_targets(report_to: str) -> list[str]:
    """`auto`: TensorBoard when installed, W&B when installed and configured (an API key or mode set)."""
    if report_to == "none":
        return []
    if report_to != "auto":
        return [report_to]
    found = []
    if importlib.util.find_spec("tensorboard") is not None:
        found.append("tensorboard")
    if importlib.util.find_spec("wandb") is not None and (
        os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE")
    ):
        found.append("wandb")
    return found


def _training_args(config: StageConfig) -> dict[str, Any]:
    """The transformers TrainingArguments both TRL configs accept, all from our config."""
    return {
        "output_dir": str(config.output_dir),
        "learning_rate": config.learning_rate,
        "lr_scheduler_type": config.lr_scheduler_type,
        "warmup_steps": config.warmup_steps,
        "weight_decay": config.weight_decay,
        "max_grad_norm": config.max_grad_norm,
        "num_train_epochs": config.num_train_epochs,
        "max_steps": config.max_steps,
        "per_device_train_batch_size": config.per_device_train_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "gradient_checkpointing": config.gradient_checkpointing,
        "bf16": config.bf16,
        "seed": config.seed,
        "data_seed": config.seed,
        "save_strategy": "steps",
        "save_steps": config.save_steps,
        "save_total_limit": config.save_total_limit,
        "logging_steps": config.logging_steps,
        "dataloader_num_workers": config.dataloader_num_workers,
        "remove_unused_columns": False,  # images are loaded by a dataset transform that needs the raw columns
    }


def _load_model(config: StageConfig) -> Any:
    torch = require("torch", "train", "training")
    transformers = require("transformers", "train", "training")
    path = Path(str(config.model))
    if not (path / "config.json").is_file():
        raise XrayBenchError(f"model: expected a checkpoint folder with config.json, got {path}")
    kwargs: dict[str, Any] = {"dtype": config.dtype if config.dtype == "auto" else getattr(torch, config.dtype)}
    if config.attn_implementation:
        kwargs["attn_implementation"] = config.attn_implementation
    model, info = transformers.AutoModelForImageTextToText.from_pretrained(path, output_loading_info=True, **kwargs)
    checkpoints.check_keys(path, info["missing_keys"], info["unexpected_keys"], info.get("mismatched_keys", ()))
    if config.freeze_vision_tower:
        for name, param in model.named_parameters():
            if ".visual." in f".{name}":
                param.requires_grad_(False)
    return model


def _load_processor(config: StageConfig) -> Any:
    from xraybench.models.hf import load_processor

    processor = load_processor(str(config.model), vision=True)
    processor.image_processor.size = {"shortest_edge": config.min_pixels, "longest_edge": config.max_pixels}
    return processor


def _peft_config(config: StageConfig) -> Any:
    if config.lora is None:
        return None
    peft = require("peft", "train", "LoRA training")
    return peft.LoraConfig(
        r=config.lora.r,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=config.lora.target_modules,
        task_type="CAUSAL_LM",
    )


# --- records -> datasets -------------------------------------------------------------------------------


Row = Callable[[dict[str, Any]], dict[str, Any]]


def _sft_row(record: dict[str, Any]) -> dict[str, Any]:
    """A chat record (user turn, assistant turn) as prompt + completion, so only the assistant turn is trained on."""
    return {"id": record["id"], "images": record["images"], "prompt": record["messages"][:-1],
            "completion": record["messages"][-1:]}  # fmt: skip


def _grpo_row(record: dict[str, Any]) -> dict[str, Any]:
    """A prompt record; `ground_truth` reaches the reward functions as a keyword argument."""
    return {"id": record["id"], "images": record["images"], "prompt": record["prompt"],
            "ground_truth": record["ground_truth"]}  # fmt: skip


def _dataset(config: StageConfig, stage: str, row: Row) -> Any:
    """The stage's records as a `datasets.Dataset` whose `images` column is loaded (and resized) on access."""
    datasets = require("datasets", "train", "training data")
    from medix_train.data import read_records

    rows = [row(record) for name in config.data for record in read_records(name, stage)]
    if not rows:
        raise XrayBenchError(f"{stage}: no records in {', '.join(config.data)}")
    dataset = datasets.Dataset.from_list(rows)
    dataset.set_transform(_image_loader(config))
    return dataset


def _image_loader(config: StageConfig) -> Callable[[dict[str, list[Any]]], dict[str, list[Any]]]:
    from xraybench.models.images import load_image

    size, max_pixels = config.image_size, config.max_pixels

    def transform(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        loaded = [
            [load_image(p, sample_id, image_size=size, max_pixels=max_pixels).image for p in paths]
            for paths, sample_id in zip(batch["images"], batch["id"], strict=True)
        ]
        return {**batch, "images": loaded}

    return transform


# --- logging and saving ----------------------------------------------------------------------------------


def _metrics_callback(path: Path, stage: str) -> Any:
    """A callback appending every logged metrics dict to `metrics.jsonl` (one line per log, with the step), through
    the one append-only writer (`AppendLog`: fsynced, a torn line from a killed run cut off, a full disk named)."""
    transformers = require("transformers", "train", "training")
    log: list[AppendLog] = []  # opened on the first log, on the main process only

    class MetricsFile(transformers.TrainerCallback):  # type: ignore[misc, name-defined]
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            if state.is_world_process_zero and logs:
                if not log:
                    log.append(AppendLog(path, safe="the checkpoints and every metric logged before are intact"))
                record = {"stage": stage, "step": state.global_step, **logs}
                log[0].append([json.loads(json.dumps(record, default=str))])  # numpy and tensor values as JSON

    return MetricsFile()


def _save_final(trainer: Any, processor: Any, out: Path, *, lora: bool) -> None:
    """The final model in HF format at the top of `out`: weights (LoRA merged), processor, chat template."""
    if lora:
        if trainer.is_world_process_zero():
            merged = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()
            merged.save_pretrained(out)
            processor.save_pretrained(out)
    else:
        trainer.save_model(str(out))  # gathers sharded weights; saves the processing class too
    if trainer.is_world_process_zero():
        processor.image_processor.save_pretrained(out)  # preprocessor_config.json, as real releases ship it
