"""Data-use governance: credentialed report text never goes to a third-party API unless the user allows it.

MIMIC-CXR and CheXpert Plus are released under data use agreements that forbid sharing report text. A run that
would send such samples to a non-local endpoint is refused before its first call, whatever it is for (judging,
teacher distillation, a metric judge, a model under test in `xraybench run`); `--allow-provider` is the user's explicit statement that their agreement
covers that provider.
"""

from __future__ import annotations

from collections.abc import Iterable

from xraybench.errors import XrayBenchError
from xraybench.llm.client import LLMClient
from xraybench.records import Sample


def check_governance(
    samples: Iterable[Sample], client: LLMClient, allow: Iterable[str] = (), *, action: str = "judge"
) -> None:
    """Raise `XrayBenchError` when credentialed samples would go to a non-local provider that is not allowed.

    `allow` holds provider names ("openai") or full model strings ("openai/gpt-4o"); `action` names what the
    calls are for in the message ("judge", "distill", ...).
    """
    from xraybench.datasets import is_credentialed  # the one per-sample rule (a rebuilt sample's flag may be lost)

    secret = [s for s in samples if is_credentialed(s)]
    credentialed = sorted({s.dataset for s in secret})
    if not credentialed or client.local:
        return
    allowed = set(allow)
    if client.provider in allowed or client.model in allowed:
        return
    where = client.api_base or f"the {client.provider} API"
    tasks = sorted({s.task for s in secret})
    raise XrayBenchError(
        f"refusing to {action}: the samples of task(s) {', '.join(tasks)} come from credentialed dataset(s) "
        f"{', '.join(credentialed)}, whose data "
        f"use agreements forbid sending report text to third parties, and {client.model} ({where}) is not a local "
        f"endpoint. Use a local model (--api-base http://127.0.0.1:PORT/v1) or, if your agreement allows this "
        f"provider, pass --allow-provider {client.provider}. No call was made."
    )
