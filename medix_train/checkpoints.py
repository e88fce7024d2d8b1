"""Where a stage stands in its output folder: complete checkpoints to resume from, and the finished marker.

A checkpoint counts only once its `trainer_state.json` exists: transformers writes that file last, so a folder
left by a kill in the middle of saving is skipped rather than resumed from (which would fail on a missing
optimiser file). A finished stage leaves `xraybench_stage.json`; rerunning it is then a no-op unless forced, and
refused when the settings differ, so a changed config never silently reuses an old model.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from xraybench.errors import XrayBenchError

DONE_FILE = "xraybench_stage.json"
STATE_FILE = "trainer_state.json"
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


def _identity(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in _NOT_IDENTITY}


def finished(output_dir: Path, stage: str, config: dict[str, Any]) -> dict[str, Any] | None:
    """The marker of this stage when it already finished in `output_dir` with the same settings, else None."""
    path = output_dir / DONE_FILE
    if not path.is_file():
        return None
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise XrayBenchError(f"{path}: unreadable finished-stage marker ({exc}); delete it or pass --force") from exc
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
