"""The model-adapter interface: a model generates one output per sample of a batch.

Adapters do no retrying, rate limiting or concurrency: the runner owns those. An adapter raises
`TransientError` for failures worth retrying (429, 5xx, timeouts) and any other exception for
failures that are not; it may return a `Generation` with `error` set for a per-sample failure.

Every adapter is built as `factory(arg, options, context, generate)`:
- `options`: the adapter's own settings, a dataclass it declares as its `Options` attribute (a subclass of
  `ModelArgs`); from the command line `--model-arg KEY=VALUE` (typed and checked against that declaration, "did you
  mean" on a typo), from Python that dataclass or a plain dict;
- `context`: what the run knows besides the model (data roots, tasks, the image policy);
- `generate`: the decoding (`xraybench.generate.GenerateConfig`, shared with judges and teachers).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from xraybench.errors import XrayBenchError
from xraybench.generate import GENERATE_FIELDS
from xraybench.records import Generation, Sample


def model_option(
    default: Any = None,
    *,
    help: str,
    identity: bool = False,
    choices: tuple[str, ...] = (),
    deprecated: tuple[str, ...] = (),
) -> Any:
    """A field of an adapter's `Options`. `identity`: the value changes the predictions, so a run records it in
    run.json's identity (a resumed run must match it); `choices`: the values allowed; `deprecated`: the option's old
    names, which still work with a warning (as a config's renamed options do, `xraybench.config.option`)."""
    meta = {"help": help, "identity": identity, "choices": tuple(choices), "deprecated": tuple(deprecated)}
    if isinstance(default, list | dict):
        value = default
        return field(default_factory=lambda: type(value)(value), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(kw_only=True)
class ModelArgs:
    """The options every adapter takes. An adapter declares its own as a subclass, named by its `Options` attribute."""

    name: str | None = model_option(
        help="display name in predictions, results and the arena (default: the adapter's, e.g. the folder's name)"
    )


class Model(Protocol):
    """`name` identifies the model in predictions; `batch_size` and `concurrency` are hints for the runner."""

    name: str
    batch_size: int
    concurrency: int

    def generate(self, samples: list[Sample], prompts: list[str]) -> list[Generation]: ...


def split_spec(spec: str) -> tuple[str, str]:
    """'hf:/path/to/model' -> ('hf', '/path/to/model'); 'baseline:normal' -> ('baseline', 'normal')."""
    kind, sep, arg = spec.partition(":")
    if not sep:
        return kind, ""
    return kind, arg


@dataclass
class ModelContext:
    """What a factory may need besides its argument: where data lives (baselines read train splits), the tasks, and
    the run's image policy (`image_size` / `max_pixels`: the pixel space of the model's boxes, recorded per run)."""

    data_roots: dict[str, str] = field(default_factory=dict)
    tasks: list[str] = field(default_factory=list)
    image_size: int | None = None
    max_pixels: int | None = None

    def image_kwargs(self) -> dict[str, int | None]:
        """`load_image(**...)` keywords: how images are sized before the model sees them."""
        from xraybench.models.images import image_options

        return image_options({"image_size": self.image_size, "max_pixels": self.max_pixels})


# ---- adapter options: declared, typed, checked ---------------------------------------------------------------


def options_class(factory: Any) -> type[ModelArgs]:
    """The `Options` dataclass an adapter factory declares (`ModelArgs` when it declares none)."""
    cls = getattr(factory, "Options", ModelArgs)
    if not (isinstance(cls, type) and issubclass(cls, ModelArgs)):
        raise TypeError(f"{factory!r}.Options must be a subclass of ModelArgs, got {cls!r}")
    return cls


def option_help(cls: type[ModelArgs]) -> list[tuple[str, str, str]]:
    """(name, type, help) of every option of an adapter, for `xraybench list models` and error messages."""
    hints = typing.get_type_hints(cls)
    return [(f.name, _type_name(hints[f.name]), f.metadata.get("help", "")) for f in dataclasses.fields(cls)]


def _type_name(annotation: Any) -> str:
    from xraybench.config import _type_name as name

    return name(annotation)


def parse_model_args(items: list[str] | Mapping[str, Any] | ModelArgs | None) -> dict[str, Any]:
    """`["device=cuda:1", "dtype=bfloat16"]` (the command line's `--model-arg`) or a dict or an `Options` dataclass
    (the Python API) as one dict; values from the command line stay strings until `build_options` types them."""
    if items is None:
        return {}
    if isinstance(items, ModelArgs):
        defaults = type(items)()
        return {
            f.name: getattr(items, f.name)
            for f in dataclasses.fields(items)
            if getattr(items, f.name) != getattr(defaults, f.name)
        }
    from xraybench.config import parse_pairs

    return parse_pairs(items, flag="--model-arg", example="device=cuda:1")  # type: ignore[arg-type]


def build_options(
    cls: type[ModelArgs],
    values: Mapping[str, Any] | ModelArgs | None,
    *,
    spec: str,
    where: str = "--model-arg",
    flags: Mapping[str, str] | None = None,
) -> ModelArgs:
    """The adapter's `Options` from `values`: each key checked against the declaration (unknown: "did you mean"),
    each value typed (command-line strings read as numbers, booleans, lists) and checked against its type and choices;
    an error names the option, the value and what was expected. `flags`: options a caller sets with its own flags
    (`name` -> `--name`), named as such when the declared options are listed."""
    from xraybench.config import config_keys, typed_option, unknown_option, warn_renamed

    if isinstance(values, cls):
        values = parse_model_args(values)
    elif isinstance(values, ModelArgs):
        raise XrayBenchError(f"{spec}: expected options of type {cls.__name__}, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    renamed = config_keys(cls)  # old option names -> today's
    given = parse_model_args(values)
    for key, value in given.items():
        if key not in fields and key in renamed:
            new = renamed[key]
            warn_renamed(f"{where} {key}=", f"{where} {new}=")
            if new in given:
                raise XrayBenchError(f"{where}: both {key} and its new name {new} given")
            key = new
        if key not in fields and key in GENERATE_FIELDS:  # decoding is the GenerateConfig's, for every adapter
            flag = "--" + key.replace("_", "-")
            raise XrayBenchError(f"{where}: {key} is a generation option, not an adapter's: set it with {flag}")
        if key not in fields:
            flags = flags or {}
            other = [f"{name} ({flags[name]})" for name in fields if name in flags]
            raise unknown_option(
                key, [name for name in fields if name not in flags], given=where,
                owner=f"the {spec.split(':')[0]}: adapter",
                extra=f"; set with their own flags: {', '.join(other)}" if other else "", suggest=list(fields),
            )  # fmt: skip
        kwargs[key] = typed_option(
            value, hints[key], given=f"{where} {key}={value}", label=f"the {spec.split(':')[0]}: option {key!r}",
            choices=fields[key].metadata.get("choices"),
        )  # fmt: skip
    return cls(**kwargs)


def identity_options(options: ModelArgs) -> dict[str, Any]:
    """The options that change the predictions (`model_option(identity=True)`) and are not at their default: part of
    a run's identity in run.json."""
    defaults = type(options)()
    return {
        f.name: getattr(options, f.name)
        for f in dataclasses.fields(options)
        if f.metadata.get("identity") and getattr(options, f.name) != getattr(defaults, f.name)
    }
