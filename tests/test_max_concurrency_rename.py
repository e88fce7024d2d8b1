"""`run --max-concurrency` is the judges' and teachers' name for model calls in flight (`LLMOptions`); the run's old
`--concurrency` flag, YAML key, run.json key and the API adapters' `--model-arg concurrency=` still work, warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xraybench.cli import build_parser
from xraybench.compare import load_run
from xraybench.config import from_namespace, load_config
from xraybench.errors import XrayBenchError
from xraybench.models.base import build_options
from xraybench.models.openai_compat import ChatOptions
from xraybench.runner import RUN_FILE, RunConfig, run

TASK = "demo_findings"
BASE = ["--model", "baseline:normal", "--tasks", TASK, "--out", "x"]


def _run_config(argv: list[str]) -> RunConfig:
    return from_namespace(RunConfig, build_parser(only="run").parse_args(["run", *argv]))


def test_max_concurrency_is_the_flag_and_concurrency_still_works_with_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _run_config([*BASE, "--max-concurrency", "3"]).max_concurrency == 3
    assert "deprecated" not in capsys.readouterr().err
    assert _run_config([*BASE, "--concurrency", "5"]).max_concurrency == 5
    assert "--concurrency is deprecated; use --max-concurrency" in capsys.readouterr().err
    assert _run_config(BASE).max_concurrency is None  # the adapter's own default applies
    with pytest.raises(SystemExit):
        build_parser(only="run").parse_args(["run", "--help"])
    help_text = capsys.readouterr().out
    assert "--max-concurrency" in help_text and "--concurrency " not in help_text


def test_yaml_key_old_and_new(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = f"model: baseline:normal\ntasks: [{TASK}]\nout: x\n"
    new, old, both = tmp_path / "new.yaml", tmp_path / "old.yaml", tmp_path / "both.yaml"
    new.write_text(base + "max_concurrency: 4\n")
    old.write_text(base + "concurrency: 6\n")
    both.write_text(base + "concurrency: 6\nmax_concurrency: 4\n")
    assert load_config(RunConfig, new).max_concurrency == 4
    assert "deprecated" not in capsys.readouterr().err
    assert load_config(RunConfig, old).max_concurrency == 6
    assert f"{old}: key 'concurrency' is deprecated; use 'max_concurrency'" in capsys.readouterr().err
    with pytest.raises(XrayBenchError, match=r"both 'concurrency' and its new name 'max_concurrency' given"):
        load_config(RunConfig, both)


def test_a_run_folder_written_with_concurrency_still_resumes(tmp_path: Path) -> None:
    """Run folders written before the rename record `concurrency` in run.json's config; they resume as they are."""
    out = tmp_path / "run"
    config = RunConfig(
        model="baseline:normal", tasks=[TASK], out=str(out), bootstrap_rounds=0, progress=False, max_concurrency=2
    )
    first = run(config)
    record = json.loads((out / RUN_FILE).read_text())
    record["config"]["concurrency"] = record["config"].pop("max_concurrency")
    (out / RUN_FILE).write_text(json.dumps(record))
    assert load_run(out)[0].max_concurrency == 2
    again = run(config)
    assert again["resumed"] is True and again["tasks"][TASK]["metrics"] == first["tasks"][TASK]["metrics"]


def test_the_api_adapters_concurrency_model_arg_is_max_concurrency(capsys: pytest.CaptureFixture[str]) -> None:
    options = build_options(ChatOptions, ["concurrency=3"], spec="openai:m")
    assert isinstance(options, ChatOptions) and options.max_concurrency == 3
    assert "--model-arg concurrency= is deprecated; use --model-arg max_concurrency=" in capsys.readouterr().err
    assert build_options(ChatOptions, ["max_concurrency=5"], spec="openai:m").max_concurrency == 5  # type: ignore[attr-defined]
    assert "deprecated" not in capsys.readouterr().err
    with pytest.raises(XrayBenchError, match=r"both concurrency and its new name max_concurrency given"):
        build_options(ChatOptions, ["concurrency=3", "max_concurrency=5"], spec="openai:m")
    with pytest.raises(XrayBenchError, match=r"openai: option 'max_concurrency' expects int, got 'many'"):
        build_options(ChatOptions, ["concurrency=many"], spec="openai:m")
    # in a run the option is the run's flag, under either name (one way per option)
    for model, key in [(m, k) for m in ("openai:m", "hf:/ckpt") for k in ("concurrency", "max_concurrency")]:
        config = _run_config(["--model", model, "--tasks", TASK, "--out", "x", "--model-arg", f"{key}=3"])
        with pytest.raises(XrayBenchError, match=rf"--model-arg {key}=\.\.\.: set it with --max-concurrency"):
            config.model_options()
    config = _run_config(["--model", "openai:m", "--tasks", TASK, "--out", "x", "--concurrency", "7"])
    assert config.model_options().max_concurrency == 7  # type: ignore[attr-defined]
