"""One YAML loader with one coercion for every command's config file (`xraybench.config.load_config`).

Before, `train sft|coldstart|grpo`, `train build-data` and `train synthesize` each had their own loader: only the
first read YAML 1.1's `1e-6` (a string to PyYAML) as a float, the three worded errors differently, and none knew
an option's old name."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import pytest

from medix_train.config import SFTStageConfig, load_config
from medix_train.data import load_build_config
from medix_train.synthesize import load_synthesize_config
from xraybench.config import Bootstrap, DataSources, JsonOutput, Seeded, add_arguments, from_namespace, option
from xraybench.errors import XrayBenchError

STAGE = "model: m\ndata: [d.jsonl]\noutput_dir: o\n"
SYNTH = "teacher: builtin:template\nprompts: p.jsonl\nout: o.jsonl\n"


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    return path


def test_yaml_1_1_exponent_is_a_float_in_every_loader(tmp_path: Path) -> None:
    # PyYAML reads `1e-6` (no dot) as the string "1e-6"; the synthesize loader refused it as "str"
    synth = load_synthesize_config(_yaml(tmp_path, SYNTH + "price_per_1k_tokens: 1e-6\nmin_answer_score: 5e-1\n"))
    assert (synth.price_per_1k_tokens, synth.min_answer_score) == (1e-6, 0.5)
    assert load_config(SFTStageConfig, _yaml(tmp_path, STAGE + "learning_rate: 1e-6\n")).learning_rate == 1e-6


@pytest.mark.parametrize("loader", ["stage", "build-data", "synthesize"])
def test_every_loader_names_file_key_value_and_type_alike(tmp_path: Path, loader: str) -> None:
    load = {
        "stage": lambda p: load_config(SFTStageConfig, p),
        "build-data": lambda p: load_build_config(p, "sft"),
        "synthesize": load_synthesize_config,
    }[loader]
    base = {"stage": STAGE, "build-data": "", "synthesize": SYNTH}[loader]
    key = "min_boxes" if loader == "synthesize" else "seed"  # an int field of each config
    with pytest.raises(XrayBenchError, match=rf"x\.yaml: key '{key}': expected int, got 'ten'$"):
        load(_yaml(tmp_path, base + f"{key}: ten\n"))
    with pytest.raises(XrayBenchError, match=rf"x\.yaml: unknown key '{key}x'; did you mean '{key}'\?"):
        load(_yaml(tmp_path, base + f"{key}x: 1\n"))


def test_limit_that_may_be_null_says_so(tmp_path: Path) -> None:
    with pytest.raises(XrayBenchError, match=r"x\.yaml: key 'limit': expected int or null, got 'many'"):
        load_synthesize_config(_yaml(tmp_path, SYNTH + "limit: many\n"))


def test_old_key_still_loads_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`data_root` (the arena's and judge-audit's old name) is `data_roots` everywhere; a file with the old key
    still loads, and the user is told the new name."""
    config = load_build_config(_yaml(tmp_path, "tasks: [demo_vqa]\ndata_root: {demo: /x}\n"), "sft")
    assert config.data_roots == ["demo=/x"]
    err = capsys.readouterr().err
    assert "x.yaml: key 'data_root' is deprecated; use 'data_roots'" in err
    with pytest.raises(XrayBenchError, match="both 'data_root' and its new name 'data_roots' given"):
        load_build_config(_yaml(tmp_path, "tasks: [demo_vqa]\ndata_root: [demo=/x]\ndata_roots: [demo=/y]\n"), "sft")


@dataclass
class Command(DataSources, Seeded, Bootstrap, JsonOutput):
    arena: str = option(deprecated=("name",), help="arena name")


def _parse(argv: list[str]) -> Command:
    parser = argparse.ArgumentParser(prog="cmd")
    add_arguments(parser, Command)
    return from_namespace(Command, parser.parse_args(argv))


def test_old_flags_still_work_and_warn(capsys: pytest.CaptureFixture[str]) -> None:
    config = _parse(["--name", "a", "--rounds", "7", "--data-root", "demo=/d", "--seed", "2", "--json"])
    assert (config.arena, config.bootstrap_rounds, config.data_roots, config.seed, config.json) == (
        "a", 7, ["demo=/d"], 2, True
    )  # fmt: skip
    err = capsys.readouterr().err
    assert "--name is deprecated; use --arena" in err and "--rounds is deprecated; use --bootstrap-rounds" in err
    assert _parse(["--arena", "b", "--bootstrap-rounds", "3"]).bootstrap_rounds == 3
    assert capsys.readouterr().err == ""  # the new names warn about nothing


def test_required_option_given_by_neither_name_is_refused() -> None:
    with pytest.raises(XrayBenchError, match="the option --arena is required"):
        _parse(["--seed", "1"])


def test_old_flags_are_hidden_from_help() -> None:
    parser = argparse.ArgumentParser(prog="cmd")
    add_arguments(parser, Command)
    text = parser.format_help()
    assert "--bootstrap-rounds" in text and "--arena" in text
    assert "--rounds" not in text and "--name" not in text
