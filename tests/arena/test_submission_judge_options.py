"""`xraybench submit` to an arena whose `metric:` judge was run with non-default options (`--metric-arg`): the new
model is judged with the arena's options, read back from its store, never with the judge's defaults; options that
no judged configuration used, and an arena judged with several configurations and no choice, are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from arena.judges.lexical import LexicalJudge
from arena.judging import config_label, export_battles, load_field
from arena.submission import SubmitConfig, submit
from xraybench.callstore import CallStore
from xraybench.cli import main
from xraybench.errors import XrayBenchError

TASK = "demo_findings"
OPTIONS = {"win": 0.15, "strong": 0.4}  # the defaults: win 0.05, strong 0.20
FIELD = {  # graded quality: the reference, part of it, and a wrong report
    "perfect": lambda ref: ref,
    "fair": lambda ref: " ".join([s.strip() + "." for s in ref.split(".") if s.strip()][:1]),
    "bad": lambda ref: "The heart is enlarged. There is a large left pleural effusion and a right pneumothorax.",
}
NEW = {"good": lambda ref: " ".join([s.strip() + "." for s in ref.split(".") if s.strip()][:2])}


@pytest.fixture()
def arena(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prediction_files: Any) -> tuple[Path, list[str]]:
    """The demo arena judged by metric:lexical with win=0.15, strong=0.4; the new model's file spec."""
    monkeypatch.chdir(tmp_path)
    specs = prediction_files(tmp_path, FIELD, TASK)
    args = ["arena", "judge", "--arena", "demo", "--task", TASK, "--judge", "metric:lexical",
            *(a for k, v in OPTIONS.items() for a in ("--metric-arg", f"lexical.{k}={v}")), "--predictions", *specs]  # fmt: skip
    assert main(args) == 0
    (new,) = prediction_files(tmp_path, NEW, TASK)
    return tmp_path, [*specs, new]


def _config(new: str, **options: Any) -> SubmitConfig:
    name, path = new.split("=", 1)
    return SubmitConfig(name=name, predictions=path, arena="demo", progress=False, skip_metrics=["meteor"],
                        bootstrap_rounds=0, prior=1.0, **options)  # fmt: skip


def test_a_submission_is_judged_with_the_arenas_options(arena: tuple[Path, list[str]]) -> None:
    folder, specs = arena
    manifest = submit(_config(specs[-1]))
    assert manifest["judge_options"] == OPTIONS
    store = folder / "arenas" / "demo" / "judgments.sqlite"
    with CallStore(store) as calls:
        export = export_battles(calls, store.with_suffix(".plan.jsonl"), mix=True)
    assert len(export.configs) == 1  # the submission added no second configuration of the judge
    fld = load_field(TASK, predictions=specs)
    arena_judge, default_judge = LexicalJudge(**OPTIONS), LexicalJudge()
    checked = differs = 0
    for row in export.rows:
        if row["source"] != "judge" or "good" not in (row["model_a"], row["model_b"]):
            continue
        ref = fld.samples[row["study_id"]].reference or ""
        a, b = fld.texts[row["model_a"]][row["study_id"]], fld.texts[row["model_b"]][row["study_id"]]
        assert row["verdict"] == arena_judge.decide(ref, a, b).parsed["verdict"], row
        differs += row["verdict"] != default_judge.decide(ref, a, b).parsed["verdict"]
        checked += 1
    assert checked == manifest["n_judgments"] > 0
    assert differs > 0  # the defaults would have decided some of these battles otherwise


def test_options_no_judged_configuration_used_are_refused(
    arena: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, specs = arena
    name, path = specs[-1].split("=", 1)
    argv = ["submit", "--name", name, "--predictions", path, "--arena", "demo", "--no-progress",
            "--judge-metric-arg", "lexical.win=0.05"]  # fmt: skip
    assert main(argv) != 0
    err = " ".join(capsys.readouterr().err.split())
    assert "--judge-metric-arg lexical.win=0.05: arena" in err and "has no verdicts of metric:lexical" in err, err
    assert (
        "(it was judged with: --judge-metric-arg lexical.strong=0.4 --judge-metric-arg lexical.win=0.15)" in err
        and "Traceback" not in err
    )
    assert not (folder / "arenas" / "demo" / "submissions").exists()  # refused before anything was scored or judged
    with pytest.raises(XrayBenchError, match="no option 'wn'. Did you mean 'win'"):
        submit(_config(specs[-1], judge_metric_args=["lexical.wn=0.15"]))


def test_several_judged_configurations_need_a_choice(arena: tuple[Path, list[str]]) -> None:
    folder, specs = arena
    args = ["arena", "judge", "--arena", "demo", "--task", TASK, "--judge", "metric:lexical", "--studies", "4",
            "--predictions", *specs[:-1]]  # fmt: skip
    assert main(args) == 0  # the same field with the default options as well
    with pytest.raises(XrayBenchError, match=r"with 2 configurations \(.*the defaults.*\): pass the options") as info:
        submit(_config(specs[-1]))
    assert "--judge-metric-arg lexical.win=0.15" in str(info.value)
    manifest = submit(_config(specs[-1], judge_metric_args=[f"lexical.{k}={v}" for k, v in OPTIONS.items()]))
    assert manifest["judge_options"] == OPTIONS
    store = folder / "arenas" / "demo" / "judgments.sqlite"
    with CallStore(store) as calls:
        export = export_battles(calls, store.with_suffix(".plan.jsonl"), mix=True)
    configs = {
        r["judge_config"] for r in export.rows if r["source"] == "judge" and "good" in (r["model_a"], r["model_b"])
    }
    judge = LexicalJudge(**OPTIONS)
    assert configs == {config_label(judge.name, judge.params, judge.prompt_version)}
