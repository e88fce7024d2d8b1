"""`--metric-arg METRIC.KEY=VALUE`: a metric's options from the command line, a YAML file or Python, one field.

Was: the Python API took `options={"rouge_l": {"beta": 1.0}}`, but no command could set a metric's option; a run
always scored with the defaults. Shown on real IU X-ray reports (skipped without /work/shared/data): the option
changes the number, run.json and results.json record it, a resume with another value is refused by name, and
`compare` never pairs two differently built metrics. Errors are one line with "did you mean", never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xraybench import api
from xraybench.cli import main
from xraybench.config import load_config
from xraybench.errors import XrayBenchError
from xraybench.metrics.api import score_texts

TASK = "iu_xray_findings"


@pytest.fixture
def roots(shared_data: Path) -> list[str]:
    return [f"iu_xray={shared_data / 'iu_xray'}"]


def _predictions(path: Path, roots: list[str], shift: int = 3) -> str:
    """Real references answered with another study's report: ROUGE-L well inside (0, 1), where beta matters."""
    data = api.samples(api.SamplesConfig(task=TASK, data_roots=roots, limit=20))
    refs = [s.reference for s in data.samples]
    rows = [{"id": s.id, "prediction": refs[(i + shift) % len(refs)]} for i, s in enumerate(data.samples)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f"predictions:{path}"


def _run(model: str, out: Path, roots: list[str], *extra: str) -> int:
    return main(["run", "--model", model, "--tasks", TASK, "--out", str(out), "--data-root", roots[0], "--limit",
                 "20", "--bootstrap-rounds", "0", "--no-progress", "--skip-metrics", "meteor", *extra])  # fmt: skip


def _rouge_l(out: Path) -> float:
    return json.loads((out / "results.json").read_text())["tasks"][TASK]["metrics"]["rouge_l"]["value"]


def test_metric_arg_changes_the_number_and_is_recorded(tmp_path: Path, roots: list[str]) -> None:
    model = _predictions(tmp_path / "p.jsonl", roots)
    assert _run(model, tmp_path / "default", roots) == 0
    assert _run(model, tmp_path / "beta1", roots, "--metric-arg", "rouge_l.beta=1.0") == 0
    default, beta1 = _rouge_l(tmp_path / "default"), _rouge_l(tmp_path / "beta1")
    assert 0 < default < 1 and beta1 != pytest.approx(default, abs=1e-6)  # F1 instead of COCO's beta 1.2
    # the number is the metric's own with that option: the Python API's score_texts on the same texts
    data = api.samples(api.SamplesConfig(task=TASK, data_roots=roots, limit=20))
    preds = {json.loads(line)["id"]: json.loads(line)["prediction"] for line in (tmp_path / "p.jsonl").open()}
    hyps, refs = [preds[s.id] for s in data.samples], [s.all_references() for s in data.samples]
    direct = score_texts(hyps, refs, ["rouge_l"], options={"rouge_l": {"beta": 1.0}})["rouge_l"].value
    assert beta1 == pytest.approx(direct, abs=1e-12)
    # recorded: run.json (what was given, and typed in the identity a resume must match), results.json (as built)
    record = json.loads((tmp_path / "beta1" / "run.json").read_text())
    assert record["config"]["metric_args"] == {"rouge_l": {"beta": "1.0"}}
    assert record["identity"]["metric_args"] == {"rouge_l": {"beta": 1.0}}
    assert json.loads((tmp_path / "beta1" / "results.json").read_text())["metric_args"] == {"rouge_l": {"beta": 1.0}}
    assert "metric_args" not in json.loads((tmp_path / "default" / "run.json").read_text())["identity"]
    # the Python API takes the same field, typed values or text: the same number
    config = api.RunConfig(model=model, tasks=[TASK], out=str(tmp_path / "api"), data_roots=roots, limit=20,
                           bootstrap_rounds=0, progress=False, skip_metrics=["meteor"],
                           metric_args={"rouge_l": {"beta": 1}})  # fmt: skip
    assert api.run(config)["tasks"][TASK]["metrics"]["rouge_l"]["value"] == pytest.approx(beta1, abs=1e-12)


def test_a_resume_with_other_metric_options_is_refused_by_name(
    tmp_path: Path, roots: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Else results.json would silently switch to other numbers under the same run folder (and `compare`, which
    rescores from run.json, would use yet other ones)."""
    model = _predictions(tmp_path / "p.jsonl", roots)
    out = tmp_path / "run"
    assert _run(model, out, roots, "--metric-arg", "rouge_l.beta=1.0") == 0
    first = _rouge_l(out)
    capsys.readouterr()
    assert _run(model, out, roots) == 1  # the option left out on the rerun
    err = capsys.readouterr().err
    assert "different configuration (metric_args: {'rouge_l': {'beta': 1.0}} -> None)" in err
    assert "Traceback" not in err
    assert _run(model, out, roots, "--metric-arg", "rouge_l.beta=0.5") == 1
    assert "metric_args: {'rouge_l': {'beta': 1.0}} -> {'rouge_l': {'beta': 0.5}}" in capsys.readouterr().err
    assert _rouge_l(out) == first  # nothing was rescored
    assert _run(model, out, roots, "--metric-arg", "rouge_l.beta=1") == 0  # the same value, written otherwise
    assert _rouge_l(out) == first


def test_placement_options_are_not_part_of_the_identity() -> None:
    """A resumed run may move a model-based metric to a GPU or change its batch size: the value does not depend
    on them; every other option does (bertscore's idf)."""
    config = api.RunConfig(model="baseline:normal", tasks=["demo_findings"], out="x", extra_metrics=["bertscore"],
                           metric_args=["bertscore.device=cuda:1", "bertscore.batch_size=8", "bertscore.idf=yes"])  # fmt: skip
    assert config.metric_options() == {"bertscore": {"device": "cuda:1", "batch_size": 8, "idf": True}}
    assert config.identity()["metric_args"] == {"bertscore": {"idf": True}}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["rouge_l.bta=1"], "--metric-arg rouge_l.bta=1: the rouge_l metric has no option 'bta'. Did you mean "
                            "'beta'? Its options: beta, stemmer"),
        (["rouge_l.beta=wide"], "--metric-arg rouge_l.beta=wide: the rouge_l metric's option 'beta' expects float, "
                                "got 'wide'"),
        (["rougel.beta=1"], "--metric-arg rougel.beta=...: unknown metric 'rougel'. Did you mean 'rouge_l'"),
        (["bertscore.model=/m"], "--metric-arg bertscore.model=...: bertscore is not scored here (the metrics scored: "
                                 "bleu, rouge_l, cider, chexpert); add it with --extra-metrics bertscore"),
        (["rouge_l.tokenizer=raw"], "rouge_l's tokenizer is the command's setting: tokenization for lexical metrics "
                                    "(--tokenizer"),
        (["rouge_l=1"], "--metric-arg expects METRIC.KEY=VALUE (e.g. rouge_l.beta=1.0), got 'rouge_l=1'"),
        (["rouge_l.beta=1", "rouge_l.beta=2"], "--metric-arg rouge_l.beta is given twice"),
        (["chexpert.uncertain_as=maybe"], "chexpert's uncertain_as is the command's setting"),
    ],
)  # fmt: skip
def test_bad_metric_args_are_one_clear_line(
    args: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--model", "baseline:normal", "--tasks", "demo_findings", "--out", str(tmp_path / "r"),
            "--skip-metrics", "meteor", "--no-progress"]  # fmt: skip
    for arg in args:
        argv += ["--metric-arg", arg]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert expected in err and err.startswith("error: ") and "Traceback" not in err
    assert not (tmp_path / "r" / "run.json").exists()  # refused before any work


def test_an_option_a_task_fixes_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "--model", "baseline:normal", "--tasks", "demo_classification", "--out", str(tmp_path / "r"),
            "--metric-arg", "classification.labels=[Edema]"]  # fmt: skip
    assert main(argv) == 1
    assert "classification's labels is set by the task demo_classification" in capsys.readouterr().err


def test_python_values_are_typed_and_checked_too() -> None:
    with pytest.raises(
        XrayBenchError, match=r"rouge_l.stemmer=maybe: the rouge_l metric's option 'stemmer' expects bool"
    ):
        api.RunConfig(model="baseline:normal", tasks=["demo_findings"], out="x",
                      metric_args={"rouge_l": {"stemmer": "maybe"}}).metric_options()  # fmt: skip
    with pytest.raises(XrayBenchError, match=r"the rouge_score metric's option 'names' expects a list of str"):
        score_texts(["a"], [["a"]], ["rouge_score"], options={"rouge_score": {"names": 3}})


def test_yaml_and_python_take_the_same_field(tmp_path: Path) -> None:
    nested = tmp_path / "nested.yaml"
    nested.write_text("model: baseline:normal\ntasks: demo_findings\nout: x\nmetric_args:\n  rouge_l:\n    beta: 1.0\n"
                      "    stemmer: false\n")  # fmt: skip
    flat = tmp_path / "flat.yaml"
    flat.write_text("model: baseline:normal\ntasks: demo_findings\nout: x\nmetric_args: [rouge_l.beta=1.0, "
                    "rouge_l.stemmer=false]\n")  # fmt: skip
    expected = {"rouge_l": {"beta": 1.0, "stemmer": False}}
    assert load_config(api.RunConfig, nested).metric_options() == expected
    assert load_config(api.RunConfig, flat).metric_options() == expected
    python = api.RunConfig(model="baseline:normal", tasks=["demo_findings"], out="x", metric_args=expected)
    assert python.metric_options() == expected


def _texts(tmp_path: Path) -> tuple[str, str]:
    hyps, refs = tmp_path / "hyps.txt", tmp_path / "refs.txt"
    hyps.write_text("the heart is normal in size . no effusion .\nmild cardiomegaly with small left effusion .\n")
    refs.write_text("heart size is normal . there is no pleural effusion or pneumothorax .\ncardiomegaly .\n")
    return str(hyps), str(refs)


def test_score_takes_metric_args(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hyps, refs = _texts(tmp_path)
    base = ["score", "--hyps", hyps, "--refs", refs, "--metrics", "rouge_l,rouge1", "--json"]
    assert main(base) == 0
    default = json.loads(capsys.readouterr().out)
    assert main([*base, "--metric-arg", "rouge_l.beta=1.0"]) == 0
    beta1 = json.loads(capsys.readouterr().out)
    assert beta1["rouge_l"] != pytest.approx(default["rouge_l"], abs=1e-6)
    assert beta1["rouge1"] == default["rouge1"]  # only the metric named
    assert main([*base, "--metric-arg", "rouge_score.stemmer=false"]) == 1
    assert "rouge_score's stemmer is set by --stemmer" in capsys.readouterr().err
    assert main([*base, "--metric-arg", "cider.x=1"]) == 1
    assert "cider is not scored here (the metrics scored: rouge_l, rouge_score); add it with --metrics" in (
        capsys.readouterr().err
    )


def test_compare_never_pairs_two_differently_built_metrics(
    tmp_path: Path, roots: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`compare` rescores both runs from their run.json: each run's own options, refused when they differ for a
    metric both score (B's ROUGE-L at beta 1.0 against A's at 1.2 is no paired test); `--metric-arg` rescores both
    the same way."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert _run(_predictions(tmp_path / "a.jsonl", roots, 3), a, roots) == 0
    assert _run(_predictions(tmp_path / "b.jsonl", roots, 7), b, roots, "--metric-arg", "rouge_l.beta=1.0") == 0
    capsys.readouterr()
    argv = ["compare", str(a), str(b), "--bootstrap-rounds", "20", "--json"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "the two runs score rouge_l with different options (beta: A 'default', B 1.0)" in err
    assert "--metric-arg rouge_l.beta=VALUE" in err and "Traceback" not in err

    assert main([*argv, "--metric-arg", "rouge_l.beta=1.0"]) == 0
    row = next(r for r in json.loads(capsys.readouterr().out) if (r["task"], r["metric"]) == (TASK, "rouge_l"))
    assert row["b"] == pytest.approx(_rouge_l(b), abs=1e-12)  # B as its run scored it
    data = api.samples(api.SamplesConfig(task=TASK, data_roots=roots, limit=20))
    preds = {json.loads(line)["id"]: json.loads(line)["prediction"] for line in (tmp_path / "a.jsonl").open()}
    hyps, refs = [preds[s.id] for s in data.samples], [s.all_references() for s in data.samples]
    a_beta1 = score_texts(hyps, refs, ["rouge_l"], options={"rouge_l": {"beta": 1.0}})["rouge_l"].value
    assert row["a"] == pytest.approx(a_beta1, abs=1e-12) and row["a"] != pytest.approx(_rouge_l(a), abs=1e-6)

    assert main(["compare", str(a), "published:deepmedix-r1", "--metric-arg", "rouge_l.beta=1.0"]) == 1
    assert "--metric-arg applies to a comparison of two run folders" in capsys.readouterr().err

    # a metric neither run scored: said so, pointing at the runs (compare has no --extra-metrics)
    assert main([*argv, "--metric-arg", "bertscore.num_layers=2"]) == 1
    err = capsys.readouterr().err
    assert "bertscore is not scored here" in err and "a run that scores bertscore" in err
    assert "--extra-metrics" not in err and "Traceback" not in err


def test_compare_with_metric_args_shows_no_stale_suite_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A suite row is read from each run's results.json (as it was scored): for a metric `--metric-arg` rescores,
    it would pair the old numbers beside rescored task rows, so it is left out; other scores' suite rows stay."""
    for name, model in (("a", "baseline:normal"), ("b", "baseline:retrieval")):
        argv = ["run", "--model", model, "--tasks", "demo", "--out", str(tmp_path / name), "--bootstrap-rounds", "0",
                "--no-progress", "--skip-metrics", "meteor"]  # fmt: skip
        assert main(argv) == 0
    capsys.readouterr()
    argv = ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--bootstrap-rounds", "0", "--json"]
    assert main(argv) == 0
    before = {(r["task"], r["metric"]) for r in json.loads(capsys.readouterr().out)}
    assert main([*argv, "--metric-arg", "rouge_l.beta=1.0"]) == 0
    after = {(r["task"], r["metric"]) for r in json.loads(capsys.readouterr().out)}
    assert ("suite:demo", "rouge_l") in before and ("suite:demo", "rouge_l") not in after
    assert ("suite:demo", "bleu_4") in after and ("demo_findings", "rouge_l") in after


def test_list_metrics_shows_each_metrics_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "metrics"]) == 0
    out = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "[--metric-arg rouge_l.KEY=VALUE: beta=1.2, stemmer=False]" in out  # not tokenizer: --tokenizer's
    assert "[--metric-arg ratescore.KEY=VALUE: ner_model=, embedding_model=, affinity_matrix=long, batch_size=1" in out
