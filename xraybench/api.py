"""xraybench's Python API: each command as a function taking its config dataclass.

`xraybench CMD ...` only maps argv to the config below (or the one named) and prints what the function returns, so a
script or notebook gets the same behaviour with the same names:

    from xraybench import api
    results = api.run(api.RunConfig(model="baseline:normal", tasks=["demo_findings"], out="runs/demo"))
    scores = api.score(api.ScoreConfig(hyps="hyps.txt", refs=["refs.txt"]))

The arena's commands (`judge_arena`, `build_leaderboard`, `submit`) are in `arena.api`: the core never imports the
arena. Importing this module is light; each function imports what it runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xraybench.config import Bootstrap, DataSources, JsonOutput, MetricArgs, Seeded, option
from xraybench.tasks import REPORT_METRICS

if TYPE_CHECKING:
    from xraybench.reasoning.score import ReasoningScoreConfig
    from xraybench.render import RenderConfig, Rendering
    from xraybench.runner import RunConfig
    from xraybench.taskdata import TaskData
    from xraybench.weights import Fetched

__all__ = [
    "CompareConfig", "DownloadOptions", "FetchWeightsConfig", "LabelConfig", "ListConfig", "ReasoningScoreConfig", "RenderConfig",
    "RunConfig", "SamplesConfig", "ScoreConfig", "Validation", "ValidateConfig", "WeightsOptions", "compare",
    "fetch_weights", "label", "label_eval", "list_entries", "reasoning_score", "render", "run", "samples", "score",
    "validate",
]  # fmt: skip

_LAZY = {
    "RunConfig": "xraybench.runner",
    "RenderConfig": "xraybench.render",
    "ReasoningScoreConfig": "xraybench.reasoning.score",
}
DEFAULT_METRICS = ",".join(REPORT_METRICS)  # `score` scores texts as a report task does
ROUGE_SCORE = "rouge_score"  # rouge-score's convention; its scores rouge1, rouge2, rougeL are also names here
LIST_SECTIONS = ("tasks", "suites", "datasets", "models", "metrics")
SHOWN_LINES = 50  # validate: malformed lines / unknown ids listed in full before "... N more"
SHOWN_IDS = 10


def __getattr__(name: str) -> Any:
    """The configs that live beside their command's logic, imported on first use (keeps `import` light)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---- run, render, reasoning-score: configs beside their logic ----------------------------------------------


def run(config: RunConfig) -> dict[str, Any]:
    """`xraybench run`: evaluate a model into a resumable run folder; returns results.json's content."""
    from xraybench.runner import run as run_

    return run_(config)


def render(config: RenderConfig) -> Rendering | list[Any]:
    """`xraybench render`: one prediction's boxes on its X-ray, or a contact sheet (the cases drawn)."""
    from xraybench.render import render_run

    return render_run(config)


def reasoning_score(config: ReasoningScoreConfig) -> dict[str, Any]:
    """`xraybench reasoning-score`: judge-based scores of a run's reasoning (or the dry-run plan)."""
    from xraybench.reasoning.score import reasoning_score as score_

    return score_(config)


# ---- samples, validate ------------------------------------------------------------------------------------


@dataclass
class SamplesConfig(DataSources, Seeded):
    """`xraybench samples`: a task's samples, so external models can be run on them."""

    task: str = option(help="task name (see `xraybench list tasks`)")
    split: str | None = option(None, help="dataset split (default: the task's)")
    limit: int | None = option(None, help="a seeded sample of at most N items")
    template: str = option("plain", help="also print the rendered prompt for this template")
    jsonl: bool = option(False, help="one JSON object per line (default: a table)")


def samples(config: SamplesConfig) -> TaskData:
    from xraybench.taskdata import load_task, parse_data_roots

    return load_task(
        config.task, parse_data_roots(config.data_roots), split=config.split, limit=config.limit, seed=config.seed
    )


def sample_row(sample: Any, template: str) -> dict[str, Any]:
    """One sample as `samples --jsonl` prints it (with the prompt rendered for `template`)."""
    from xraybench.prompts import render_prompt

    return {
        "id": sample.id,
        "task": sample.task,
        "prompt": sample.prompt,
        "rendered_prompt": render_prompt(sample.prompt, template),
        "reference": sample.reference,
        "image_paths": sample.image_paths,
        "metadata": sample.metadata,
    }


@dataclass
class ValidateConfig(DataSources, Seeded):
    """`xraybench validate`: every problem of a predictions file in one pass, without scoring."""

    model: str = option(metavar="predictions:FILE", help="the predictions file to check")
    tasks: list[str] = option(help="comma-separated tasks/suites the file answers", split_commas=True)
    limit: int | None = option(None, help="check a seeded sample of at most N items per task")


@dataclass
class Validation:
    """What `validate` found: one line per finding (as printed) and how many problems there are (0: the file is
    good for these tasks)."""

    lines: list[str] = field(default_factory=list)
    problems: int = 0

    @property
    def ok(self) -> bool:
        return self.problems == 0


def _ids(ids: list[str]) -> str:
    return ", ".join(ids[:SHOWN_IDS]) + (" ..." if len(ids) > SHOWN_IDS else "")


def validate(config: ValidateConfig) -> Validation:
    """Malformed rows (with file:line), ids a task misses, ids no task has, and every task that cannot be loaded
    (each missing data root) — all of them, not the first."""
    from xraybench.errors import XrayBenchError
    from xraybench.models.predictions import read_prediction_file, validate_rows
    from xraybench.taskdata import load_task, parse_data_roots
    from xraybench.tasks import expand

    kind, _, path = config.model.partition(":")
    if kind != "predictions" or not path:
        raise XrayBenchError(
            f"validate checks prediction files: expected --model predictions:FILE, got {config.model!r}"
        )
    report = read_prediction_file(path)
    names, sizes, _ = expand(list(config.tasks))
    roots = parse_data_roots(config.data_roots)
    out = Validation(problems=len(report.malformed))
    out.lines += [f"malformed: {line}" for line in report.malformed[:SHOWN_LINES]]
    if len(report.malformed) > SHOWN_LINES:
        out.lines.append(f"... {len(report.malformed) - SHOWN_LINES} more malformed lines")
    known_ids: set[str] = set()
    unchecked: list[str] = []
    for name in names:
        caps = [n for n in (config.limit, sizes.get(name)) if n is not None]
        try:
            data = load_task(name, roots, limit=min(caps) if caps else None, seed=config.seed)
        except XrayBenchError as exc:  # keep going: every task that cannot be loaded is listed, not the first
            out.lines.append(f"{name}: cannot check: {exc}")
            unchecked.append(name)
            continue
        known_ids |= {s.id for s in data.samples}
        res = validate_rows(report.rows, name, data.samples)
        out.lines.append(f"{name}: {res.covered}/{res.n_samples} covered, {len(res.missing)} missing")
        if res.missing:
            out.lines.append(f"  missing: {_ids(res.missing)}")
        out.problems += len(res.missing)
    if unchecked:
        out.problems += len(unchecked)
        out.lines.append(
            f"unknown ids are not checked: {len(unchecked)} task(s) could not be loaded ({', '.join(unchecked)})"
        )
    else:
        unknown = [r for r in report.rows if r.task in (None, *names) and r.id not in known_ids]
        if unknown:
            out.problems += len(unknown)
            out.lines.append(f"unknown ids (in no task): {len(unknown)}:")
            out.lines += [f"  {row.where(report.path)}: id {row.id!r}" for row in unknown[:SHOWN_LINES]]
            if len(unknown) > SHOWN_LINES:
                out.lines.append(f"  ... {len(unknown) - SHOWN_LINES} more")
    return out


# ---- score ------------------------------------------------------------------------------------------------


@dataclass
class ScoreConfig(MetricArgs, JsonOutput):
    """`xraybench score`: score hypothesis and reference files (one report per line)."""

    hyps: str = option(help="hypotheses, one report per line")
    refs: list[str] = option(repeat=True, help="references, one report per line; repeat for multiple references")
    metrics: list[str] = option(
        DEFAULT_METRICS.split(","), split_commas=True,
        help=f"comma-separated (default {DEFAULT_METRICS}); rouge1, rouge2, rougeL (or {ROUGE_SCORE} for all three) "
        "are Google rouge-score's F values",
    )  # fmt: skip
    stemmer: bool = option(True, help="rouge1/rouge2/rougeL with the Porter stemmer (rouge-score's default)")
    tokenizer: str = option("coco", choices=("coco", "r2gen", "raw"), help="tokenization for lexical metrics")
    per_sample: bool = option(False, help="include per-sample scores in the JSON")


def read_lines(path: str) -> list[str]:
    """One text per line. The final newline ends the last line; an empty line is an empty text (a legal empty
    hypothesis), so `a.\\nb.\\n\\n` holds three. An empty file or bytes that are not UTF-8 are refused."""
    from xraybench.errors import DataFormatError, XrayBenchError

    p = Path(path)
    if not p.is_file():
        raise XrayBenchError(f"file not found: {p}")
    data = p.read_bytes().removeprefix(b"\xef\xbb\xbf")
    if not data:
        raise DataFormatError(p, "the file is empty; expected one report per line")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataFormatError(p, f"not UTF-8 text ({exc.reason}); save it as UTF-8", line=line) from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line starts no new one
    return [line.removesuffix("\r") for line in lines]


def metric_plan(names: list[str], stemmer: bool) -> tuple[list[str], dict[str, dict[str, object]]]:
    """Metric families to build and their options: rouge1/rouge2/rougeL become one rouge_score metric."""
    from xraybench.metrics.rouge import ROUGE_SCORE_NAMES

    wanted = [n for n in names if n in ROUGE_SCORE_NAMES]
    families = [n for n in names if n not in ROUGE_SCORE_NAMES]
    if wanted and ROUGE_SCORE not in families:
        families.append(ROUGE_SCORE)
    chosen = list(ROUGE_SCORE_NAMES) if ROUGE_SCORE in names else wanted
    return families, {ROUGE_SCORE: {"stemmer": stemmer, "names": chosen}}


def score(config: ScoreConfig) -> dict[str, Any]:
    """Metric name -> corpus value, plus `tokenizer`, `n` and (with `per_sample`) every sample's score."""
    from xraybench.errors import XrayBenchError
    from xraybench.metrics.api import metric_options, score_texts

    hyps = read_lines(config.hyps)
    ref_sets = [read_lines(r) for r in config.refs]
    for path, refs in zip(config.refs, ref_sets, strict=True):
        if len(refs) != len(hyps):
            raise XrayBenchError(
                f"{path} has {len(refs)} lines but {config.hyps} has {len(hyps)}: "
                "expected one reference per hypothesis line"
            )
    references = [list(group) for group in zip(*ref_sets, strict=True)]
    metrics, planned = metric_plan(list(config.metrics), config.stemmer)
    options = {name: dict(planned[name]) for name in metrics if name in planned}
    given = metric_options(
        config.metric_args, scored=metrics, add_with="--metrics ...,{metric}",
        fixed={ROUGE_SCORE: {"stemmer": "--stemmer", "names": "--metrics (rouge1, rouge2, rougeL)"}},
    )  # fmt: skip
    for name, values in given.items():
        options[name] = {**options.get(name, {}), **values}
    scores = score_texts(hyps, references, metrics, tokenizer=config.tokenizer, options=options)
    out: dict[str, Any] = {name: s.value for name, s in scores.items()}
    out["tokenizer"] = config.tokenizer
    out["n"] = len(hyps)
    if config.per_sample:
        out["per_sample"] = {name: [float(v) for v in s.per_sample] for name, s in scores.items()}
    return out


# ---- compare ----------------------------------------------------------------------------------------------


@dataclass
class CompareConfig(MetricArgs, Bootstrap, Seeded, JsonOutput):
    """`xraybench compare RUN_A RUN_B`: paired significance of every shared metric; with `published:NAME` as
    either side, the run's metrics beside a paper's published numbers (no test: those have no per-sample values)."""

    run_a: str = option(positional=True, help="first run folder")
    run_b: str = option(positional=True, help="second run folder, or published:NAME (e.g. published:deepmedix-r1)")

    @property
    def published(self) -> bool:
        from xraybench.published import PREFIX

        return self.run_a.startswith(PREFIX) or self.run_b.startswith(PREFIX)


def compare(config: CompareConfig) -> dict[str, Any]:
    """Two runs: {"rows": per task/metric rows, "left_out": side -> tasks only that side scored}. A run and a
    published baseline: {"run", "published", "note", "rows"} (see `xraybench.published.compare_published`)."""
    from xraybench.compare import compare_runs, unshared_tasks
    from xraybench.errors import XrayBenchError
    from xraybench.published import PREFIX, compare_published, get_published

    if not config.published:
        rows = compare_runs(
            config.run_a, config.run_b, rounds=config.bootstrap_rounds, seed=config.seed,
            metric_args=config.metric_args,  # type: ignore[arg-type]
        )  # fmt: skip
        return {"rows": rows, "left_out": unshared_tasks(config.run_a, config.run_b)}
    run_dir, name = (config.run_a, config.run_b) if config.run_b.startswith(PREFIX) else (config.run_b, config.run_a)
    if run_dir.startswith(PREFIX):
        raise XrayBenchError("compare a run folder with a published baseline, not two published baselines")
    if config.metric_args:  # nothing is rescored: a published number has no predictions behind it here
        raise XrayBenchError(
            "--metric-arg applies to a comparison of two run folders (both rescored with those options); a run "
            "beside published numbers shows the run's results.json as scored"
        )
    rows = compare_published(run_dir, name)
    pub = get_published(name)
    return {"run": run_dir, "published": pub.name, "note": pub.note, "rows": rows}


# ---- label ------------------------------------------------------------------------------------------------

REPORTS_COLUMN = "Reports"  # the CheXpert labeler's column: scripts that read its output read ours unchanged
PROGRESS_FROM = 2000  # label: show a progress bar from this many reports on


def read_reports(path: Path) -> list[str]:
    """Reports from a CSV (`Reports` column) or a text file (one per line)."""
    from xraybench.errors import DataFormatError, XrayBenchError

    if not path.is_file():
        raise XrayBenchError(f"{path}: no such file")
    try:
        if path.suffix.lower() == ".csv":
            return list(_csv_reports(path))
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _csv_reports(path: Path) -> Iterator[str]:
    import csv

    from xraybench.errors import DataFormatError

    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or REPORTS_COLUMN not in reader.fieldnames:
            found = ", ".join(reader.fieldnames or []) or "none"
            raise DataFormatError(path, f"expected a '{REPORTS_COLUMN}' column in the header; found: {found}", line=1)
        for row in reader:
            text = row.get(REPORTS_COLUMN)
            if text is None:
                raise DataFormatError(
                    path, f"row has fewer fields than the header (no '{REPORTS_COLUMN}' value)", line=reader.line_num
                )
            yield text


def cell(value: int | None) -> str:
    """A label as the CheXpert labeler writes it: 1.0 / 0.0 / -1.0, or empty for no mention."""
    return "" if value is None else f"{float(value):.1f}"


@dataclass
class LabelConfig:
    """`xraybench label`: label reports with the offline CheXpert-style labeler, or (`gold`) score it against a
    human gold standard (`eval`: the gold file)."""

    reports: str | None = option(
        None,
        help="CSV with a 'Reports' column, or one report per line; with --eval: the CSV of report texts "
        "joined to the gold on its key column (not needed when the gold has a 'Reports'/'text' column)",
    )
    out: str | None = option(
        None, help="output CSV (Reports + 14 CheXpert columns); with --eval: per-report gold vs labeler"
    )
    eval: str | None = option(
        None, flag="--eval", metavar="GOLD.csv", help="score against a gold file (CheXpert or NegBio layout)"
    )
    id_column: str | None = option(
        None, help="with --eval: the key column shared by gold and reports (default: filename, uid, id, ...)"
    )
    text_column: list[str] = option(
        [], split_commas=True,
        help="with --eval: comma-separated text columns of --reports (default: Reports/report/text, "
        "else findings,impression)",
    )  # fmt: skip


def label(config: LabelConfig) -> int:
    """Write the labels CSV (`Reports` + the 14 CheXpert columns: 1.0 / 0.0 / -1.0 / empty); returns the number
    of reports labelled."""
    import csv

    from xraybench.errors import XrayBenchError
    from xraybench.metrics.chexpert import CHEXPERT_LABELS, label_report

    if config.reports is None or config.out is None:
        raise XrayBenchError("xraybench label needs --reports and --out (or --eval GOLD.csv to score a gold file)")
    reports = read_reports(Path(config.reports))
    out = Path(config.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows: Any = reports
    if len(reports) >= PROGRESS_FROM:
        from rich.console import Console
        from rich.progress import track

        rows = track(reports, description="labelling", console=Console(stderr=True))
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([REPORTS_COLUMN, *CHEXPERT_LABELS])
        for text in rows:
            writer.writerow([text, *(cell(v) for v in label_report(text))])
    return len(reports)


def label_eval(config: LabelConfig) -> tuple[Any, list[list[int | None]], dict[str, Any]]:
    """Score the labeler against `config.eval`: (the gold, the labeler's values per gold row, results per
    `uncertain_as` policy); with `out`, also write one row per gold report with gold and labeler values."""
    import csv

    from xraybench.errors import DataFormatError
    from xraybench.metrics.chexpert import CHEXPERT_LABELS, evaluate, label_reports

    assert config.eval is not None
    gold_path = Path(config.eval)
    gold = evaluate.read_gold(gold_path, key_column=config.id_column)
    has_text = all(r.text is not None for r in gold.rows)
    if config.reports is not None:
        if gold.key_column is None:
            keys = ", ".join(evaluate.KEY_COLUMNS)
            raise DataFormatError(gold_path, f"no key column to join --reports on; expected one of: {keys}", line=1)
        texts = evaluate.read_report_texts(Path(config.reports), gold.key_column, list(config.text_column) or None)
        evaluate.attach_texts(gold, texts)
    elif not has_text:
        raise DataFormatError(
            gold_path,
            f"the gold has no report text column ({', '.join(evaluate.TEXT_COLUMNS)}); pass --reports CSV "
            f"with a '{gold.key_column or 'filename'}' column",
            line=1,
        )
    predicted = label_reports([r.text or "" for r in gold.rows])
    results = evaluate.score(gold, predicted)
    if config.out is not None:
        out = Path(config.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        cols = [CHEXPERT_LABELS.index(o) for o in gold.observations]
        with out.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(
                ["key", REPORTS_COLUMN, *(f"{o} ({w})" for o in gold.observations for w in ("gold", "labeler"))]
            )
            for r, pred in zip(gold.rows, predicted, strict=True):
                pairs = [cell(v) for g, c in zip(r.values, cols, strict=True) for v in (g, pred[c])]
                writer.writerow([r.key, r.text, *pairs])
    return gold, predicted, results


# ---- list -------------------------------------------------------------------------------------------------


@dataclass
class ListConfig:
    """`xraybench list`: what can be run and scored."""

    what: str = option("all", positional=True, choices=("all", *LIST_SECTIONS), help="which section to list")


def _options_note(dataset: str) -> str:
    """The loader's options as `--data-option` accepts them (NAME.KEY=VALUE), with their defaults."""
    from xraybench.taskdata import loader_options

    options = loader_options(dataset)
    shown = ", ".join(f"{k}={'' if p.default is None else p.default}" for k, p in options.items())
    return f" [--data-option {dataset}.KEY=VALUE: {shown}]" if shown else ""


def _model_options_note(name: str) -> str:
    """The adapter's declared options as `run --model-arg KEY=VALUE` accepts them (the run's own flags, such as
    `--name` and `--api-base`, fill the others)."""
    from xraybench.models import MODELS, options_class
    from xraybench.runner import RUN_MODEL_OPTIONS

    try:
        cls = options_class(MODELS.get(name))
    except Exception:  # an adapter whose module cannot be imported here (a missing extra) lists no options
        return ""
    keys = [f.name for f in fields(cls) if f.name not in RUN_MODEL_OPTIONS]
    return f" [--model-arg KEY=VALUE: {', '.join(keys)}]" if keys else ""


def _metric_options_note(name: str) -> str:
    """The metric's declared options as `--metric-arg METRIC.KEY=VALUE` accepts them, with their defaults."""
    import inspect

    from xraybench.metrics import METRICS
    from xraybench.metrics.api import declared_options

    try:
        factory = METRICS.get(name)
    except Exception:  # a metric whose module cannot be imported here (a missing extra) lists no options
        return ""
    declared, _ = declared_options(factory)
    params = inspect.signature(factory).parameters
    shown = ", ".join(
        k
        if params[k].default is inspect.Parameter.empty
        else f"{k}={'' if params[k].default is None else params[k].default}"
        for k in declared
    )
    return f" [--metric-arg {name}.KEY=VALUE: {shown}]" if shown else ""


def list_entries(config: ListConfig) -> dict[str, list[tuple[str, str]]]:
    """Section -> (name, description) rows, for the sections `config.what` asks for."""
    from xraybench.datasets import DATASETS
    from xraybench.metrics import METRICS
    from xraybench.models import MODELS
    from xraybench.tasks import SUITES, TASKS

    wanted = LIST_SECTIONS if config.what == "all" else (config.what,)
    out: dict[str, list[tuple[str, str]]] = {}
    for name in wanted:
        if name == "tasks":
            out[name] = [
                (t.name, f"{t.kind}; {t.dataset}/{t.split}; metrics: {', '.join(t.metrics)} — {t.description}")
                for t in TASKS.values()
            ]
        elif name == "suites":
            out[name] = [(s.name, f"{', '.join(s.tasks)} — {s.description}") for s in SUITES.values()]
        elif name == "datasets":
            out[name] = [(n, DATASETS.get(n).description + _options_note(n)) for n in DATASETS.names()]
        elif name == "models":
            out[name] = [
                (e.name, e.help + (f" [extra: {e.extra}]" if e.extra else "") + _model_options_note(e.name))
                for e in MODELS.entries()
            ]
        else:
            out[name] = [
                (e.name, e.help + (f" [extra: {e.extra}]" if e.extra else "") + _metric_options_note(e.name))
                for e in METRICS.entries()
            ]
    return out


# ---- weights ----------------------------------------------------------------------------------------------


@dataclass(kw_only=True)
class WeightsOptions:
    """Where model-based metrics' weights go and which ones: shared by `weights fetch` and `run --download`."""

    bertscore_model: str | None = option(
        None, help="bertscore: repo id (default: XRAYBENCH_BERTSCORE_MODEL or roberta-large)"
    )
    radgraph_dir: str | None = option(
        None,
        help="radgraph: unpack into DIR/<model type>/ (default: XRAYBENCH_RADGRAPH_DIR, else the radgraph package's "
        "cache)",
    )
    radgraph_model_type: str = option("radgraph", help="radgraph: model type (default radgraph)")


@dataclass
class DownloadOptions(WeightsOptions):
    """`run --download`: fetch the weights of the model-based metrics in `--extra-metrics` first."""

    download: bool = option(
        False,
        help="first download the weights the model-based metrics in --extra-metrics will load (as `xraybench "
        "weights fetch`), without asking",
    )


@dataclass
class FetchWeightsConfig(WeightsOptions):
    """`xraybench weights fetch NAME...`: download metric weights into the Hugging Face cache."""

    names: list[str] = option(
        positional=True,
        metavar="NAME",
        help="one or more of chexbert, radgraph, bertscore, crimson, green, semb_score, radcliq, ratescore",
    )


def fetch_weights(
    names: list[str],
    options: WeightsOptions,
    notify: Any = None,
    metric_options: dict[str, dict[str, Any]] | None = None,
) -> list[tuple[str, list[Fetched]]]:
    """Fetch each metric's weights (checksums checked); returns (metric, files) per distinct name. `metric_options`
    (a run's `--metric-arg`, typed) say which model each metric will load: that one is fetched, not its default."""
    from xraybench.errors import XrayBenchError
    from xraybench.weights import WEIGHTS, fetch

    unknown = [n for n in names if n not in WEIGHTS]
    if unknown:
        raise XrayBenchError(f"no weights to fetch for {', '.join(unknown)}: choose from {', '.join(WEIGHTS)}")
    kwargs: dict[str, Any] = {} if notify is None else {"notify": notify}
    return [
        (name, fetch(name, bertscore_model=options.bertscore_model, radgraph_dir=options.radgraph_dir,
                     radgraph_model_type=options.radgraph_model_type or "radgraph",
                     options=(metric_options or {}).get(name), **kwargs))
        for name in dict.fromkeys(names)
    ]  # fmt: skip
