"""Creating a reader study: pick cases both runs answered (seeded), assign them, issue one secret link each.

Blinding happens here: every (reviewer, case) gets its own recorded left/right order, balanced per reviewer so
that neither model sits on the left more often, and each reviewer sees the cases in their own seeded order.
"""

from __future__ import annotations

import random
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xraybench.config import DataSources, Seeded, option, shared_option
from xraybench.errors import XrayBenchError
from xraybench.names import check_name, name_path
from xraybench.records import Prediction
from xraybench.review import DEFAULT_PORT, DEFAULT_ROOT, STUDY_FILE
from xraybench.review.store import Assignment, Case, ReviewStore, hash_token
from xraybench.runner import RUN_FILE, RunFolder, RunRecord
from xraybench.taskdata import data_source_option, load_task, parse_data_roots

IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"


@dataclass
class CreateConfig(DataSources, Seeded):
    name: str = option(help="study name (letters, digits, _ . + -): the study lives in ROOT/NAME/")
    task: str = option(help="the task whose cases are reviewed (both runs must have answered it)")
    cases: int = option(help="number of cases to sample")
    reviewers: list[str] = option(help="comma-separated reviewer names, e.g. a,b,c", split_commas=True)
    runs: list[str] = option(several=2, metavar=("RUN_A", "RUN_B"), help="the two run folders to compare")
    seed: int = shared_option(Seeded, "seed", help="seed for case sampling, case order and left/right order")
    overlap: str = option(
        "all",
        help="reviewers per case: all (needed for agreement) or a number K to split the "
        "cases so each is rated by K reviewers",
    )
    root: str = option(DEFAULT_ROOT, help="folder holding the studies")
    data_roots: list[str] = data_source_option(
        "where a dataset lives (NAME=PATH) and loader options (--data-option NAME.KEY=VALUE); default: the runs' own"
    )
    url: str = option(DEFAULT_URL, help="server address printed in the reviewer links")
    port: int | None = option(
        None, help="port the study will be served on: the links say http://127.0.0.1:PORT (unless --url is given)"
    )

    def __post_init__(self) -> None:
        if self.port is not None and self.url == DEFAULT_URL:  # --port without --url: links on that port
            self.url = f"http://127.0.0.1:{self.port}"


@dataclass
class LinkConfig:
    """`review link`: a new link for a reviewer who lost theirs (the old one stops working)."""

    name: str = option(help="study name")
    reviewer: str = option(help="the reviewer who needs a new link")
    root: str = option(DEFAULT_ROOT, help="folder holding the studies")
    url: str | None = option(None, help="server address printed in the link")
    port: int | None = option(None, help=f"port the study is served on (default {DEFAULT_PORT})")

    @property
    def base_url(self) -> str:
        return self.url or f"http://127.0.0.1:{self.port or DEFAULT_PORT}"


def study_file(root: str | Path, name: str) -> Path:
    return name_path(root, name, STUDY_FILE, what="study name")


def open_study(root: str | Path, name: str) -> ReviewStore:
    store = ReviewStore(study_file(root, name))
    store.check()
    return store


def case_output(
    pred: Prediction, template: str | None, image_path: str, image_size: int | None = None
) -> dict[str, Any]:
    """What the page shows of one model's answer: its steps (the shared splitter, so step numbers and colours
    match `xraybench render`), the answer, and the pixel space its boxes are in (the SVG overlay's viewBox)."""
    from PIL import Image

    from xraybench.reasoning.steps import prediction_steps
    from xraybench.render import box_space

    with Image.open(image_path) as image:
        size = image.size
    steps = [{"text": s.text, "boxes": s.boxes} for s in prediction_steps(pred)]
    return {
        "steps": steps,
        "answer": pred.answer,
        "has_reasoning": pred.reasoning is not None,
        "box_space": list(box_space(pred, template, size, image_size)),
    }


@dataclass
class RunInfo:
    path: Path
    name: str
    run_id: str | None
    config: dict[str, Any]
    predictions: dict[str, Prediction]  # sample id -> answered prediction of the study's task


def read_run(path: str | Path, task: str) -> RunInfo:
    folder = RunFolder(path)
    run_file = folder.file(RUN_FILE)
    if not run_file.exists():
        raise XrayBenchError(f"{folder.path} is not a run folder (no {RUN_FILE})")
    record = RunRecord.read(run_file)
    config = record.config
    preds = {p.id: p for (t, _), p in folder.load_predictions().items() if t == task and not p.error}
    if not preds:
        raise XrayBenchError(f"{folder.path} has no answered predictions for task {task!r}")
    name = str(config.get("model") or next(iter(preds.values())).model)
    return RunInfo(folder.path, name, record.run_id or None, config, preds)


def assign(case_ids: list[str], reviewers: list[str], overlap: str, seed: int) -> list[Assignment]:
    """Each case goes to `overlap` reviewers (consecutive, wrapping, so loads differ by at most one); each
    reviewer's cases are shuffled and get a balanced, shuffled left/right order."""
    per_case = _overlap(overlap, len(reviewers))
    mine: dict[str, list[str]] = {r: [] for r in reviewers}
    for i, case_id in enumerate(case_ids):
        for j in range(per_case):
            mine[reviewers[(i * per_case + j) % len(reviewers)]].append(case_id)
    out: list[Assignment] = []
    for reviewer in reviewers:
        rng = random.Random(f"{seed}:{reviewer}")
        cases = mine[reviewer]
        rng.shuffle(cases)
        sides = ["A", "B"] * (len(cases) // 2 + 1)
        sides = sides[: len(cases)]
        rng.shuffle(sides)
        out.extend(Assignment(reviewer, pos, c, side) for pos, (c, side) in enumerate(zip(cases, sides, strict=True)))
    return out


def _overlap(overlap: str, n_reviewers: int) -> int:
    if overlap == "all":
        return n_reviewers
    try:
        k = int(overlap)
    except ValueError:
        raise XrayBenchError(f"--overlap expects 'all' or a number of reviewers per case, got {overlap!r}") from None
    if not 1 <= k <= n_reviewers:
        raise XrayBenchError(f"--overlap {k}: each case needs between 1 and {n_reviewers} reviewers")
    return k


def _check_reviewers(reviewers: list[str]) -> None:
    if not reviewers:
        raise XrayBenchError("--reviewers needs at least one name")
    for r in reviewers:
        check_name(r, "reviewer name")
    if len(set(reviewers)) != len(reviewers):
        raise XrayBenchError(f"--reviewers lists a name twice: {','.join(reviewers)}")


def _image_of(sample_images: list[str], sample_id: str) -> str:
    if not sample_images:
        raise XrayBenchError(f"sample {sample_id!r} has no image to show")
    path = Path(sample_images[0]).expanduser().resolve()
    if path.suffix.lower() not in IMAGE_TYPES:
        raise XrayBenchError(
            f"sample {sample_id!r}: image {path} is not a browser image "
            f"({', '.join(sorted(IMAGE_TYPES))}); convert it first"
        )
    if not path.is_file():
        raise XrayBenchError(f"sample {sample_id!r}: image {path} does not exist")
    return str(path)


def create_study(config: CreateConfig) -> tuple[Path, dict[str, str]]:
    """Create the study file; returns its path and each reviewer's secret token (shown once, stored hashed)."""
    path = study_file(config.root, config.name)
    if path.exists():
        raise XrayBenchError(f"study {config.name!r} already exists at {path}")
    if len(config.runs) != 2:
        raise XrayBenchError(f"--runs needs exactly two run folders, got {len(config.runs)}")
    _check_reviewers(config.reviewers)
    _overlap(config.overlap, len(config.reviewers))
    if config.cases < 1:
        raise XrayBenchError(f"--cases must be at least 1, got {config.cases}")
    run_a, run_b = (read_run(r, config.task) for r in config.runs)
    if run_a.path.resolve() == run_b.path.resolve():
        raise XrayBenchError("--runs names the same run folder twice")
    # later settings win: run B's, then run A's, then this command's (one list keeps loader options too)
    roots = parse_data_roots(
        [*(run_b.config.get("data_roots") or []), *(run_a.config.get("data_roots") or []), *config.data_roots]
    )
    samples = {s.id: s for s in load_task(config.task, roots).samples}
    common = sorted(set(run_a.predictions) & set(run_b.predictions) & set(samples))
    if len(common) < config.cases:
        raise XrayBenchError(
            f"only {len(common)} cases of {config.task} were answered by both runs "
            f"({run_a.path}, {run_b.path}); ask for --cases {len(common)} or fewer"
        )
    chosen = sorted(random.Random(config.seed).sample(common, config.cases))
    cases = []
    for sid in chosen:
        sample = samples[sid]
        image = _image_of(sample.image_paths, sid)
        outputs = {
            slot: case_output(
                run.predictions[sid], run.config.get("template", "plain"), image, run.config.get("image_size")
            )
            for slot, run in (("A", run_a), ("B", run_b))
        }
        cases.append(
            Case(
                case_id=sid,
                sample_id=sid,
                task=config.task,
                image_path=image,
                prompt=sample.prompt,
                reference=sample.reference,
                outputs=outputs,
            )
        )
    names = (run_a.name, run_b.name)
    if names[0] == names[1]:
        names = (f"{run_a.name} [{run_a.path.name}]", f"{run_b.name} [{run_b.path.name}]")
    models = {
        slot: {"name": n, "run_dir": str(r.path.resolve()), "run_id": r.run_id}
        for slot, n, r in zip("AB", names, (run_a, run_b), strict=True)
    }
    tokens = {r: secrets.token_urlsafe(32) for r in config.reviewers}
    meta = {
        "name": config.name,
        "task": config.task,
        "seed": config.seed,
        "overlap": config.overlap,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "csrf_secret": secrets.token_hex(32),
    }
    store = ReviewStore(path)
    store.create(
        meta,
        models,
        cases,
        {r: hash_token(t) for r, t in tokens.items()},
        assign(chosen, list(config.reviewers), config.overlap, config.seed),
    )
    return path, tokens


def reissue_token(store: ReviewStore, reviewer: str) -> str:
    """A new link for a reviewer who lost theirs; the old link stops working, their answers stay."""
    token = secrets.token_urlsafe(32)
    store.set_token_hash(reviewer, hash_token(token))
    return token


def link(url: str, token: str) -> str:
    return f"{url.rstrip('/')}/r/{token}"
