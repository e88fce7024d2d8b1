"""Every LLM-calling command takes the shared `LLMOptions`: same flags, same defaults, same YAML keys as before."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import pytest

from arena.api import JudgeConfig
from arena.audit import AuditConfig
from arena.submission import SubmitConfig
from medix_train.synthesize import SynthesizeConfig, load_synthesize_config
from xraybench.cli import build_parser
from xraybench.config import from_namespace
from xraybench.llm.options import DryRun, LLMOptions
from xraybench.reasoning.score import ReasoningScoreConfig

LLM_FLAGS = [
    "--api-base", "http://127.0.0.1:8000/v1", "--api-key-env", "MY_KEY", "--temperature", "0.5",
    "--max-tokens", "99", "--timeout-s", "5", "--price-per-1k-tokens", "0.2", "--budget-usd", "1.5",
    "--max-concurrency", "2", "--rpm", "60", "--max-attempts", "3",
    "--allow-provider", "openai", "--allow-provider", "anthropic",
]  # fmt: skip
LLM_VALUES = {
    "api_base": "http://127.0.0.1:8000/v1", "api_key_env": "MY_KEY", "temperature": 0.5, "max_tokens": 99,
    "timeout_s": 5.0, "price_per_1k_tokens": 0.2, "budget_usd": 1.5, "max_concurrency": 2, "rpm": 60.0,
    "max_attempts": 3, "allow_provider": ["openai", "anthropic"],
}  # fmt: skip
COMMANDS: list[tuple[type, list[str], dict[str, Any]]] = [
    (
        JudgeConfig,
        ["arena", "judge", "--name", "n", "--task", "demo_findings", "--judge", "openai/j", "--predictions",
         "a=a.jsonl", "b=b.jsonl", "--studies", "4", "--schedule", "adaptive", "--new-model", "a", "--batch-size",
         "8", "--seed", "3", "--store", "s.sqlite", "--data-root", "demo=/d", "--dry-run", "--json", "--judge",
         "openai/k"],
        {"arena": "n", "task": "demo_findings", "judge": ["openai/j", "openai/k"], "predictions": ["a=a.jsonl", "b=b.jsonl"],
         "runs": [], "studies": 4, "schedule": "adaptive", "new_model": "a", "batch_size": 8, "seed": 3,
         "store": "s.sqlite", "data_roots": ["demo=/d"], "dry_run": True},
    ),
    (
        AuditConfig,
        ["judge-audit", "--judge", "openai/j", "--task", "demo_findings", "--n", "5", "--dry-run"],
        {"judge": "openai/j", "task": "demo_findings", "n": 5, "dry_run": True},
    ),
    (
        SubmitConfig,
        ["submit", "--name", "m", "--predictions", "p.jsonl", "--arena", "a", "--data-root", "demo=/d"],
        {"name": "m", "predictions": "p.jsonl", "arena": "a", "data_roots": ["demo=/d"]},
    ),
    (
        ReasoningScoreConfig,
        ["reasoning-score", "--run", "r", "--judge", "openai/j", "--tasks", "a,b", "--dry-run"],
        {"run": "r", "judge": "openai/j", "tasks": ["a", "b"], "dry_run": True},
    ),
]  # fmt: skip


def _parse(argv: list[str]) -> argparse.Namespace:
    return build_parser(only=argv[0]).parse_args(argv)


@pytest.mark.parametrize("cls, argv, expected", COMMANDS, ids=[c[0].__name__ for c in COMMANDS])
def test_every_flag_parses_into_the_config(cls: type, argv: list[str], expected: dict[str, Any]) -> None:
    config = from_namespace(cls, _parse([*argv, *LLM_FLAGS]))
    assert {k: getattr(config, k) for k in expected} == expected
    assert {k: getattr(config, k) for k in LLM_VALUES} == LLM_VALUES


@pytest.mark.parametrize(
    "cls, max_tokens",
    [(JudgeConfig, 1024), (AuditConfig, 1024), (SubmitConfig, 1024), (ReasoningScoreConfig, 2048),
     (SynthesizeConfig, 2048)],
)  # fmt: skip
def test_each_command_keeps_its_defaults(cls: type, max_tokens: int) -> None:
    assert issubclass(cls, LLMOptions)
    defaults = {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
    assert defaults["max_tokens"] == max_tokens
    assert (defaults["temperature"], defaults["timeout_s"], defaults["max_concurrency"]) == (0.0, 120.0, 8)
    assert (defaults["max_attempts"], defaults["rpm"], defaults["budget_usd"]) == (6, None, None)
    assert issubclass(cls, DryRun) == (cls is not SubmitConfig)


def test_judge_defaults_from_the_command_line() -> None:
    config = from_namespace(JudgeConfig, _parse(["arena", "judge", "--name", "n", "--task", "t", "--judge",
                                                  "metric:clinical", "--runs", "r1", "r2"]))  # fmt: skip
    assert (config.runs, config.predictions, config.schedule, config.batch_size, config.dry_run) == (
        ["r1", "r2"], [], "full", 16, False
    )  # fmt: skip
    assert config.allow_provider == [] and config.data_roots == [] and config.max_tokens == 1024


@pytest.mark.parametrize(
    "argv",
    [["--name", "n", "--task", "t", "--judge", "j"],
     ["--name", "n", "--task", "t", "--judge", "j", "--runs", "r", "--predictions", "a=f"],
     ["--name", "n", "--task", "t", "--judge", "j", "--runs", "r", "--schedule", "sometimes"]],
    ids=["no-source", "two-sources", "bad-schedule"],
)  # fmt: skip
def test_judge_refuses_what_it_refused_before(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parse(["arena", "judge", *argv])
    assert "error:" in capsys.readouterr().err


def test_synthesize_flags_override_the_yaml_with_checker_keys(tmp_path: Any) -> None:
    yaml_file = tmp_path / "synthesize.yaml"
    yaml_file.write_text(
        "teacher: openai/t\napi_base: http://127.0.0.1:8000/v1\nprompts: p.jsonl\nout: o.jsonl\nchecker: openai/c\n"
        "checker_api_base: http://127.0.0.1:8001/v1\nchecker_api_key_env: CHECK_KEY\n"
        "checker_price_per_1k_tokens: 0.1\nmax_attempts: 4\nallow_provider: [openai]\n",
        encoding="utf-8",
    )
    args = _parse(["train", "synthesize", "--config", str(yaml_file), "--checker-price-per-1k-tokens", "0.3",
                   "--max-tokens", "512", "--dry-run"])  # fmt: skip
    from medix_train.cli import _overrides

    config = load_synthesize_config(args.config, **_overrides(args, SynthesizeConfig))
    assert (config.teacher, config.api_base, config.checker, config.checker_api_base) == (
        "openai/t", "http://127.0.0.1:8000/v1", "openai/c", "http://127.0.0.1:8001/v1"
    )  # fmt: skip
    assert (config.checker_api_key_env, config.checker_price_per_1k_tokens) == ("CHECK_KEY", 0.3)
    assert (config.max_attempts, config.max_tokens, config.dry_run, config.allow_provider) == (4, 512, True, ["openai"])
    assert config.policy().max_attempts == 4
