"""A model-based metric skipped for missing weights says the command that fetches them.

`xraybench run` on the demo suite with an empty Hugging Face cache (offline): chexbert, radgraph and bertscore are
skipped, and each reason, in results.json and on screen, names `xraybench weights fetch NAME` and `--download`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xraybench.errors import XrayBenchError

pytest.importorskip("huggingface_hub", reason="the hf extra (huggingface_hub) is not installed")

METRICS = ("chexbert", "radgraph", "bertscore")


def offline_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XRAYBENCH_", "HF_"))}
    env.update(
        HF_HOME=str(tmp_path / "hf-home"),
        HF_HUB_CACHE=str(tmp_path / "hf-home" / "hub"),
        HF_HUB_OFFLINE="1",
        XRAYBENCH_RADGRAPH_DIR=str(tmp_path / "radgraph-models"),
        XRAYBENCH_CACHE=os.environ.get("XRAYBENCH_CACHE", str(tmp_path / "cache")),
        PYTHONSAFEPATH="1",
        COLUMNS="200",
    )
    return env


def test_run_names_the_fetch_command_for_each_skipped_metric(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="the model-based metrics need torch (the hf extra)")
    pytest.importorskip("radgraph", reason="the radgraph metric needs the radgraph extra")
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "xraybench", "run", "--model", "baseline:normal", "--tasks", "demo_findings",
            "--limit", "3", "--extra-metrics", ",".join(METRICS), "--bootstrap-rounds", "0", "--out", str(out)]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=offline_env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    skipped = json.loads((out / "results.json").read_text())["tasks"]["demo_findings"]["skipped_metrics"]
    assert sorted(skipped) == sorted(METRICS)
    screen = " ".join(proc.stdout.split())
    for name in METRICS:
        reason = skipped[name]
        assert f"`xraybench weights fetch {name}` (or add --download to `xraybench run`)" in reason, reason
        assert f"{name} skipped (demo_findings): {' '.join(reason.split())}" in screen


def test_non_default_models_get_the_flags_of_the_fetch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from xraybench.metrics.bertscore import MODEL_ENV, BertScoreMetric

    monkeypatch.delenv(MODEL_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(XrayBenchError) as err:
        BertScoreMetric(model="xraybench-tests/no-such-model", num_layers=2)
    assert "`xraybench weights fetch bertscore --bertscore-model xraybench-tests/no-such-model`" in str(err.value)
    # a configured path that is not there: the default weights are one command away
    with pytest.raises(XrayBenchError) as err:
        BertScoreMetric(model=str(tmp_path / "absent"), num_layers=2)
    assert str(err.value).endswith("use the default weights, downloaded with `xraybench weights fetch bertscore` "
                                   "(or add --download to `xraybench run`)")  # fmt: skip


def test_radgraph_encoder_missing_from_the_cache_is_a_skip_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unpacked model whose BERT encoder is not cached: the package raises OSError, which used to end the run."""
    pytest.importorskip("torch", reason="the radgraph metric needs torch")
    pytest.importorskip("radgraph", reason="the radgraph metric needs the radgraph extra")
    from xraybench.metrics.radgraph import MODEL_ENV, RadGraphMetric

    model = tmp_path / "models" / "radgraph-xl"
    (model / "vocabulary").mkdir(parents=True)
    (model / "vocabulary" / "non_padded_namespaces.txt").write_text("*tags\n*labels\n")
    (model / "weights.th").write_bytes(b"")
    bert = {"model_name": "xraybench-tests/uncached-encoder", "max_length": 512}
    config = {"dataset_reader": {"max_span_width": 8, "token_indexers": {"bert": bert}},
              "model": {"type": "dygie", "embedder": {"token_embedders": {"bert": bert}}, "initializer": {},
                        "module_initializer": {}}}  # fmt: skip
    (model / "config.json").write_text(json.dumps(config))
    monkeypatch.delenv(MODEL_ENV, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))
    with pytest.raises(XrayBenchError) as err:
        RadGraphMetric(model_dir=str(model), model_type="radgraph-xl", device="cpu")
    message = str(err.value)
    assert message.startswith(f"radgraph: cannot load the radgraph-xl model in {model}")
    assert (
        f"`xraybench weights fetch radgraph --radgraph-dir {model.parent} --radgraph-model-type radgraph-xl`"
    ) in message
