"""Command configs: one dataclass per command drives both the CLI and the Python API.

Each field carries its CLI help in `metadata`; `add_arguments` turns the fields into argparse
options and `from_namespace` builds the config back, so an option is defined exactly once. Options shared by
several commands live in a base config the commands inherit (e.g. `xraybench.llm.options.LLMOptions`); a base
that sets a class attribute `option_group` shows its options under that title in `--help`.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Sequence
from typing import Any, TypeVar

C = TypeVar("C")


def option(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    flag: str | tuple[str, ...] | None = None,
    metavar: str | None = None,
    repeat: bool = False,
    split_commas: bool = False,
    positional: bool = False,
    several: bool = False,
    choices: Sequence[str] | None = None,
    one_of: str | None = None,
    kw_only: bool = False,
) -> Any:
    """A config field with its CLI help. `repeat`: a list option given several times (`--data-root A --data-root B`);
    `split_commas`: a list option given as `A,B`; `several`: a list option given as `--runs A B`; `choices`: the
    values allowed; `one_of`: fields sharing this name are mutually exclusive and exactly one must be given on the
    command line; `kw_only`: keyword-only in `__init__` (for fields overriding a keyword-only base field);
    `flag`: the option's flag, or several flags filling the one field (e.g. `--data-root` and `--data-option`)."""
    meta = {
        "help": help,
        "flag": flag,
        "metavar": metavar,
        "repeat": repeat,
        "split_commas": split_commas,
        "positional": positional,
        "several": several,
        "choices": tuple(choices) if choices else None,
        "one_of": one_of,
    }
    kw: Any = True if kw_only else dataclasses.MISSING
    if isinstance(default, list | dict):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata=meta, kw_only=kw)
    return dataclasses.field(default=default, metadata=meta, kw_only=kw)


def _base_type(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _base_type(args[0])
    return annotation


def _group_titles(cls: type) -> dict[str, str]:
    """Field name -> the `option_group` title of the base config that first declares it (a subclass that only
    changes a default keeps the option in its group)."""
    titles: dict[str, str] = {}
    for base in reversed(cls.__mro__):
        title = base.__dict__.get("option_group")
        if title:
            for name in base.__dict__.get("__annotations__", {}):
                titles.setdefault(name, title)
    return titles


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    hints = typing.get_type_hints(cls)
    titles = _group_titles(cls)
    groups: dict[str, Any] = {}
    exclusive: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if "help" not in meta:
            continue
        kind = _base_type(hints[f.name])
        origin = typing.get_origin(kind) or kind
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        default = None if required else (f.default if f.default is not dataclasses.MISSING else f.default_factory())
        flags = meta["flag"] or "--" + f.name.replace("_", "-")
        names = (flags,) if isinstance(flags, str) else tuple(flags)
        kwargs: dict[str, Any] = {"help": meta["help"], "dest": f.name}
        if meta["metavar"]:
            kwargs["metavar"] = meta["metavar"]
        if meta.get("choices"):
            kwargs["choices"] = meta["choices"]
        target = parser
        title = titles.get(f.name)
        if title:
            if title not in groups:
                groups[title] = parser.add_argument_group(title)
            target = groups[title]
        if meta.get("one_of"):
            if meta["one_of"] not in exclusive:
                exclusive[meta["one_of"]] = target.add_mutually_exclusive_group(required=True)
            target = exclusive[meta["one_of"]]
        if meta["positional"]:
            kwargs.pop("dest")
            if origin is list:
                kwargs["nargs"] = "+"
            target.add_argument(f.name, **kwargs)
            continue
        if origin is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
            kwargs["default"] = default
        elif origin is list and meta["repeat"]:
            kwargs.update(action="append", default=None)
        elif origin is list and meta.get("several"):
            kwargs.update(nargs="+", default=None)
        elif origin is list:
            kwargs.update(type=str, default=None)
        else:
            kwargs.update(type=kind if kind in (int, float) else str, default=default)
        if required:
            kwargs["required"] = True
        target.add_argument(*names, **kwargs)


def from_namespace(cls: type[C], ns: argparse.Namespace) -> C:
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not hasattr(ns, f.name):
            continue
        value = getattr(ns, f.name)
        if value is None:
            continue
        if f.metadata.get("split_commas") and isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        values[f.name] = value
    return cls(**values)
