"""`xraybench.config`: inherited and keyword-only fields, option groups, choices, `--x A B` lists, one-of groups."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from xraybench.config import add_arguments, from_namespace, option


@dataclass(kw_only=True)
class Shared:
    option_group = "shared things"

    level: int = option(3, help="a shared level")
    tags: list[str] = option([], repeat=True, metavar="TAG", help="tags")


@dataclass
class Command(Shared):
    name: str = option(help="required, declared after the defaulted base fields")
    level: int = option(5, kw_only=True, help="the shared level with this command's default")
    mode: str = option("fast", choices=("fast", "slow"), help="how")
    runs: list[str] = option([], several=True, one_of="source", metavar="DIR", help="run folders")
    files: list[str] = option([], several=True, one_of="source", metavar="FILE", help="files")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cmd")
    add_arguments(parser, Command)
    return parser


def test_inherited_kw_only_fields_parse_and_keep_defaults() -> None:
    config = from_namespace(Command, _parser().parse_args(["--name", "x", "--runs", "a", "b", "--tags", "t"]))
    assert config == Command("x", level=5, tags=["t"], runs=["a", "b"])
    assert config.mode == "fast" and config.files == []
    again = from_namespace(Command, _parser().parse_args(["--name", "y", "--level", "7", "--files", "f"]))
    assert (again.level, again.files, again.runs, again.tags) == (7, ["f"], [], [])


def test_base_options_are_grouped_even_when_a_subclass_changes_the_default() -> None:
    options, group = _parser().format_help().split("options:")[1].split("shared things:")
    assert "--level" in group and "--tags" in group
    assert "--name" in options and "--mode" in options and "--level" not in options


def test_choices_are_enforced(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["--name", "x", "--runs", "a", "--mode", "medium"])
    assert "invalid choice: 'medium'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["--name", "x"], ["--name", "x", "--runs", "a", "--files", "f"]], ids=["neither", "both"]
)
def test_one_of_group_needs_exactly_one(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(argv)
    err = capsys.readouterr().err
    assert "--runs" in err and "--files" in err


# ---- unions of several types: `image_root: str | Path | None` (a loader option) -----------------------------


def test_a_union_of_str_and_path_keeps_text_as_written_and_paths_as_paths() -> None:
    from pathlib import Path

    from xraybench.config import coerce, typed_option

    hint = str | Path | None
    # command-line text stays the text the user wrote, even when it reads as a number or a boolean
    for text in ("2024", "/data/x", "yes", "1e-6"):
        assert typed_option(text, hint, given="--data-option x.image_root", label="image_root") == text
    assert typed_option("null", hint, given="g", label="image_root") is None
    # a Path from Python stays a Path (the member the value already is comes first), an int from YAML is text
    assert coerce(Path("/data/x"), hint, where="w", key="k") == Path("/data/x")
    assert isinstance(coerce(Path("/data/x"), hint, where="w", key="k"), Path)
    assert coerce(2024, hint, where="w", key="k") == "2024"
    assert coerce(Path("/p"), Path, where="w", key="k") == Path("/p")
    assert coerce("/p", Path, where="w", key="k") == Path("/p")


def test_a_union_tries_its_members_in_order_and_names_them_all_when_none_fits() -> None:
    from xraybench.config import coerce, typed_option
    from xraybench.errors import XrayBenchError

    assert coerce(5, int | str, where="w", key="k") == 5
    assert coerce("five", int | str, where="w", key="k") == "five"
    assert coerce(5, str | int, where="w", key="k") == 5  # the member the value already is wins over str(5)
    assert typed_option("5", int | str, given="g", label="n") == 5  # text read as the first member reads it
    assert coerce(0.5, int | float, where="w", key="k") == 0.5
    with pytest.raises(XrayBenchError, match=r"w: key 'k': expected int or float or null, got 'many'"):
        coerce("many", int | float | None, where="w", key="k")
    with pytest.raises(XrayBenchError, match=r"g: n expects int or bool, got 'maybe'"):
        typed_option("maybe", int | bool, given="g", label="n")
