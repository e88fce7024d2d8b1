"""`xraybench weights fetch` and `run --download` against a local HTTP server that imitates the hub's file endpoint.

The server answers `HEAD`/`GET /{repo}/resolve/{revision}/{file}` as huggingface.co does (X-Repo-Commit, an ETag that
is the sha256 of an LFS file or the git blob SHA-1 of a small one, 404 + X-Error-Code for a missing file or repo);
the CLI runs in a real subprocess with `HF_ENDPOINT` pointing at it and `HF_HOME` in a temporary folder. Served are
tiny random models built offline (xraybench.testing.tiny_bert), so after the fetch the metrics themselves load
them from the cache with no network, which is what a user relies on.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("huggingface_hub", reason="the [hf] extra is not installed")
pytest.importorskip("transformers", reason="the [hf] extra is not installed")

from xraybench.testing.tiny_bert import build_tiny_bert, build_tiny_chexbert, build_tiny_roberta  # noqa: E402

RRG = "StanfordAIMI/RRG_scorers"
ENCODER = "tiny-org/radgraph-encoder"
LFS_SUFFIXES = (".pth", ".gz", ".safetensors", ".bin", ".msgpack")


def _etag(name: str, data: bytes) -> str:
    """What the hub states: sha256 for LFS files, git's blob id for the others."""
    if name.endswith(LFS_SUFFIXES):
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324


@dataclass
class FakeHub:
    """repo -> file -> bytes; `corrupt` files are served with one byte flipped (same size, wrong checksum)."""

    repos: dict[str, dict[str, bytes]]
    corrupt: set[tuple[str, str]] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _answer(self, body: bool) -> None:
                hub.requests.append((self.command, self.path))
                repo, sep, rest = self.path.partition("/resolve/")
                repo = repo.lstrip("/")
                _revision, _, name = rest.partition("/")
                if not sep or repo not in hub.repos:
                    return self._error("RepoNotFound", "Repository not found")
                if name not in hub.repos[repo]:
                    return self._error("EntryNotFound", "Entry not found")
                data = hub.repos[repo][name]
                etag = _etag(name, data)
                if (repo, name) in hub.corrupt:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                self.send_response(200)
                self.send_header("X-Repo-Commit", hashlib.sha1(repo.encode()).hexdigest())  # noqa: S324
                self.send_header("ETag", f'"{etag}"')
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def _error(self, code: str, message: str) -> None:
                self.send_response(404)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", message)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(body=False)

            def do_GET(self) -> None:  # noqa: N802
                self._answer(body=True)

        return Handler


@contextlib.contextmanager
def serving(hub: FakeHub) -> Iterator[FakeHub]:
    """`hub` answering on a local port (its `url` set) for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), hub.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fake_hub(served: dict[str, dict[str, bytes]]) -> Iterator[FakeHub]:
    with serving(FakeHub({repo: dict(files) for repo, files in served.items()})) as hub:
        yield hub


def _offline(script: str, tmp_path: Path, env_prefix: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """`script` in a fresh interpreter with the hub cache of `tmp_path` and the hub offline (no XRAYBENCH_* model
    variable starting with `env_prefix` set): what a user gets after `weights fetch`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", env_prefix))}
    return subprocess.run(
        [sys.executable, "-c", script],
        env={**env, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _radgraph_archive() -> bytes:
    """A radgraph.tar.gz laid out as the real one (config.json, weights.th, vocabulary/ at the top)."""
    encoder = {"model_name": ENCODER, "max_length": 512}
    config = {"dataset_reader": {"token_indexers": {"bert": dict(encoder)}},
              "model": {"embedder": {"token_embedders": {"bert": dict(encoder)}}}}  # fmt: skip
    members = {"config.json": json.dumps(config).encode(), "weights.th": os.urandom(256),
               "vocabulary/ner_labels.txt": b"Anatomy::definitely present\n"}  # fmt: skip
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    root = tmp_path_factory.mktemp("hub")
    bert = build_tiny_bert(root / "bert")
    roberta = build_tiny_roberta(root / "roberta")
    chexbert = build_tiny_chexbert(root / "chexbert.pth", bert)
    return {
        RRG: {"chexbert.pth": chexbert.read_bytes(), "radgraph.tar.gz": _radgraph_archive()},
        "bert-base-uncased": {**_files(bert), "flax_model.msgpack": b"not wanted"},
        "roberta-large": _files(roberta),
        "distilroberta-base": _files(roberta),
        ENCODER: _files(bert),
    }


def _xraybench(args: list[str], home: Path, hub: FakeHub, **env: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess, its Hugging Face cache under `home`, online only through `hub`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "XRAYBENCH_BERTSCORE", "XRAYBENCH_RAD"))}
    clean.update(HF_HOME=str(home / "hf"), HF_HUB_DISABLE_TELEMETRY="1", HF_ENDPOINT=hub.url, **env)
    argv = [sys.executable, "-m", "xraybench", *args]
    return subprocess.run(argv, env=clean, capture_output=True, text=True, timeout=300, cwd=home)


LABEL_OFFLINE = """
from xraybench.metrics.chexbert import load_labeler
print(load_labeler(device="cpu").label(["mild cardiomegaly. no pleural effusion.", "the lungs are clear."]))
"""


def test_fetch_chexbert_then_the_metric_loads_it_offline(fake_hub: FakeHub, tmp_path: Path) -> None:
    done = _xraybench(["weights", "fetch", "chexbert"], tmp_path, fake_hub)
    assert done.returncode == 0, done.stderr
    wanted = {("StanfordAIMI/RRG_scorers", "chexbert.pth"), ("bert-base-uncased", "config.json"),
              ("bert-base-uncased", "vocab.txt"), ("bert-base-uncased", "tokenizer_config.json")}  # fmt: skip
    for repo, name in wanted:
        assert f"{name}" in done.stdout and repo in done.stdout
    size = len(fake_hub.repos[RRG]["chexbert.pth"])
    assert f"StanfordAIMI/RRG_scorers/chexbert.pth ({size:,} bytes)" in done.stdout  # progress, also when piped
    assert "sha256:" + _etag("chexbert.pth", fake_hub.repos[RRG]["chexbert.pth"])[:17] in done.stdout
    # only the hub's file endpoint was used, and not for the BERT weights chexbert.pth already holds
    assert all("/resolve/main/" in path for _, path in fake_hub.requests)
    fetched = {path.rsplit("/", 1)[1] for method, path in fake_hub.requests if method == "GET"}
    assert "model.safetensors" not in fetched and "flax_model.msgpack" not in fetched

    cached = list((tmp_path / "hf" / "hub").rglob("snapshots/*/chexbert.pth"))
    assert len(cached) == 1 and cached[0].read_bytes() == fake_hub.repos[RRG]["chexbert.pth"]

    # offline mode, no endpoint: the metric's own lookup finds and loads everything from the cache
    run = subprocess.run(
        [sys.executable, "-c", LABEL_OFFLINE],
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("HF_")},
            "HF_HOME": str(tmp_path / "hf"),
            "HF_HUB_OFFLINE": "1",
        },  # fmt: skip
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    labels = json.loads(run.stdout.replace("None", "null"))
    assert len(labels) == 2 and all(len(row) == 14 for row in labels)


def test_corrupt_download_is_refused_and_deleted(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.corrupt.add((RRG, "chexbert.pth"))
    done = _xraybench(["weights", "fetch", "chexbert"], tmp_path, fake_hub)
    assert done.returncode == 1
    assert "chexbert.pth: checksum mismatch" in done.stderr and "Traceback" not in done.stderr
    assert not list((tmp_path / "hf").rglob("chexbert.pth")), "the corrupt file stayed in the cache"
    assert not [p for p in (tmp_path / "hf").rglob("blobs/*") if p.stat().st_size > 1000]


def test_missing_repo_and_unreachable_hub_are_clear_errors(fake_hub: FakeHub, tmp_path: Path) -> None:
    done = _xraybench(["weights", "fetch", "bertscore", "--bertscore-model", "nobody/nothing"], tmp_path, fake_hub)
    assert done.returncode == 1
    assert "nobody/nothing: no such model repository" in done.stderr and "Traceback" not in done.stderr
    gone = FakeHub({}, url="http://127.0.0.1:9")  # discard port: connection refused
    done = _xraybench(["weights", "fetch", "chexbert"], tmp_path, gone)
    assert done.returncode == 1
    assert "cannot reach http://127.0.0.1:9/" in done.stderr and "Traceback" not in done.stderr


def test_fetch_radgraph_unpacks_where_the_metric_looks(fake_hub: FakeHub, tmp_path: Path) -> None:
    from xraybench.metrics.radgraph import find_model_dir

    root = tmp_path / "radgraph-models"
    done = _xraybench(["weights", "fetch", "radgraph"], tmp_path, fake_hub, XRAYBENCH_RADGRAPH_DIR=str(root))
    assert done.returncode == 0, done.stderr
    assert find_model_dir(str(root), "radgraph") == root
    assert (root / "radgraph" / "vocabulary" / "ner_labels.txt").is_file()
    assert not [p.name for p in root.iterdir() if p.name != "radgraph"], "a temporary folder was left behind"
    # the BERT encoder its config names is in the cache, weights included
    snapshots = list((tmp_path / "hf" / "hub" / "models--tiny-org--radgraph-encoder" / "snapshots").iterdir())
    assert {p.name for p in snapshots[0].iterdir()} >= {"config.json", "vocab.txt", "model.safetensors"}


def test_run_download_fetches_bertscore_weights_and_scores_with_them(fake_hub: FakeHub, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["run", "--model", "baseline:normal", "--tasks", "demo_findings", "--limit", "4", "--extra-metrics",
            "bertscore", "--skip-metrics", "meteor", "--bootstrap-rounds", "0", "--out", str(out), "--download"]  # fmt: skip
    done = _xraybench(args, tmp_path, fake_hub, XRAYBENCH_BERTSCORE_NUM_LAYERS="2")
    assert done.returncode == 0, done.stderr
    assert "roberta-large" in done.stdout and "model.safetensors" in done.stdout
    results = json.loads((out / "results.json").read_text())
    task = results["tasks"]["demo_findings"]
    assert "bertscore" not in task["skipped_metrics"], task["skipped_metrics"]
    assert 0 < task["metrics"]["bertscore_f1"]["value"] <= 1
    cached = list((tmp_path / "hf" / "hub" / "models--roberta-large" / "snapshots").iterdir())[0]
    for name, data in fake_hub.repos["roberta-large"].items():
        assert (cached / name).read_bytes() == data, name


CRIMSON_OFFLINE = """
import json
from xraybench.metrics.api import build_records
from xraybench.metrics.crimson import CrimsonMetric
samples, predictions = build_records(["mild cardiomegaly."], [["the lungs are clear."]])
scores = CrimsonMetric(device="cpu", dtype="float32", progress=False).score(samples, predictions)
print(json.dumps({"model": scores["crimson"].details["model"], "failed": scores["crimson_failed"].value}))
"""


def test_fetch_crimson_gets_a_sharded_generative_model_that_then_loads_offline(tmp_path: Path) -> None:
    """The CRIMSON model as a hub repo lays out a large model (safetensors shards + index, chat template, generation
    config): `weights fetch crimson` fetches every file the index names, and the metric then runs from the cache."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("CRIMSON", reason="crimson-score is not installed")
    from xraybench.testing.tiny_gemma3 import build_tiny_gemma3

    built = build_tiny_gemma3(tmp_path / "built", max_new_tokens=4)
    sharded = tmp_path / "sharded"
    transformers.AutoModelForCausalLM.from_pretrained(built).save_pretrained(sharded, max_shard_size="100KB")
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json", "chat_template.jinja"):
        if (built / name).is_file():
            (sharded / name).write_bytes((built / name).read_bytes())
    files = _files(sharded)
    shards = [n for n in files if n.startswith("model-") and n.endswith(".safetensors")]
    assert len(shards) > 1 and "model.safetensors.index.json" in files
    repo = "rajpurkarlab/medgemma-4b-it-crimson"
    hub = FakeHub({repo: files})
    with serving(hub):
        done = _xraybench(["weights", "fetch", "crimson"], tmp_path, hub)
    assert done.returncode == 0, done.stderr
    snapshot = next((tmp_path / "hf" / "hub" / f"models--{repo.replace('/', '--')}" / "snapshots").iterdir())
    for name, data in files.items():
        assert (snapshot / name).read_bytes() == data, name
    run = _offline(CRIMSON_OFFLINE, tmp_path, "XRAYBENCH_CRIMSON")
    assert run.returncode == 0, run.stderr[-3000:]
    # random weights write no JSON: the one pair is a marked failure, from the model found in the cache
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"model": repo, "failed": 1.0}


GREEN_OFFLINE = """
import json
from xraybench.metrics.api import build_records
from xraybench.metrics.green import GreenMetric
samples, predictions = build_records(["mild cardiomegaly."], [["the lungs are clear."]])
scores = GreenMetric(device="cpu", max_length=600, progress=False).score(samples, predictions)
print(json.dumps({"model": scores["green"].details["model"], "failed": scores["green_failed"].value}))
"""


def test_fetch_green_gets_the_sharded_model_and_its_added_tokens(tmp_path: Path) -> None:
    """GREEN's model as its hub repo lays it out (safetensors shards + index, added_tokens.json): `weights fetch
    green` fetches every file, and the metric then loads it from the cache offline."""
    transformers = pytest.importorskip("transformers")
    from xraybench.metrics.green import DEFAULT_MODEL, INSTRUCTION
    from xraybench.testing.tiny_llama import build_tiny_llama

    built = build_tiny_llama(tmp_path / "built", [INSTRUCTION])
    sharded = tmp_path / "sharded"
    transformers.AutoModelForCausalLM.from_pretrained(built).save_pretrained(sharded, max_shard_size="100KB")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (sharded / name).write_bytes((built / name).read_bytes())
    (sharded / "added_tokens.json").write_text("{}")
    files = _files(sharded)
    assert len([n for n in files if n.startswith("model-")]) > 1 and "model.safetensors.index.json" in files
    hub = FakeHub({DEFAULT_MODEL: files})
    with serving(hub):
        done = _xraybench(["weights", "fetch", "green"], tmp_path, hub)
    assert done.returncode == 0, done.stderr
    snapshot = next((tmp_path / "hf" / "hub" / f"models--{DEFAULT_MODEL.replace('/', '--')}" / "snapshots").iterdir())
    for name, data in files.items():
        assert (snapshot / name).read_bytes() == data, name
    run = _offline(GREEN_OFFLINE, tmp_path, "XRAYBENCH_GREEN", timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    # random weights write no GREEN assessment: the one pair is a marked failure, from the model found in the cache
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"model": DEFAULT_MODEL, "failed": 1.0}


def test_run_download_fetches_what_radcliq_is_built_from(fake_hub: FakeHub, tmp_path: Path) -> None:
    """`run --extra-metrics radcliq --download` fetches CheXbert, RadGraph and distilroberta-base (RadCliQ's BERTScore
    model, whatever the bertscore metric's default is) before the run, and semb_score then scores from the cache; the
    served stand-ins cannot make a RadCliQ, so the run lists radcliq as skipped with the reason, inventing no number."""
    root = tmp_path / "radgraph-models"
    out = tmp_path / "run"
    args = ["run", "--model", "baseline:normal", "--tasks", "demo_findings", "--limit", "2", "--extra-metrics",
            "radcliq,semb_score", "--skip-metrics", "meteor", "--bootstrap-rounds", "0", "--out", str(out), "--download"]  # fmt: skip
    done = _xraybench(args, tmp_path, fake_hub, XRAYBENCH_RADGRAPH_DIR=str(root))
    assert done.returncode == 0, done.stderr
    hub = tmp_path / "hf" / "hub"
    for repo in ("StanfordAIMI--RRG_scorers", "bert-base-uncased", "distilroberta-base"):
        assert list((hub / f"models--{repo}" / "snapshots").iterdir()), repo
    assert (root / "radgraph" / "config.json").is_file()
    task = json.loads((out / "results.json").read_text())["tasks"]["demo_findings"]
    assert "semb_score" not in task["skipped_metrics"] and -1 <= task["metrics"]["semb_score"]["value"] <= 1
    # the served stand-ins cannot run at RadCliQ's settings (a 3-layer encoder for layer 5): skipped with the reason
    assert "num_layers" in task["skipped_metrics"]["radcliq"] and "radcliq_v1" not in task["metrics"]


RATESCORE_OFFLINE = """
import json
from xraybench.metrics.ratescore import RaTEScoreMetric
scores = RaTEScoreMetric(device="cpu").score_texts(["Mild cardiomegaly. No effusion."], ["The lungs are clear."], ["a"])
print(json.dumps({"ner": scores["ratescore"].details["ner_model"], "value": scores["ratescore"].value}))
"""


def test_fetch_ratescore_gets_both_models_that_then_load_offline(tmp_path: Path) -> None:
    """`weights fetch ratescore` fetches the NER model and the entity encoder under their hub ids; the metric then
    scores from the cache offline, with the value the same folders give when named directly."""
    pytest.importorskip("RaTEScore", reason="RaTEScore is not installed (ratescore extra)")
    from xraybench.metrics.ratescore import DEFAULT_EMBEDDING, DEFAULT_NER, RaTEScoreMetric
    from xraybench.testing.tiny_ratescore import build_tiny_biolord, build_tiny_rate_ner

    ner, encoder = build_tiny_rate_ner(tmp_path / "ner"), build_tiny_biolord(tmp_path / "biolord")
    hub = FakeHub({DEFAULT_NER: _files(ner), DEFAULT_EMBEDDING: _files(encoder)})
    with serving(hub):
        done = _xraybench(["weights", "fetch", "ratescore"], tmp_path, hub)
    assert done.returncode == 0, done.stderr
    run = _offline(RATESCORE_OFFLINE, tmp_path, "XRAYBENCH_RATESCORE")
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    direct = RaTEScoreMetric(str(ner), str(encoder), device="cpu").score_texts(
        ["Mild cardiomegaly. No effusion."], ["The lungs are clear."], ["a"]
    )
    assert got == {"ner": DEFAULT_NER, "value": pytest.approx(direct["ratescore"].value, abs=1e-12)}
