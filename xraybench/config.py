"""Command configs: one dataclass per command drives the CLI, the YAML config files and the Python API.

Each field carries its CLI help in `metadata`; `add_arguments` turns the fields into argparse
options and `from_namespace` builds the config back, so an option is defined exactly once. Options shared by
several commands live in a base config the commands inherit (`DataSources`, `Seeded`, `Bootstrap`, `JsonOutput`
here, `xraybench.llm.options.LLMOptions` for LLM calls); a base that sets a class attribute `option_group` shows
its options under that title in `--help`. A command that needs another default or help for a shared option
redeclares it with `shared_option(Base, name, ...)`, which keeps the flag, type and aliases of the one definition.

`load_config` reads a YAML file into a config with one coercion for every command (types from the dataclass
fields; YAML 1.1's `1e-6` string becomes a float; unknown keys get "did you mean"; errors name file, key, value
and expected type). A renamed option keeps its old flag and YAML key as a deprecated alias (`deprecated=`):
they still work and print a warning naming the new one (the renames are listed in docs/cli.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, TypeVar

from xraybench.errors import XrayBenchError

C = TypeVar("C")
_SAME: Any = object()
RENAMES_DOC = "docs/cli.md"


def option(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    flag: str | tuple[str, ...] | None = None,
    metavar: str | None = None,
    repeat: bool = False,
    split_commas: bool = False,
    positional: bool = False,
    several: bool | int = False,
    choices: Sequence[str] | None = None,
    one_of: str | None = None,
    kw_only: bool = False,
    deprecated: Sequence[str] = (),
    pairs: bool = False,
    defined_in: str | None = None,
) -> Any:
    """A config field with its CLI help. `repeat`: a list option given several times (`--data-root A --data-root B`);
    `split_commas`: a list option given as `A,B`; `several`: a list option given as `--runs A B`; `choices`: the
    values allowed; `one_of`: fields sharing this name are mutually exclusive and exactly one must be given on the
    command line; `kw_only`: keyword-only in `__init__` (for fields overriding a keyword-only base field);
    `flag`: the option's flag, or several flags filling the one field (e.g. `--data-root` and `--data-option`);
    `several=N`: exactly N values; a `positional` field with a default may be left out;
    `deprecated`: the field's old names: `--old-name` and the YAML key `old_name` still work, with a warning;
    `pairs`: a list of `KEY=VALUE` strings that a YAML file may also give as a mapping; `defined_in`: the shared
    base config that holds the one definition (set by the bases and `shared_option`)."""
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
        "deprecated": tuple(deprecated),
        "pairs": pairs,
        "defined_in": defined_in,
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


def _flags(f: dataclasses.Field) -> tuple[str, ...]:
    flags = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
    return (flags,) if isinstance(flags, str) else tuple(flags)


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def warn_renamed(old: str, new: str, where: str = "") -> None:
    """Tell the user an old flag or YAML key still works but has a new name (stderr: `--json` output stays clean)."""
    print(f"warning: {where}{old} is deprecated; use {new} (renamed options: {RENAMES_DOC})", file=sys.stderr)


def _renamed_action(base: type[argparse.Action], new: str) -> type[argparse.Action]:
    class Renamed(base):  # type: ignore[valid-type, misc]
        def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
            old = option_string or self.option_strings[0]
            warn_renamed(old, "--no-" + new[2:] if old.startswith("--no-") else new)
            super().__call__(parser, namespace, values, option_string)

    return Renamed


_ACTIONS: dict[Any, type[argparse.Action]] = {
    None: argparse._StoreAction,
    "append": argparse._AppendAction,
    argparse.BooleanOptionalAction: argparse.BooleanOptionalAction,
}


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    hints = typing.get_type_hints(cls)
    titles = _group_titles(cls)
    groups: dict[str, Any] = {}
    exclusive: dict[str, Any] = {}
    # the command's own options first, then the shared ones (--data-root, --seed, ...) its bases bring
    for f in sorted(dataclasses.fields(cls), key=lambda f: bool(f.metadata.get("defined_in"))):
        meta = f.metadata
        if "help" not in meta:
            continue
        kind = _base_type(hints[f.name])
        origin = typing.get_origin(kind) or kind
        required = _required(f)
        default = None if required else (f.default if f.default is not dataclasses.MISSING else f.default_factory())
        names = _flags(f)
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
            elif not required:
                kwargs.update(nargs="?", default=default)
            target.add_argument(f.name, **kwargs).config_field = f.name  # type: ignore[attr-defined]
            continue
        several = meta.get("several")
        if origin is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
            kwargs["default"] = default
        elif origin is list and meta["repeat"]:
            kwargs.update(action="append", default=None)
        elif origin is list and several:
            kwargs.update(nargs="+" if several is True else int(several), default=None)
        elif origin is list:
            kwargs.update(type=str, default=None)
        else:
            kwargs.update(type=kind if kind in (int, float) else str, default=default)
        aliases = [a for a in ("--" + old.replace("_", "-") for old in meta.get("deprecated", ())) if a not in names]
        # a required option with an old name is checked in `from_namespace`: argparse would demand the new flag
        if required and not aliases:
            kwargs["required"] = True
        # `config_field` marks an option built from a config field (a test checks every command's options are)
        action = target.add_argument(*names, **kwargs)
        action.config_field = f.name  # type: ignore[attr-defined]
        action.defined_in = meta.get("defined_in")  # type: ignore[attr-defined]  # the shared base, if any
        for alias in aliases:
            renamed_cls = _renamed_action(_ACTIONS[kwargs.get("action")], names[0])
            renamed = target.add_argument(alias, **{**kwargs, "action": renamed_cls, "help": argparse.SUPPRESS})
            renamed.config_field = f.name  # type: ignore[attr-defined]
            renamed.defined_in = meta.get("defined_in")  # type: ignore[attr-defined]


def from_namespace(cls: type[C], ns: argparse.Namespace) -> C:
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not hasattr(ns, f.name):
            continue
        value = getattr(ns, f.name)
        if value is None:
            if _required(f) and "help" in f.metadata:
                raise XrayBenchError(f"the option {_flags(f)[0]} is required")
            continue
        if f.metadata.get("split_commas") and isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        values[f.name] = value
    return cls(**values)


def shared_option(base: type, name: str, default: Any = _SAME, *, help: str | None = None) -> Any:
    """The field `name` of the shared config `base` with this command's `default` or `help`; flag, type, aliases
    and YAML key stay those of the one definition. Declared keyword-only, as the shared bases are."""
    field = {f.name: f for f in dataclasses.fields(base)}[name]
    meta = dict(field.metadata)
    meta["defined_in"] = meta.get("defined_in") or base.__name__  # the one definition this field copies
    if help is not None:
        meta["help"] = help
    if default is _SAME:
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
    return option(default, kw_only=True, **meta)


# ---- options shared by several commands, defined once ------------------------------------------------------

DATA_SOURCE_FLAGS = ("--data-root", "--data-option")
DATA_SOURCE_METAVAR = "NAME[.KEY]=VALUE"
DATA_SOURCE_HELP = (
    "--data-root NAME=PATH: where a dataset lives, e.g. mimic_cxr=/data/mimic-cxr-jpg; "
    "--data-option NAME.KEY=VALUE: a loader option, e.g. mimic_cxr.reports_root=/data/reports "
    "(`xraybench list datasets` shows each loader's options; both repeatable)"
)


@dataclass(kw_only=True)
class DataSources:
    """Where the datasets live and how to read them: `--data-root NAME=PATH` and `--data-option NAME.KEY=VALUE`
    fill the one list `data_roots` (YAML: a list of those strings, or a mapping NAME: PATH)."""

    data_roots: list[str] = option(
        [], flag=DATA_SOURCE_FLAGS, metavar=DATA_SOURCE_METAVAR, repeat=True, pairs=True, deprecated=("data_root",),
        help=DATA_SOURCE_HELP, defined_in="DataSources",
    )  # fmt: skip


@dataclass(kw_only=True)
class Seeded:
    """The one seed of a command: whatever it draws (a sample, an order, bootstrap resamples) is drawn from it."""

    seed: int = option(0, defined_in="Seeded", help="random seed (same seed, same sample, order and CIs)")


@dataclass(kw_only=True)
class Bootstrap:
    """Bootstrap resamples behind every 95% CI a command prints (`--rounds` is its old name)."""

    bootstrap_rounds: int = option(
        1000, deprecated=("rounds",), defined_in="Bootstrap", help="bootstrap resamples for the 95%% CIs (0: none)"
    )


@dataclass(kw_only=True)
class JsonOutput:
    """`--json`: print one JSON document on stdout instead of tables (warnings stay on stderr)."""

    json: bool = option(False, defined_in="JsonOutput", help="print JSON instead of a table")


# ---- YAML config files: one reader, one coercion ----------------------------------------------------------


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of a YAML config file (empty file: {}); errors name the file."""
    import yaml

    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise XrayBenchError(f"cannot read config {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise XrayBenchError(f"{path}: not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise XrayBenchError(f"{path}: expected a mapping of settings at the top level, got {type(loaded).__name__}")
    return loaded


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return "one of " + " | ".join(str(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(names + (["null"] if type(None) in args else []))
    if origin in (list, Sequence):
        return f"a list of {_type_name(typing.get_args(annotation)[0])}"
    if origin is dict:
        return f"a mapping of {_type_name(typing.get_args(annotation)[1])}"
    return getattr(annotation, "__name__", str(annotation))


def _is_instance(value: Any, member: Any) -> bool:
    """`value` is already of the plain class `member` (a bool is not an int here, as everywhere in `coerce`)."""
    if not isinstance(member, type) or dataclasses.is_dataclass(member) or typing.get_origin(member) is not None:
        return False
    return isinstance(value, member) and (member is bool or not isinstance(value, bool))


def coerce(value: Any, annotation: Any, *, where: str, key: str, meta: Mapping[str, Any] | None = None) -> Any:
    """`value` (from YAML or the command line) checked against, and lightly converted to, a field's type: the one
    coercion of every config file. An int is a float where a float is wanted; a string that reads as a number is a
    float too (YAML 1.1 reads `1e-6` as a string); a string is a comma-separated list where a list is wanted; a union
    of several types takes the value as the first member that accepts it (the value's own type first)."""
    meta = meta or {}

    def bad() -> XrayBenchError:
        return XrayBenchError(f"{where}: key {key!r}: expected {_type_name(annotation)}, got {value!r}")

    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            try:
                return coerce(value, inner[0], where=where, key=key, meta=meta)
            except XrayBenchError as exc:
                if value is None or dataclasses.is_dataclass(inner[0]):
                    raise
                raise bad() from exc
        # Several types (`image_root: str | Path | None`): the member the value already is first (a Path stays a
        # Path, 5 stays 5 in `str | int`), then the others in declared order; the first that takes it wins.
        already = [a for a in inner if _is_instance(value, a)]
        for member in already + [a for a in inner if a not in already]:
            try:
                return coerce(value, member, where=where, key=key, meta=meta)
            except XrayBenchError:
                continue
        raise bad()
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, Mapping):
            raise XrayBenchError(f"{where}: key {key!r}: expected a mapping of {_type_name(annotation)} settings")
        return build_config(annotation, value, where=where, prefix=f"{key}.")  # type: ignore[arg-type]
    if origin is typing.Literal:  # the values allowed (a metric's `uncertain_as: Literal["positive", "negative"]`)
        if value in typing.get_args(annotation) and not isinstance(value, bool):
            return value
        raise bad()
    if origin in (list, Sequence):  # a `Sequence[str]` parameter takes a list
        (item,) = typing.get_args(annotation)
        if meta.get("pairs") and isinstance(value, Mapping):  # NAME: PATH -> "NAME=PATH"; NAME: {KEY: V} -> NAME.KEY=V
            value = [
                f"{k}.{kk}={vv}" if isinstance(v, Mapping) else f"{k}={v}"
                for k, v in value.items()
                for kk, vv in (v.items() if isinstance(v, Mapping) else [(None, None)])
            ]
        elif isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise bad()
        return [coerce(v, item, where=where, key=f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        key_type, item = typing.get_args(annotation)
        if not isinstance(value, Mapping):
            raise bad()
        return {coerce(k, key_type, where=where, key=key): coerce(v, item, where=where, key=f"{key}.{k}")
                for k, v in value.items()}  # fmt: skip
    if annotation is Any:
        return value
    if annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif annotation is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif annotation is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
    elif isinstance(annotation, type) and issubclass(annotation, PurePath):  # a path: text or a path as written
        if isinstance(value, str | PurePath):
            return annotation(value)
    else:
        raise XrayBenchError(f"{where}: key {key!r}: unsupported field type {annotation!r}")
    raise bad()


# ---- KEY=VALUE options typed against a declaration (`--model-arg`, `--metric-arg`): one parser, one typing -----


def parse_pairs(
    items: Sequence[str] | Mapping[str, Any] | None, *, flag: str, example: str, form: str = "KEY=VALUE"
) -> dict[str, Any]:
    """`["device=cuda:1", "dtype=bfloat16"]` (a repeatable KEY=VALUE flag) or a dict as one dict; values from the
    command line stay strings until `typed_option` types them against the declaration. Errors name `flag`."""
    if items is None:
        return {}
    if isinstance(items, Mapping):
        return {str(k): v for k, v in items.items()}
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise XrayBenchError(f"{flag} expects {form} (e.g. {example}), got {item!r}")
        if key in out:
            raise XrayBenchError(f"{flag} {key} is given twice ({out[key]!r} and {value!r})")
        out[key] = value
    return out


def text_value(text: str, annotation: Any) -> Any:
    """A command-line value read as a YAML scalar (`4`, `0.5`, `true`, `null`, `[a, b]`), except for text options
    (kept as written, so `system_prompt=yes` stays "yes")."""
    import yaml

    base = _base_type(annotation)
    literal = typing.get_origin(base) is typing.Literal and all(isinstance(a, str) for a in typing.get_args(base))
    if (base is str or literal) and text.strip().lower() not in ("null", "none", "~"):
        return text
    if text.strip().lower() == "none":
        return None
    if base is bool and text.strip() in ("1", "0"):  # a switch given as 1/0, as on most command lines
        return text.strip() == "1"
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def typed_option(value: Any, annotation: Any, *, given: str, label: str, choices: Sequence[Any] | None = None) -> Any:
    """`value` (command-line text, or a Python/YAML value) as the declared `annotation`, checked against `choices`.
    An error names what was `given` (`--model-arg dtype=x`), the option (`label`), the value and what was expected."""
    typed = text_value(value, annotation) if isinstance(value, str) else value
    try:
        typed = coerce(typed, annotation, where=given, key=label)
    except XrayBenchError:
        raise XrayBenchError(f"{given}: {label} expects {_type_name(annotation)}, got {value!r}") from None
    if choices and typed is not None and typed not in choices:
        raise XrayBenchError(f"{given}: {label} is one of {', '.join(map(str, choices))}, got {value!r}")
    return typed


def unknown_option(
    key: str, known: Sequence[str], *, given: str, owner: str, extra: str = "", suggest: Sequence[str] | None = None
) -> XrayBenchError:
    """The error for an option `owner` does not declare: "did you mean" (among `suggest`, default `known`) and the
    options it has."""
    close = difflib.get_close_matches(key, list(known if suggest is None else suggest), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return XrayBenchError(
        f"{given}: {owner} has no option {key!r}.{hint} Its options: {', '.join(known) or 'none'}{extra}"
    )


# ---- metric options: `--metric-arg METRIC.KEY=VALUE` -------------------------------------------------------

METRIC_ARG_FLAG = "--metric-arg"
METRIC_ARG_EXAMPLE = "rouge_l.beta=1.0"


def parse_metric_args(
    items: Sequence[str] | Mapping[str, Any] | None, *, flag: str = METRIC_ARG_FLAG
) -> dict[str, dict[str, Any]]:
    """`["ratescore.batch_size=16", ...]` (the command line), `{"ratescore": {"batch_size": 16}}` (Python, YAML,
    run.json) or `{"ratescore.batch_size": 16}` as metric -> {option: value}; values are typed against each
    metric's declaration later (`xraybench.metrics.api.metric_options`), where the metrics of the run are known."""
    if isinstance(items, Mapping):
        flat: dict[str, Any] = {}
        for name, value in items.items():
            if isinstance(value, Mapping):
                flat.update({f"{name}.{key}": v for key, v in value.items()})
            else:
                flat[str(name)] = value
    else:
        flat = parse_pairs(items, flag=flag, example=METRIC_ARG_EXAMPLE, form="METRIC.KEY=VALUE")
    out: dict[str, dict[str, Any]] = {}
    for dotted, value in flat.items():
        metric, dot, key = str(dotted).partition(".")
        if not dot or not metric.strip() or not key.strip():
            shown = dotted if isinstance(items, Mapping) else f"{dotted}={value}"
            raise XrayBenchError(f"{flag} expects METRIC.KEY=VALUE (e.g. {METRIC_ARG_EXAMPLE}), got {shown!r}")
        options = out.setdefault(metric.strip(), {})
        if key.strip() in options:
            raise XrayBenchError(f"{flag} {dotted} is given twice ({options[key.strip()]!r} and {value!r})")
        options[key.strip()] = value
    return out


METRIC_ARG_HELP = (
    "an option of a metric this command scores, typed and checked against the options the metric declares "
    "(repeatable; `xraybench list metrics` lists them), e.g. --metric-arg rouge_l.beta=1.0 "
    "--metric-arg bertscore.model=/models/roberta-large (YAML: metric_args: {rouge_l: {beta: 1.0}})"
)


@dataclass(kw_only=True)
class MetricArgs:
    """`--metric-arg METRIC.KEY=VALUE`: the options of the metrics a command scores with. `metric_args` is one dict
    metric -> {option: value} after `__post_init__`, whatever it was given as (a list of those strings, or a mapping
    from YAML or Python)."""

    metric_args: list[str] = option(
        [], flag=METRIC_ARG_FLAG, repeat=True, pairs=True, metavar="METRIC.KEY=VALUE", defined_in="MetricArgs",
        help=METRIC_ARG_HELP,
    )  # fmt: skip

    def __post_init__(self) -> None:
        parent = getattr(super(), "__post_init__", None)  # a config that also inherits e.g. `LLMOptions`
        if parent is not None:
            parent()
        self.metric_args = parse_metric_args(self.metric_args)  # type: ignore[assignment]


def config_keys(cls: type) -> dict[str, str]:
    """Every key a config file may use for `cls` -> its field: the field names and their deprecated old names."""
    keys = {}
    for f in dataclasses.fields(cls):
        keys[f.name] = f.name
        for old in f.metadata.get("deprecated", ()):
            keys.setdefault(old, f.name)
    return keys


def renamed_keys(cls: type, values: Mapping[str, Any], *, where: str, prefix: str = "") -> dict[str, Any]:
    """`values` with every key checked (unknown: "did you mean") and every old key renamed, with a warning."""
    keys = config_keys(cls)
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = keys.get(str(key))
        if name is None:
            known = [f.name for f in dataclasses.fields(cls)]
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean {prefix + close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
            raise XrayBenchError(f"{where}: unknown key {prefix + str(key)!r}{hint}")
        if name != key:
            warn_renamed(repr(prefix + str(key)), repr(prefix + name), where=f"{where}: key ")
            if name in values:
                raise XrayBenchError(f"{where}: both {prefix + str(key)!r} and its new name {prefix + name!r} given")
        out[name] = value
    return out


def build_config(cls: type[C], values: Mapping[str, Any], *, where: str, prefix: str = "") -> C:
    """A `cls` from plain `values` (a YAML mapping merged with command-line overrides), every value coerced to its
    field's type. Unknown keys fail with "did you mean"; an old key works with a warning; `where` (the file) and the
    key are in every error."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in renamed_keys(cls, values, where=where, prefix=prefix).items():
        kwargs[name] = coerce(value, hints[name], where=where, key=prefix + name, meta=fields[name].metadata)
    missing = [n for n, f in fields.items() if _required(f) and f.init and n not in kwargs]
    if missing:
        raise XrayBenchError(f"{where}: missing required key(s): {', '.join(prefix + n for n in missing)}")
    try:
        return cls(**kwargs)
    except XrayBenchError as exc:
        raise XrayBenchError(f"{where}: {exc}") from exc


def load_config(cls: type[C], path: str | Path | None = None, **overrides: Any) -> C:
    """A `cls` from the YAML file `path` (if any) with `overrides` on top (command-line values; None means "not
    given", so a flag never replaces the file's value with a default). Relative paths stay cwd-relative."""
    where = str(path) if path is not None else "command line"
    values = renamed_keys(cls, read_yaml(path), where=where) if path is not None else {}
    values.update({k: v for k, v in overrides.items() if v is not None})
    config = build_config(cls, values, where=where)
    missing = [k for k in getattr(cls, "REQUIRED", ()) if not getattr(config, k)]
    if missing:
        raise XrayBenchError(f"{where}: missing required key(s): {', '.join(missing)}")
    return config
