"""`xraybench.llm.options`: one definition of the LLM-call options and the builders every command uses."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from xraybench.callstore import CallStore
from xraybench.config import option
from xraybench.errors import XrayBenchError
from xraybench.llm.options import CLIENT_OPTIONS, GROUP, DryRun, LLMOptions, llm_option
from xraybench.records import Sample

LOCAL = "http://127.0.0.1:9/v1"  # never contacted: the builders make no request


@dataclass
class Command(LLMOptions, DryRun):
    model: str = option(help="the model")
    max_tokens: int = llm_option("max_tokens", 2048)
    second: str | None = option(None, help="a second model")
    second_api_base: str | None = llm_option("api_base", who="second")
    second_price_per_1k_tokens: float | None = llm_option("price_per_1k_tokens", who="second")


def _fields(cls: type) -> dict[str, dataclasses.Field]:  # type: ignore[type-arg]
    return {f.name: f for f in dataclasses.fields(cls)}


def test_defaults() -> None:
    base = LLMOptions()
    assert (base.api_base, base.api_key_env, base.temperature, base.max_tokens, base.timeout_s) == (
        None, None, 0.0, 1024, 120.0
    )  # fmt: skip
    assert (base.price_per_1k_tokens, base.budget_usd, base.max_concurrency, base.rpm, base.max_attempts) == (
        None, None, 8, None, 6
    )  # fmt: skip
    assert base.allow_provider == [] and LLMOptions().allow_provider is not base.allow_provider
    assert DryRun().dry_run is False


def test_llm_option_keeps_the_definition_and_changes_only_what_it_is_asked() -> None:
    own, shared = _fields(Command), _fields(LLMOptions)
    assert Command("m").max_tokens == 2048
    assert own["max_tokens"].metadata == shared["max_tokens"].metadata
    assert own["second_api_base"].metadata["help"] == "second: " + shared["api_base"].metadata["help"]
    assert own["second_price_per_1k_tokens"].default is None
    assert [n for n in own if n in shared] == list(shared)  # inherited, in the shared order


def test_client_takes_every_client_option() -> None:
    config = Command("openai/m", api_base=LOCAL, temperature=0.4, max_tokens=77, timeout_s=9.0, price_per_1k_tokens=2.0)
    client = config.client(config.model)
    assert (client.model, client.api_base, client.temperature, client.max_tokens, client.timeout_s) == (
        "openai/m", LOCAL, 0.4, 77, 9.0
    )  # fmt: skip
    assert client.prices() == (0.002, 0.002)
    assert set(CLIENT_OPTIONS) <= set(_fields(LLMOptions))


def test_client_with_prefix_uses_the_prefixed_options_then_the_shared_ones() -> None:
    config = Command("openai/m", api_base=LOCAL, timeout_s=9.0, temperature=0.7, price_per_1k_tokens=2.0,
                     second="openai/s", second_api_base="http://127.0.0.1:10/v1")  # fmt: skip
    client = config.client("openai/s", prefix="second_", temperature=0.0, max_tokens=64)
    assert client.api_base == "http://127.0.0.1:10/v1"
    assert client.price_per_1k_tokens is None  # its own price (none given), not the first model's
    assert (client.timeout_s, client.temperature, client.max_tokens) == (9.0, 0.0, 64)  # shared, then overrides


def test_client_errors_name_the_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEY_FOR_TESTS", raising=False)
    with pytest.raises(XrayBenchError, match="NO_SUCH_KEY_FOR_TESTS"):
        Command("openai/m", api_base=LOCAL, api_key_env="NO_SUCH_KEY_FOR_TESTS").client("openai/m")


def test_runner_options_and_runner(tmp_path: object) -> None:
    config = Command("openai/m", api_base=LOCAL, max_concurrency=3, rpm=120.0, budget_usd=1.0, max_attempts=2,
                     price_per_1k_tokens=1.0)  # fmt: skip
    options = config.runner_options()
    assert {k: options[k] for k in ("max_concurrency", "rpm", "budget_usd")} == {
        "max_concurrency": 3, "rpm": 120.0, "budget_usd": 1.0
    }  # fmt: skip
    assert options["policy"].max_attempts == 2
    with CallStore(tmp_path / "calls.sqlite") as store:  # type: ignore[operator]
        runner = config.runner(config.client(config.model), store, expected_completion_tokens=5)
        assert (runner.max_concurrency, runner.policy.max_attempts, runner.expected_completion_tokens) == (3, 2, 5)
        assert runner.limiter is not None and runner.limiter.interval == pytest.approx(0.5)


def test_check_governance_uses_allow_provider() -> None:
    secret = [Sample("s1", "t", "mimic_cxr", "test", "p", "r", credentialed=True)]
    remote = Command("openai/m", api_base="https://api.example.com/v1")
    with pytest.raises(XrayBenchError, match="refusing to distill.*--allow-provider openai"):
        remote.check_governance(secret, remote.client(remote.model), action="distill")
    allowed = Command("openai/m", api_base="https://api.example.com/v1", allow_provider=["openai"])
    allowed.check_governance(secret, allowed.client(allowed.model))
    local = Command("openai/m", api_base=LOCAL)
    local.check_governance(secret, local.client(local.model))


def test_options_are_grouped_in_help() -> None:
    import argparse

    from xraybench.config import add_arguments

    parser = argparse.ArgumentParser(prog="cmd")
    add_arguments(parser, Command)
    group = parser.format_help().split(GROUP + ":")[1]
    for name in (*_fields(LLMOptions), "dry_run"):
        assert "--" + name.replace("_", "-") in group
