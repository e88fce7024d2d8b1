"""GREEN (Ostmeier et al. 2024): a fine-tuned LLM lists a candidate report's errors against the reference; the score
is matched findings / (matched findings + clinically significant errors).

Computed as RadEval's `GREEN` (radeval 2.2.1, `radeval/metrics/green_score`; the maintained implementation of the
GREEN authors' package) computes it, with local weights only:
- prompt: GREEN's instruction text with the reference and the candidate, each cut to its first 300 words;
- chat template `<|user|>\\n{prompt}{eos}` then `<|assistant|>`; tokenizer loaded with `add_eos_token=True` and BOS kept (prompts are BOS + text + EOS, as GREEN's own tokenizer
  encodes them; transformers 5 drops BOS when only `add_eos_token` is given, so both are passed and checked at load),
  left padding, pad = eos; batches of 8 in input order; greedy decoding up to `max_length` (2048) tokens in all,
  prompt included; the whole sequence is decoded without special tokens and the text after the last
  `<|assistant|>` (and after "[Explanation]:") kept;
- parsing: the "[Clinically Significant Errors]:" block's "(a) ...: N." .. "(f) ...: N." counts (numbered "(1)".."(6)"
  accepted), and the first "N." line of "[Matched Findings]:"; a block starting "No" or missing counts 0;
- score per pair: 0 when no finding is matched, else matched / (matched + sum of the six significant counts); the
  corpus value is the mean.
Per pair, the six significant error counts and the matched findings are kept as their own per-sample scores
(`green_errors_a` .. `green_errors_f`, `green_matched_findings`), each a corpus mean with its bootstrap CI.
What we add: no silent numbers. RadEval scores an assessment without the "[Clinically Significant Errors]:" or
"[Matched Findings]:" block (a truncated or off-format generation) as 0 with no errors; here such a pair is a
failed sample: NaN in every per-sample GREEN value, 1 in `green_failed`, its reason in `details["failures"]`, and
the corpus value is the mean over the pairs that were scored (`details["n"]` of them).

The model (default StanfordAIMI/GREEN-radllama2-7b, RadEval's) comes from the option `model`, XRAYBENCH_GREEN_MODEL
or the Hugging Face cache (`xraybench weights fetch green`). By default it is loaded as the architecture and
tokenizer its config names, never running code from the model folder; that repo also ships a tokenizer module
(`tokenization_chexagent.py`) that RadEval runs with `trust_remote_code=True`: set the option
`trust_remote_code=True` to do the same (whether the two tokenizers differ on report text is not tested here, as
the real checkpoint is not available).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from xraybench.errors import XrayBenchError
from xraybench.lazy import require
from xraybench.metrics._local_models import fetch_command, local_model_dir, pick_device
from xraybench.metrics.aggregate import nanmean_scores
from xraybench.metrics.base import MetricSpec, Scores
from xraybench.progress import progress_bar
from xraybench.records import Prediction, Sample

log = logging.getLogger(__name__)
MODEL_ENV = "XRAYBENCH_GREEN_MODEL"
DEFAULT_MODEL = "StanfordAIMI/GREEN-radllama2-7b"
MAX_WORDS = 300
BATCH_SIZE = 8
MAX_LENGTH = 2048
SUBCATEGORIES = (
    ("a", "False report of a finding in the candidate"),
    ("b", "Missing a finding present in the reference"),
    ("c", "Misidentification of a finding's anatomic location/position"),
    ("d", "Misassessment of the severity of a finding"),
    ("e", "Mentioning a comparison that isn't in the reference"),
    ("f", "Omitting a comparison detailing a change from a prior study"),
)
CHAT_TEMPLATE = (
    "{% for message in messages %}\n"
    "{% if message['from'] == 'human' %}\n"
    "{{ '<|user|>\\n' + message['value'] + eos_token }}\n"
    "{% elif message['from'] == 'system' %}\n"
    "{{ '<|system|>\\n' + message['value'] + eos_token }}\n"
    "{% elif message['from'] == 'gpt' %}\n"
    "{{ '<|assistant|>\\n'  + message['value'] + eos_token }}\n"
    "{% endif %}\n"
    "{% if loop.last and add_generation_prompt %}\n"
    "{{ '<|assistant|>' }}\n"
    "{% endif %}\n"
    "{% endfor %}"
)
_I = "\n    "  # GREEN's instruction text is indented by four spaces after each line break
INSTRUCTION = _I.join(
    [
        "Objective: Evaluate the accuracy of a candidate radiology report in comparison to a reference radiology "
        "report composed by expert radiologists.\n",
        "Process Overview: You will be presented with:\n",
        "1. The criteria for making a judgment.",
        "2. The reference radiology report.",
        "3. The candidate radiology report.",
        "4. The desired format for your assessment.\n",
        "1. Criteria for Judgment:\n",
        "For each candidate report, determine:\n",
        "The count of clinically significant errors.",
        "The count of clinically insignificant errors.\n",
        "Errors can fall into one of these categories:\n",
        *[f"{letter}) {text}." for letter, text in SUBCATEGORIES],
        "Note: Concentrate on the clinical findings rather than the report's writing style. Evaluate only the "
        "findings that appear in both reports.\n",
        "2. Reference Report:",
        "{reference}\n",
        "3. Candidate Report:",
        "{candidate}\n",
        "4. Reporting Your Assessment:\n",
        "Follow this specific format for your output, even if no errors are found:",
        "```",
        "[Explanation]:",
        "<Explanation>\n",
        "[Clinically Significant Errors]:",
        "(a) <Error Type>: <The number of errors>. <Error 1>; <Error 2>; ...; <Error n>",
        "....",
        "(f) <Error Type>: <The number of errors>. <Error 1>; <Error 2>; ...; <Error n>\n",
        "[Clinically Insignificant Errors]:",
        "(a) <Error Type>: <The number of errors>. <Error 1>; <Error 2>; ...; <Error n>",
        "....",
        "(f) <Error Type>: <The number of errors>. <Error 1>; <Error 2>; ...; <Error n>\n",
        "[Matched Findings]:",
        "<The number of matched findings>. <Finding 1>; <Finding 2>; ...; <Finding n>",
        "```\n",
    ]
)


def make_prompt(reference: str, candidate: str) -> str:
    """GREEN's prompt for one pair (each report cut to its first 300 words)."""
    cut = [" ".join(text.split()[:MAX_WORDS]) for text in (reference, candidate)]
    return INSTRUCTION.replace("{reference}", cut[0], 1).replace("{candidate}", cut[1], 1)


def clean_response(text: str) -> str:
    """The assessment part of a decoded sequence, as GREEN cuts it (see the module docstring)."""
    if "[Explanation]:" in text:
        if "<|assistant|>" in text:
            text = text.split("<|assistant|>")[-1]
        # GREEN tests for its format's first line; when present the part after the first marker is kept
        text = text.split("[Explanation]:")[1 if "[Explanation]:\n    <Explanation>\n" in text else -1]
    if "<|assistant|>" in text:
        text = text.split("<|assistant|>")[-1]
    return text.replace("</s>", "").replace("<unk>", "")


def _block(text: str, category: str) -> str | None:
    found = re.search(rf"\[{category}\]:\s*(.*?)(?:\n\s*\n|\Z)", text, re.DOTALL)
    return found.group(1) if found else None


def significant_errors(text: str) -> list[int]:
    """The six counts (a)..(f) of the "[Clinically Significant Errors]:" block (0 where absent)."""
    counts = [0] * len(SUBCATEGORIES)
    body = _block(text, "Clinically Significant Errors")
    if body is None or body.startswith("No"):
        return counts
    lines = sorted(re.findall(r"\([a-f]\) .*", body))
    markers = [f"({letter}) " for letter, _ in SUBCATEGORIES]
    if not lines:  # numbered markers instead of letters
        lines = sorted(re.findall(r"\([1-6]\) .*", body))
        markers = [f"({i}) " for i in range(1, len(SUBCATEGORIES) + 1)]
    for k, marker in enumerate(markers):
        for line in lines:
            if line.startswith(marker):
                number = re.search(r"(?<=: )\b\d+\b(?=\.)", line)
                if number:
                    counts[k] = int(number.group(0))  # the last line with this marker wins
    return counts


def matched_findings(text: str) -> int:
    """The number opening the first "N." line of the "[Matched Findings]:" block (0 where absent)."""
    body = _block(text, "Matched Findings")
    if body is None or body.startswith("No"):
        return 0
    counts = re.findall(r"^\b\d+\b(?=\.)", body, re.MULTILINE)
    return int(counts[0]) if counts else 0


def green_score(text: str) -> float:
    """GREEN of one assessment: matched / (matched + significant errors); 0 without a matched finding."""
    matched = matched_findings(text)
    return 0.0 if matched == 0 else matched / (matched + sum(significant_errors(text)))


def assessment_failure(text: str) -> str | None:
    """Why an assessment cannot be scored (a block GREEN's format always has is missing), or None."""
    missing = [c for c in ("Clinically Significant Errors", "Matched Findings") if _block(text, c) is None]
    if not missing:
        return None
    shown = " ".join(text.split())[:120]
    return f"no {' and no '.join(f'[{c}]:' for c in missing)} block in the model's assessment ({shown!r})"


def _config_add_bos(folder: Any) -> bool:
    """Whether the checkpoint's tokenizer adds BOS (`add_bos_token` in tokenizer_config.json; Llama's default: yes)."""
    import json
    from pathlib import Path

    path = Path(folder) / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return bool(config.get("add_bos_token", True))


def _check_special_tokens(tokenizer: Any, add_bos: bool, folder: Any, version: str) -> None:
    """GREEN was trained and published with prompts encoded as BOS + text + EOS (its tokenizer with
    `add_eos_token=True`). transformers 5 drops BOS when only `add_eos_token` is given, so both are passed; if this
    tokenizer still encodes otherwise, the prompts would silently differ from GREEN's: refuse."""
    ids = tokenizer("finding").input_ids
    bos_ok = not add_bos or (tokenizer.bos_token_id is not None and ids[:1] == [tokenizer.bos_token_id])
    if not bos_ok or tokenizer.eos_token_id is None or ids[-1:] != [tokenizer.eos_token_id]:
        raise XrayBenchError(
            f"green: the tokenizer of {folder} (transformers {version}) encodes 'finding' as {ids}: expected "
            f"{'BOS + text + EOS' if add_bos else 'text + EOS'} (bos {tokenizer.bos_token_id}, eos "
            f"{tokenizer.eos_token_id}), as GREEN encodes its prompts; its scores would not be GREEN's"
        )


def load_tokenizer(folder: Any, *, trust_remote_code: bool = False) -> Any:
    """The GREEN model's tokenizer as GREEN encodes its prompts: BOS + text + EOS (checked), left padding, pad = eos,
    GREEN's chat template. transformers 5 drops BOS when only `add_eos_token` is given, so both are passed."""
    transformers = require("transformers", "hf", "GREEN")
    add_bos = _config_add_bos(folder)
    tokenizer = transformers.AutoTokenizer.from_pretrained(
        folder, local_files_only=True, add_eos_token=True, add_bos_token=add_bos, use_fast=True,
        padding_side="left", trust_remote_code=trust_remote_code,
    )  # fmt: skip
    _check_special_tokens(tokenizer, add_bos, folder, transformers.__version__)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.pad_token = tokenizer.eos_token
    tokenizer.clean_up_tokenization_spaces = True
    return tokenizer


class GreenMetric:
    """`green` (mean GREEN) with the per-pair significant error counts by category and the matched findings."""

    name = "green"
    spec = MetricSpec(
        kinds=("report",),
        headline=("green",),
        options={"progress": "progress"},
        # the GREEN score and matched findings rise with a better report; error counts and failures fall
        directions={"green_errors_*": "lower", "green_failed": "lower"},
    )

    def __init__(
        self,
        model: str | None = None,
        device: str | None = None,
        batch_size: int = BATCH_SIZE,
        max_length: int = MAX_LENGTH,
        trust_remote_code: bool = False,
        progress: bool = True,
    ):
        torch = require("torch", "hf", "GREEN")
        transformers = require("transformers", "hf", "GREEN")
        folder = local_model_dir(
            "green", model, option="model", env=MODEL_ENV, default=DEFAULT_MODEL, fetch=fetch_command("green")
        )
        self.device = pick_device(device)
        self.torch, self.batch_size, self.max_length, self.progress = torch, batch_size, max_length, progress
        self.model_name = model or os.environ.get(MODEL_ENV) or DEFAULT_MODEL  # what results.json names
        dtype = torch.float32 if self.device == "cpu" else torch.float16
        self.model = transformers.AutoModelForCausalLM.from_pretrained(
            folder, local_files_only=True, dtype=dtype, trust_remote_code=trust_remote_code
        ).eval()
        self.model.to(self.device)
        self.tokenizer = load_tokenizer(folder, trust_remote_code=trust_remote_code)

    def assess(self, references: Sequence[str], candidates: Sequence[str]) -> list[str]:
        """The model's assessment of each (reference, candidate) pair, cleaned as GREEN cleans it."""
        torch, tok = self.torch, self.tokenizer
        prompts = [make_prompt(r, c) for r, c in zip(references, candidates, strict=True)]
        out: list[str] = []
        with progress_bar(len(prompts), "GREEN", enabled=self.progress) as advance:
            for start in range(0, len(prompts), self.batch_size):
                chats = [[{"from": "human", "value": p}, {"from": "gpt", "value": ""}]
                         for p in prompts[start : start + self.batch_size]]  # fmt: skip
                texts = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in chats]
                batch = tok(texts, return_tensors="pt", padding=True, truncation=True, max_length=self.max_length)
                with torch.inference_mode():
                    generated = self.model.generate(
                        input_ids=batch["input_ids"].to(self.device),
                        attention_mask=batch["attention_mask"].to(self.device),
                        eos_token_id=tok.eos_token_id,
                        pad_token_id=tok.pad_token_id,
                        max_length=self.max_length,
                        do_sample=False,
                    )
                out += [clean_response(t) for t in tok.batch_decode(generated, skip_special_tokens=True)]
                advance(len(chats))
        return out

    def score(self, samples: Sequence[Sample], predictions: Sequence[Prediction]) -> dict[str, Scores]:
        if len(samples) != len(predictions):
            raise ValueError(f"{len(samples)} samples but {len(predictions)} predictions")
        texts = self.assess([s.reference or "" for s in samples], [p.answer or "" for p in predictions])
        return scores_from_assessments(texts, [s.id for s in samples], self.model_name)


def scores_from_assessments(texts: Sequence[str], ids: Sequence[str], model: str) -> dict[str, Scores]:
    """`green`, `green_errors_{a..f}`, `green_matched_findings` and `green_failed` per pair from the assessments."""
    n = len(texts)
    values, matched, errors = np.full(n, np.nan), np.full(n, np.nan), np.full((n, len(SUBCATEGORIES)), np.nan)
    failed = np.zeros(n)
    failures: dict[str, str] = {}
    for i, text in enumerate(texts):
        why = assessment_failure(text)
        if why is not None:
            failed[i], failures[ids[i]] = 1.0, why
            continue
        values[i], matched[i], errors[i] = green_score(text), matched_findings(text), significant_errors(text)
    if failures:
        log.warning("green: %d of %d pairs failed (e.g. %s: %s)", len(failures), n, *next(iter(failures.items())))
    details: dict[str, Any] = {"model": model, "implementation": "RadEval GREEN (radeval 2.2.1) semantics",
                               "nan_means": "failed: no GREEN assessment (see green details.failures)"}  # fmt: skip
    out = {"green": nanmean_scores("green", values, failed=len(failures), failures=failures, **details)}
    for k, (letter, text) in enumerate(SUBCATEGORIES):
        name = f"green_errors_{letter}"
        out[name] = nanmean_scores(name, errors[:, k], category=text, significance="clinically significant", **details)
    out["green_matched_findings"] = nanmean_scores("green_matched_findings", matched, **details)
    out["green_failed"] = Scores.mean("green_failed", failed, meaning="share of pairs without a GREEN value")
    return out
