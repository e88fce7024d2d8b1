"""The arena's Python API lives in `arena.api`; the CLI modules only map argv to its configs."""

from __future__ import annotations

import ast
from pathlib import Path

import arena.api

ROOT = Path(__file__).resolve().parents[2]
CLI_MODULES = ("arena/cli.py", "arena/audit_cli.py")


def test_api_defines_the_judge_config_and_judge_arena() -> None:
    assert arena.api.JudgeConfig.__module__ == "arena.api"
    assert arena.api.judge_arena.__module__ == "arena.api"


def test_cli_modules_define_no_config_or_library_function() -> None:
    """A config dataclass or a library function (one that takes a config, not argv) in a CLI module is a second home."""
    for rel in CLI_MODULES:
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
        assert not classes, f"{rel} defines {classes}: configs belong in arena.api"
