"""Offline `metric:` judges: decide arena battles by comparing both candidates with the reference using our metrics.

They let the whole arena (judge, store, export, ratings, leaderboard) run without an API key, for free and
deterministically; they are a reference-based proxy for a clinical judge, and every leaderboard that uses one
says so. Each candidate is scored against the reference on its own, so the verdict of (A, B) is exactly the
mirror of (B, A): a metric judge's order-flip rate is 0 by construction.

- `metric:clinical`: clinical errors first. Both texts are labelled with our offline CheXpert labeler; over the
  13 observations (the derived "No Finding" is left out so one false finding is not counted twice) a candidate
  gets 1 error per observation present in one text and absent (negative or not mentioned) in the other, and 0.5
  when one of the two calls it uncertain and the other does not. A difference of at least 2 errors is a strong
  win, of at least 0.5 a win; equal error counts are a near-tie that lexical overlap breaks (a win when the
  lexical score differs by at least 0.05, else a tie).
- `metric:lexical`: lexical overlap only, the mean of ROUGE-L F1 (rouge-score's tokens, Porter-stemmed) and
  smoothed sentence BLEU-4 (NLTK method 2) over normalised words: a difference of at least 0.20 is a strong
  win, of at least 0.05 a win, else a tie.
- `metric:paper-score`: the paper's per-item answer score (`xraybench.metrics.answer_score`, word variant),
  with the lexical thresholds.

The thresholds, the version and the labeler are part of the judge's decoding parameters, so they are part of
every judgment key: changing them makes new judgments instead of mixing old and new decisions.

`MetricJudging` has the `run(battles, dry_run=...) -> JudgeReport` of `arena.judging.Judging`, so the full,
adaptive and new-model schedules use it unchanged. Each decision is stored in the arena's call store under the
battle's key, as a readable explanation ending in the verdict JSON (so `arena reparse` reads it back
unchanged), cost 0; a rerun skips every battle already decided.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence, Sized
from dataclasses import dataclass
from typing import Any

from arena.judging import Battle, JudgeReport
from arena.verdict import PARSER_VERSION, parse_verdict
from xraybench.callstore import CallStore
from xraybench.errors import XrayBenchError
from xraybench.llm.calls import Estimate
from xraybench.metrics.answer_score import BLEU4_WEIGHTS, answer_score, sentence_bleu
from xraybench.metrics.chexpert import CHEXPERT_LABELS, label_reports
from xraybench.metrics.normalize import normalize_text
from xraybench.metrics.rouge import rouge_score_f, rouge_score_tokens

VERSION = "1"
PREFIX = "metric:"
OBSERVATIONS = tuple(i for i, name in enumerate(CHEXPERT_LABELS) if name != "No Finding")
PRESENT, UNCERTAIN, ABSENT = "present", "uncertain", "absent"


@dataclass(frozen=True)
class Thresholds:
    """A score difference of at least `strong` is a strong win, of at least `win` a win, else a tie."""

    strong: float
    win: float

    def level(self, diff: float) -> str:
        """The 5-level verdict for `diff` = score(A) - score(B) (higher score = better)."""
        size = abs(diff)
        if size >= self.strong:
            return "A>>B" if diff > 0 else "B>>A"
        if size >= self.win:
            return "A>B" if diff > 0 else "B>A"
        return "tie"


CLINICAL = Thresholds(strong=2.0, win=0.5)  # in clinical errors (the error count of B minus that of A)
LEXICAL = Thresholds(strong=0.20, win=0.05)  # in lexical score (0..1)
TIE_BREAK = 0.05  # lexical difference that breaks an equal clinical error count
PAPER_SCORE = Thresholds(strong=0.20, win=0.05)  # in answer score (0..1)
JUDGES = ("metric:clinical", "metric:lexical", "metric:paper-score")


def is_metric_judge(name: str | None) -> bool:
    return bool(name) and str(name).startswith(PREFIX)


def _status(value: int | None) -> str:
    return PRESENT if value == 1 else UNCERTAIN if value == -1 else ABSENT


def clinical_errors(candidate: Sequence[int | None], reference: Sequence[int | None]) -> list[dict[str, Any]]:
    """The candidate's disagreements with the reference's labels, each with its type and weight (1 or 0.5)."""
    errors: list[dict[str, Any]] = []
    for i in OBSERVATIONS:
        cand, ref = _status(candidate[i]), _status(reference[i])
        if cand == ref:
            continue
        weight = 0.5 if UNCERTAIN in (cand, ref) else 1.0
        more = (cand, ref) in ((PRESENT, ABSENT), (PRESENT, UNCERTAIN), (UNCERTAIN, ABSENT))
        errors.append(
            {
                "type": "false_finding" if more else "missing_finding",
                "description": f"{CHEXPERT_LABELS[i]}: {cand} in the candidate, {ref} in the reference",
                "weight": weight,
            }
        )
    return errors


def lexical_score(candidate: str, reference: str) -> float:
    """Mean of ROUGE-L F1 (stemmed rouge-score tokens) and smoothed sentence BLEU-4 over normalised words."""
    rouge = rouge_score_f(rouge_score_tokens(candidate, True), [rouge_score_tokens(reference, True)])
    hyp, ref = normalize_text(candidate).split(), normalize_text(reference).split()
    bleu = sentence_bleu(hyp, ref, BLEU4_WEIGHTS) if hyp and ref else 0.0
    return (rouge + bleu) / 2


@dataclass(frozen=True)
class Decision:
    """One battle's decision: the readable explanation (stored as the raw text) and the parsed verdict."""

    text: str
    parsed: dict[str, Any]


class MetricJudge:
    """A `metric:` judge by name; `decide` compares two candidates with a reference (A shown first)."""

    def __init__(self, name: str):
        if name not in JUDGES:
            raise XrayBenchError(f"unknown metric judge {name!r}; choose one of {', '.join(JUDGES)}")
        self.model = name
        self.kind = name[len(PREFIX) :]
        self._labels: dict[str, list[int | None]] = {}
        self._lock = threading.Lock()

    @property
    def params(self) -> dict[str, Any]:
        """What decides a verdict (part of every judgment key, like an LLM judge's decoding parameters)."""
        params: dict[str, Any] = {"metric_judge_version": VERSION}
        if self.kind == "clinical":
            params.update(clinical=vars(CLINICAL), tie_break=TIE_BREAK, labeler="xraybench CheXpert labeler")
        elif self.kind == "lexical":
            params.update(lexical=vars(LEXICAL))
        else:
            params.update(paper_score=vars(PAPER_SCORE), variant="word")
        return params

    def prices(self) -> tuple[float, float]:
        """Free: no tokens are billed."""
        return (0.0, 0.0)

    def prepare(self, texts: Iterable[str]) -> None:
        """Label every distinct text once (the clinical judge); later `decide` calls reuse the labels."""
        if self.kind != "clinical":
            return
        with self._lock:
            todo = [t for t in dict.fromkeys(texts) if t not in self._labels]
            self._labels.update(zip(todo, label_reports(todo), strict=True))

    def _labels_of(self, text: str) -> list[int | None]:
        if text not in self._labels:
            self.prepare([text])
        return self._labels[text]

    def decide(self, reference: str, text_a: str, text_b: str) -> Decision:
        if self.kind == "clinical":
            return self._clinical(reference, text_a, text_b)
        score = lexical_score if self.kind == "lexical" else (lambda c, r: answer_score(c, r, "word"))
        name = "lexical score (mean of ROUGE-L F1 and BLEU-4)" if self.kind == "lexical" else "answer score"
        a, b = score(text_a, reference), score(text_b, reference)
        thresholds = LEXICAL if self.kind == "lexical" else PAPER_SCORE
        level = thresholds.level(a - b)
        lines = [
            f"{self.model} (v{VERSION}), a reference-based proxy judge, not an LLM judgment.",
            f"{name}: A {a:.4f}, B {b:.4f}; difference {a - b:+.4f} "
            f"(strong win at >= {thresholds.strong}, win at >= {thresholds.win}).",
        ]
        return _decision(lines, level, [], [])

    def _clinical(self, reference: str, text_a: str, text_b: str) -> Decision:
        ref = self._labels_of(reference)
        errors_a = clinical_errors(self._labels_of(text_a), ref)
        errors_b = clinical_errors(self._labels_of(text_b), ref)
        count_a, count_b = sum(e["weight"] for e in errors_a), sum(e["weight"] for e in errors_b)
        lex_a, lex_b = lexical_score(text_a, reference), lexical_score(text_b, reference)
        lines = [
            f"{self.model} (v{VERSION}), a reference-based proxy judge, not an LLM judgment.",
            f"CheXpert label disagreements with the reference: A {count_a:g}, B {count_b:g} "
            f"(strong win at a difference >= {CLINICAL.strong:g}, win at >= {CLINICAL.win:g}).",
        ]
        lines += [f"A: {e['description']} ({e['weight']:g})" for e in errors_a]
        lines += [f"B: {e['description']} ({e['weight']:g})" for e in errors_b]
        level = CLINICAL.level(count_b - count_a)
        lines.append(f"Lexical score (mean of ROUGE-L F1 and BLEU-4): A {lex_a:.4f}, B {lex_b:.4f}.")
        if level == "tie":
            level = Thresholds(strong=float("inf"), win=TIE_BREAK).level(lex_a - lex_b)
            lines.append(f"Equal clinical errors: lexical difference {lex_a - lex_b:+.4f} (win at >= {TIE_BREAK}).")
        strip = [{k: e[k] for k in ("type", "description")} for e in errors_a]
        strip_b = [{k: e[k] for k in ("type", "description")} for e in errors_b]
        return _decision(lines, level, strip, strip_b)


def _decision(lines: list[str], level: str, errors_a: list[dict[str, str]], errors_b: list[dict[str, str]]) -> Decision:
    """The explanation ends in the verdict JSON, so `arena.verdict.parse_verdict` reads the decision back."""
    verdict = {"errors_a": errors_a, "errors_b": errors_b, "verdict": level}
    text = "\n".join([*lines, json.dumps(verdict, ensure_ascii=False)])
    parsed = parse_verdict(text)
    if parsed is None or parsed["verdict"] != level:  # a parser change that would misread us must fail loudly
        raise XrayBenchError(f"the verdict parser does not read back the metric judge's verdict {level!r}")
    return Decision(text, parsed)


class _NoBudget:
    """A metric judge costs nothing, so the budget never stops it (the schedules check `budget.stopped`)."""

    def __init__(self) -> None:
        self.stopped = threading.Event()


class MetricJudging:
    """Runs the pending battles of a plan with a metric judge into one store; one instance per run."""

    def __init__(self, judge: MetricJudge, store: CallStore, *, progress: bool = True):
        self.judge, self.store = judge, store
        self.budget = _NoBudget()
        self.progress = progress
        self.report = JudgeReport()

    def pending(self, battles: list[Battle]) -> list[Battle]:
        """The battles to decide: not identical, one per key, not yet done in the store."""
        unique = list({b.key: b for b in battles if not b.identical}.values())
        todo = set(self.store.pending(b.key for b in unique))
        self.report.n_battles += len(battles)
        self.report.n_identical += sum(b.identical for b in battles)
        self.report.n_unique += len(unique)
        self.report.n_done_before += len(unique) - len(todo)
        return [b for b in unique if b.key in todo]

    def run(self, battles: Iterable[Battle], *, dry_run: bool = False) -> JudgeReport:
        """Decide the pending ones of `battles`; each decision is committed before the next (resumable).

        `battles` may be lazy (the adaptive schedule proposes from the decisions so far): it is read one battle
        at a time, after the one before is decided.
        """
        from xraybench.progress import progress_bar

        if dry_run:
            self.report.estimate = Estimate(len(self.pending(list(battles))), 0, 0, 0.0)
            return self.report
        todo: set[str] | None = None  # a list: one store query, every pending text labelled at once (clinical)
        if isinstance(battles, list):
            todo = set(self.store.pending(b.key for b in battles if not b.identical))
            self.judge.prepare(
                t for b in battles if b.key in todo
                for t in (b.identity["reference"], b.identity["text_a"], b.identity["text_b"])
            )  # fmt: skip
        seen: set[str] = set()
        n_decided = 0
        with progress_bar(len(battles) if isinstance(battles, Sized) else None, self.judge.model,
                          enabled=self.progress) as advance:  # fmt: skip
            for battle in battles:
                self.report.n_battles += 1
                advance(1)
                if battle.identical:
                    self.report.n_identical += 1
                    continue
                if battle.key in seen:
                    continue
                seen.add(battle.key)
                self.report.n_unique += 1
                if not (battle.key in todo if todo is not None else self.store.pending([battle.key])):
                    self.report.n_done_before += 1
                    continue
                ident = battle.identity
                decision = self.judge.decide(ident["reference"], ident["text_a"], ident["text_b"])
                self.store.record_ok(
                    battle.key, battle.identity, raw_text=decision.text, parsed=decision.parsed,
                    parser_version=PARSER_VERSION, finish_reason="stop", prompt_tokens=0, completion_tokens=0,
                    cost_usd=0.0,
                )  # fmt: skip
                self.report.n_ok += 1
                n_decided += 1
        self.report.estimate = Estimate(n_decided, 0, 0, 0.0)
        return self.report
