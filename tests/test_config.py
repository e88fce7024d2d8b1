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
