"""A toy arena judge: the shorter report wins (a local judge: in-process, free, offline)."""

from __future__ import annotations

from arena.judges.local import Decision, LocalJudge, decision


class ShorterWins(LocalJudge):
    NAME = "toy_judge"

    def decide(self, reference: str, text_a: str, text_b: str) -> Decision:
        diff = len(text_b.split()) - len(text_a.split())
        level = "tie" if diff == 0 else "A>B" if diff > 0 else "B>A"
        return decision([f"A has {len(text_a.split())} words, B {len(text_b.split())}"], level, [], [])
