"""`run --download` fetches what `--metric-arg` says the run will load: the named hub model, nothing for a local
folder or file, an error naming the option for a path that is not there, and never the default it replaces.

Same fake hub as tests/test_weights_fetch.py (a local HTTP server answering as huggingface.co's file endpoint, the
CLI in a real subprocess); the assertions are on what was requested from it and what the run then scored with."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("huggingface_hub", reason="the [hf] extra is not installed")
pytest.importorskip("transformers", reason="the [hf] extra is not installed")

import test_weights_fetch as base  # noqa: E402
from test_weights_fetch import RRG, FakeHub, _xraybench  # noqa: E402

served, fake_hub = base.served, base.fake_hub  # its fixtures, used here as they are

OTHER = "other-org/tiny-roberta"  # a BERTScore model that is not the default (roberta-large)
RUN = ["run", "--model", "baseline:normal", "--tasks", "demo_findings", "--limit", "3", "--skip-metrics", "meteor",
       "--bootstrap-rounds", "0", "--download"]  # fmt: skip


def _repos_requested(hub: FakeHub) -> set[str]:
    return {path.lstrip("/").partition("/resolve/")[0] for _, path in hub.requests}


def test_download_fetches_the_bertscore_model_the_metric_arg_names_not_the_default(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    fake_hub.repos[OTHER] = dict(fake_hub.repos["roberta-large"])
    out = tmp_path / "run"
    args = [*RUN, "--extra-metrics", "bertscore", "--metric-arg", f"bertscore.model={OTHER}",
            "--metric-arg", "bertscore.num_layers=2", "--out", str(out)]  # fmt: skip
    done = _xraybench(args, tmp_path, fake_hub)
    assert done.returncode == 0, done.stderr
    assert _repos_requested(fake_hub) == {OTHER}, fake_hub.requests  # roberta-large, unused, is not fetched
    hub = tmp_path / "hf" / "hub"
    assert not (hub / "models--roberta-large").exists()
    results = json.loads((out / "results.json").read_text())
    task = results["tasks"]["demo_findings"]
    assert "bertscore" not in task["skipped_metrics"], task["skipped_metrics"]
    assert 0 < task["metrics"]["bertscore_f1"]["value"] <= 1
    assert results["metric_args"]["bertscore"]["model"] == OTHER


def test_download_skips_a_local_folder_and_refuses_a_missing_path_naming_the_option(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    # a local folder: nothing is requested, the run scores with the folder
    cached = tmp_path / "roberta-copy"
    cached.mkdir()
    for name, data in fake_hub.repos["roberta-large"].items():
        (cached / name).write_bytes(data)
    out = tmp_path / "run"
    args = [*RUN, "--extra-metrics", "bertscore", "--metric-arg", f"bertscore.model={cached}",
            "--metric-arg", "bertscore.num_layers=2", "--out", str(out)]  # fmt: skip
    done = _xraybench(args, tmp_path, fake_hub)
    assert done.returncode == 0, done.stderr
    assert fake_hub.requests == []
    assert "is a local folder" in done.stdout and "bertscore.model" in done.stdout
    task = json.loads((out / "results.json").read_text())["tasks"]["demo_findings"]
    assert "bertscore" not in task["skipped_metrics"] and 0 < task["metrics"]["bertscore_f1"]["value"] <= 1

    # a path that is not there: refused before anything is fetched or run, naming the option
    missing = tmp_path / "no" / "such-model"
    args = [*RUN, "--extra-metrics", "bertscore", "--metric-arg", f"bertscore.model={missing}",
            "--out", str(tmp_path / "run2")]  # fmt: skip
    done = _xraybench(args, tmp_path, fake_hub)
    assert done.returncode == 1
    assert f"--metric-arg bertscore.model={missing}" in done.stderr and "not a folder here" in done.stderr
    assert "Traceback" not in done.stderr and fake_hub.requests == []
    assert not (tmp_path / "run2" / "results.json").exists()

    # run's --bertscore-model would fetch a model the run does not load: refused, pointing at --metric-arg
    done = _xraybench([*RUN, "--extra-metrics", "bertscore", "--bertscore-model", OTHER, "--out", str(tmp_path / "r3")],
                      tmp_path, fake_hub)  # fmt: skip
    assert done.returncode == 1 and f"--metric-arg bertscore.model={OTHER}" in done.stderr, done.stderr
    assert fake_hub.requests == []

    # run's --radgraph-dir with radcliq: radcliq loads RadGraph from its own option, not from that folder
    folder = tmp_path / "graph"
    done = _xraybench([*RUN, "--extra-metrics", "radcliq", "--radgraph-dir", str(folder), "--out", str(tmp_path / "r4")],
                      tmp_path, fake_hub)  # fmt: skip
    assert done.returncode == 1 and f"--metric-arg radcliq.radgraph_dir={folder}" in done.stderr, done.stderr
    assert fake_hub.requests == [] and not folder.exists()


def test_download_honours_chexbert_checkpoint_and_radgraph_dir_options(fake_hub: FakeHub, tmp_path: Path) -> None:
    """semb_score with a local chexbert.pth: only its tokenizer is fetched (not the hub's chexbert.pth); radgraph with
    `model_dir` holding the model already: only the encoder its config names."""
    pytest.importorskip("radgraph", reason="the radgraph extra is not installed")
    from test_weights_fetch import ENCODER, _radgraph_archive

    from xraybench.weights import _unpack

    checkpoint = tmp_path / "mine" / "chexbert.pth"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(fake_hub.repos[RRG]["chexbert.pth"])
    models = tmp_path / "radgraph-models"
    (tmp_path / "radgraph.tar.gz").write_bytes(_radgraph_archive())
    _unpack(tmp_path / "radgraph.tar.gz", models / "radgraph")
    before = (models / "radgraph" / "weights.th").read_bytes()
    out = tmp_path / "run"
    args = [*RUN, "--extra-metrics", "semb_score,radgraph", "--metric-arg", f"semb_score.checkpoint={checkpoint}",
            "--metric-arg", f"radgraph.model_dir={models}", "--out", str(out)]  # fmt: skip
    done = _xraybench(args, tmp_path, fake_hub)
    assert done.returncode in (0, 3), done.stderr
    assert _repos_requested(fake_hub) == {"bert-base-uncased", ENCODER}, fake_hub.requests
    assert "is a local file" in done.stdout and "holds the radgraph model already" in done.stdout
    assert (models / "radgraph" / "weights.th").read_bytes() == before  # not replaced by a download
    task = json.loads((out / "results.json").read_text())["tasks"]["demo_findings"]
    assert "semb_score" not in task["skipped_metrics"] and -1 <= task["metrics"]["semb_score"]["value"] <= 1
    shutil.rmtree(models)


FETCH = """
import json, sys
from xraybench.api import WeightsOptions, fetch_weights
got = fetch_weights(["green", "crimson", "ratescore"], WeightsOptions(), notify=print,
                    metric_options=json.loads(sys.argv[1]))
print(json.dumps({name: sorted({f.repo for f in files}) for name, files in got}))
"""


def test_generative_and_ratescore_model_options_are_what_is_fetched(tmp_path: Path) -> None:
    """green.model, crimson.model and ratescore.ner_model name hub repos: those are fetched, not the defaults (which
    the fake hub does not even serve); ratescore.embedding_model names a local folder: nothing is fetched for it."""
    import subprocess
    import sys

    model = {"config.json": b"{}", "tokenizer.json": b"{}", "model.safetensors": b"\0" * 64}
    hub = FakeHub({"me/green-like": dict(model), "me/crimson-like": dict(model), "me/ner": dict(model)})
    encoder = tmp_path / "biolord"
    encoder.mkdir()
    options = {"green": {"model": "me/green-like"}, "crimson": {"model": "me/crimson-like"},
               "ratescore": {"ner_model": "me/ner", "embedding_model": str(encoder)}}  # fmt: skip
    with base.serving(hub):
        env = {k: v for k, v in base.os.environ.items() if not k.startswith(("HF_", "XRAYBENCH_"))}
        env.update(HF_HOME=str(tmp_path / "hf"), HF_HUB_DISABLE_TELEMETRY="1", HF_ENDPOINT=hub.url)
        done = subprocess.run([sys.executable, "-c", FETCH, json.dumps(options)], env=env, capture_output=True,
                              text=True, timeout=300, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "green": ["me/green-like"],
        "crimson": ["me/crimson-like"],
        "ratescore": ["me/ner"],
    }
    assert f"ratescore: {encoder} is a local folder (--metric-arg ratescore.embedding_model=" in done.stdout
    assert _repos_requested(hub) == {"me/green-like", "me/crimson-like", "me/ner"}
