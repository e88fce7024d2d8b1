"""Agreement of a judge with human preferences between two candidate reports (`xraybench judge-audit --preferences`).

Why: an audit with injected errors (`arena.audit`) says which errors a judge notices; only people say which report
is better when both are imperfect. For pairs of candidate reports with a reference and the ratings of one or more
raters, the agreement of a judge is the share of pairs where it prefers the report the raters' majority prefers:
pairs the majority calls a tie are left out, a judge's tie counts half (as in CRIMSON's and ReXVal-style
preference suites). Its 95% CI is a bootstrap over pairs, and it is broken down per error category where the file
names one. The ceiling is the raters' own leave-one-out agreement: each rater, taken as a judge, against the
majority of the others (needs two raters or more).

Files read (every bad record is named as `file (record ...)`, never a traceback):

- a JSON list of `{"id", "ground_truth_report", "C1_report", "C2_report"}` (optional `"category"`), with one or more
  rater files `{"user_id", "annotations": {id: {"C1": {"rating": 1-5}, "C2": {"rating": 1-5}}}}` (higher is
  better unless the caller says otherwise: `--better-rating lower`; equal ratings are a tie);
- a CSV `reference, report_a, report_b, preferred` with `preferred` in `A`, `B`, `tie` (optional columns `id`,
  `category`, `rater`: rows with the same `id` are one pair rated by several raters).

The same pairs are also decided by every metric as a judge (each registered report metric's headline and
leaderboard scores, higher score preferred, equal scores a tie, and every offline `metric:` judge), so a user sees
which metric agrees with the raters best (`rank_metrics`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xraybench.errors import DataFormatError, MissingExtraError, XrayBenchError

log = logging.getLogger(__name__)

FIRST, SECOND = "C1", "C2"  # the two candidates of a pair (A and B of the CSV layout)
RATING_RANGE = (1.0, 5.0)
CSV_COLUMNS = ("reference", "report_a", "report_b", "preferred")
PREFERRED = {"a": 1, "b": -1, "tie": 0}  # CSV `preferred` -> vote (+1: the first candidate, -1: the second)
SCORE_TIE = 1e-9  # two metric scores closer than this are a tie


@dataclass(frozen=True)
class PreferencePair:
    """One pair: the reference, the two candidates, each rater's vote (+1 first, -1 second, 0 tie), a category."""

    id: str
    reference: str
    first: str
    second: str
    votes: dict[str, int]
    category: str | None = None

    def majority(self, leave_out: str | None = None) -> int:
        """+1 / -1 when more raters (other than `leave_out`) prefer the first / second candidate, 0 otherwise."""
        total = sum(v for rater, v in self.votes.items() if rater != leave_out)
        return int(np.sign(total))


@dataclass
class PreferenceSet:
    pairs: list[PreferencePair]
    raters: list[str]
    source: str


# -- reading ----------------------------------------------------------------------------------------------------


def _text(path: Path, record: str, item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        found = "nothing" if value is None else f"{type(value).__name__} {value!r}"[:80]
        raise DataFormatError(path, f"{key!r} must be a non-empty report text, found {found}", record=record)
    return value


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise XrayBenchError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise DataFormatError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from None


def _rating(path: Path, record: str, value: Any, which: str) -> float:
    rating = value.get("rating") if isinstance(value, dict) else None
    if isinstance(rating, bool) or not isinstance(rating, int | float) or not np.isfinite(rating):
        raise DataFormatError(path, f"{which} needs {{'rating': 1-5}}, found {value!r}"[:200], record=record)
    low, high = RATING_RANGE
    if not low <= rating <= high:
        raise DataFormatError(path, f"{which} rating {rating!r} is outside {low:g}-{high:g}", record=record)
    return float(rating)


def read_rater_file(path: Path, ids: set[str], higher_is_better: bool = True) -> tuple[str, dict[str, int]]:
    """(user id, votes by pair id) of one rater file; every annotated id must be a pair of the pair file."""
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), dict):
        raise DataFormatError(path, "expected a rater file {'user_id': ..., 'annotations': {id: {'C1': {'rating': "
                              "1-5}, 'C2': {'rating': 1-5}}}}")  # fmt: skip
    user = data.get("user_id")
    if user is None or isinstance(user, dict | list) or not str(user).strip():
        raise DataFormatError(path, f"'user_id' must name the rater, found {user!r}")
    votes: dict[str, int] = {}
    for pid, annotation in data["annotations"].items():
        record = f"annotations[{pid!r}]"
        if pid not in ids:
            raise DataFormatError(path, f"id {pid!r} is not a pair of the preference file", record=record)
        if not isinstance(annotation, dict):
            raise DataFormatError(path, f"expected {{'C1': ..., 'C2': ...}}, found {annotation!r}"[:200], record=record)
        one, two = (_rating(path, record, annotation.get(c), c) for c in (FIRST, SECOND))
        votes[pid] = int(np.sign(one - two)) * (1 if higher_is_better else -1)
    return str(user), votes


def _json_pairs(path: Path, data: Any, rater_files: Sequence[Path], higher_is_better: bool) -> PreferenceSet:
    if not rater_files:
        raise XrayBenchError(
            f"{path}: a JSON list of pairs carries no ratings; give the raters' files with --ratings FILE [FILE ...]"
        )
    items: dict[str, dict[str, Any]] = {}
    for index, item in enumerate(data):
        record = f"#{index}"
        if not isinstance(item, dict):
            raise DataFormatError(path, f"expected an object {{id, ground_truth_report, C1_report, C2_report}}, found "
                                  f"{type(item).__name__}", record=record)  # fmt: skip
        pid = item.get("id")
        if pid is None or isinstance(pid, dict | list | bool):
            raise DataFormatError(path, f"'id' must be a string or number, found {pid!r}", record=record)
        pid = str(pid)
        record = f"#{index}, id {pid!r}"
        if pid in items:
            raise DataFormatError(path, f"id {pid!r} appears twice", record=record)
        texts = [_text(path, record, item, k) for k in ("ground_truth_report", "C1_report", "C2_report")]
        category = item.get("category", item.get("error_category"))
        items[pid] = {"texts": texts, "category": None if category in (None, "") else str(category)}
    votes: dict[str, dict[str, int]] = {pid: {} for pid in items}
    raters: list[str] = []
    for rater_file in rater_files:
        user, by_id = read_rater_file(Path(rater_file), set(items), higher_is_better)
        if user in raters:
            raise DataFormatError(rater_file, f"user_id {user!r} is also the rater of another file")
        raters.append(user)
        for pid, vote in by_id.items():
            votes[pid][user] = vote
    pairs = [
        PreferencePair(pid, *item["texts"], votes=votes[pid], category=item["category"])
        for pid, item in items.items()
        if votes[pid]
    ]  # fmt: skip
    return PreferenceSet(pairs, raters, str(path))


def _csv_pairs(path: Path) -> PreferenceSet:
    from xraybench.datasets.common import read_csv

    pairs: dict[str, dict[str, Any]] = {}
    raters: list[str] = []
    for line, row in read_csv(path, required=CSV_COLUMNS):
        texts = [row[c] for c in CSV_COLUMNS[:3]]
        for column, text in zip(CSV_COLUMNS, texts, strict=False):
            if not text:
                raise DataFormatError(path, f"column {column!r} is empty; expected a report text", line=line)
        preferred = row["preferred"].lower()
        if preferred not in PREFERRED:
            raise DataFormatError(path, f"'preferred' must be A, B or tie, found {row['preferred']!r}", line=line)
        pid = row.get("id") or f"line{line}"
        rater = row.get("rater") or "rater"
        pair = pairs.setdefault(pid, {"texts": texts, "votes": {}, "category": row.get("category") or None})
        if pair["texts"] != texts:
            raise DataFormatError(path, f"id {pid!r} appears with other report texts than on its first row", line=line)
        if rater in pair["votes"]:
            raise DataFormatError(path, f"rater {rater!r} rates pair {pid!r} twice", line=line)
        pair["votes"][rater] = PREFERRED[preferred]
        if rater not in raters:
            raters.append(rater)
    return PreferenceSet(
        [PreferencePair(pid, *p["texts"], votes=p["votes"], category=p["category"]) for pid, p in pairs.items()],
        raters,
        str(path),
    )


def load_preferences(
    path: str | Path, rater_files: Sequence[str | Path] = (), *, higher_is_better: bool = True
) -> PreferenceSet:
    """The pairs of a preference file (JSON list + rater files, or CSV; see the module doc). `higher_is_better`:
    the direction of the rater files' 1-5 ratings (False where 1 is the best)."""
    path = Path(path)
    if not path.exists():
        raise XrayBenchError(f"{path}: no such preference file")
    if path.suffix.lower() == ".csv":
        if rater_files:
            raise XrayBenchError(f"{path}: a CSV holds its own ratings (column 'preferred'); --ratings is for JSON")
        found = _csv_pairs(path)
    else:
        data = _load_json(path)
        if not isinstance(data, list):
            raise DataFormatError(
                path, f"expected a JSON list of pairs or a .csv file, found a JSON {type(data).__name__}"
            )
        found = _json_pairs(path, data, [Path(r) for r in rater_files], higher_is_better)
    if not found.pairs:
        raise XrayBenchError(f"{path}: no rated pairs")
    return found


# -- agreement --------------------------------------------------------------------------------------------------


@dataclass
class Agreement:
    """A share with its 95% bootstrap CI over pairs, and the number of pairs it counts."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n}


def agreement(scores: Sequence[float], rounds: int, seed: int) -> Agreement:
    """Mean of per-pair agreement scores (1 agrees, 0.5 judge tie, 0 disagrees) with a percentile bootstrap CI."""
    values = np.asarray(scores, dtype=np.float64)
    n = len(values)
    if not n:
        return Agreement(None, None, None, 0)
    low = high = None
    if rounds:
        rng = np.random.default_rng(seed)
        means = values[rng.integers(0, n, (rounds, n))].mean(axis=1)
        low, high = (float(x) for x in np.percentile(means, [2.5, 97.5]))
    return Agreement(float(values.mean()), low, high, n)


def agreement_score(judge_vote: float, human: int) -> float:
    """1 when the judge's vote (+1 first, -1 second, 0 tie, or a mean over orders) has the raters' sign, 0 when
    the opposite; a tie counts half (a mean over two orders that disagree is a tie too)."""
    return 0.5 + 0.5 * float(np.sign(judge_vote)) * human


def judge_agreement(pairs: Sequence[PreferencePair], votes: dict[str, float], rounds: int, seed: int
                    ) -> dict[str, Any]:  # fmt: skip
    """Agreement of judge `votes` (pair id -> vote) with the raters' majority, overall and per category."""
    scored = [(p, agreement_score(votes[p.id], p.majority())) for p in pairs if p.majority() and p.id in votes]
    out: dict[str, Any] = {"agreement": agreement([s for _, s in scored], rounds, seed).to_json()}
    categories = sorted({p.category for p, _ in scored if p.category})
    if categories:
        out["by_category"] = {
            c: agreement([s for p, s in scored if p.category == c], rounds, seed).to_json() for c in categories
        }
    return out


def rater_ceiling(pairs: Sequence[PreferencePair], raters: Sequence[str], rounds: int, seed: int
                  ) -> dict[str, Any] | None:  # fmt: skip
    """Each rater as a judge against the majority of the others (their ties count half), pooled over raters; the
    bootstrap resamples pairs. None with fewer than two raters."""
    if len(raters) < 2:
        return None
    per_pair: list[list[float]] = []
    per_rater: dict[str, list[float]] = {r: [] for r in raters}
    for pair in pairs:
        row = []
        for rater, vote in pair.votes.items():
            others = pair.majority(leave_out=rater)
            if len(pair.votes) < 2 or not others:
                continue
            score = agreement_score(vote, others)
            row.append(score)
            per_rater[rater].append(score)
        if row:
            per_pair.append(row)
    if not per_pair:
        return {"agreement": Agreement(None, None, None, 0).to_json(), "by_rater": {}}
    sums = np.array([sum(r) for r in per_pair])
    counts = np.array([len(r) for r in per_pair])
    low = high = None
    if rounds:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, len(per_pair), (rounds, len(per_pair)))
        low, high = (float(x) for x in np.percentile(sums[idx].sum(axis=1) / counts[idx].sum(axis=1), [2.5, 97.5]))
    pooled = Agreement(float(sums.sum() / counts.sum()), low, high, int(counts.sum()))
    return {
        "agreement": pooled.to_json(),
        "by_rater": {r: agreement(s, rounds, seed).to_json() for r, s in per_rater.items() if s},
    }


def majority_summary(pairs: Sequence[PreferencePair]) -> dict[str, int]:
    majority = [p.majority() for p in pairs]
    return {"n_pairs": len(pairs), "n_majority_tie": majority.count(0), "n_counted": len(pairs) - majority.count(0)}


# -- metrics as judges ------------------------------------------------------------------------------------------


def _metric_scores(names: Iterable[str]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The headline and leaderboard scores of every named report metric; and why others cannot be built here."""
    from xraybench.metrics import metric_spec
    from xraybench.registry import PluginError

    scores: dict[str, list[str]] = {}
    skipped: dict[str, str] = {}
    for metric in names:
        try:
            spec = metric_spec(metric)
        except (MissingExtraError, PluginError) as exc:
            skipped[metric] = str(exc)
            continue
        if tuple(spec.kinds) == ("report",):  # report metrics (grounding scores any answer's boxes, not the report)
            scores[metric] = list(dict.fromkeys([*spec.headline_for(metric), *spec.leaderboard]))
    return scores, skipped


def metric_votes(pairs: Sequence[PreferencePair], metric: str) -> dict[str, dict[str, float]]:
    """Per score of `metric`: pair id -> +1 / -1 / 0 (the candidate with the better score, by the metric's declared
    direction). Raises what the metric raises (missing weights or extras)."""
    from xraybench.metrics import metric_spec
    from xraybench.metrics.api import score_texts

    hyps = [p.first for p in pairs] + [p.second for p in pairs]
    refs = [[p.reference] for p in pairs] * 2
    scores = score_texts(hyps, refs, [metric])
    spec = metric_spec(metric)
    n = len(pairs)
    out: dict[str, dict[str, float]] = {}
    for name, s in scores.items():
        direction = spec.direction(name)  # per score: GREEN's score rises, its error counts fall
        if direction == "none":
            continue  # a count that is neither better nor worse prefers no report
        diff = np.nan_to_num(s.per_sample[:n] - s.per_sample[n:], nan=0.0)  # an undefined score decides nothing
        diff = np.where(np.abs(diff) < SCORE_TIE, 0.0, diff) * (1 if direction == "higher" else -1)
        out[name] = {p.id: float(np.sign(d)) for p, d in zip(pairs, diff, strict=True)}
    return out


def metric_judge_votes(pairs: Sequence[PreferencePair], name: str, options: Any = None) -> dict[str, float]:
    """Votes of an offline `metric:` judge; one order suffices (its verdict of (B, A) mirrors that of (A, B)).
    `options`: the command's config, whose `metric_args` (`--metric-arg`) give the judge its options (thresholds,
    tie-break), as `arena.judges.build_judge` reads them for any command; None: the judge's defaults."""
    from arena.judges import build_judge

    return judge_votes(pairs, build_judge(name, options))


def judge_votes(pairs: Sequence[PreferencePair], judge: Any) -> dict[str, float]:
    """The votes of a built local judge (`metric_judge_votes`)."""
    if hasattr(judge, "prepare_labels"):
        judge.prepare_labels([t for p in pairs for t in (p.reference, p.first, p.second)])
    sign = {"A>>B": 1.0, "A>B": 1.0, "tie": 0.0, "B>A": -1.0, "B>>A": -1.0}
    return {p.id: sign[judge.decide(p.reference, p.first, p.second).parsed["verdict"]] for p in pairs}  # type: ignore[attr-defined]


ALL = "all"


def ranked(which: str) -> tuple[list[str], list[str]]:
    """The report metrics and the `metric:` judges that `--metrics` (`all`, `none`, or a comma list of metric
    names and `metric:` judge names) ranks; an unknown name is refused."""
    from arena.judges import JUDGES, is_metric_judge
    from xraybench.metrics import METRICS

    if which == "none":
        return [], []
    wanted = None if which == ALL else [w.strip() for w in which.split(",") if w.strip()]
    metric_names = [m for m in METRICS.in_order() if wanted is None or m in wanted]
    judge_names = [j for j in JUDGES.in_order() if is_metric_judge(j) and (wanted is None or j in wanted)]
    unknown = [w for w in wanted or [] if w not in metric_names and w not in judge_names]
    if unknown:
        all_judges = [j for j in JUDGES.in_order() if is_metric_judge(j)]
        raise XrayBenchError(f"--metrics: unknown metric or metric judge(s) {unknown}; known: "
                             f"{', '.join([*METRICS.in_order(), *all_judges])}")  # fmt: skip
    return metric_names, judge_names


def rank_metrics(
    pairs: Sequence[PreferencePair], which: str, rounds: int, seed: int, options: Any = None
) -> dict[str, Any]:
    """Every metric (score) and every offline `metric:` judge as a judge on `pairs`, best agreement first.

    `which`: see `ranked`. A metric that cannot run here (missing weights or extra) is listed under `skipped`
    with the reason. `options`: the command's config; its `metric_args` are the `metric:` judges' options
    (`metric_judge_votes`), and a row of a judge run with options other than its defaults names them."""
    from arena.judges import build_judge
    from arena.judges.metric import recorded_options

    metric_names, judge_names = ranked(which)
    if not metric_names and not judge_names:
        return {"ranking": [], "skipped": {}}
    rows: list[dict[str, Any]] = []
    scores, skipped = _metric_scores(metric_names)
    for metric, wanted_scores in scores.items():
        try:
            votes = metric_votes(pairs, metric)
        except XrayBenchError as exc:  # missing weights, a missing extra, Java for a jar backend ...
            log.info("metric %s not ranked: %s", metric, exc)
            skipped[metric] = str(exc)
            continue
        for score in wanted_scores:
            if score in votes:
                rows.append({"judge": score, "kind": "metric", "metric": metric,
                             **judge_agreement(pairs, votes[score], rounds, seed)})  # fmt: skip
    for name in judge_names:
        judge = build_judge(name, options)
        row = {"judge": name, "kind": "metric judge",
               **judge_agreement(pairs, judge_votes(pairs, judge), rounds, seed)}  # fmt: skip
        changed = recorded_options(name, json.loads(json.dumps(judge.params)))  # only the non-default ones
        if changed:
            row["options"] = changed
        rows.append(row)
    rows.sort(key=lambda r: (-(r["agreement"]["value"] if r["agreement"]["value"] is not None else -1), r["judge"]))
    return {"ranking": rows, "skipped": skipped}


@dataclass
class PreferenceResult:
    data: dict[str, Any]
    written: list[Path] = field(default_factory=list)


def _ranked_label(row: dict[str, Any]) -> str:
    """A ranked judge, with the options it ran with when they are not its defaults (`lexical` `win=0.1`)."""
    options = row.get("options") or {}
    return f"{row['judge']} ({', '.join(f'{k}={v}' for k, v in options.items())})" if options else row["judge"]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _agreement_cell(a: dict[str, Any]) -> str:
    ci = "" if a["ci_low"] is None else f" [{a['ci_low']:.3f}, {a['ci_high']:.3f}]"
    return f"{_pct(a['value'])}{ci}"


def render_markdown(data: dict[str, Any]) -> str:
    lines = [f"# Agreement with human preferences: {data['judge']}", ""]
    if data.get("proxy_judge"):
        lines += [f"Judge {data['judge']} is a reference-based proxy judge, not an LLM judgment.", ""]
    s = data["pairs"]
    lines += [
        f"{s['n_pairs']} rated pairs from {data['preferences']} ({len(data['raters'])} rater(s): "
        f"{', '.join(data['raters'])}); {s['n_majority_tie']} left out where the raters' majority is a tie. "
        "Agreement: the share of pairs where the judge prefers the report the raters' majority prefers (judge ties "
        f"count half); 95% CIs: bootstrap over pairs ({data['bootstrap_rounds']} rounds).",
        "",
        f"**{data['judge']}: {_agreement_cell(data['agreement'])}** (n = {data['agreement']['n']})",
    ]
    ceiling = data.get("ceiling")
    if ceiling:
        lines += ["", f"Ceiling (each rater against the majority of the others): {_agreement_cell(ceiling['agreement'])}"
                  + "".join(f"; {r} {_pct(a['value'])}" for r, a in ceiling["by_rater"].items())]  # fmt: skip
    else:
        lines += ["", "Ceiling: n/a (one rater; the raters' leave-one-out agreement needs two or more)."]
    if data.get("by_category"):
        lines += ["", "| category | pairs | agreement |", "|---|---:|---:|"]
        lines += [f"| {c} | {a['n']} | {_agreement_cell(a)} |" for c, a in data["by_category"].items()]
    ranking = data.get("metrics") or {}
    if ranking.get("ranking"):
        lines += ["", "## Every metric as a judge (same pairs, best first)", "",
                  "| judge | kind | agreement |", "|---|---|---:|"]  # fmt: skip
        lines += [
            f"| {_ranked_label(r)} | {r['kind']} | {_agreement_cell(r['agreement'])} |" for r in ranking["ranking"]
        ]
    if ranking.get("skipped"):
        lines += ["", "Not ranked here (nothing is downloaded):"]
        lines += [f"- {name}: {reason.splitlines()[0][:200]}" for name, reason in ranking["skipped"].items()]
    if s.get("n_unjudged"):
        lines += ["", f"{s['n_unjudged']} pair(s) have no judgment yet (failed or stopped) and are not counted: rerun "
                  "the same command to judge them."]  # fmt: skip
    j = data.get("judging")
    if j:
        lines += ["", f"Judging: {j['n_ok']} new judgments, {j['n_done_before']} from the store, {j['n_failed']} "
                  f"failed, {j['n_budget_stopped']} stopped by the budget; ${j['cost_usd']:.4f}."]  # fmt: skip
    return "\n".join(lines) + "\n"
