"""The synthesis teacher and checker are built from the shared LLM options (the checker from its `checker_*`)."""

from __future__ import annotations

from pathlib import Path

from medix_train.synthesize import CHECKER_MAX_TOKENS, SynthesizeConfig, _LLMTeacher
from xraybench.retry import RetryPolicy


def _config(tmp_path: Path, **kw: object) -> SynthesizeConfig:
    values: dict[str, object] = {
        "teacher": "openai/teacher", "api_base": "http://127.0.0.1:9/v1", "prompts": str(tmp_path / "p.jsonl"),
        "out": str(tmp_path / "coldstart.jsonl"), "temperature": 0.6, "max_tokens": 900, "timeout_s": 11.0,
        "price_per_1k_tokens": 1.0, "budget_usd": 2.0, "max_concurrency": 3, "rpm": 30.0, "max_attempts": 2,
    }  # fmt: skip
    return SynthesizeConfig(**{**values, **kw})  # type: ignore[arg-type]


def test_teacher_and_checker_clients_and_runners(tmp_path: Path) -> None:
    config = _config(tmp_path, checker="openai/checker", checker_api_base="http://127.0.0.1:10/v1",
                     checker_price_per_1k_tokens=0.5)  # fmt: skip
    teacher = _LLMTeacher(config, None)
    try:
        c = teacher.client
        assert (c.model, c.api_base, c.temperature, c.max_tokens, c.timeout_s) == (
            "openai/teacher", "http://127.0.0.1:9/v1", 0.6, 900, 11.0
        )  # fmt: skip
        k = teacher.checker
        assert k is not None
        assert (k.model, k.api_base, k.temperature, k.max_tokens, k.timeout_s, k.price_per_1k_tokens) == (
            "openai/checker", "http://127.0.0.1:10/v1", 0.0, CHECKER_MAX_TOKENS, 11.0, 0.5
        )  # fmt: skip
        assert teacher.runner.policy.max_attempts == 2 and teacher.runner.max_concurrency == 3
        assert teacher.check_runner is not None and teacher.check_runner.budget is teacher.runner.budget
    finally:
        teacher.close()


def test_a_given_policy_wins_over_max_attempts(tmp_path: Path) -> None:
    policy = RetryPolicy(max_attempts=5, base_delay_s=0.01)
    teacher = _LLMTeacher(_config(tmp_path), policy)
    try:
        assert teacher.runner.policy is policy and teacher.checker is None and teacher.check_runner is None
    finally:
        teacher.close()
