"""`xraybench weights fetch chexbert|radgraph|bertscore|crimson|green|semb_score|radcliq|ratescore`: download the model-based metrics' weights, once.

The metrics never download (`xraybench.metrics._local_models`); this is the one explicit step that does, through
`huggingface_hub` into its cache (`HF_HOME` / `HF_HUB_CACHE`; `HF_ENDPOINT` for a mirror), where the metrics then
find the files offline. Every file shows a progress bar and is checked against the checksum the hub states for it
(sha256 for LFS files, the git blob SHA-1 for small ones); a file that does not match is deleted and reported.

What is fetched is what RadEval downloads on first use for the same metrics:
- chexbert: `chexbert.pth` of StanfordAIMI/RRG_scorers, plus bert-base-uncased's config and tokenizer files (its
  weights are in `chexbert.pth`);
- radgraph: `radgraph.tar.gz` of StanfordAIMI/RRG_scorers (or `--radgraph-model-type`), unpacked where the metric
  looks (`XRAYBENCH_RADGRAPH_DIR`, else the radgraph package's cache), plus the BERT encoder its config names;
- bertscore: the model the metric uses (`XRAYBENCH_BERTSCORE_MODEL`, default roberta-large): config, tokenizer
  and weights;
- crimson: the generative model the metric uses (`XRAYBENCH_CRIMSON_MODEL`, default
  rajpurkarlab/medgemma-4b-it-crimson), as `fetch_causal_lm` lists it;
- semb_score: what chexbert fetches; radcliq: chexbert's and radgraph's files and distilroberta-base (its BERTScore);
- green: GREEN's model (`XRAYBENCH_GREEN_MODEL`, default StanfordAIMI/GREEN-radllama2-7b) as `fetch_causal_lm`
  lists it, plus its `added_tokens.json` and tokenizer module where the repo has them;
- ratescore: its NER model (`XRAYBENCH_RATESCORE_NER_MODEL`, default Angelakeke/RaTE-NER-Deberta, with its
  SentencePiece `spm.model` and `added_tokens.json`) and its entity encoder (`XRAYBENCH_RATESCORE_EMBEDDING_MODEL`,
  default FremyCompany/BioLORD-2023-C): config, tokenizer and weights of each.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xraybench.errors import XrayBenchError
from xraybench.lazy import require

log = logging.getLogger(__name__)
Notify = Callable[[str], None]  # one line per file before it is fetched: progress where no bar shows (not a TTY)

# semb_score and radcliq fetch what they are built from (so `run --download` finds them by metric name)
WEIGHTS = ("chexbert", "radgraph", "bertscore", "crimson", "green", "semb_score", "radcliq", "ratescore")
TOKENIZER_FILES = ("tokenizer_config.json", "tokenizer.json", "vocab.txt", "vocab.json", "merges.txt",
                   "special_tokens_map.json")  # fmt: skip
VOCAB_FILES = ("tokenizer.json", "vocab.txt", "vocab.json")  # a tokenizer needs at least one of these
MODEL_FILES = ("model.safetensors", "pytorch_model.bin")  # the first one the repo has is fetched
_SHA256 = re.compile(r"[0-9a-f]{64}")
_GIT_SHA1 = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class Fetched:
    """One file in the Hugging Face cache, checked against the hub's checksum."""

    repo: str
    filename: str
    path: Path
    size: int
    checksum: str  # "sha256:<hex>" or "git-sha1:<hex>"
    commit: str | None


def _hub() -> Any:
    return require("huggingface_hub", "hf", "xraybench weights fetch")


def _endpoint() -> str | None:
    # read at call time: huggingface_hub reads HF_ENDPOINT once, when it is first imported
    return os.environ.get("HF_ENDPOINT") or None


def _digest(path: Path, expected: str) -> tuple[str, str]:
    """(kind, hex digest) of `path` computed the way the hub computed `expected`."""
    if _SHA256.fullmatch(expected):
        h, kind = hashlib.sha256(), "sha256"
    elif _GIT_SHA1.fullmatch(expected):
        h, kind = hashlib.sha1(), "git-sha1"  # noqa: S324 - git's blob id, not a security hash
        h.update(b"blob %d\0" % path.stat().st_size)
    else:
        raise XrayBenchError(f"{path.name}: the hub stated no checksum for it (etag {expected!r}); not trusted")
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return kind, h.hexdigest()


def fetch_file(repo: str, filename: str, *, required: bool = True, notify: Notify = log.info) -> Fetched | None:
    """Download `filename` of model repo `repo` into the cache (kept if already there) and check its checksum.

    A file the repo does not have is an error when `required`, else None.
    """
    hub = _hub()
    errors = require("huggingface_hub.errors", "hf", "xraybench weights fetch")
    endpoint = _endpoint()
    url = hub.hf_hub_url(repo, filename, endpoint=endpoint)
    try:
        meta = hub.get_hf_file_metadata(url, endpoint=endpoint)
    except getattr(errors, "RemoteEntryNotFoundError", errors.EntryNotFoundError) as exc:  # hub < 1.0: the latter
        if not required:
            return None
        raise XrayBenchError(f"{repo}: has no file {filename} ({url})") from exc
    except errors.GatedRepoError as exc:  # a subclass of the next one
        raise XrayBenchError(f"{repo}: gated; accept its terms on the hub and log in (HF_TOKEN) ({url})") from exc
    except errors.RepositoryNotFoundError as exc:
        raise XrayBenchError(f"{repo}: no such model repository at {endpoint or 'huggingface.co'} ({url})") from exc
    except Exception as exc:  # the transport's own errors (connection refused, DNS, timeouts) and HTTP errors
        raise XrayBenchError(f"{repo}/{filename}: cannot reach {url} ({type(exc).__name__}: {exc})") from exc
    if not meta.etag:
        raise XrayBenchError(f"{repo}/{filename}: the hub stated no checksum (ETag) for it; not downloaded")
    notify(f"{repo}/{filename}" + (f" ({meta.size:,} bytes)" if meta.size is not None else ""))
    try:
        path = Path(hub.hf_hub_download(repo, filename, endpoint=endpoint))
    except Exception as exc:  # as above: a connection lost mid-file is the transport's error, not an OSError
        raise XrayBenchError(f"{repo}/{filename}: download failed ({type(exc).__name__}: {exc})") from exc
    kind, digest = _digest(path, meta.etag)
    if digest != meta.etag:
        blob = path.resolve()
        path.unlink(missing_ok=True)
        blob.unlink(missing_ok=True)
        raise XrayBenchError(
            f"{repo}/{filename}: checksum mismatch (the hub states {kind} {meta.etag}, the download has {digest}); "
            "the corrupt file was deleted: rerun to download it again"
        )
    log.info("%s/%s: %s %s ok", repo, filename, kind, digest)
    return Fetched(repo, filename, path, path.stat().st_size, f"{kind}:{digest}", meta.commit_hash)


def fetch_encoder(repo: str, *, weights: bool, notify: Notify = log.info) -> list[Fetched]:
    """A transformers model repo's config and tokenizer files, and (`weights`) its weights file."""
    got = [f for f in [fetch_file(repo, "config.json", notify=notify)] if f]
    got += [f for name in TOKENIZER_FILES if (f := fetch_file(repo, name, required=False, notify=notify))]
    if not any(f.filename in VOCAB_FILES for f in got):
        raise XrayBenchError(f"{repo}: none of {', '.join(VOCAB_FILES)} found; not a tokenizer this metric can load")
    if weights:
        for name in MODEL_FILES:
            found = fetch_file(repo, name, required=False, notify=notify)
            if found:
                got.append(found)
                break
        else:
            raise XrayBenchError(f"{repo}: no weights file ({' or '.join(MODEL_FILES)})")
    return got


# what a generative model repo needs to load offline besides tokenizer files and weights (absent ones are skipped)
CAUSAL_LM_FILES = ("config.json", "generation_config.json", "chat_template.jinja", "chat_template.json",
                   "tokenizer.model", "preprocessor_config.json", "processor_config.json")  # fmt: skip
SHARD_INDEX = "model.safetensors.index.json"


def fetch_causal_lm(repo: str, notify: Notify = log.info) -> list[Fetched]:
    """A generative model repo (an LLM-judged metric's model): config, generation config, tokenizer with its chat
    template, and the safetensors weights (one file, or the shards its index names)."""
    got = [
        f for name in CAUSAL_LM_FILES if (f := fetch_file(repo, name, required=name == "config.json", notify=notify))
    ]
    got += [f for name in TOKENIZER_FILES if (f := fetch_file(repo, name, required=False, notify=notify))]
    if not any(f.filename in (*VOCAB_FILES, "tokenizer.model") for f in got):
        raise XrayBenchError(f"{repo}: no tokenizer ({', '.join(VOCAB_FILES)} or tokenizer.model)")
    index = fetch_file(repo, SHARD_INDEX, required=False, notify=notify)
    if index is None:
        single = fetch_file(repo, "model.safetensors", required=False, notify=notify)
        if single is None:
            raise XrayBenchError(f"{repo}: no weights (model.safetensors or {SHARD_INDEX})")
        return [*got, single]
    try:
        shards = sorted(set(json.loads(index.path.read_text(encoding="utf-8"))["weight_map"].values()))
    except (ValueError, KeyError, AttributeError) as exc:
        raise XrayBenchError(f"{repo}/{SHARD_INDEX}: expected a JSON object with a weight_map ({exc})") from exc
    return [*got, index, *(f for name in shards if (f := fetch_file(repo, name, notify=notify)))]


def fetch_crimson(notify: Notify = log.info) -> list[Fetched]:
    from xraybench.metrics.crimson import DEFAULT_MODEL, MODEL_ENV

    name = os.environ.get(MODEL_ENV) or DEFAULT_MODEL
    if Path(name).expanduser().is_dir():
        raise XrayBenchError(f"crimson: {name} is a local folder already; nothing to fetch")
    return fetch_causal_lm(name, notify)


GREEN_EXTRA_FILES = ("added_tokens.json", "tokenization_chexagent.py")  # GREEN-RadLlama2-7b's tokenizer needs them


def fetch_green(notify: Notify = log.info) -> list[Fetched]:
    from xraybench.metrics.green import DEFAULT_MODEL, MODEL_ENV

    name = os.environ.get(MODEL_ENV) or DEFAULT_MODEL
    if Path(name).expanduser().is_dir():
        raise XrayBenchError(f"green: {name} is a local folder already; nothing to fetch")
    extra = [f for file in GREEN_EXTRA_FILES if (f := fetch_file(name, file, required=False, notify=notify))]
    return [*fetch_causal_lm(name, notify), *extra]


RATESCORE_NER_EXTRA_FILES = ("spm.model", "added_tokens.json")  # RaTE-NER-Deberta's SentencePiece tokenizer


def fetch_ratescore(notify: Notify = log.info) -> list[Fetched]:
    from xraybench.metrics.ratescore import DEFAULT_EMBEDDING, DEFAULT_NER, EMBEDDING_ENV, NER_ENV

    got: list[Fetched] = []
    for env, default in ((NER_ENV, DEFAULT_NER), (EMBEDDING_ENV, DEFAULT_EMBEDDING)):
        name = os.environ.get(env) or default
        if Path(name).expanduser().is_dir():
            notify(f"ratescore: {name} is a local folder already; nothing to fetch for it")
            continue
        got += fetch_encoder(name, weights=True, notify=notify)
        if default == DEFAULT_NER:
            got += [
                f for file in RATESCORE_NER_EXTRA_FILES if (f := fetch_file(name, file, required=False, notify=notify))
            ]
    return got


def fetch_chexbert(notify: Notify = log.info) -> list[Fetched]:
    from xraybench.metrics.chexbert import DEFAULT_TOKENIZER, HUB_CHECKPOINT

    checkpoint = fetch_file(*HUB_CHECKPOINT, notify=notify)
    assert checkpoint is not None  # required
    return [checkpoint, *fetch_encoder(DEFAULT_TOKENIZER, weights=False, notify=notify)]


def fetch_bertscore(model: str | None = None, notify: Notify = log.info) -> list[Fetched]:
    from xraybench.metrics.bertscore import DEFAULT_MODEL, MODEL_ENV

    name = model or os.environ.get(MODEL_ENV) or DEFAULT_MODEL
    if Path(name).expanduser().is_dir():
        raise XrayBenchError(f"bertscore: {name} is a local folder already; nothing to fetch")
    return fetch_encoder(name, weights=True, notify=notify)


def radgraph_root(model_dir: str | None = None) -> Path:
    """Where the radgraph metric looks for `<model_type>/`: the given folder, XRAYBENCH_RADGRAPH_DIR, else the
    radgraph package's cache."""
    from xraybench.metrics.radgraph import MODEL_ENV

    given = model_dir or os.environ.get(MODEL_ENV)
    if given:
        return Path(given).expanduser()
    try:
        return Path(require("radgraph.radgraph", "radgraph", "RadGraph F1").CACHE_DIR)
    except ImportError as exc:  # MissingExtraError
        raise XrayBenchError(
            f"radgraph: install the package (pip install 'xraybench[radgraph]') or give --radgraph-dir / {MODEL_ENV} "
            f"to say where to unpack the model ({exc})"
        ) from exc


def _unpack(archive: Path, target: Path) -> None:
    """Unpack a model archive into `target` through a temporary sibling, so a kill leaves no half model."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():  # the data filter below refuses these too; older Pythons lack it
                if member.name.startswith(("/", "\\")) or ".." in Path(member.name).parts:
                    raise XrayBenchError(f"{archive.name}: refusing member {member.name!r} outside the archive root")
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, filter="data")
            else:  # pragma: no cover - Python < 3.10.12
                tar.extractall(tmp)  # noqa: S202 - members checked above
        found = sorted(p.name for p in tmp.iterdir())
        if not {"config.json", "weights.th"} <= set(found):
            raise XrayBenchError(
                f"{archive.name}: expected config.json and weights.th at the top of the archive, found {found}"
            )
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _encoder_names(config: Any) -> list[str]:
    """The transformer model names a RadGraph config.json (an AllenNLP config) refers to."""
    names: list[str] = []
    if isinstance(config, dict):
        for key, value in config.items():
            if key == "model_name" and isinstance(value, str):
                names.append(value)
            else:
                names += _encoder_names(value)
    elif isinstance(config, list):
        for value in config:
            names += _encoder_names(value)
    return list(dict.fromkeys(names))


def fetch_radgraph(
    model_dir: str | None = None, model_type: str = "radgraph", notify: Notify = log.info
) -> list[Fetched]:
    from xraybench.metrics.radgraph import MODEL_TYPES

    if model_type not in MODEL_TYPES:
        raise XrayBenchError(f"radgraph: model type must be one of {', '.join(MODEL_TYPES)}, not {model_type!r}")
    root = radgraph_root(model_dir)
    archive = fetch_file("StanfordAIMI/RRG_scorers", f"{model_type}.tar.gz", notify=notify)
    assert archive is not None  # required
    target = root / model_type
    _unpack(archive.path, target)
    notify(f"radgraph: unpacked {archive.filename} into {target}")
    config = json.loads((target / "config.json").read_text(encoding="utf-8"))
    encoders = _encoder_names(config)
    if not encoders:
        raise XrayBenchError(f"{target / 'config.json'}: names no transformer encoder (model_name)")
    return [archive, *(f for name in encoders for f in fetch_encoder(name, weights=True, notify=notify))]


def fetch(
    name: str, *, bertscore_model: str | None = None, radgraph_dir: str | None = None,
    radgraph_model_type: str = "radgraph", notify: Notify = log.info,
) -> list[Fetched]:  # fmt: skip
    """Fetch one metric's weights (see the module docstring); returns every file with its checksum."""
    if name == "chexbert":
        return fetch_chexbert(notify)
    if name == "bertscore":
        return fetch_bertscore(bertscore_model, notify)
    if name == "radgraph":
        return fetch_radgraph(radgraph_dir, radgraph_model_type, notify)
    if name == "crimson":
        return fetch_crimson(notify)
    if name == "green":
        return fetch_green(notify)
    if name == "ratescore":
        return fetch_ratescore(notify)
    if name == "semb_score":  # CheXbert's encoder
        return fetch_chexbert(notify)
    if name == "radcliq":  # CheXbert (SembScore), RadGraph, and its BERTScore model whatever --bertscore-model says
        from xraybench.metrics.radcliq import BERTSCORE_MODEL

        return [*fetch_chexbert(notify), *fetch_radgraph(radgraph_dir, radgraph_model_type, notify),
                *fetch_bertscore(BERTSCORE_MODEL, notify)]  # fmt: skip
    raise XrayBenchError(f"weights: unknown metric {name!r}; choose from {', '.join(WEIGHTS)}")
