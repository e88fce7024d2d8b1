"""One generation config (`xraybench.generate.GenerateConfig`) for runs, adapters, judges and teachers;
`run --model-arg KEY=VALUE` typed against the adapter's declared options; `run --name`."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

import xraybench.models.base as models_base
from xraybench.cli import build_parser, main
from xraybench.compare import load_run
from xraybench.config import from_namespace
from xraybench.errors import XrayBenchError
from xraybench.generate import GenerateConfig
from xraybench.llm.options import LLMOptions
from xraybench.models import MODELS, options_class
from xraybench.models.base import ModelArgs, build_options
from xraybench.models.hf import HFOptions
from xraybench.models.vllm import VLLMOptions
from xraybench.runner import PREDICTIONS_FILE, RUN_FILE, RunConfig, run

TASK = "demo_findings"


def _fields(cls: type) -> dict[str, dataclasses.Field]:  # type: ignore[type-arg]
    return {f.name: f for f in dataclasses.fields(cls)}


def _definition(f: dataclasses.Field) -> dict[str, object]:  # type: ignore[type-arg]
    """Flag, help, aliases, ...: what a field's `option` says (not which base `shared_option` took it from)."""
    return {k: v for k, v in f.metadata.items() if k != "defined_in"}


def _run_config(argv: list[str]) -> RunConfig:
    args = build_parser(only="run").parse_args(["run", *argv])
    return from_namespace(RunConfig, args)


def test_decoding_fields_are_defined_once_for_runs_and_judges() -> None:
    """Was: `RunConfig`, `ModelOptions` and `LLMOptions` each declared temperature / token limit / timeout with
    their own names, defaults and help (`max_new_tokens` in one, `max_tokens` in another)."""
    assert not hasattr(models_base, "ModelOptions")
    run_fields, llm_fields, gen_fields = _fields(RunConfig), _fields(LLMOptions), _fields(GenerateConfig)
    assert "max_new_tokens" not in run_fields and "max_new_tokens" not in llm_fields
    for name in gen_fields:
        assert _definition(run_fields[name]) == _definition(gen_fields[name]) or name == "seed", name
    for name in ("temperature", "timeout_s", "max_answer_bytes"):
        assert _definition(llm_fields[name]) == _definition(gen_fields[name]), name
        assert llm_fields[name].default == gen_fields[name].default, name
    # the judges' longer answer limit is the one definition with another default
    assert llm_fields["max_tokens"].default == 1024 and gen_fields["max_tokens"].default == 512
    assert llm_fields["max_tokens"].metadata["deprecated"] == gen_fields["max_tokens"].metadata["deprecated"]


def test_max_tokens_is_the_flag_and_max_new_tokens_still_works_with_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = ["--model", "baseline:normal", "--tasks", TASK, "--out", "x"]
    assert _run_config([*base, "--max-tokens", "7"]).max_tokens == 7
    assert "deprecated" not in capsys.readouterr().err
    assert _run_config([*base, "--max-new-tokens", "9"]).max_tokens == 9
    err = capsys.readouterr().err
    assert "--max-new-tokens is deprecated; use --max-tokens" in err
    config = _run_config([*base, "--stop-seqs", "</s>", "--stop-seqs", "END", "--temperature", "0.6"])
    assert config.generate_config().decoding() == {
        "temperature": 0.6, "top_p": 1.0, "max_tokens": 512, "seed": 0, "stop_seqs": ["</s>", "END"]
    }  # fmt: skip


def test_bad_decoding_values_fail_before_any_work() -> None:
    with pytest.raises(XrayBenchError, match=r"--top-p must be a number in \(0, 1\], got 1.5"):
        RunConfig(model="baseline:normal", tasks=[TASK], out="x", top_p=1.5)
    with pytest.raises(XrayBenchError, match="--max-tokens must be a positive integer, got 0"):
        GenerateConfig(max_tokens=0)


def test_model_arg_is_typed_against_the_adapter_declaration() -> None:
    """Was: only six adapter options could be set from the command line; `--model-arg` did not exist."""
    config = _run_config(
        ["--model", "vllm:/ckpt/grpo", "--tasks", TASK, "--out", "x", "--model-arg", "enforce_eager=true",
         "--model-arg", "gpu_memory_utilization=0.5", "--model-arg", "max_model_len=4096", "--model-arg",
         "dtype=bfloat16"]
    )  # fmt: skip
    options = config.model_options()
    assert isinstance(options, VLLMOptions)
    assert (options.enforce_eager, options.gpu_memory_utilization, options.max_model_len) == (True, 0.5, 4096)
    # what changes predictions is in the run's identity; engine sizing is not
    assert config.identity()["model_args"] == {"max_model_len": 4096, "dtype": "bfloat16"}


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("batch_size", "--model-arg expects KEY=VALUE"),
        ("max_model_len=lots", r"--model-arg max_model_len=lots: the vllm: option 'max_model_len' expects int"),
        ("enforce_eagre=true", r"has no option 'enforce_eagre'\. Did you mean 'enforce_eager'\?"),
        ("name=other", "set it with --name"),
        ("max_tokens=64", "max_tokens is a generation option, not an adapter's: set it with --max-tokens"),
    ],
)
def test_bad_model_args_name_the_option_value_and_type(
    arg: str, message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["run", "--model", "vllm:/ckpt/grpo", "--tasks", TASK, "--out", str(tmp_path / "r"),
                 "--model-arg", arg])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert re.search(message, err), err
    assert not (tmp_path / "r").exists()  # refused before any work


def test_a_run_flag_for_another_kind_of_model_is_refused() -> None:
    config = RunConfig(model="hf:/ckpt/grpo", tasks=[TASK], out="x", api_base="http://127.0.0.1:8000/v1")
    with pytest.raises(XrayBenchError, match="--api-base does not apply to hf: models"):
        config.model_options()


def test_every_adapter_declares_its_options_and_the_python_api_takes_a_dict_or_the_dataclass() -> None:
    for name in MODELS.names():
        cls = options_class(MODELS.get(name))
        assert issubclass(cls, ModelArgs) and "name" in _fields(cls), name
    as_dict = build_options(HFOptions, {"device": "cpu", "dtype": "float32"}, spec="hf:x")
    as_class = build_options(HFOptions, HFOptions(device="cpu", dtype="float32"), spec="hf:x")
    assert as_dict == as_class == HFOptions(device="cpu", dtype="float32")
    config = RunConfig(model="hf:/c", tasks=[TASK], out="x", model_args=HFOptions(dtype="float16"))
    assert config.model_args == {"dtype": "float16"} and config.model_options().dtype == "float16"


def test_name_renames_a_baseline_everywhere_and_is_part_of_the_identity(tmp_path: Path) -> None:
    out = tmp_path / "run"
    results = run(RunConfig(model="baseline:normal", tasks=[TASK], out=str(out), name="normal-v2",
                            bootstrap_rounds=0, progress=False))  # fmt: skip
    assert results["model"] == {"spec": "baseline:normal", "name": "normal-v2"}
    models = {json.loads(line)["model"] for line in (out / PREDICTIONS_FILE).read_text().splitlines()}
    assert models == {"normal-v2"}
    assert load_run(out)[0].name == "normal-v2"
    with pytest.raises(XrayBenchError, match=r"name: 'normal-v2' -> 'normal-v3'"):
        run(RunConfig(model="baseline:normal", tasks=[TASK], out=str(out), name="normal-v3", progress=False))


def test_a_run_folder_written_with_max_new_tokens_still_resumes(tmp_path: Path) -> None:
    """Run folders written before the rename record `max_new_tokens`; they mean `max_tokens` and resume."""
    out = tmp_path / "run"
    config = RunConfig(model="baseline:normal", tasks=[TASK], out=str(out), bootstrap_rounds=0, progress=False)
    first = run(config)
    record = json.loads((out / RUN_FILE).read_text())
    for part in ("identity", "config"):
        record[part]["max_new_tokens"] = record[part].pop("max_tokens")
    for newer in ("name", "model_args", "stop_seqs"):  # settings that came with the rename
        record["config"].pop(newer)
    (out / RUN_FILE).write_text(json.dumps(record))
    assert load_run(out)[0].max_tokens == 512
    again = run(config)
    assert again["resumed"] is True and again["tasks"][TASK]["metrics"] == first["tasks"][TASK]["metrics"]
    with pytest.raises(XrayBenchError, match=r"max_tokens: 512 -> 64"):
        run(dataclasses.replace(config, max_tokens=64))


def test_list_models_shows_each_adapters_model_args(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "models"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "[--model-arg KEY=VALUE: device, dtype, system_prompt, max_images]" in out  # hf: (batch: --batch-size)
    assert "max_model_len" in out and "gpu_memory_utilization" in out  # vllm:


def test_model_args_and_decoding_reach_an_openai_compatible_server(tmp_path: Path) -> None:
    """`--model-arg system_prompt=...`, `--stop-seqs` and `--max-tokens` end up in every real HTTP request."""
    from xraybench.testing.openai_server import OpenAIServer

    out = tmp_path / "run"
    with OpenAIServer() as server:
        code = main(["run", "--model", "openai:tiny-test-model", "--api-base", server.base_url, "--tasks", "demo_vqa",
                     "--limit", "2", "--model-arg", "system_prompt=You are a radiologist.", "--stop-seqs", "</answer>",
                     "--max-tokens", "33", "--name", "tiny-sys", "--bootstrap-rounds", "0", "--no-progress",
                     "--out", str(out)])  # fmt: skip
        bodies = [r.body for r in server.chat_requests()]
    assert code == 0 and len(bodies) == 2
    for body in bodies:
        assert body["messages"][0] == {"role": "system", "content": "You are a radiologist."}
        assert body["stop"] == ["</answer>"] and body["max_tokens"] == 33
    identity = json.loads((out / RUN_FILE).read_text())["identity"]
    assert identity["model_args"] == {"system_prompt": "You are a radiologist."} and identity["name"] == "tiny-sys"
    assert identity["stop_seqs"] == ["</answer>"] and identity["max_tokens"] == 33


def test_judges_refuse_bad_decoding_values_like_runs() -> None:
    with pytest.raises(XrayBenchError, match="--temperature must be a number >= 0, got -0.5"):
        LLMOptions(temperature=-0.5)
    with pytest.raises(XrayBenchError, match="--max-tokens must be a positive integer, got 0"):
        LLMOptions(max_tokens=0)
