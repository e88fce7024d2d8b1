from __future__ import annotations

import math

import numpy as np
import pytest

from arena.adaptive import AdaptiveScheduler
from arena.battles import Battles, from_records
from arena.ratings import bradley_terry
from arena.schedule import full_schedule, new_model_schedule
from xraybench.errors import XrayBenchError

FACTOR = 400 / math.log(10)


def test_full_schedule_counts_and_order() -> None:
    items = full_schedule(["m1", "m2", "m3", "m4"], ["s1", "s2", "s3"])
    assert len(items) == 6 * 3
    assert len({(frozenset((a, b)), s) for a, b, s in items}) == 18  # every unordered pair x study, once
    assert items[:3] == [("m1", "m2", "s1"), ("m1", "m3", "s1"), ("m1", "m4", "s1")]
    assert items == full_schedule(["m1", "m2", "m3", "m4"], ["s1", "s2", "s3"])
    with pytest.raises(XrayBenchError, match="duplicate models: m1"):
        full_schedule(["m1", "m1"], ["s1"])


def test_new_model_schedule_only_against_field() -> None:
    items = new_model_schedule("new", ["a", "b", "c"], ["s1", "s2"])
    assert len(items) == 3 * 2
    assert all(a == "new" and b in {"a", "b", "c"} for a, b, _ in items)
    with pytest.raises(XrayBenchError, match="already in the field"):
        new_model_schedule("a", ["a", "b"], ["s1"])


class Judge:
    """Known strengths (Elo), one pre-drawn outcome per (pair, study), 15% ties."""

    def __init__(self, elo: list[float], n_studies: int, seed: int = 0) -> None:
        self.models = [f"m{i}" for i in range(len(elo))]
        self.studies = [f"s{i:03d}" for i in range(n_studies)]
        self.theta = {name: e / FACTOR for name, e in zip(self.models, elo, strict=True)}
        self.rng = np.random.default_rng(seed)
        self.outcomes: dict[tuple[str, str, str], float] = {}
        self.rows: list[tuple[int, dict[str, object]]] = []

    def judge(self, a: str, b: str, study: str) -> None:
        key = (min(a, b), max(a, b), study)
        if key not in self.outcomes:
            p = 1 / (1 + math.exp(-(self.theta[key[0]] - self.theta[key[1]])))
            r = self.rng.random()
            self.outcomes[key] = 0.5 if r < 0.15 else float(r < 0.15 + 0.85 * p)
        score = self.outcomes[key] if a == key[0] else 1 - self.outcomes[key]
        winner = {1.0: "model_a", 0.0: "model_b", 0.5: "tie"}[score]
        self.rows.append((len(self.rows) + 1, {"model_a": a, "model_b": b, "winner": winner, "study_id": study}))

    def battles(self) -> Battles | None:
        return from_records(self.rows) if self.rows else None


def run(scheduler: AdaptiveScheduler, judge: Judge) -> list[list[tuple[str, str, str]]]:
    batches = []
    battles = judge.battles()
    while not scheduler.done(battles):
        batch = scheduler.propose(battles)
        assert batch, "done() is false but nothing was proposed"
        batches.append(batch)
        for item in batch:
            judge.judge(*item)
        battles = judge.battles()
    return batches


def kendall(ratings: dict[str, float], elo: dict[str, float]) -> float:
    names = sorted(elo)
    pairs = [(x, y) for i, x in enumerate(names) for y in names[i + 1 :]]
    return float(np.mean([np.sign(ratings[x] - ratings[y]) * np.sign(elo[x] - elo[y]) for x, y in pairs]))


def test_adaptive_reaches_true_order_with_valid_unique_items_and_stops_when_separated() -> None:
    elo = [0.0, 60.0, 150.0, 230.0, 330.0]
    judge = Judge(elo, n_studies=150, seed=1)
    scheduler = AdaptiveScheduler(judge.models, judge.studies, seed=3, batch_size=10)
    batches = run(scheduler, judge)
    items = [item for batch in batches for item in batch]
    assert all(len(batch) <= 10 for batch in batches)
    assert all(a in judge.models and b in judge.models and a != b and s in judge.studies for a, b, s in items)
    keys = [(frozenset((a, b)), s) for a, b, s in items]
    assert len(keys) == len(set(keys)), "a (pair, study) was proposed twice"
    full = len(full_schedule(judge.models, judge.studies))
    assert len(items) < full / 2, "stopped by separation well before the budget"
    assert scheduler.separated(judge.battles())
    tau = kendall(bradley_terry(judge.battles()), dict(zip(judge.models, elo, strict=True)))  # type: ignore[arg-type]
    assert tau >= 0.95


def test_spanning_set_comes_first() -> None:
    models = [f"m{i}" for i in range(6)]
    scheduler = AdaptiveScheduler(models, [f"s{i}" for i in range(20)], seed=0, batch_size=100, explore=2)
    first = scheduler.propose(None)
    assert len(first) == 5 * 2  # a spanning tree: m - 1 pairs, `explore` studies each
    parent = {m: m for m in models}

    def root(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b, _ in first:
        parent[root(a)] = root(b)
    assert len({root(m) for m in models}) == 1


def test_seeded_determinism() -> None:
    def proposals(seed: int) -> list[list[tuple[str, str, str]]]:
        judge = Judge([0.0, 40.0, 90.0, 200.0], n_studies=60, seed=2)
        scheduler = AdaptiveScheduler(judge.models, judge.studies, seed=seed, batch_size=8, budget=80)
        return run(scheduler, judge)

    first = proposals(5)
    assert first == proposals(5)
    assert first != proposals(6)
    assert sum(len(b) for b in first) <= 80  # the budget is a hard cap


def test_budget_and_exhaustion_stop() -> None:
    judge = Judge([0.0, 0.0, 0.0], n_studies=4, seed=0)  # equal models never separate
    scheduler = AdaptiveScheduler(judge.models, judge.studies, seed=0, batch_size=5)
    batches = run(scheduler, judge)
    assert sum(len(b) for b in batches) == 3 * 4  # every (pair, study) once, then nothing is left
    assert scheduler.propose(judge.battles()) == []
    judge = Judge([0.0, 0.0, 0.0], n_studies=40, seed=0)
    capped = AdaptiveScheduler(judge.models, judge.studies, seed=0, batch_size=7, budget=30)
    assert sum(len(b) for b in run(capped, judge)) == 30


def test_new_model_is_judged_only_against_the_field() -> None:
    field_elo = [0.0, 100.0, 200.0, 300.0]
    judge = Judge([*field_elo, 150.0], n_studies=120, seed=4)
    *field, new = judge.models
    for a, b, s in full_schedule(field, judge.studies[:40]):  # the field's existing battles
        judge.judge(a, b, s)
    before = len(judge.rows)
    scheduler = AdaptiveScheduler.for_new_model(new, field, judge.studies, seed=0, batch_size=8)
    run(scheduler, judge)
    added = [rec for _, rec in judge.rows[before:]]
    assert added and all(new in (rec["model_a"], rec["model_b"]) for rec in added)
    ratings = bradley_terry(judge.battles())  # type: ignore[arg-type]
    assert sorted(judge.models, key=ratings.get) == ["m0", "m1", "m4", "m2", "m3"]


def test_bad_input_is_rejected() -> None:
    with pytest.raises(XrayBenchError, match="at least two models"):
        AdaptiveScheduler(["a"], ["s1"])
    scheduler = AdaptiveScheduler(["a", "b"], ["s1", "s2"])
    stranger = from_records([(1, {"model_a": "a", "model_b": "z", "winner": "tie", "study_id": "s1"})])
    with pytest.raises(XrayBenchError, match="'z' is not in this arena"):
        scheduler.propose(stranger)
    no_study = from_records([(1, {"model_a": "a", "model_b": "b", "winner": "tie"})])
    with pytest.raises(XrayBenchError, match="study_id"):
        scheduler.done(no_study)
    elsewhere = from_records([(1, {"model_a": "a", "model_b": "b", "winner": "tie", "study_id": "s9"})])
    with pytest.raises(XrayBenchError, match="outside this arena: s9"):
        scheduler.propose(elsewhere)
    disconnected = AdaptiveScheduler(["a", "b", "c", "d"], ["s1"], pairs=[("a", "b"), ("c", "d")])
    with pytest.raises(XrayBenchError, match="cannot connect"):
        disconnected.propose(None)


def test_new_model_budget_ignores_the_fields_own_battles() -> None:
    judge = Judge([0.0, 100.0, 150.0], n_studies=10, seed=1)
    *field, new = judge.models
    for a, b, s in full_schedule(field, judge.studies):  # a fully judged field: more battles than the budget
        judge.judge(a, b, s)
    scheduler = AdaptiveScheduler.for_new_model(new, field, judge.studies, seed=0, batch_size=4, budget=6)
    assert not scheduler.done(judge.battles())
    added = sum(len(batch) for batch in run(scheduler, judge))
    assert 0 < added <= 6


def test_studies_are_spread_before_any_is_reused() -> None:
    judge = Judge([0.0, 40.0, 80.0, 120.0], n_studies=200, seed=3)
    scheduler = AdaptiveScheduler(judge.models, judge.studies, seed=1, batch_size=12, budget=96)
    items = [item for batch in run(scheduler, judge) for item in batch]
    assert len(items) == 96
    assert len({s for _, _, s in items}) == 96, "a study was reused while unused ones were left"


def test_proposal_depends_on_the_battles_not_their_order() -> None:
    judge = Judge([0.0, 50.0, 120.0, 160.0, 260.0], n_studies=80, seed=5)
    scheduler = AdaptiveScheduler(judge.models, judge.studies, seed=2, batch_size=10, budget=120)
    run(scheduler, judge)
    rows = judge.rows
    shuffled = [rows[k] for k in np.random.default_rng(0).permutation(len(rows))]
    fresh = AdaptiveScheduler(judge.models, judge.studies, seed=2, batch_size=10)
    assert fresh.propose(from_records(rows)) == fresh.propose(from_records(shuffled))
    assert fresh.done(from_records(rows)) == fresh.done(from_records(shuffled))


def unordered(items: list[tuple[str, str, str]]) -> list[tuple[frozenset[str], str]]:
    return [(frozenset((a, b)), s) for a, b, s in items]


def test_pending_comparisons_are_taken_as_made() -> None:
    judge = Judge([0.0, 40.0, 90.0, 150.0, 260.0], n_studies=60, seed=7)
    scheduler = AdaptiveScheduler(judge.models, judge.studies, seed=1, batch_size=16)
    for item in [c for _ in range(3) for c in scheduler.propose(judge.battles())]:
        judge.judge(*item)  # past the spanning set
    battles = judge.battles()
    whole = scheduler.propose(battles, k=16)
    first = scheduler.propose(battles, k=8)
    second = scheduler.propose(battles, k=8, pending=first)
    # a batch split in two, the first half in flight, is the same choice (the coin for model_a aside)
    assert unordered(first + second) == unordered(whole)


def test_pending_counts_against_the_budget_and_is_never_proposed_again() -> None:
    judge = Judge([0.0, 0.0, 0.0], n_studies=5, seed=0)
    scheduler = AdaptiveScheduler(judge.models, judge.studies, seed=0, batch_size=4, budget=10)
    in_flight: list[tuple[str, str, str]] = []
    while batch := scheduler.propose(None, pending=in_flight):  # nothing judged yet: all of it is in flight
        in_flight += batch
    assert len(in_flight) == 10 and len(set(unordered(in_flight))) == 10
    assert scheduler.propose(None, pending=in_flight + in_flight) == []  # duplicates count once
    everything = AdaptiveScheduler(judge.models, judge.studies, seed=0, batch_size=4)
    judged, in_flight = in_flight[:6], in_flight[6:]
    for item in judged:
        judge.judge(*item)
    rest = []
    while batch := everything.propose(judge.battles(), pending=in_flight + rest + judged[:2]):
        rest += batch  # a pending comparison that is already judged counts once
    assert len(rest) == 3 * 5 - 10
    everything_once = unordered(judged + in_flight + rest)
    assert len(everything_once) == len(set(everything_once))
    assert set(everything_once) == set(unordered(full_schedule(judge.models, judge.studies)))
    with pytest.raises(XrayBenchError, match="outside this arena: s9"):
        scheduler.propose(None, pending=[("m0", "m1", "s9")])
    with pytest.raises(XrayBenchError, match="'zz' is not in this arena"):
        scheduler.propose(None, pending=[("m0", "zz", "s000")])


def test_pipelined_proposals_reach_the_true_order() -> None:
    """Proposing while 24 comparisons are still being judged: unique items, separated, the true order."""
    elo = [0.0, 80.0, 170.0, 260.0, 360.0]
    judge = Judge(elo, n_studies=150, seed=3)
    scheduler = AdaptiveScheduler(judge.models, judge.studies, seed=3, batch_size=8)
    proposed: list[tuple[str, str, str]] = []
    n_judged = 0
    while not scheduler.done(judge.battles()):
        batch = scheduler.propose(judge.battles(), pending=proposed[n_judged:])
        assert batch, (len(proposed), n_judged)
        proposed += batch
        for item in proposed[n_judged : max(n_judged, len(proposed) - 24)]:
            judge.judge(*item)
        n_judged = len(judge.rows)
    assert len(set(unordered(proposed))) == len(proposed)
    assert len(proposed) < len(full_schedule(judge.models, judge.studies)) / 2
    tau = kendall(bradley_terry(judge.battles()), dict(zip(judge.models, elo, strict=True)))  # type: ignore[arg-type]
    assert tau >= 0.95
