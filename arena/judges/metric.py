"""The base of the offline `metric:` judges: reference-based proxies for a clinical judge.

They let the whole arena (judge, store, export, ratings, leaderboard) run without an API key, for free and
deterministically; every leaderboard that uses one says so (`arena.judges.is_metric_judge`). Each candidate is
scored against the reference on its own, so the verdict of (A, B) is exactly the mirror of (B, A): a metric
judge's order-flip rate is 0 by construction. The implementations: `arena.judges.clinical` (`metric:clinical`),
`arena.judges.lexical` (`metric:lexical`), `arena.judges.paper_score` (`metric:paper-score`).

The thresholds, the version and the labeler are part of the judge's `params`, so they are part of every
judgment key: changing them makes new judgments instead of mixing old and new decisions.

Options: a judge's keyword-only constructor parameters are its options, given as `--metric-arg NAME.KEY=VALUE`
(NAME without `metric:`, e.g. `--metric-arg lexical.win=0.1`) on `arena judge` and `judge-audit`, parsed and typed
by the same code as a run's metric options (`xraybench.config.parse_metric_args`, `typed_option`, "did you mean").
They change `params`, so verdicts judged with other options are never reused for these (and the ratings take one
judge configuration at a time, `arena.judging.config_label`).
"""

from __future__ import annotations

import difflib
import inspect
import itertools
import json
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from arena.judges.local import Decision, LocalJudge, Thresholds, decision
from xraybench.errors import XrayBenchError

VERSION = "1"
# Metric judges read no prompt, but their judgment keys were made with the LLM prompt's version of the time
# ("2"); it stays their key's prompt version so existing judgment stores resume without new decisions.
KEY_PROMPT_VERSION = "2"


class MetricJudge(LocalJudge):
    """A `metric:` judge: `metric_params` and `decide` come from the subclass; `THRESHOLDS` are its default
    thresholds, which the options `strong` and `win` replace."""

    prompt_version = KEY_PROMPT_VERSION
    THRESHOLDS = Thresholds(strong=0.20, win=0.05)

    def __init__(self, name: str | None = None, *, strong: float | None = None, win: float | None = None):
        super().__init__(name)
        default = type(self).THRESHOLDS
        self.thresholds = Thresholds(
            strong=default.strong if strong is None else strong, win=default.win if win is None else win
        )
        if not 0 < self.thresholds.win <= self.thresholds.strong:
            raise XrayBenchError(
                f"{self.name}: thresholds need 0 < win <= strong, got win={self.thresholds.win:g}, "
                f"strong={self.thresholds.strong:g}"
            )

    @classmethod
    def create(cls, name: str, options: Any) -> MetricJudge:
        """Built by `arena.judges.build_judge` with this judge's `--metric-arg` options (`options.metric_args`,
        checked by `judge_options`); the LLM options do not apply."""
        from arena.judges import METRIC_PREFIX

        args = getattr(options, "metric_args", None) or {}  # the command checked them all (`judge_options`)
        mine = {k: v for k, v in args.items() if (k if k.startswith(METRIC_PREFIX) else METRIC_PREFIX + k) == name}
        return cls(name, **judge_options(mine, [name]).get(name, {}))

    @classmethod
    def declared_options(cls) -> dict[str, Any]:
        """Its options: the constructor's keyword-only parameters (name -> annotation)."""
        hints = typing.get_type_hints(cls.__init__)
        params = inspect.signature(cls.__init__).parameters.values()
        return {p.name: hints.get(p.name, Any) for p in params if p.kind is p.KEYWORD_ONLY}

    @property
    def params(self) -> dict[str, Any]:
        return {"metric_judge_version": VERSION, **self.metric_params()}

    def metric_params(self) -> dict[str, Any]:
        return {}

    def header(self) -> str:
        return f"{self.name} (v{VERSION}), a reference-based proxy judge, not an LLM judgment."


def score_decision(judge: MetricJudge, what: str, a: float, b: float, thresholds: Thresholds) -> Decision:
    """The decision of a judge that scores each candidate alone (higher is better) and compares the scores."""
    lines = [
        judge.header(),
        f"{what}: A {a:.4f}, B {b:.4f}; difference {a - b:+.4f} "
        f"(strong win at >= {thresholds.strong}, win at >= {thresholds.win}).",
    ]
    return decision(lines, thresholds.level(a - b), [], [])


def judge_options(
    args: Mapping[str, Mapping[str, Any]], judges: Sequence[str], *, flag: str = "--metric-arg"
) -> dict[str, dict[str, Any]]:
    """`--metric-arg NAME.KEY=VALUE` (as `xraybench.config.parse_metric_args` reads it) for the `metric:` judges
    among `judges`, checked and typed against each judge's `declared_options` before anything is judged: keyed by
    the judge's full name (`metric:lexical`). Refused: a NAME that is no `metric:` judge ("did you mean"), one not
    among `judges`, an unknown option ("did you mean") and a value not of the option's type."""
    from arena.judges import JUDGES, METRIC_PREFIX, is_metric_judge
    from xraybench.config import typed_option, unknown_option

    known = [n.removeprefix(METRIC_PREFIX) for n in JUDGES.names() if is_metric_judge(n)]
    out: dict[str, dict[str, Any]] = {}
    for short, values in args.items():
        first = f"{flag} {short}.{next(iter(values), 'KEY')}=..."
        name = short if is_metric_judge(short) else METRIC_PREFIX + short
        if name.removeprefix(METRIC_PREFIX) not in known:
            close = difflib.get_close_matches(short, known, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise XrayBenchError(f"{first}: no metric: judge is called {short!r}.{hint} They are: {', '.join(known)}")
        if name not in judges:
            raise XrayBenchError(
                f"{first}: {name} is not judging here (the judges: {', '.join(judges) or 'none'}); add --judge {name}"
            )
        cls = JUDGES.get(name)
        declared = cls.declared_options() if hasattr(cls, "declared_options") else {}  # a plugin judge: none
        typed: dict[str, Any] = {}
        for key, value in values.items():
            given = f"{flag} {short}.{key}={value}"
            if key not in declared:
                raise unknown_option(key, list(declared), given=given, owner=f"the {name} judge")
            typed[key] = typed_option(value, declared[key], given=given, label=f"the {name} judge's option {key!r}")
        out[name] = typed
    return out


def _canonical(params: Any) -> str:
    """`params` as a store holds them (JSON, keys sorted), so a judge's params and a stored identity's compare."""
    return json.dumps(params, sort_keys=True, default=str)


def recorded_options(name: str, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The options (`declared_options`) with which the `metric:` judge `name` has exactly these `params` (a
    stored judgment's), so a later run (a submission) judges as the arena did; None when no options of this
    version of the judge give them (another judge version: its verdicts cannot be reproduced here).

    Each option's candidates are its default and every value the params hold under the option's name (at any
    depth: `{"lexical": {"win": 0.1}}`), and a candidate counts only if the judge built with it has these params
    exactly, so the answer is checked, never guessed."""
    from arena.judges import JUDGES

    cls = JUDGES.get(name)
    declared = list(cls.declared_options()) if hasattr(cls, "declared_options") else []
    found: dict[str, list[Any]] = {key: [None] for key in declared}

    def collect(value: Any) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                if key in found and not isinstance(inner, Mapping | list) and inner not in found[key]:
                    found[key].append(inner)
                collect(inner)
        elif isinstance(value, list):
            for inner in value:
                collect(inner)

    collect(params)
    want = _canonical(params)
    for combo in itertools.product(*found.values()):
        options = {key: value for key, value in zip(found, combo, strict=True) if value is not None}
        try:
            judge = cls(name, **options)
        except (XrayBenchError, TypeError, ValueError):  # values that are no valid options (e.g. win > strong)
            continue
        if _canonical(judge.params) == want:
            return options
    return None
