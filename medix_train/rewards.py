"""DeepMedix-R1's GRPO reward with the exact semantics of the authors' released reward.

    overall = 0.9 * accuracy + 0.1 * format + coordinate        (max 0.9 * 1.5 + 0.1 + 0.15 = 1.6)

Every term first removes the whitespace around `<`, `>` and `/` in the whole response (the answer too,
so `T1 / T2` becomes `T1/T2`); the ground truth is never normalised.
- format: 1 when the normalised response starts with `<think>`, has a `</think>`, after it `\\boxed{`
  and after that a `}`; else 0.
- coordinate: over the boxes of the FIRST think block, +0.05 per box whose largest value is <= 512 (negative
  values earn it too), -0.2 per box with a value > 512, summed from 0.0 and capped above at 0.15 (no floor);
  0 without a think block. Boxes are in the 512x512 image space the model was given.
- accuracy: 1.5 x `answer_score(answer, truth, variant)` where the answer is the stripped content of the
  last `\\boxed{` (brace depth counted), the literal "None" when that box is unclosed or absent. The branches
  (list F1 / exact match / BLEU-ROUGE) live in `xraybench.metrics.answer_score`, so the metric and the
  reward are one implementation; `variant="paper"` is the authors' character-level BLEU, `"word"` ours.

The parser helpers (`think_blocks`, `find_boxes`, `last_boxed`) already follow the released reward's
syntax exactly; the reward adds only what the runner's tolerant `parse_output` does differently: the
whitespace normalisation, the "None" answer and the first-block-only box count.

`trl_reward_funcs` returns TRL `GRPOTrainer` reward functions (`f(completions, ground_truth, **kw) -> list`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from xraybench.errors import XrayBenchError
from xraybench.metrics.answer_score import VARIANTS, Variant, answer_score
from xraybench.parsing import find_boxes, last_boxed, think_blocks

FORMAT_WEIGHT = 0.1
ACCURACY_WEIGHT = 1 - FORMAT_WEIGHT
ANSWER_SCALE = 1.5
BOX_LIMIT = 512  # the 512x512 image space (max_pixels 262144)
BOX_INSIDE = 0.05
BOX_OUTSIDE = -0.2
COORDINATE_CAP = 0.15
MAX_OVERALL = ACCURACY_WEIGHT * ANSWER_SCALE + FORMAT_WEIGHT + COORDINATE_CAP
NO_ANSWER = "None"  # what the released reward scores when there is no closed \boxed{}

_TAG_SPACE = re.compile(r"\s*([<>/])\s*")
_FORMAT = re.compile(r"<think>.*</think>.*\\boxed\{.*\}.*", re.DOTALL)
TERMS = ("overall", "format", "accuracy", "coordinate")


def normalise_response(response: str) -> str:
    """Remove whitespace around `<`, `>` and `/` everywhere (idempotent), as the released reward does first."""
    return _TAG_SPACE.sub(r"\1", response)


def _format(text: str) -> float:
    return 1.0 if _FORMAT.fullmatch(text) else 0.0


def _coordinate(text: str) -> float:
    blocks = think_blocks(text)
    if not blocks:
        return 0.0
    value = 0.0
    for box in find_boxes(blocks[0]):
        value += BOX_OUTSIDE if max(box) > BOX_LIMIT else BOX_INSIDE
    return min(value, COORDINATE_CAP)


def _answer(text: str) -> str:
    boxed = last_boxed(text)
    return NO_ANSWER if boxed is None else boxed.strip()


def _accuracy(text: str, ground_truth: str, variant: Variant) -> float:
    if not isinstance(ground_truth, str):
        raise XrayBenchError(f"ground truth must be a string, got {type(ground_truth).__name__}: {ground_truth!r}")
    return ANSWER_SCALE * answer_score(_answer(text), ground_truth, variant)


def format_reward(response: str) -> float:
    """1.0 for `<think>…</think>…\\boxed{…}…` (after whitespace normalisation), else 0.0."""
    return _format(normalise_response(response))


def coordinate_reward(response: str) -> float:
    """+0.05 per box <= 512 and -0.2 per box > 512 in the first think block, capped above at 0.15."""
    return _coordinate(normalise_response(response))


def extract_answer(response: str) -> str:
    """The answer the reward scores: stripped content of the last `\\boxed{}`, or "None"."""
    return _answer(normalise_response(response))


def answer_reward(response: str, ground_truth: str, variant: Variant = "paper") -> float:
    """1.5 x the paper's answer score of the last `\\boxed{}` content against the ground truth (0..1.5)."""
    _check_variant(variant)
    return _accuracy(normalise_response(response), ground_truth, variant)


def deepmedix_reward(response: str, ground_truth: str, variant: Variant = "paper") -> dict[str, float]:
    """All terms and `overall = 0.9 * accuracy + 0.1 * format + coordinate`."""
    _check_variant(variant)
    text = normalise_response(response)
    fmt, accuracy, coordinate = _format(text), _accuracy(text, ground_truth, variant), _coordinate(text)
    overall = ACCURACY_WEIGHT * accuracy + FORMAT_WEIGHT * fmt + coordinate
    return {"overall": overall, "format": fmt, "accuracy": accuracy, "coordinate": coordinate}


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise XrayBenchError(f"unknown reward variant {variant!r}; expected one of {', '.join(VARIANTS)}")


# --- TRL wrappers --------------------------------------------------------------------------------------


def completion_text(completion: Any) -> str:
    """A TRL completion as text: a string, or a conversational list of messages (content a string or parts)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(_message_text(message) for message in completion)
    raise XrayBenchError(f"a completion must be a string or a list of messages, got {type(completion).__name__}")


def _message_text(message: Any) -> str:
    if not isinstance(message, dict) or "content" not in message:
        raise XrayBenchError(f"a completion message must be a dict with 'content', got {message!r}")
    content = message["content"]
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part["text"] for part in content if isinstance(part, dict) and part.get("type") == "text")
    raise XrayBenchError(f"message content must be a string or a list of parts, got {type(content).__name__}")


class DeepMedixRewardFunc:
    """One reward column for TRL's `GRPOTrainer`, picklable, with a `__name__` TRL logs it under.

    `term="overall"` returns the overall reward and, when TRL passes `log_metric`, also logs the batch
    means of the three terms; a weighted term (`format`, `accuracy`, `coordinate`) returns weight x term,
    so the three weighted funcs sum to `overall` with TRL's default reward weights of 1.
    """

    def __init__(self, term: str, variant: Variant = "paper"):
        if term not in TERMS:
            raise XrayBenchError(f"unknown reward term {term!r}; expected one of {', '.join(TERMS)}")
        _check_variant(variant)
        self.term = term
        self.variant: Variant = variant
        self.weight = {"overall": 1.0, "format": FORMAT_WEIGHT, "accuracy": ACCURACY_WEIGHT, "coordinate": 1.0}[term]
        self.__name__ = f"deepmedix_{term}_{variant}" if term in ("overall", "accuracy") else f"deepmedix_{term}"

    def __call__(self, completions: Sequence[Any], ground_truth: Sequence[str], **kwargs: Any) -> list[float]:
        if len(completions) != len(ground_truth):
            raise XrayBenchError(
                f"{self.__name__}: {len(completions)} completions but {len(ground_truth)} ground truths; "
                "the dataset needs a 'ground_truth' column"
            )
        scores = [
            deepmedix_reward(completion_text(c), truth, self.variant)
            for c, truth in zip(completions, ground_truth, strict=True)
        ]
        log_metric: Callable[[str, float], None] | None = kwargs.get("log_metric")
        if self.term == "overall" and log_metric is not None and scores:
            for name in TERMS[1:]:
                log_metric(f"deepmedix/{name}", sum(s[name] for s in scores) / len(scores))
        return [self.weight * s[self.term] for s in scores]

    def __repr__(self) -> str:
        return f"DeepMedixRewardFunc(term={self.term!r}, variant={self.variant!r})"


def trl_reward_funcs(variant: Variant = "paper", split: bool = False) -> list[DeepMedixRewardFunc]:
    """`[overall]`, or with `split=True` the three weighted terms (0.1·format, 0.9·accuracy, coordinate)."""
    if split:
        return [DeepMedixRewardFunc(term, variant) for term in ("format", "accuracy", "coordinate")]
    return [DeepMedixRewardFunc("overall", variant)]
