"""Fixtures shared by the arena tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from arena.judges import Judge, build_judge
from xraybench.llm.options import LLMOptions
from xraybench.taskdata import load_task

CLI_JUDGE = "openai/tiny-test-model"
CLI_PARAMS = {"temperature": 0.0, "max_tokens": 1024}  # the CLI defaults, part of every key

Makers = Mapping[str, Callable[[str], str]]


@pytest.fixture()
def cli_judge() -> Judge:
    """The judge `arena judge --judge openai/tiny-test-model` builds with the CLI defaults, for planning the
    battles (and keys) a CLI run makes; its endpoint is never asked (keys do not depend on it)."""
    judge = build_judge(CLI_JUDGE, LLMOptions(api_base="http://127.0.0.1:9/v1"), structured_output="off")
    assert judge.name == CLI_JUDGE and judge.params == CLI_PARAMS
    return judge


@pytest.fixture()
def prediction_files() -> Callable[[Path, Makers, str], list[str]]:
    """`prediction_files(folder, makers, task)`: one invented model per maker (its report made from each study's
    reference), written as a prediction file; returns the NAME=FILE specs."""

    def write(folder: Path, makers: Makers, task: str) -> list[str]:
        samples = load_task(task).samples
        out = []
        for name, make in makers.items():
            path = folder / f"{name}.jsonl"
            path.write_text("".join(json.dumps({"id": s.id, "prediction": make(s.reference)}) + "\n" for s in samples))
            out.append(f"{name}={path}")
        return out

    return write
