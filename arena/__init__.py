"""Report Arena: LLM-judge pairwise battles, judgment store, ratings and leaderboards (issue 5)."""
