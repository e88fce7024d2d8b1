"""litellm:PROVIDER/MODEL — any API litellm speaks (OpenAI, Anthropic, Gemini, Azure, Bedrock, local servers).

The same request builder as `openai:` (`xraybench.models.openai_compat.ChatModel`) on the same engine; the
request goes through litellm (`xraybench.llm.litellm_transport`: imported on first use without its network
price look-up, its own retries off, its exceptions sorted by the one classification).
"""

from __future__ import annotations

from xraybench.errors import XrayBenchError
from xraybench.generate import GenerateConfig
from xraybench.llm.client import LLMClient
from xraybench.llm.litellm_transport import (  # noqa: F401 - kept importable from their old home
    complete_with_deadline,
    import_litellm,
    map_litellm_error,
)
from xraybench.models.openai_compat import ChatModel, ChatOptions, engine_client


class LiteLLMModel(ChatModel):
    """`litellm.completion` per sample."""

    kind = "litellm"

    def make_client(self, arg: str, options: ChatOptions, generate: GenerateConfig) -> LLMClient:
        if "/" not in arg:
            raise XrayBenchError(f"litellm:{arg}: expected PROVIDER/MODEL, e.g. litellm:openai/gpt-4o-mini")
        import_litellm()  # fail now, naming the extra, not at the first call
        return engine_client(arg, options, generate, api_base=options.api_base, api_key=None, transport="litellm")
