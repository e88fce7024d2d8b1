"""Find the weights of model-based metrics on this machine, never downloading them.

A metric's weights come from, in order: its option (a path or a Hugging Face repo id), its environment
variable, or its default repo id; a repo id is looked up in the local Hugging Face cache only
(`local_files_only=True`). When nothing is found the error leads with the command that downloads the weights
(`xraybench weights fetch NAME`, or `--download` on `xraybench run`; see `xraybench.weights`), then names the option
and the variable, and the runner reports the metric as skipped with that message.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from xraybench.errors import XrayBenchError
from xraybench.lazy import require


def fetch_command(metric: str, *flags: str) -> str:
    """The command that puts `metric`'s weights where it looks for them, for error and skip messages."""
    return f"`xraybench weights fetch {' '.join((metric, *flags))}` (or add --download to `xraybench run`)"


def _fix(fetch: str | None) -> str:
    return f" — download them with {fetch}" if fetch else ""


def _or_default(metric: str) -> str:
    """For a configured path that is not there: the default weights are one command away."""
    from xraybench.weights import WEIGHTS

    return (
        f", or unset it to use the default weights, downloaded with {fetch_command(metric)}"
        if metric in WEIGHTS
        else ""
    )


def _where(metric: str, option: str, env: str) -> str:
    return f"set the {metric} option `{option}` or the environment variable {env} to a local path"


def _looks_like_path(value: str) -> bool:
    """Repo ids are `name` or `org/name`; anything else is meant as a path."""
    return value.startswith((".", "/", "~")) or value.count("/") > 1 or "\\" in value


def _configured(value: str | None, env: str, default: str | None) -> str | None:
    return value or os.environ.get(env) or default


def local_model_dir(
    metric: str, value: str | None, *, option: str, env: str, default: str | None = None, fetch: str | None = None
) -> Path:
    """A model folder: a local directory, or a repo id already in the Hugging Face cache.

    `fetch` is the command that downloads a repo id missing from the cache (`fetch_command`); the error leads with it.
    """
    name = _configured(value, env, default)
    if not name:
        raise XrayBenchError(f"{metric}: no model given; {_where(metric, option, env)}")
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    if _looks_like_path(name) or path.exists():
        raise XrayBenchError(
            f"{metric}: model folder {name} does not exist; {_where(metric, option, env)}{_or_default(metric)}"
        )
    hub = require("huggingface_hub", "hf", f"the {metric} metric")
    try:
        return Path(hub.snapshot_download(name, local_files_only=True))
    except (OSError, ValueError) as exc:  # LocalEntryNotFoundError (not cached), HFValidationError (bad id)
        raise XrayBenchError(
            f"{metric}: model {name!r} is not in the local Hugging Face cache{_fix(fetch)}; it is not a local folder "
            f"either, and nothing is downloaded during scoring; or {_where(metric, option, env)}"
        ) from exc


def local_file(
    metric: str,
    value: str | None,
    *,
    option: str,
    env: str,
    hub_file: tuple[str, str] | None = None,
    fetch: str | None = None,
) -> Path:
    """A weights file: a local path, or (`hub_file` = (repo id, filename)) a file in the Hugging Face cache.

    `fetch` is the command that puts `hub_file` into the cache (`fetch_command`); the error leads with it.
    """
    name = _configured(value, env, None)
    if name:
        path = Path(name).expanduser()
        if not path.is_file():
            raise XrayBenchError(
                f"{metric}: file {name} does not exist; {_where(metric, option, env)}{_or_default(metric)}"
            )
        return path
    if hub_file is not None:
        hub = require("huggingface_hub", "hf", f"the {metric} metric")
        try:
            return Path(hub.hf_hub_download(hub_file[0], hub_file[1], local_files_only=True))
        except (OSError, ValueError):  # not cached: fall through to the error naming the option
            pass
    cached = f" (or have {hub_file[1]} of {hub_file[0]} in the Hugging Face cache)" if hub_file else ""
    raise XrayBenchError(f"{metric}: no weights file found{_fix(fetch)}; or {_where(metric, option, env)}{cached}")


def pick_device(device: str | None) -> str:
    """The given torch device, else CUDA when available, else CPU."""
    if device:
        return device
    torch = require("torch", "hf", "model-based metrics")
    return "cuda" if torch.cuda.is_available() else "cpu"


@contextmanager
def hub_offline(purpose: str) -> Iterator[None]:
    """Hugging Face hub offline mode while a metric's package loads its models (cache and local folders only), so
    scoring never downloads; `purpose` names the metric in the missing-extra message."""
    constants = require("huggingface_hub.constants", "hf", purpose)
    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before
