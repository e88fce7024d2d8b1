"""A metric declares what the run table, the leaderboard and `--extra-metrics` need: nothing decides by name."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from xraybench.errors import XrayBenchError
from xraybench.metrics import METRICS, MetricSpec, Scores, headline_scores, leaderboard_scores
from xraybench.records import Prediction, Sample
from xraybench.runner import RunConfig, run


class AnswerLength:
    """A test-only metric: words per answer, registered from this module (one line, no package edit)."""

    name = "answer_length"
    spec = MetricSpec(kinds=("report", "vqa"), higher_is_better=False, options={"unit": "tokenizer"})

    def __init__(self, unit: str = "coco"):
        self.unit = unit

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        words = [len((p.answer or "").split()) for p in predictions]
        return {"answer_length": Scores.mean("answer_length", words, unit=self.unit)}


def _config(out: Path, **kw: object) -> RunConfig:
    base = {"model": "baseline:normal", "out": str(out), "bootstrap_rounds": 20, "progress": False}
    return RunConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_a_registered_metric_runs_gets_its_options_and_appears_in_the_run_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from xraybench.cli.run import print_results

    with METRICS.scoped():
        METRICS.register("answer_length", AnswerLength)  # the one registration line
        results = run(_config(tmp_path / "run", tasks=["demo_impression"], extra_metrics=["answer_length"],
                              skip_metrics=["meteor"], tokenizer="r2gen"))  # fmt: skip
        task = results["tasks"]["demo_impression"]
        assert task["metrics"]["answer_length"]["value"] > 0
        assert task["metric_details"]["answer_length"]["unit"] == "r2gen"  # the declared run option reached it
        print_results(results)
        out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "answer_length" in line)
    assert f"{task['metrics']['answer_length']['value']:.4f}" in row  # on old main the table left it out
    assert "bleu_4" in out and "chexpert_micro_f1_5" in out  # the built-in headline rows stay


def test_extra_metric_of_another_task_kind_is_refused_or_listed_never_dropped(tmp_path: Path) -> None:
    with pytest.raises(XrayBenchError, match=r"--extra-metrics rouge_l: rouge_l scores report tasks.*only vqa"):
        run(_config(tmp_path / "vqa", tasks=["demo_vqa"], extra_metrics=["rouge_l"]))
    assert not (tmp_path / "vqa").exists()  # refused before any work
    with METRICS.scoped():
        METRICS.register("answer_length", AnswerLength)
        results = run(_config(tmp_path / "mixed", tasks=["demo_vqa", "demo_classification"],
                              extra_metrics=["answer_length"]))  # fmt: skip
    vqa, cls = results["tasks"]["demo_vqa"], results["tasks"]["demo_classification"]
    assert "answer_length" in vqa["metrics"]  # declared for VQA: applied (old main dropped it silently)
    assert "answer_length" not in cls["metrics"]
    assert cls["skipped_metrics"]["answer_length"] == (
        "scores report and vqa tasks; demo_classification is a classification task"
    )


def test_headline_and_leaderboard_scores_come_from_the_declarations() -> None:
    # the lists that were hand-kept in cli/run.py and arena/leaderboard.py, in the same order
    old_headline = ("bleu_1", "bleu_4", "meteor", "rouge_l", "cider", "chexpert_micro_f1_14", "chexpert_micro_f1_5",
                    "vqa_accuracy", "vqa_closed_accuracy", "vqa_open_token_f1", "answer_score", "cls_micro_f1",
                    "cls_macro_f1", "grounding_format_valid", "grounding_has_boxes", "grounding_boxes_per_answer")  # fmt: skip
    old_leaderboard = ("bleu_4", "meteor", "rouge_l", "cider", "chexpert_micro_f1_5", "chexpert_macro_f1_14",
                       "vqa_accuracy", "answer_score", "cls_macro_f1")  # fmt: skip
    assert leaderboard_scores() == old_leaderboard
    assert tuple(m for m in headline_scores() if m in old_headline) == old_headline
    assert {"bertscore_f1", "radgraph_f1_partial", "chexbert_micro_f1_5", "rouge1"} <= set(headline_scores())
    with METRICS.scoped():
        METRICS.register("answer_length", AnswerLength)
        assert headline_scores()[-1] == "answer_length"  # no declaration of headline: its own score
    assert "answer_length" not in headline_scores()


def test_a_metric_spec_naming_an_unknown_run_option_is_refused() -> None:
    from xraybench.registry import PluginError

    class Typo(AnswerLength):
        spec = MetricSpec(options={"unit": "tokeniser"})

    with METRICS.scoped():
        METRICS.register("typo", Typo)
        with pytest.raises(PluginError, match="unknown run option 'tokeniser'"):
            METRICS.get("typo")
