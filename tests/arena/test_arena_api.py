"""The arena's Python API lives in `arena.api`; the CLI modules only map argv to its configs.

Each arena command's options come from its config dataclass (one name per concept: `--arena` names an arena,
`--bootstrap-rounds` the bootstrap; `--name` and `--rounds` are deprecated aliases that still work with a warning),
the library never goes through the CLI, and the leaderboard refuses too few judge verdicts from a battle file as
it does from the store."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

import arena.api
from arena.api import BattlesConfig, JudgeConfig, LeaderboardConfig, build_leaderboard, judge_arena
from xraybench.cli import build_parser, main
from xraybench.errors import XrayBenchError
from xraybench.taskdata import load_task

ROOT = Path(__file__).resolve().parents[2]
CLI_MODULES = {"arena/cli.py", "arena/audit_cli.py"}
TASK = "demo_findings"


def test_api_defines_the_judge_config_and_judge_arena() -> None:
    assert arena.api.JudgeConfig.__module__ == "arena.api"
    assert arena.api.judge_arena.__module__ == "arena.api"
    assert arena.api.build_leaderboard.__module__ == "arena.api"


def test_cli_modules_define_no_config_or_library_function() -> None:
    """A config dataclass in a CLI module is a second home: configs belong in arena.api."""
    for rel in CLI_MODULES:
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
        assert not classes, f"{rel} defines {classes}: configs belong in arena.api"


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_arena_library_never_goes_through_the_cli() -> None:
    """`arena demo` used to build its leaderboard with `xraybench.cli.main(["arena", "leaderboard", ...])`."""
    offenders = {
        rel: sorted(m for m in _imported_modules(ROOT / rel) if m == "xraybench.cli" or m.startswith("xraybench.cli."))
        for rel in (str(p.relative_to(ROOT)) for p in sorted((ROOT / "arena").rglob("*.py")))
        if rel not in CLI_MODULES
    }
    assert {k: v for k, v in offenders.items() if v} == {}


ARENA_COMMANDS = ["judge", "battles", "reparse", "ratings", "leaderboard", "demo"]


def _subparser(parser: object, *path: str) -> object:
    for name in path:
        action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")  # type: ignore[attr-defined]
        parser = action.choices[name]
    return parser


@pytest.mark.parametrize("command", ARENA_COMMANDS)
def test_every_arena_option_comes_from_its_config(command: str) -> None:
    """No hand-written option beside the config: every flag of the command fills a field of its config."""
    from arena.cli import COMMANDS

    config = COMMANDS[command][0]
    fields = {f.name for f in dataclasses.fields(config)}
    sub = _subparser(build_parser(only="arena"), "arena", command)
    dests = {a.dest for a in sub._actions if a.dest != "help"}  # type: ignore[attr-defined]
    assert dests <= fields, f"arena {command}: options outside {config.__name__}: {sorted(dests - fields)}"


@pytest.mark.parametrize("command, config", [("judge-audit", "AuditConfig"), ("submit", "SubmitConfig")])
def test_judge_audit_and_submit_options_come_from_their_configs(command: str, config: str) -> None:
    """`--json` of `judge-audit` and `submit` was added by hand beside the config (it is `JsonOutput` now)."""
    fields = {f.name for f in dataclasses.fields(getattr(arena.api, config))}
    sub = _subparser(build_parser(only=command), command)
    dests = {a.dest for a in sub._actions if a.dest != "help"}  # type: ignore[attr-defined]
    assert "json" in dests and dests <= fields, sorted(dests - fields)


@pytest.mark.parametrize(
    "config",
    [arena.api.JudgeConfig, arena.api.BattlesConfig, arena.api.ReparseConfig, arena.api.LeaderboardConfig,
     arena.api.SubmitConfig],
)  # fmt: skip
def test_one_name_for_the_arena_and_the_bootstrap(config: type) -> None:
    fields = {f.name for f in dataclasses.fields(config)}
    assert "arena" in fields and "rounds" not in fields and "data_root" not in fields
    assert "name" not in fields or config is arena.api.SubmitConfig  # submit's --name is the model's name


@pytest.fixture()
def specs(tmp_path: Path) -> list[str]:
    """Two invented models on the demo task: one writes the reference, one a wrong report."""
    out = []
    for name, make in {"echo": lambda ref: ref, "wrong": lambda ref: "Large left pneumothorax."}.items():
        path = tmp_path / f"{name}.jsonl"
        rows = [{"id": s.id, "prediction": make(s.reference)} for s in load_task(TASK).samples]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        out.append(f"{name}={path}")
    return out


def test_build_leaderboard_from_the_store_without_the_cli(tmp_path: Path, specs: list[str]) -> None:
    store = tmp_path / "j.sqlite"
    judge_arena(JudgeConfig("unit", TASK, "metric:clinical", predictions=specs, store=str(store)), progress=False)
    board = build_leaderboard(
        LeaderboardConfig(arena="unit", store=str(store), out=str(tmp_path / "board"), bootstrap_rounds=20)
    )
    data = json.loads((board.out / "leaderboard.json").read_text())
    assert [r["model"] for r in data["models"]] == ["echo", "wrong"]  # the reference beats a wrong report
    assert data["proxy_note"].startswith("reference-based proxy judge") and data["settings"]["rounds_used"] == 20
    assert board.counts is not None and board.counts["n_verdicts"] == data["n_judgments"] > 0
    assert (board.out / "leaderboard.md") in board.written


def test_a_judge_the_store_never_planned_is_named(tmp_path: Path, specs: list[str]) -> None:
    store = tmp_path / "j.sqlite"
    judge_arena(JudgeConfig("unit", TASK, "metric:lexical", predictions=specs, store=str(store)), progress=False)
    for call, config in (
        (build_leaderboard, LeaderboardConfig(arena="unit", store=str(store), judge="openai/other")),
        (arena.api.battles, BattlesConfig(arena="unit", store=str(store), out=str(tmp_path / "b.jsonl"), judge="x")),
    ):
        with pytest.raises(XrayBenchError, match=r"no battles of judge '.+' \(its judges: metric:lexical\)"):
            call(config)  # type: ignore[operator]


def _battle_file(path: Path, rows: list[tuple[str, str]]) -> Path:
    """Battle rows (winner, source) between two models on distinct studies; source "" leaves the column out."""
    lines = []
    for i, (winner, source) in enumerate(rows):
        row = {"model_a": "a", "model_b": "b", "winner": winner, "study_id": f"s{i}"}
        lines.append(json.dumps({**row, "source": source} if source else row))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_battle_file_of_automatic_ties_only_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A battle file exported from a judge that gave no verdict used to make a leaderboard of 1000 [1000, 1000]:
    the min-verdict check ran on the store only."""
    ties = _battle_file(tmp_path / "ties.jsonl", [("tie", "identical")] * 6)
    with pytest.raises(XrayBenchError, match="not publishing a leaderboard: the judge gave 0 verdicts"):
        build_leaderboard(LeaderboardConfig(arena="t", battles=str(ties), out=str(tmp_path / "refused")))
    assert not (tmp_path / "refused").exists()
    argv = ["arena", "leaderboard", "--arena", "t", "--battles", str(ties), "--bootstrap-rounds", "10"]
    assert main([*argv, "--out", str(tmp_path / "cli")]) == 1
    assert "not publishing a leaderboard" in capsys.readouterr().err
    assert main([*argv, "--out", str(tmp_path / "warned"), "--allow-few-verdicts"]) == 0
    data = json.loads((tmp_path / "warned" / "leaderboard.json").read_text())
    assert data["banner"].startswith("Too few judge verdicts") and data["n_identical"] == 6
    assert data["n_judgments"] == 0 and data["n_failed"] is None  # a file does not say what failed


def test_a_battle_file_with_verdicts_counts_them_and_one_without_sources_is_rated(tmp_path: Path) -> None:
    mixed = _battle_file(tmp_path / "mixed.jsonl", [("model_a", "judge")] * 3 + [("tie", "identical")] * 2)
    board = build_leaderboard(LeaderboardConfig(arena="t", battles=str(mixed), out=str(tmp_path / "m")))
    assert board.banner is None and board.counts is not None
    assert (board.counts["n_verdicts"], board.counts["n_identical"]) == (3, 2)
    assert (
        "judge verdicts: 3; automatic ties (identical reports, no call): 2"
        in (board.out / "leaderboard.md").read_text()
    )
    plain = _battle_file(tmp_path / "plain.jsonl", [("model_a", "")] * 2 + [("tie", "")])
    board = build_leaderboard(LeaderboardConfig(arena="t", battles=str(plain), out=str(tmp_path / "p")))
    assert board.counts is None and board.banner is None
    assert (
        "battles read from a file: 3 (judge verdicts and automatic ties" in (board.out / "leaderboard.md").read_text()
    )


def test_new_names_and_their_deprecated_aliases_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    battles = _battle_file(tmp_path / "b.jsonl", [("model_a", "judge"), ("model_b", "judge"), ("model_a", "judge")])
    base = ["arena", "leaderboard", "--battles", str(battles), "--seed", "3"]
    assert main([*base, "--arena", "t", "--bootstrap-rounds", "15", "--out", str(tmp_path / "new")]) == 0
    assert "deprecated" not in capsys.readouterr().err
    assert main([*base, "--name", "t", "--rounds", "15", "--out", str(tmp_path / "old")]) == 0
    err = capsys.readouterr().err
    assert "--name is deprecated; use --arena" in err and "--rounds is deprecated; use --bootstrap-rounds" in err
    for name in ("leaderboard.json", "leaderboard.md", "leaderboard.csv"):
        assert (tmp_path / "new" / name).read_text() == (tmp_path / "old" / name).read_text()


def test_export_choices_exclude_each_other(tmp_path: Path) -> None:
    config = BattlesConfig(arena="t", out=str(tmp_path / "b.jsonl"), judge_config="x", all_configs=True)
    with pytest.raises(XrayBenchError, match="--judge-config and --all-configs exclude each other"):
        arena.api.battles(config)
