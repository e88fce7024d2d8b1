"""Every option of every command comes from its config dataclass, and a shared option has one definition.

Before, eleven commands built (part of) their parsers by hand: `--data-root` was defined 8 times, `--seed` and
`--json` 5 times each, `--rounds` meant bootstrap resamples under two names, and `--name` was an arena in one
command and a model in another. These tests walk the real `xraybench` parser, every sub-command included."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from xraybench.cli import build_parser
from xraybench.config import DATA_SOURCE_HELP


def _commands(parser: argparse.ArgumentParser, path: str = "xraybench") -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            yield path, action


@pytest.fixture(scope="module")
def actions() -> list[tuple[str, argparse.Action]]:
    return list(_commands(build_parser()))


def test_every_option_comes_from_a_config_field(actions: list[tuple[str, argparse.Action]]) -> None:
    hand_written = [f"{cmd} {a.option_strings or a.dest}" for cmd, a in actions if not hasattr(a, "config_field")]
    assert hand_written == []
    commands = {cmd for cmd, _ in actions}
    for expected in ("xraybench run", "xraybench samples", "xraybench compare", "xraybench review link",
                     "xraybench train init-tiny", "xraybench train grpo", "xraybench weights fetch"):  # fmt: skip
        assert expected in commands


def _named(actions: list[tuple[str, argparse.Action]], flag: str) -> list[tuple[str, argparse.Action]]:
    return [(cmd, a) for cmd, a in actions if flag in a.option_strings]


def test_data_sources_are_one_option_everywhere(actions: list[tuple[str, argparse.Action]]) -> None:
    found = _named(actions, "--data-root")
    assert {"xraybench run", "xraybench samples", "xraybench validate", "xraybench submit", "xraybench arena judge",
            "xraybench judge-audit", "xraybench train build-data"} <= {cmd for cmd, _ in found}  # fmt: skip
    for cmd, a in found:
        assert (a.dest, a.option_strings, a.metavar) == ("data_roots", ["--data-root", "--data-option"],
                                                         "NAME[.KEY]=VALUE"), cmd  # fmt: skip
        assert isinstance(a, argparse._AppendAction), cmd
    assert sum(a.help == DATA_SOURCE_HELP for _, a in found) >= len(found) - 1  # review create says its default


@pytest.mark.parametrize(
    ("flag", "dest", "kind"), [("--seed", "seed", int), ("--bootstrap-rounds", "bootstrap_rounds", int)]
)
def test_seed_and_bootstrap_rounds_are_one_option(
    actions: list[tuple[str, argparse.Action]], flag: str, dest: str, kind: type
) -> None:
    found = _named(actions, flag)
    assert len(found) >= 5
    assert all((a.dest, a.type) == (dest, kind) for _, a in found), [cmd for cmd, a in found if a.dest != dest]


@pytest.mark.parametrize(("flag", "base"), [("--data-root", "DataSources"), ("--seed", "Seeded"),
                                            ("--bootstrap-rounds", "Bootstrap"), ("--json", "JsonOutput"),
                                            ("--metric-arg", "MetricArgs")])  # fmt: skip
def test_shared_options_copy_their_one_definition(
    actions: list[tuple[str, argparse.Action]], flag: str, base: str
) -> None:
    """A command may change the help or default of a shared option (`shared_option`), never declare its own."""
    own = [cmd for cmd, a in _named(actions, flag) if getattr(a, "defined_in", None) != base]
    assert own == []


def test_every_command_that_scores_takes_metric_args(actions: list[tuple[str, argparse.Action]]) -> None:
    found = {cmd for cmd, _ in _named(actions, "--metric-arg")}
    assert {"xraybench run", "xraybench score", "xraybench compare", "xraybench submit"} <= found


def test_rounds_is_only_a_hidden_alias_of_bootstrap_rounds(actions: list[tuple[str, argparse.Action]]) -> None:
    found = _named(actions, "--rounds")
    assert {"xraybench compare", "xraybench review results"} <= {cmd for cmd, _ in found}
    assert all((a.dest, a.help) == ("bootstrap_rounds", argparse.SUPPRESS) for _, a in found)
    for cmd, _ in found:  # the new name exists wherever the old one still works
        assert cmd in {c for c, _ in _named(actions, "--bootstrap-rounds")}


def test_json_is_one_switch(actions: list[tuple[str, argparse.Action]]) -> None:
    found = _named(actions, "--json")
    assert {"xraybench compare", "xraybench score", "xraybench submit"} <= {cmd for cmd, _ in found}
    assert all(a.dest == "json" and isinstance(a, argparse.BooleanOptionalAction) for _, a in found)


def test_name_never_means_an_arena(actions: list[tuple[str, argparse.Action]]) -> None:
    """`--name` names a model (`submit`) or a review study; an arena is `--arena` (`--name` a hidden old alias)."""
    for cmd, a in _named(actions, "--name"):
        if cmd.startswith("xraybench arena"):
            assert (a.dest, a.help) == ("arena", argparse.SUPPRESS), cmd
        else:
            assert a.dest == "name" and re.match(r"(the )?(model|model's|study) ", a.help or ""), (cmd, a.help)
    assert {cmd for cmd, a in _named(actions, "--arena")} >= {"xraybench submit", "xraybench arena judge"}


def test_old_flags_still_parse(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["compare", "a", "b", "--rounds", "9", "--json"])
    assert (args.bootstrap_rounds, args.json) == (9, True)
    assert "--rounds is deprecated; use --bootstrap-rounds" in capsys.readouterr().err
