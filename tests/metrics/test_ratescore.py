"""RaTEScore against its authors' package, `RaTEScore` (PyPI, the ratescore extra; installed --no-deps with medspacy).

One pair of tiny random checkpoints in the official models' classes (`xraybench.testing.tiny_ratescore`: a
DeBERTa-v2 token classifier with RaTE-NER's labels, an MPNet encoder as BioLORD) is run by the package's own
`RaTEScore.compute_score` and by our metric on real IU X-ray report pairs read in place from
`../shared/data/iu_xray/`: the per-pair scores are identical. A report the package cannot split into a sentence
(an empty answer) is a marked failure here, while the package would shift every later pair onto the wrong reference;
and `xraybench run --extra-metrics ratescore` writes the per-sample values and the corpus value with its CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fixtures_lexical import IU_REPORTS, iu_report_pairs

pytest.importorskip("RaTEScore", reason="RaTEScore is not installed (ratescore extra; see docs/metrics.md)")

pytestmark = pytest.mark.skipif(not IU_REPORTS.is_file(), reason=f"real IU X-ray reports not found at {IU_REPORTS}")


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from xraybench.testing.tiny_ratescore import build_tiny_biolord, build_tiny_rate_ner

    root = tmp_path_factory.mktemp("ratescore")
    return build_tiny_rate_ner(root / "ner"), build_tiny_biolord(root / "biolord")


def test_equals_the_package_on_real_iu_pairs(weights: tuple[Path, Path]) -> None:
    from RaTEScore import RaTEScore

    from xraybench.metrics.ratescore import RaTEScoreMetric

    ner, encoder = weights
    hyps, refs = iu_report_pairs(24)
    references = [r[0] for r in refs]
    expected = RaTEScore(bert_model=str(ner), eval_model=str(encoder), use_gpu=False).compute_score(hyps, references)
    got = RaTEScoreMetric(str(ner), str(encoder), device="cpu").score_texts(
        hyps, references, [str(i) for i in range(24)]
    )
    scores = got["ratescore"]
    assert list(scores.per_sample) == list(expected)
    assert scores.value == pytest.approx(float(np.mean(expected)), abs=1e-12)
    assert scores.details["failed"] == 0 and list(got["ratescore_failed"].per_sample) == [0.0] * 24
    assert len(set(expected)) > 10 and all(0.0 <= v <= 1.0 for v in expected)  # real entity matching, not 0.5s


def test_an_empty_answer_is_marked_not_misaligned(weights: tuple[Path, Path]) -> None:
    from RaTEScore import RaTEScore

    from xraybench.metrics.ratescore import RaTEScoreMetric

    ner, encoder = weights
    hyps, refs = iu_report_pairs(6)
    references = [r[0] for r in refs]
    hyps_with_empty = [hyps[0], "", *hyps[1:]]
    refs_with_empty = [references[0], "Heart size normal.", *references[1:]]
    package = RaTEScore(bert_model=str(ner), eval_model=str(encoder), use_gpu=False)
    clean = package.compute_score(hyps, references)
    naive = package.compute_score(hyps_with_empty, refs_with_empty)  # the package pairs by sentence count
    assert len(naive) != len(hyps_with_empty) or list(naive[2:]) != list(clean[1:])

    got = RaTEScoreMetric(str(ner), str(encoder), device="cpu").score_texts(
        hyps_with_empty, refs_with_empty, [f"s{i}" for i in range(7)]
    )
    values = got["ratescore"].per_sample
    assert np.isnan(values[1]) and list(values[[0, *range(2, 7)]]) == list(clean)
    assert got["ratescore"].details["failures"] == {"s1": "empty prediction"}
    assert got["ratescore"].value == pytest.approx(float(np.mean(clean)), abs=1e-12)
    assert list(got["ratescore_failed"].per_sample) == [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_missing_weights_name_the_fetch_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xraybench.errors import XrayBenchError
    from xraybench.metrics.ratescore import RaTEScoreMetric

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("XRAYBENCH_RATESCORE_NER_MODEL", raising=False)
    with pytest.raises(XrayBenchError, match="xraybench weights fetch ratescore"):
        RaTEScoreMetric(device="cpu")


def test_without_the_package_the_error_gives_both_install_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    from xraybench.errors import MissingExtraError
    from xraybench.metrics.ratescore import RaTEScoreMetric

    monkeypatch.setitem(sys.modules, "RaTEScore", None)  # import RaTEScore now raises ImportError
    with pytest.raises(MissingExtraError) as err:
        RaTEScoreMetric(device="cpu")
    message = str(err.value)
    assert "xraybench[ratescore]" in message and "pip install --no-deps RaTEScore==0.6.0 medspacy==1.3.1" in message


def test_run_writes_ratescore_per_sample_and_its_ci(weights: tuple[Path, Path], tmp_path: Path) -> None:
    from xraybench.metrics.ratescore import EMBEDDING_ENV, NER_ENV, RaTEScoreMetric
    from xraybench.records import Prediction
    from xraybench.taskdata import load_task

    ner, encoder = weights
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XRAYBENCH_", "HF_"))}
    env.update({NER_ENV: str(ner), EMBEDDING_ENV: str(encoder), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    argv = [sys.executable, "-m", "xraybench", "run", "--model", "baseline:normal", "--tasks", "iu_xray_findings",
            "--data-root", f"iu_xray={IU_REPORTS.parent}", "--limit", "4", "--extra-metrics", "ratescore",
            "--skip-metrics", "meteor", "--bootstrap-rounds", "50", "--out", str(out)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]

    task = json.loads((out / "results.json").read_text())["tasks"]["iu_xray_findings"]
    assert "ratescore" not in task["skipped_metrics"], task["skipped_metrics"]
    rows = {r["id"]: r for r in map(json.loads, (out / "scores.jsonl").read_text().splitlines())}
    predictions = [Prediction(**json.loads(line)) for line in (out / "predictions.jsonl").read_text().splitlines()]
    samples = {s.id: s for s in load_task("iu_xray_findings", {"iu_xray": str(IU_REPORTS.parent)}, limit=4).samples}
    assert sorted(rows) == sorted(samples) == sorted(p.id for p in predictions)

    metric = RaTEScoreMetric(str(ner), str(encoder), device="cpu")
    expected = metric.score([samples[p.id] for p in predictions], predictions)["ratescore"]
    assert [rows[p.id]["ratescore"] for p in predictions] == pytest.approx(list(expected.per_sample), abs=1e-9)
    result = task["metrics"]["ratescore"]
    assert result["value"] == pytest.approx(expected.value, abs=1e-9)
    assert result["ci_low"] <= result["value"] <= result["ci_high"]


def test_a_ner_checkpoint_with_generic_labels_is_refused(weights: tuple[Path, Path], tmp_path: Path) -> None:
    # such a checkpoint finds no entity anywhere and the package scores every pair 0.5 without complaint
    import shutil

    from xraybench.errors import XrayBenchError
    from xraybench.metrics.ratescore import RaTEScoreMetric

    ner, encoder = weights
    generic = tmp_path / "ner"
    shutil.copytree(ner, generic)
    config = json.loads((generic / "config.json").read_text())
    config["id2label"] = {str(i): f"LABEL_{i}" for i in range(len(config["id2label"]))}
    config["label2id"] = {f"LABEL_{i}": i for i in range(len(config["id2label"]))}
    (generic / "config.json").write_text(json.dumps(config))
    with pytest.raises(XrayBenchError, match="no B-/I- entity labels"):
        RaTEScoreMetric(str(generic), str(encoder), device="cpu")
