"""xraybench: evaluation suite and LLM-judge arena for chest X-ray foundation models.

Importing this package stays light: torch, transformers, vllm and litellm are imported only by the
adapters and metrics that need them.
"""

from __future__ import annotations

__version__ = "0.1.0"
