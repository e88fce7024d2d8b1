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

`run --download` passes each metric's `--metric-arg` options (`fetch(..., options=...)`): a model option
(`bertscore.model`, `green.model`, `crimson.model`, `ratescore.ner_model`/`embedding_model`, `chexbert.tokenizer`,
`radcliq.bertscore_model`, ...) replaces the variable and the default above, as the metric reads it; one naming a local
folder or file (`chexbert.checkpoint`, `radgraph.model_dir` holding the model) fetches nothing for it, and a path
that is not there is refused naming the option, so nothing is fetched that the run will not load.
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
from collections.abc import Callable, Mapping
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


def hub_model(
    metric: str,
    value: str | None,
    *,
    option: str,
    env: str | None,
    default: str | None,
    given: str | None = None,
    notify: Notify = log.info,
) -> str | None:
    """The hub repo id `metric` will load for its `option`: `value` (a metric option; `given` says where it came
    from, default `--metric-arg METRIC.OPTION=VALUE`), else the variable `env`, else `default`, as
    `xraybench.metrics._local_models.local_model_dir` picks it. None where that is a local folder (said through
    `notify`: nothing to fetch). A path that is not there is refused, naming where it came from: only hub repos can
    be fetched, and fetching the default instead would fetch what the run will not load."""
    from xraybench.metrics._local_models import _looks_like_path

    from_env = os.environ.get(env) if env else None
    name = value or from_env or default
    if not name:
        return None
    source = (given or f"--metric-arg {metric}.{option}={value}") if value else f"{env}={name}" if from_env else None
    path = Path(name).expanduser()
    if path.is_dir():
        notify(f"{metric}: {name} is a local folder{f' ({source})' if source else ''}; nothing to fetch for it")
        return None
    if _looks_like_path(name) or path.exists():
        raise XrayBenchError(
            f"{source or metric}: {name} is not a folder here, and only a hub repo id (name or org/name) can be "
            "fetched; give an existing folder or a repo id"
        )
    return name


def fetch_crimson(model: str | None = None, notify: Notify = log.info) -> list[Fetched]:
    from xraybench.metrics.crimson import DEFAULT_MODEL, MODEL_ENV

    name = hub_model("crimson", model, option="model", env=MODEL_ENV, default=DEFAULT_MODEL, notify=notify)
    return fetch_causal_lm(name, notify) if name else []


GREEN_EXTRA_FILES = ("added_tokens.json", "tokenization_chexagent.py")  # GREEN-RadLlama2-7b's tokenizer needs them


def fetch_green(model: str | None = None, notify: Notify = log.info) -> list[Fetched]:
    from xraybench.metrics.green import DEFAULT_MODEL, MODEL_ENV

    name = hub_model("green", model, option="model", env=MODEL_ENV, default=DEFAULT_MODEL, notify=notify)
    if name is None:
        return []
    extra = [f for file in GREEN_EXTRA_FILES if (f := fetch_file(name, file, required=False, notify=notify))]
    return [*fetch_causal_lm(name, notify), *extra]


RATESCORE_NER_EXTRA_FILES = ("spm.model", "added_tokens.json")  # RaTE-NER-Deberta's SentencePiece tokenizer


def fetch_ratescore(
    ner_model: str | None = None, embedding_model: str | None = None, notify: Notify = log.info
) -> list[Fetched]:
    from xraybench.metrics.ratescore import DEFAULT_EMBEDDING, DEFAULT_NER, EMBEDDING_ENV, NER_ENV

    got: list[Fetched] = []
    for option, value, env, default in (
        ("ner_model", ner_model, NER_ENV, DEFAULT_NER), ("embedding_model", embedding_model, EMBEDDING_ENV, DEFAULT_EMBEDDING)
    ):  # fmt: skip
        name = hub_model("ratescore", value, option=option, env=env, default=default, notify=notify)
        if name is None:
            continue
        got += fetch_encoder(name, weights=True, notify=notify)
        if option == "ner_model":  # a RaTE-NER-Deberta-like NER model's SentencePiece files, where the repo has them
            got += [
                f for file in RATESCORE_NER_EXTRA_FILES if (f := fetch_file(name, file, required=False, notify=notify))
            ]
    return got


def fetch_chexbert(
    checkpoint: str | None = None, tokenizer: str | None = None, notify: Notify = log.info, metric: str = "chexbert"
) -> list[Fetched]:
    """chexbert.pth (unless the `checkpoint` option or its variable names a local file) and the tokenizer's files
    (unless `tokenizer` names a local folder). `metric` names the metric whose options these are in messages."""
    from xraybench.metrics.chexbert import CHECKPOINT_ENV, DEFAULT_TOKENIZER, HUB_CHECKPOINT, TOKENIZER_ENV

    got: list[Fetched] = []
    local = checkpoint or os.environ.get(CHECKPOINT_ENV)
    if local:  # a file path only (the metric reads no repo id here): fetching the hub's chexbert.pth would be unused
        source = f"--metric-arg {metric}.checkpoint={checkpoint}" if checkpoint else f"{CHECKPOINT_ENV}={local}"
        if not Path(local).expanduser().is_file():
            raise XrayBenchError(
                f"{source}: {local} is not a file here; --download fetches only the hub's {HUB_CHECKPOINT[1]} (of "
                f"{HUB_CHECKPOINT[0]}), which the run would not load: drop the option to use it, or give an existing file"
            )
        notify(f"{metric}: checkpoint {local} is a local file ({source}); nothing to fetch for it")
    else:
        found = fetch_file(*HUB_CHECKPOINT, notify=notify)
        assert found is not None  # required
        got.append(found)
    name = hub_model(metric, tokenizer, option="tokenizer", env=TOKENIZER_ENV, default=DEFAULT_TOKENIZER, notify=notify)
    return [*got, *(fetch_encoder(name, weights=False, notify=notify) if name else [])]


def fetch_bertscore(
    model: str | None = None, notify: Notify = log.info, *, given: str | None = None, metric: str = "bertscore",
    option: str = "model", env: str | None = None, default: str | None = None,
) -> list[Fetched]:  # fmt: skip
    """The BERTScore model's config, tokenizer and weights: `model` (`given` says where it came from), else
    XRAYBENCH_BERTSCORE_MODEL, else roberta-large. RadCliQ passes its own `metric`, `option` and `default` and no
    variable (its BERTScore model is its option or distilroberta-base)."""
    from xraybench.metrics.bertscore import DEFAULT_MODEL, MODEL_ENV

    if metric == "bertscore":
        env, default = MODEL_ENV, DEFAULT_MODEL
    name = hub_model(metric, model, option=option, env=env, default=default, given=given, notify=notify)
    return fetch_encoder(name, weights=True, notify=notify) if name else []


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
    model_dir: str | None = None, model_type: str = "radgraph", notify: Notify = log.info, *, given: str | None = None
) -> list[Fetched]:
    """radgraph.tar.gz (or `model_type`'s) unpacked under `model_dir` (`given` says where that came from: a metric
    option; the folder holding `<model_type>/` or that folder itself, as the metric reads it), and the BERT encoder
    its config names. With `given`, a folder that holds the model already is not fetched again (the run loads it)."""
    from xraybench.metrics.radgraph import MODEL_TYPES

    if model_type not in MODEL_TYPES:
        raise XrayBenchError(f"radgraph: model type must be one of {', '.join(MODEL_TYPES)}, not {model_type!r}")
    root = radgraph_root(model_dir)
    if model_dir and root.name == model_type:  # `xraybench.metrics.radgraph.find_model_dir` takes either
        root = root.parent
    target = root / model_type
    got: list[Fetched] = []
    if given and (target / "weights.th").is_file() and (target / "config.json").is_file():
        notify(f"radgraph: {target} holds the {model_type} model already ({given}); not fetched again")
    else:
        archive = fetch_file("StanfordAIMI/RRG_scorers", f"{model_type}.tar.gz", notify=notify)
        assert archive is not None  # required
        _unpack(archive.path, target)
        notify(f"radgraph: unpacked {archive.filename} into {target}")
        got.append(archive)
    config = json.loads((target / "config.json").read_text(encoding="utf-8"))
    encoders = _encoder_names(config)
    if not encoders:
        raise XrayBenchError(f"{target / 'config.json'}: names no transformer encoder (model_name)")
    return [*got, *(f for name in encoders for f in fetch_encoder(name, weights=True, notify=notify))]


def _given(metric: str, options: Mapping[str, Any], key: str) -> str | None:
    return f"--metric-arg {metric}.{key}={options[key]}" if options.get(key) is not None else None


def fetch(
    name: str, *, bertscore_model: str | None = None, radgraph_dir: str | None = None,
    radgraph_model_type: str = "radgraph", options: Mapping[str, Any] | None = None, notify: Notify = log.info,
) -> list[Fetched]:  # fmt: skip
    """Fetch one metric's weights (see the module docstring); returns every file with its checksum.

    `options` are the metric's own options as a run builds it (`--metric-arg`, typed): what they name is fetched
    instead of the defaults (a local folder or file: nothing), so `run --download` fetches what the run loads."""
    opts = dict(options or {})
    if name in ("chexbert", "semb_score"):  # SembScore is CheXbert's encoder
        return fetch_chexbert(opts.get("checkpoint"), opts.get("tokenizer"), notify, metric=name)
    if name == "bertscore":
        if opts.get("model") is not None:
            return fetch_bertscore(opts["model"], notify, given=_given(name, opts, "model"))
        return fetch_bertscore(bertscore_model, notify, given=f"--bertscore-model {bertscore_model}")
    if name == "radgraph":
        model_type = opts.get("model_type") or radgraph_model_type
        if opts.get("model_dir") is not None:
            return fetch_radgraph(opts["model_dir"], model_type, notify, given=_given(name, opts, "model_dir"))
        return fetch_radgraph(radgraph_dir, model_type, notify)
    if name == "crimson":
        return fetch_crimson(opts.get("model"), notify)
    if name == "green":
        return fetch_green(opts.get("model"), notify)
    if name == "ratescore":
        return fetch_ratescore(opts.get("ner_model"), opts.get("embedding_model"), notify)
    if name == "radcliq":  # CheXbert (SembScore), RadGraph, and its own BERTScore model (not the bertscore metric's)
        from xraybench.metrics.radcliq import BERTSCORE_MODEL

        graph = (
            fetch_radgraph(opts["radgraph_dir"], "radgraph", notify, given=_given(name, opts, "radgraph_dir"))
            if opts.get("radgraph_dir") is not None
            else fetch_radgraph(radgraph_dir, "radgraph", notify)
        )  # RadCliQ's RadGraph is always the radgraph model type
        bert = fetch_bertscore(
            opts.get("bertscore_model"), notify, given=_given(name, opts, "bertscore_model"), metric=name,
            option="bertscore_model", default=BERTSCORE_MODEL,
        )  # fmt: skip
        return [*fetch_chexbert(opts.get("checkpoint"), opts.get("tokenizer"), notify, metric=name), *graph, *bert]
    raise XrayBenchError(f"weights: unknown metric {name!r}; choose from {', '.join(WEIGHTS)}")
