"""Where a stage stands in its output folder: complete checkpoints to resume from, and the finished marker.

A checkpoint counts only once its `trainer_state.json` exists: transformers writes that file last, so a folder
left by a kill in the middle of saving is skipped rather than resumed from (which would fail on a missing
optimiser file). A finished stage leaves `xraybench_stage.json`; rerunning it is then a no-op unless forced, and
refused when the settings differ, so a changed config never silently reuses an old model.

Weights are saved by transformers' `save_pretrained`, which writes a checkpoint in the layout of a hub release
(`model.layers.*`, `visual.*`), not in the live model's own names (`model.language_model.*`, `model.visual.*`
for Qwen2.5-VL in transformers 5). transformers' Trainer then resumes with a plain non-strict `load_state_dict`,
which loads 1 of 57 tensors of the tiny model and only warns. `load_weights` resumes through the same key
conversion `from_pretrained` uses and refuses any missing or unexpected key, for full models and LoRA adapters.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

from xraybench.errors import XrayBenchError
from xraybench.generate import current_names
from xraybench.lazy import require
from xraybench.models.hf import check_loaded_keys

DONE_FILE = "xraybench_stage.json"
STATE_FILE = "trainer_state.json"
COUNTERS_FILE = "xraybench_counters.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# settings that do not change what a finished stage produced
_NOT_IDENTITY = ("resume", "logging_steps", "report_to", "dataloader_num_workers", "save_total_limit")


def checkpoints(output_dir: Path) -> list[Path]:
    """The complete `checkpoint-N` folders, oldest first."""
    if not output_dir.is_dir():
        return []
    found = []
    for path in output_dir.iterdir():
        match = _CHECKPOINT.match(path.name)
        if match and path.is_dir() and (path / STATE_FILE).is_file():
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def resume_point(output_dir: Path, resume: str) -> Path | None:
    """The checkpoint to resume from: `auto` the last complete one, `never` none, else the given folder."""
    if resume == "never":
        return None
    if resume == "auto":
        found = checkpoints(output_dir)
        return found[-1] if found else None
    path = Path(resume)
    if not (path / STATE_FILE).is_file():
        raise XrayBenchError(f"resume: {path} is not a complete checkpoint (expected {path / STATE_FILE})")
    return path


def global_step(checkpoint: Path) -> int:
    """The optimiser step a checkpoint was saved at."""
    return int(json.loads((checkpoint / STATE_FILE).read_text(encoding="utf-8"))["global_step"])


def check_keys(what: Path | str, missing: Any, unexpected: Any, mismatched: Any = ()) -> None:
    """Refuse a training load that left model tensors unset or checkpoint tensors unused: never a warning."""
    check_loaded_keys(what, missing, unexpected, mismatched, refusing="Refusing to train a partly loaded model")


def load_weights(model: Any, checkpoint: Path) -> None:
    """Put the weights saved in `checkpoint` into the live `model` (a transformers model or a peft model), strictly."""
    if hasattr(model, "peft_config") and hasattr(model, "active_adapter"):
        _load_adapter(model, checkpoint)
    else:
        _load_full(model, checkpoint)


def _load_full(model: Any, checkpoint: Path) -> None:
    # `from_pretrained` applies the model's checkpoint conversion (the inverse of what `save_pretrained` wrote),
    # ties shared weights and reads sharded files; the live model then takes its state dict under its own names.
    # Costs one extra copy of the weights in CPU memory for the moment of the resume.
    if not any((checkpoint / name).is_file() for name in ("model.safetensors", "model.safetensors.index.json")):
        raise XrayBenchError(f"{checkpoint}: no model.safetensors (or its index) to resume the weights from")
    saved, info = type(model).from_pretrained(checkpoint, dtype="auto", output_loading_info=True)
    check_keys(checkpoint, info["missing_keys"], info["unexpected_keys"], info.get("mismatched_keys", ()))
    result = model.load_state_dict(saved.state_dict(), strict=False)
    check_keys(checkpoint, result.missing_keys, result.unexpected_keys)


def _load_adapter(model: Any, checkpoint: Path) -> None:
    peft_utils = require("peft.utils", "train", "LoRA resume")
    adapter = model.active_adapter
    if not any((checkpoint / name).is_file() for name in ("adapter_model.safetensors", "adapter_model.bin")):
        raise XrayBenchError(f"{checkpoint}: no adapter_model.safetensors to resume the LoRA weights from")
    weights = peft_utils.load_peft_weights(str(checkpoint), device="cpu")
    # the keys a save of this very model writes: the checkpoint must hold exactly these
    expected = set(peft_utils.get_peft_model_state_dict(model, adapter_name=adapter))
    check_keys(checkpoint, expected - set(weights), set(weights) - expected)
    result = peft_utils.set_peft_model_state_dict(model, weights, adapter_name=adapter)
    # `missing_keys` also lists every frozen base weight; only this adapter's own tensors count as missing
    prefix = f".{adapter}."
    check_keys(checkpoint, [k for k in result.missing_keys if prefix in k], result.unexpected_keys)


def write_counters(checkpoint: Path, counters: dict[str, int]) -> None:
    """Trainer counters transformers does not save (TRL's SFT `num_tokens`), written into `checkpoint`."""
    checkpoint.mkdir(parents=True, exist_ok=True)
    (checkpoint / COUNTERS_FILE).write_text(json.dumps(counters) + "\n", encoding="utf-8")


def read_counters(checkpoint: Path) -> dict[str, int]:
    """The counters of `write_counters`; for a checkpoint saved without them, the last logged `num_tokens`."""
    path = checkpoint / COUNTERS_FILE
    if path.is_file():
        return {k: int(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}
    history = json.loads((checkpoint / STATE_FILE).read_text(encoding="utf-8")).get("log_history", [])
    counts = [int(row["num_tokens"]) for row in history if "num_tokens" in row]
    logging.getLogger(__name__).warning("%s has no %s: num_tokens continues from the last logged value", checkpoint,
                                        COUNTERS_FILE)  # fmt: skip
    return {"num_tokens": counts[-1] if counts else 0}


def _identity(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in _NOT_IDENTITY}


def finished(output_dir: Path, stage: str, config: dict[str, Any], cls: type | None = None) -> dict[str, Any] | None:
    """The marker of this stage when it already finished in `output_dir` with the same settings, else None. With
    the config's class `cls`, the marker's old option names (`max_completion_length`) are read as the current ones:
    a stage finished before a rename was trained with the same settings."""
    path = output_dir / DONE_FILE
    if not path.is_file():
        return None
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise XrayBenchError(f"{path}: unreadable finished-stage marker ({exc}); delete it or pass --force") from exc
    if cls is not None and isinstance(marker.get("config"), dict):
        marker["config"] = current_names(cls, marker["config"])
    if marker.get("stage") != stage or _identity(marker.get("config", {})) != _identity(config):
        changed = sorted(
            k
            for k in set(_identity(config)) | set(_identity(marker.get("config", {})))
            if marker.get("config", {}).get(k) != config.get(k)
        )
        raise XrayBenchError(
            f"{output_dir} holds a finished {marker.get('stage')!r} stage trained with other settings "
            f"(differs in: {', '.join(changed) or 'stage'}); pass --force to retrain there or choose another output_dir"
        )
    return marker


def write_marker(output_dir: Path, marker: dict[str, Any]) -> None:
    tmp = output_dir / (DONE_FILE + ".tmp")
    tmp.write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(output_dir / DONE_FILE)


def clear(output_dir: Path) -> None:
    """Forget a previous attempt (`--force`): remove its marker and checkpoints, so training starts over."""
    (output_dir / DONE_FILE).unlink(missing_ok=True)
    if output_dir.is_dir():
        for path in output_dir.iterdir():
            if _CHECKPOINT.match(path.name) and path.is_dir():
                shutil.rmtree(path)
