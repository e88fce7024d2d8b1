"""One request path for every paid LLM call: rate limit, budget cap and cost ledger, shared by runs and judges.

`Meter.ask(client, messages)` makes one request through `LLMClient.complete` and is the only place that paces,
pays and counts: it waits for the `rpm` limiter, reserves the request's worst case against `budget_usd` (its
prompt, characters / 4 plus `IMAGE_TOKENS` per image, plus a full `max_tokens` answer, at the client's price),
refuses with `BudgetExhausted` a request that could take the spend past the cap, settles the reservation with
the answer's real cost, and adds tokens and USD to the ledger. The judges' and teachers' `CallRunner` asks
through a `Meter`; so does a model under test behind an API (`openai:`, `litellm:`) in `xraybench run`, whose
runner attaches one built from the same options (`attach_meter`). One meter may serve several clients (a teacher
and its checker share one cap).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xraybench.errors import XrayBenchError
from xraybench.records import Generation, Sample

if TYPE_CHECKING:
    from xraybench.llm.client import LLMClient

CHARS_PER_TOKEN = 4
# one image part, counted once rather than by its (base64) data URL: a 512x512 image costs 255 tokens at
# OpenAI (high detail), 258 at Gemini, ~334 in Qwen2.5-VL and ~350 at Anthropic; 400 keeps estimates on the high side
IMAGE_TOKENS = 400


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """A price-free token count for estimates and budget bounds: text characters / 4, `IMAGE_TOKENS` per image, plus one."""
    chars = images = 0
    for message in messages:
        content = message.get("content", "")
        if not isinstance(content, list):
            chars += len(str(content))
            continue
        for part in content:  # OpenAI-style parts: {"type": "text", "text": ...} or {"type": "image_url", ...}
            if isinstance(part, dict) and part.get("type") in ("image_url", "image", "input_image"):
                images += 1
            else:
                chars += len(str(part.get("text", "") if isinstance(part, dict) else part))
    return chars // CHARS_PER_TOKEN + images * IMAGE_TOKENS + 1


class RateLimiter:
    """At most `rpm` request starts per minute, evenly spaced; thread-safe; waits outside the lock."""

    def __init__(
        self, rpm: float, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], object] = time.sleep
    ):
        if rpm <= 0:
            raise ValueError(f"rpm must be positive, got {rpm}")
        self.interval = 60.0 / rpm
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)


class BudgetExhausted(XrayBenchError):
    """The next request could take the run past `--budget-usd`; it is not made (never retried)."""


class Budget:
    """Spent plus in-flight upper bounds never exceed the cap: a request starts only if its worst case fits.

    Once one request does not fit, `stopped` is set and the run starts no new call.
    """

    def __init__(self, cap: float | None):
        if cap is not None and not cap >= 0:
            raise XrayBenchError(f"--budget-usd must be a non-negative number of USD, got {cap}")
        self.cap, self.spent, self.reserved = cap, 0.0, 0.0
        self.stopped = threading.Event()
        self._lock = threading.Lock()

    def reserve(self, amount: float) -> bool:
        with self._lock:
            if self.cap is not None and self.spent + self.reserved + amount > self.cap:
                self.stopped.set()
                return False
            self.reserved += amount
            return True

    def settle(self, reserved: float, actual: float) -> None:
        with self._lock:
            self.reserved -= reserved
            self.spent += actual


@dataclass
class Ledger:
    """Tokens and USD over the requests of a meter (answers of failed calls and re-asks included).

    `n_unpriced` answers had no known cost (no price, or no usage reported): `cost_usd` is then a lower bound.
    """

    n_requests: int = 0
    n_answers: int = 0
    n_unpriced: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_requests": self.n_requests, "n_answers": self.n_answers, "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens, "cost_usd": self.cost_usd,
            "cost_known": self.n_unpriced == 0,
        }  # fmt: skip


class Meter:
    """Paces, caps and counts the requests of one run: `rpm` starts per minute, `budget_usd` in all."""

    def __init__(
        self,
        *,
        rpm: float | None = None,
        budget_usd: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ):
        self.limiter = RateLimiter(rpm, clock, sleep) if rpm else None
        self.budget = Budget(budget_usd)
        self.ledger = Ledger()
        self._lock = threading.Lock()

    @property
    def stopped(self) -> bool:
        """Did a request not fit in the budget (so no new call should start)?"""
        return self.budget.stopped.is_set()

    def count_spent(self, usd: float) -> None:
        """Count money spent before this meter (a resumed run's answers) against the budget, not in the ledger."""
        self.budget.settle(0.0, usd)

    def check_priced(self, client: LLMClient) -> None:
        """A budget needs a price: refuse one for a client without, before any request."""
        if self.budget.cap is not None and client.prices() is None:
            raise XrayBenchError(
                f"--budget-usd needs a price, and litellm's cost map has none for {client.model}: "
                "pass --price-per-1k-tokens"
            )

    def bound(self, client: LLMClient, messages: list[dict[str, Any]]) -> float:
        """Worst-case cost of one request: the prompt (characters / 4, images counted) plus a full answer."""
        prices = client.prices()
        if prices is None:
            return 0.0
        return prompt_tokens(messages) * prices[0] + client.max_tokens * prices[1]

    def ask(
        self,
        client: LLMClient,
        messages: list[dict[str, Any]],
        *,
        on_start: Callable[[], object] | None = None,
        **kwargs: Any,
    ) -> Generation:
        """One request of `client`, paced, within the budget and counted; `kwargs` go to `client.complete`,
        `on_start()` is called when the request is about to be sent. Raises `BudgetExhausted` (nothing sent) when
        its worst case does not fit in what is left."""
        if self.limiter is not None:
            self.limiter.wait()
        bound = self.bound(client, messages)
        if not self.budget.reserve(bound):
            raise BudgetExhausted(f"the next request (up to ${bound:.4f}) could exceed --budget-usd")
        with self._lock:
            self.ledger.n_requests += 1
        if on_start is not None:
            on_start()
        try:
            answer = client.complete(messages, **kwargs)
        except BaseException:
            self.budget.settle(bound, 0.0)  # a refused request (429, 5xx, timeout) is not billed
            raise
        cost = answer.cost_usd
        # no usage (or no price) in the answer: its cost is unknown, so the budget keeps the worst case it reserved
        self.budget.settle(bound, cost if cost is not None and answer.usage_reported else max(bound, cost or 0.0))
        with self._lock:
            ledger = self.ledger
            ledger.n_answers += 1
            ledger.prompt_tokens += answer.prompt_tokens or 0
            ledger.completion_tokens += answer.completion_tokens or 0
            ledger.cost_usd += cost or 0.0
            ledger.n_unpriced += cost is None
        return answer


def attach_meter(
    model: Any,
    samples: Iterable[Sample],
    *,
    allow_provider: Iterable[str] = (),
    rpm: float | None = None,
    budget_usd: float | None = None,
    price_per_1k_tokens: float | None = None,
) -> Meter | None:
    """Put a model under test behind an API on the engine's governance, budget, rate limit and ledger, before its
    first request: credentialed `samples` for a non-local provider not in `allow_provider` are refused
    (`XrayBenchError`, nothing sent), a budget without a price is refused, and the model asks through a new
    `Meter`, which is returned (its ledger adds up the run's requests). A model without an engine client (hf:,
    vllm:, baselines, predictions files) gets None; the paid-call options are refused for it rather than ignored.
    """
    from xraybench.llm.client import LLMClient
    from xraybench.llm.governance import check_governance

    client = getattr(model, "client", None)
    if not isinstance(client, LLMClient):
        given = [
            flag for flag, value in (("--budget-usd", budget_usd), ("--rpm", rpm),
                                     ("--price-per-1k-tokens", price_per_1k_tokens)) if value is not None
        ]  # fmt: skip
        if given:
            raise XrayBenchError(
                f"{', '.join(given)} apply to models behind an API (openai:, litellm:); "
                f"{getattr(model, 'name', model)} makes no paid calls"
            )
        return None
    if price_per_1k_tokens is not None:
        client.price_per_1k_tokens = price_per_1k_tokens
    check_governance(samples, client, allow_provider, action="evaluate")
    meter = Meter(rpm=rpm, budget_usd=budget_usd)
    meter.check_priced(client)
    model.meter = meter
    return meter


def run_usage(predictions: Iterable[Any], meter: Meter) -> dict[str, Any]:
    """The cost ledger of a run for results.json: `usage` adds up tokens and USD over every prediction of the run
    (resumed ones included; `cost_known` False when some had no price or no usage, so `cost_usd` is a lower
    bound), `this_session` is the meter's ledger (every request of this invocation, failed items' too); and
    `stopped` when the budget stopped the run (the items not asked are pending: a rerun asks only those)."""
    prompt = completion = 0
    cost, known, n = 0.0, True, 0
    for pred in predictions:
        n += 1
        prompt += pred.prompt_tokens or 0
        completion += pred.completion_tokens or 0
        if pred.cost_usd is None:
            known = False
        else:
            cost += pred.cost_usd
    out: dict[str, Any] = {
        "usage": {
            "n_predictions": n, "prompt_tokens": prompt, "completion_tokens": completion, "cost_usd": cost,
            "cost_known": known, "this_session": meter.ledger.as_dict(),
        }
    }  # fmt: skip
    if meter.stopped:
        out["stopped"] = {
            "reason": "budget",
            "budget_usd": meter.budget.cap,
            "spent_usd": meter.budget.spent,
            "message": f"stopped on --budget-usd {meter.budget.cap:g}: the next request could have taken the run's "
            f"spend (${meter.budget.spent:.4f} so far) past it; rerun with a larger --budget-usd to ask the items left",
        }
    return out
