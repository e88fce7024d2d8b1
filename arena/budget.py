"""The arena's budget: a property of the arena, not of one command.

`--budget-usd` used to cap one invocation, so "rerun the same command" after a budget stop spent it again. Now
the cap is stored beside the arena's judgment store (`arenas/NAME/judgments.budget.json`) and what the store has already
spent (every judgment's recorded cost, submissions included) counts against it: a run may spend only what is
left. Giving the same or a lower `--budget-usd` again is fine; a higher one needs `--raise-budget`, so money is
only added on purpose. Each change is kept in the file's history.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xraybench.errors import XrayBenchError

BUDGET_SUFFIX = ".budget.json"  # beside the store, as its plan: arenas/NAME/judgments.budget.json


@dataclass(frozen=True)
class ArenaBudget:
    """The arena's cap (None: no cap) and what its store has spent so far."""

    cap: float | None
    spent: float

    @property
    def left(self) -> float | None:
        return None if self.cap is None else max(self.cap - self.spent, 0.0)

    def describe(self) -> str:
        if self.cap is None:
            return f"arena budget: none set (spent ${self.spent:.4f}); --budget-usd sets one"
        return (
            f"arena budget ${self.cap:.4f}: spent ${self.spent:.4f}, ${self.left:.4f} left (the arena's total; "
            "raise it with --budget-usd N --raise-budget)"
        )


def budget_path(store_path: Path) -> Path:
    return Path(store_path).with_suffix(BUDGET_SUFFIX)


def stored_cap(store_path: Path) -> float | None:
    path = budget_path(store_path)
    if not path.exists():
        return None
    try:
        cap = json.loads(path.read_text(encoding="utf-8"))["budget_usd"]
    except (ValueError, KeyError, TypeError) as exc:
        raise XrayBenchError(f'{path}: unreadable arena budget ({exc}); expected {{"budget_usd": NUMBER}}') from None
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int | float) or cap < 0):
        raise XrayBenchError(f"{path}: budget_usd must be a non-negative number, got {cap!r}")
    return None if cap is None else float(cap)


def _write(store_path: Path, cap: float, spent: float) -> None:
    path = budget_path(store_path)
    history: list[dict[str, Any]] = []
    if path.exists():
        history = json.loads(path.read_text(encoding="utf-8")).get("history", [])
    history.append({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "budget_usd": cap, "spent_usd": spent})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({"budget_usd": cap, "history": history}, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def arena_budget(
    store_path: Path, requested: float | None, spent: float, *, raise_budget: bool = False, persist: bool = True
) -> ArenaBudget:
    """The arena's budget after this command's `--budget-usd` (stored unless `persist` is False, e.g. a dry run).

    Refuses a higher cap than the stored one without `raise_budget`."""
    if requested is not None and requested < 0:
        raise XrayBenchError(f"--budget-usd must be >= 0, got {requested}")
    stored = stored_cap(store_path)
    if requested is None or requested == stored:
        return ArenaBudget(stored, spent)
    if stored is not None and requested > stored and not raise_budget:
        raise XrayBenchError(
            f"the arena's budget is ${stored:.4f} (${spent:.4f} spent, ${max(stored - spent, 0.0):.4f} left); "
            f"--budget-usd {requested:g} would raise it: pass --raise-budget to do so (the budget is the arena's "
            "total, not one run's)"
        )
    if persist:
        _write(store_path, requested, spent)
    return ArenaBudget(requested, spent)


def budgeted_runner_options(
    options: dict[str, Any], store_path: Path, store: Any, *, raise_budget: bool, persist: bool
) -> tuple[dict[str, Any], ArenaBudget]:
    """`CallRunner` keywords whose `budget_usd` is what is left of the arena's budget (a run never spends more)."""
    budget = arena_budget(
        store_path, options.get("budget_usd"), store.totals().cost_usd, raise_budget=raise_budget, persist=persist
    )
    return {**options, "budget_usd": budget.left}, budget
