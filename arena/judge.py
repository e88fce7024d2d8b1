"""The arena's judge is the core LLM client (`xraybench.llm.client`); these names keep the arena's vocabulary.

A judge is any `LLMClient`: one chat request per call, no retries (the call engine retries), errors mapped to
`TransientError` or `XrayBenchError`, prices from litellm's map or the user's price per 1,000 tokens.
"""

from __future__ import annotations

from xraybench.llm.client import LLMAnswer as JudgeAnswer
from xraybench.llm.client import LLMClient as LiteLLMJudge

__all__ = ["JudgeAnswer", "LiteLLMJudge"]
