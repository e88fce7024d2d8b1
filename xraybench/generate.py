"""How a model decodes: one `GenerateConfig` for models under test, judges and teachers.

Modelled on inspect_ai's `GenerateConfig`: the decoding fields (`temperature`, `top_p`, `max_tokens`, `seed`,
`stop_seqs`) and the request limits every API call shares (`timeout_s`, `max_answer_bytes`) are defined here once,
with their flag, default and help. `xraybench run`'s `RunConfig` inherits them; the model adapters receive a
`GenerateConfig` and read their decoding from it; the LLM-call options of judges and teachers
(`xraybench.llm.options.LLMOptions`) redeclare the fields their client supports from these definitions
(`shared_option(GenerateConfig, name)`), so a flag means the same in every command.

One name per concept: `max_tokens` (`--max-tokens`) is the answer token limit everywhere; `run`'s old
`--max-new-tokens` (and the `max_new_tokens` key of run folders written before) still work, with a warning on the
command line (docs/cli.md lists the renames).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from xraybench.config import config_keys, option
from xraybench.errors import XrayBenchError

GROUP = "generation"


@dataclass(kw_only=True)
class GenerateConfig:
    """The decoding of one model, and the limits of each request to it."""

    option_group = GROUP

    temperature: float = option(0.0, help="sampling temperature (0 = greedy)")
    top_p: float = option(1.0, help="nucleus sampling top-p (1 = off)")
    max_tokens: int = option(
        512, deprecated=("max_new_tokens",), help="answer token limit: at most this many new tokens per answer"
    )
    seed: int | None = option(None, help="seed of sampled decoding (each item's draw is seeded from it)")
    stop_seqs: list[str] = option(
        [], repeat=True, metavar="TEXT", help="stop generating at TEXT, which is left out of the answer (repeatable)"
    )
    timeout_s: float = option(120.0, help="API models: deadline in seconds for each whole request (docs/limits.md)")
    max_answer_bytes: int | None = option(
        None, help="API models: refuse answers over this many bytes (default $XRAYBENCH_MAX_ANSWER_BYTES or 4 MiB)"
    )

    def __post_init__(self) -> None:
        check_generation(self)

    def decoding(self) -> dict[str, Any]:
        """The parameters that decide an answer, as results.json records them (`decoding`)."""
        out: dict[str, Any] = {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens}
        if self.seed is not None:
            out["seed"] = self.seed
        if self.stop_seqs:
            out["stop_seqs"] = list(self.stop_seqs)
        return out

    def sampling_seed(self) -> int:
        """The seed sampled decoding starts from (0 when none was given)."""
        return self.seed if self.seed is not None else 0


GENERATE_FIELDS = tuple(f.name for f in dataclasses.fields(GenerateConfig))


def generate_config(source: Any) -> GenerateConfig:
    """The `GenerateConfig` part of any config that inherits it (e.g. `RunConfig`), as its own object."""
    return GenerateConfig(**{name: getattr(source, name) for name in GENERATE_FIELDS if hasattr(source, name)})


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_generation(config: Any) -> None:
    """Refuse decoding values no backend accepts, naming the option and the value (before any model is loaded)."""
    problems = []
    # a config may take only some of the fields (the judges' `LLMOptions` has no top_p)
    temperature, top_p, max_tokens = config.temperature, getattr(config, "top_p", 1.0), config.max_tokens
    if not _number(temperature) or temperature < 0:
        problems.append(f"--temperature must be a number >= 0, got {temperature!r}")
    if not _number(top_p) or not 0 < top_p <= 1:
        problems.append(f"--top-p must be a number in (0, 1], got {top_p!r}")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        problems.append(f"--max-tokens must be a positive integer, got {max_tokens!r}")
    seed = getattr(config, "seed", None)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        problems.append(f"--seed must be an integer, got {seed!r}")
    stops = getattr(config, "stop_seqs", [])
    if not isinstance(stops, list | tuple) or any(not isinstance(s, str) or not s for s in stops):
        problems.append(f"--stop-seqs must be non-empty strings, got {stops!r}")
    timeout = getattr(config, "timeout_s", 1.0)
    if not _number(timeout) or timeout <= 0:
        problems.append(f"--timeout-s must be a number > 0, got {timeout!r}")
    cap = getattr(config, "max_answer_bytes", None)
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        problems.append(f"--max-answer-bytes must be a positive integer, got {cap!r}")
    if problems:
        raise XrayBenchError("; ".join(problems))


def current_names(cls: type, record: dict[str, Any]) -> dict[str, Any]:
    """A stored record of `cls`'s settings (a run folder's `run.json`) with each old option name (`max_new_tokens`)
    read as its current one, silently: a folder written before a rename means the same."""
    keys = config_keys(cls)
    return {keys.get(key, key): value for key, value in record.items()}
