"""CRIMSON (Baharoon et al. 2026, arXiv 2603.06183): an LLM lists the abnormal findings of the reference and the
candidate report, matches them and names false findings, missing findings and attribute errors, each weighted by
clinical significance; the score lies in (-1, 1] (1 = perfect, 0 = no better than a normal template).

Through the authors' own package, `crimson-score` (rajpurkarlab/CRIMSON, module `CRIMSON`; 0.2.2 checked):
- prompt: its `prompt_parts.build_prompt(reference, candidate)` without the guideline sections, as the package
  prompts its fine-tuned model (rajpurkarlab/medgemma-4b-it-crimson was trained without them; the package drops them
  only when the model is named by that hub id, so a local copy would get them there: here the option `guidelines`
  decides, off by default; turn it on for a general LLM); with the option `context`, a sample's clinical context
  (ReXrank's indication / comparison / age / sex, `metadata["context"]`) goes in as the package's patient context;
- chat: its system message, then the prompt as the user turn, through the checkpoint's own chat template, generated
  by a transformers `text-generation` pipeline in bfloat16 as the package runs it: with the checkpoint's own
  generation_config.json when it ships one, else greedy with up to 8,192 new tokens; batches of `batch_size` (1);
- parsing and score: its `utils.parse_json_response` (JSON with the package's repairs) and
  `CRIMSONScore._calculate_crimson` (the weighting, unchanged).
What we add: weights only from a local folder or the Hugging Face cache (never downloaded here), and no silent
numbers. The package prints a warning and returns None for a response it cannot parse, and scores a JSON object
that lacks the CRIMSON fields as a perfect 1.0 (no reference findings, no errors); here a failed generation, an
empty or unparsable response, or a JSON object without `reference_findings`, `predicted_findings`,
`matched_findings` and an `errors` object (RadEval's check) is a failed sample: NaN in every per-sample CRIMSON
value, 1 in `crimson_failed`, its reason in `details["failures"]`, and the corpus value is the mean over the
samples that were scored (`details["n"]` of them).

One reference per sample (the sample's `reference`), as the package pairs one reference with each candidate.
Per-sample values: `crimson` and the package's error counts per category (`crimson_false_findings`,
`crimson_missing_findings`, `crimson_attribute_errors` and the attribute kinds `crimson_location_errors` ..
`crimson_temporal_errors`), each also a corpus mean with its bootstrap CI.

The model (default rajpurkarlab/medgemma-4b-it-crimson) comes from the option `model`, XRAYBENCH_CRIMSON_MODEL or
the Hugging Face cache; the package is installed with the `crimson` extra (it declares Python >= 3.12; on 3.10 /
3.11 `pip install --no-deps --ignore-requires-python crimson-score` works: the parts used here are plain Python).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from xraybench.errors import XrayBenchError
from xraybench.lazy import require
from xraybench.metrics._local_models import fetch_command, hub_offline, local_model_dir, pick_device
from xraybench.metrics.aggregate import nanmean_scores
from xraybench.metrics.base import MetricSpec, Scores
from xraybench.progress import progress_bar
from xraybench.records import Prediction, Sample

log = logging.getLogger(__name__)

MODEL_ENV = "XRAYBENCH_CRIMSON_MODEL"
DEFAULT_MODEL = "rajpurkarlab/medgemma-4b-it-crimson"
# the package's system turn (CRIMSONScore._chat_completion_batch writes it inline)
SYSTEM_MESSAGE = "You are an expert radiology evaluator that assesses the accuracy of radiology reports."
DEFAULT_MAX_NEW_TOKENS = 8192  # CRIMSONScore.DEFAULT_MAX_NEW_TOKENS, used when the checkpoint has no generation config
# the package's `error_counts`, in its order; each becomes the per-sample score `crimson_<name>`
ERROR_COUNTS = (
    "false_findings", "missing_findings", "attribute_errors", "location_errors", "severity_errors",
    "descriptor_errors", "measurement_errors", "certainty_errors", "unspecific_errors", "overinterpretation_errors",
    "temporal_errors",
)  # fmt: skip
REQUIRED_FIELDS = ("reference_findings", "predicted_findings", "matched_findings")
CONTEXT_KEY = "Clinical context"  # how a sample's context (e.g. ReXrank's indication, comparison, age) is labelled
MAX_REASON_CHARS = 200  # of a response quoted in a failure reason


def _package() -> Any:
    return require("CRIMSON.generate_score", "crimson", "the CRIMSON metric")


def build_prompt(
    reference: str, candidate: str, guidelines: bool = False, context: dict[str, str] | None = None
) -> str:
    """The package's evaluation prompt for one pair (`guidelines`: the sections the fine-tuned model never saw;
    `context`: the package's patient context, e.g. {"Age": "82", "Indication": "..."})."""
    parts = require("CRIMSON.prompt_parts", "crimson", "the CRIMSON metric")
    return parts.build_prompt(
        reference,
        candidate,
        patient_context=context or None,
        include_significance_examples=guidelines,
        include_attribute_guidelines=guidelines,
        include_context_guidelines=guidelines,
    )


def messages(prompt: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM_MESSAGE}, {"role": "user", "content": prompt}]


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_REASON_CHARS else flat[:MAX_REASON_CHARS] + "..."


def score_response(text: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """(the package's result dict, None) for a response it can score, else (None, why it cannot)."""
    if text is None:
        return None, "no response"
    if not text.strip():
        return None, "empty response"
    utils = require("CRIMSON.utils", "crimson", "the CRIMSON metric")
    try:
        evaluation = utils.parse_json_response(text)
    except (ValueError, RecursionError) as exc:  # json.JSONDecodeError is a ValueError
        return None, f"not parseable as JSON ({type(exc).__name__}): {_quote(text)}"
    if not isinstance(evaluation, dict):
        return None, f"expected a JSON object, got {type(evaluation).__name__}: {_quote(text)}"
    missing = [key for key in (*REQUIRED_FIELDS, "errors") if key not in evaluation]
    if missing:
        return None, f"JSON object without {', '.join(missing)}: {_quote(text)}"
    if not isinstance(evaluation["errors"], dict):
        return None, f"'errors' is a {type(evaluation['errors']).__name__}, expected an object: {_quote(text)}"
    scorer = object.__new__(_package().CRIMSONScore)  # _calculate_crimson reads nothing of the instance: no model load
    try:
        return scorer._calculate_crimson(evaluation), None
    except (KeyError, TypeError, AttributeError, ValueError) as exc:  # a finding / error without the fields it needs
        return None, f"malformed CRIMSON fields ({type(exc).__name__}: {exc}): {_quote(text)}"


def score_responses(
    responses: Sequence[str | None], ids: Sequence[str], reasons: dict[int, str] | None = None, **details: Any
) -> dict[str, Scores]:
    """`crimson`, `crimson_<count>` and `crimson_failed` of aligned responses; `reasons` holds generation failures."""
    n = len(responses)
    values = np.full(n, np.nan)
    counts = {name: np.full(n, np.nan) for name in ERROR_COUNTS}
    failed = np.zeros(n)
    failures: dict[str, str] = {}
    for i, text in enumerate(responses):
        result, why = (None, reasons[i]) if reasons and i in reasons else score_response(text)
        if result is None:
            failed[i] = 1.0
            failures[ids[i]] = str(why)
            continue
        values[i] = result["crimson_score"]
        for name in ERROR_COUNTS:
            counts[name][i] = result["error_counts"][name]
    if failures:
        log.warning("crimson: %d of %d samples failed (e.g. %s: %s)", len(failures), n, *next(iter(failures.items())))
    marked = {"nan_means": "failed: no CRIMSON evaluation (see crimson details.failures)"}
    out = {"crimson": nanmean_scores("crimson", values, **marked, failed=len(failures), failures=failures, **details)}
    out.update({f"crimson_{name}": nanmean_scores(f"crimson_{name}", counts[name], **marked) for name in ERROR_COUNTS})
    out["crimson_failed"] = Scores.mean("crimson_failed", failed, meaning="share of samples without a CRIMSON value")
    return out


class CrimsonMetric:
    """CRIMSON from a local MedGemma-CRIMSON checkpoint through the `crimson-score` package (see module docstring)."""

    name = "crimson"
    spec = MetricSpec(
        kinds=("report",),
        headline=("crimson",),
        options={"progress": "progress"},
        # every count of `ERROR_COUNTS` (false / missing findings, attribute errors) and the failure share fall
        # with a better report
        directions={**{f"crimson_{name}": "lower" for name in ERROR_COUNTS}, "crimson_failed": "lower"},
    )

    def __init__(
        self,
        model: str | None = None,
        device: str | None = None,
        dtype: str = "bfloat16",
        batch_size: int = 1,
        max_new_tokens: int | None = None,
        guidelines: bool = False,
        context: bool = False,
        progress: bool = True,
    ):
        package = _package()
        torch = require("torch", "hf", "the CRIMSON metric")
        transformers = require("transformers", "hf", "the CRIMSON metric")
        if batch_size < 1:
            raise XrayBenchError(f"crimson: batch_size must be at least 1, not {batch_size}")
        if not isinstance(getattr(torch, dtype, None), torch.dtype):
            raise XrayBenchError(f"crimson: dtype {dtype!r} is not a torch dtype (bfloat16, float16, float32)")
        self.folder = local_model_dir(
            "crimson", model, option="model", env=MODEL_ENV, default=DEFAULT_MODEL, fetch=fetch_command("crimson")
        )
        try:
            with hub_offline("the CRIMSON metric"):
                self.pipe = transformers.pipeline(
                    "text-generation",
                    model=str(self.folder),
                    dtype=getattr(torch, dtype),
                    device_map=pick_device(device),
                )
        except (OSError, ValueError) as exc:
            raise XrayBenchError(
                f"crimson: cannot load the model in {self.folder} ({' '.join(str(exc).split())[:200]}); expected a "
                f"causal LM checkpoint (config, weights, tokenizer with a chat template) such as {DEFAULT_MODEL}"
            ) from exc
        if not getattr(self.pipe.tokenizer, "chat_template", None):  # else every pair would fail the same way
            raise XrayBenchError(
                f"crimson: the tokenizer in {self.folder} has no chat template; CRIMSON prompts a chat model "
                f"(system + user turn), such as {DEFAULT_MODEL}"
            )
        if self.pipe.tokenizer.padding_side != "left":
            self.pipe.tokenizer.padding_side = "left"
        # the package: a checkpoint's own generation_config.json wins over its greedy 8,192-token default
        own = not getattr(self.pipe.model.generation_config, "_from_model_config", False)
        self.guidelines, self.context = guidelines, context
        self.batch_size, self.progress, self.max_new_tokens = batch_size, progress, max_new_tokens
        self.use_generation_config = own and max_new_tokens is None
        config = self.pipe.model.generation_config
        generation = (
            f"checkpoint generation_config.json (do_sample={bool(config.do_sample)}, "
            f"max_new_tokens={config.max_new_tokens})"
            if self.use_generation_config
            else f"greedy, max_new_tokens={max_new_tokens or DEFAULT_MAX_NEW_TOKENS}"
        )
        if self.use_generation_config and config.do_sample:  # as the package does; say that reruns will differ
            log.warning("crimson: the checkpoint's generation config samples, so scores vary between runs; "
                        "give the option max_new_tokens to decode greedily")  # fmt: skip
        self.details = {
            "model": str(model or os.environ.get(MODEL_ENV) or DEFAULT_MODEL),
            "implementation": f"crimson-score {_version(package)} (prompt, JSON parsing, score)",
            "dtype": dtype,
            "guidelines": self.guidelines,
            "context": f"the sample's context as {CONTEXT_KEY!r}" if context else "none",
            "generation": generation,
        }

    def generate(self, prompts: Sequence[str]) -> tuple[list[str | None], dict[int, str]]:
        """One response per prompt; a batch whose generation raises is recorded as failed, with the error."""
        out: list[str | None] = []
        reasons: dict[int, str] = {}
        enabled = self.progress and len(prompts) > 1
        with progress_bar(len(prompts), "CRIMSON", enabled=enabled) as advance:
            for start in range(0, len(prompts), self.batch_size):
                chunk = [messages(p) for p in prompts[start : start + self.batch_size]]
                try:
                    outputs = self._run(chunk)
                    # one list per conversation (a bare dict where a pipeline version unwraps it), last turn = answer
                    texts = [(o[0] if isinstance(o, list) else o)["generated_text"][-1]["content"] for o in outputs]
                except (RuntimeError, ValueError, IndexError, KeyError) as exc:  # OOM, bad template, odd output
                    log.warning("crimson: generation failed for items %d..%d: %s", start, start + len(chunk) - 1, exc)
                    texts = [None] * len(chunk)
                    for k in range(len(chunk)):
                        reasons[start + k] = f"generation failed ({type(exc).__name__}: {_quote(str(exc))})"
                out.extend(texts)
                advance(len(chunk))
        return out, reasons

    def _run(self, chunk: list[list[dict[str, str]]]) -> list[Any]:
        if self.use_generation_config:
            return self.pipe(chunk, generation_config=self.pipe.model.generation_config, batch_size=self.batch_size)
        return self.pipe(
            chunk,
            max_new_tokens=self.max_new_tokens or DEFAULT_MAX_NEW_TOKENS,
            max_length=None,
            do_sample=False,
            batch_size=self.batch_size,
        )

    def _context(self, sample: Sample) -> dict[str, str] | None:
        text = sample.metadata.get("context") if self.context else None
        return {CONTEXT_KEY: str(text)} if text else None

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        if len(samples) != len(predictions):
            raise ValueError(f"{len(samples)} samples but {len(predictions)} predictions")
        prompts = [
            build_prompt(s.reference or "", p.answer or "", self.guidelines, self._context(s))
            for s, p in zip(samples, predictions, strict=True)
        ]
        responses, reasons = self.generate(prompts)
        return score_responses(responses, [s.id for s in samples], reasons, **self.details)


def _version(package: Any) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("crimson-score")
    except PackageNotFoundError:  # imported from a source checkout
        return "source"
