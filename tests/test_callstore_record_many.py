"""`CallStore.record_many`: several results in one durable transaction, with the rules of the single writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from xraybench.callstore import CallResult, CallStore


def ident(i: int) -> dict[str, object]:
    return {"kind": "judgment", "item": i}


def key(i: int) -> str:
    return CallStore.key_of(**ident(i))


def test_record_many_writes_all_and_ends_leases(tmp_path: Path) -> None:
    with CallStore(tmp_path / "c.sqlite") as store:
        assert store.claim_many([key(i) for i in range(4)], "me", 60) == [key(i) for i in range(4)]
        store.record_many(
            [
                CallResult(key(0), ident(0), True, raw_text="A", parsed={"v": 1}, parser_version="1",
                           finish_reason="stop", prompt_tokens=5, completion_tokens=2, cost_usd=0.5),
                CallResult(key(1), ident(1), True, raw_text="cut", finish_reason="length", parsed={"v": 2}),
                CallResult(key(2), ident(2), False, error="boom", attempts=3),
            ]
        )  # fmt: skip
        ok = store.get(key(0))
        assert ok is not None and ok.ok and ok.parsed == {"v": 1} and ok.parser_version == "1" and ok.cost_usd == 0.5
        cut = store.get(key(1))
        assert cut is not None and cut.status == "failed" and cut.parsed is None and "truncated" in (cut.error or "")
        failed = store.get(key(2))
        assert failed is not None and failed.status == "failed" and failed.error == "boom" and failed.attempts == 3
        assert [k for k, _, _ in store.leases()] == [key(3)]  # only the unrecorded key is still leased
        # an answer is never replaced by a later failure: only the spend is added
        store.record_many([CallResult(key(0), ident(0), False, error="late", cost_usd=0.25)])
        again = store.get(key(0))
        assert again is not None and again.ok and again.raw_text == "A" and again.cost_usd == 0.75
        store.record_many([])


def test_record_many_stores_nothing_when_one_result_is_invalid(tmp_path: Path) -> None:
    with CallStore(tmp_path / "c.sqlite") as store:
        with pytest.raises(ValueError, match="not CallStore.key_of"):
            store.record_many(
                [CallResult(key(0), ident(0), True, raw_text="A"), CallResult(key(1), ident(2), True, raw_text="B")]
            )
        with pytest.raises(ValueError, match="'kind'"):
            store.record_many([CallResult(key(0), {"item": 0}, True, raw_text="A")])
        assert store.totals().n_ok == 0 and store.totals().n_failed == 0
