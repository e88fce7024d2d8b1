"""hf:PATH — a transformers checkpoint (Qwen2.5-VL family first), batched, on CPU or GPU.

The processor is assembled explicitly rather than trusted to `AutoProcessor`, which for Qwen2-VL-style
checkpoints (a) insists on a video processor that needs torchvision and (b) can silently hand back a bare
tokenizer, after which images are ignored. A checkpoint without a vision tower runs text-only.
"""

from __future__ import annotations

import functools
import json
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xraybench.errors import XrayBenchError
from xraybench.generate import GenerateConfig
from xraybench.lazy import require
from xraybench.models.base import ModelArgs, ModelContext, build_options, model_option
from xraybench.models.images import check_max_images, input_size, load_image
from xraybench.records import Generation, Sample

DTYPES = ("auto", "float32", "float16", "bfloat16")


@functools.cache
def _image_only_class(base: type) -> type:
    """`base` without its video slot; it keeps `base`'s name so checkpoints saved with it load anywhere."""

    def __init__(
        self: Any, image_processor: Any = None, tokenizer: Any = None, chat_template: Any = None, **kwargs: Any
    ) -> None:
        base.__init__(self, image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

    return type(
        base.__name__, (base,), {"__init__": __init__, "__module__": __name__, "__doc__": _image_only_class.__doc__}
    )


def image_only_processor(base: type, image_processor: Any, tokenizer: Any, chat_template: str | None) -> Any:
    """An instance of processor class `base` (e.g. `Qwen2_5_VLProcessor`) built from its parts, without video."""
    if "video_processor" not in base.get_attributes():
        return base(image_processor=image_processor, tokenizer=tokenizer, chat_template=chat_template)
    return _image_only_class(base)(image_processor=image_processor, tokenizer=tokenizer, chat_template=chat_template)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def chat_template(path: Path, tokenizer: Any) -> str | None:
    """The chat template wherever the checkpoint keeps it: chat_template.jinja, chat_template.json, tokenizer."""
    jinja = path / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    template = _read_json(path / "chat_template.json").get("chat_template")
    return template or getattr(tokenizer, "chat_template", None)


def load_processor(path: str | Path, *, vision: bool) -> Any:
    """The processor for a local checkpoint (a bare tokenizer when `vision` is False)."""
    transformers = require("transformers", "hf")
    root = Path(path)
    tokenizer = transformers.AutoTokenizer.from_pretrained(root)
    if not vision:
        return tokenizer
    config = {**_read_json(root / "preprocessor_config.json"), **_read_json(root / "processor_config.json")}
    class_name = config.get("processor_class") or getattr(tokenizer, "init_kwargs", {}).get("processor_class")
    base = getattr(transformers, str(class_name), None) if class_name else None
    if base is None or "video_processor" not in getattr(base, "get_attributes", list)():
        processor = transformers.AutoProcessor.from_pretrained(root)
        if not hasattr(processor, "image_processor"):
            raise XrayBenchError(
                f"{root}: the model has a vision tower but no image processor could be loaded"
                " (expected preprocessor_config.json / processor_config.json with processor_class)"
            )
        return processor
    image_processor = transformers.AutoImageProcessor.from_pretrained(root)
    return image_only_processor(base, image_processor, tokenizer, chat_template(root, tokenizer))


def check_loaded_keys(
    what: str | Path,
    missing: Any,
    unexpected: Any,
    mismatched: Any = (),
    errors: Any = (),
    *,
    refusing: str = "Refusing to evaluate a partly random model",
) -> None:
    """Refuse a load that left model tensors unset or checkpoint tensors unused: never a warning.

    transformers only logs these, then evaluates (or trains) a partly random model; its own tied weights and
    non-persistent buffers are never reported, so anything reported here is a real mismatch. `mismatched` holds
    `(key, checkpoint shape, model shape)` tuples as `from_pretrained(..., output_loading_info=True)` gives them.
    The trainer's resume and stage loads use it too (`refusing` says what is refused).
    """

    def some(keys: Any) -> str:
        names = sorted(map(str, keys))
        return f"{len(names)}: {', '.join(names[:4])}{', ...' if len(names) > 4 else ''}"

    shapes = sorted(
        f"{key} (checkpoint {list(saved)}, model {list(live)})" for key, saved, live in (tuple(m) for m in mismatched)
    )
    problems = [
        f"{label} {some(keys)}"
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("mismatched shape", shapes))
        if keys
    ]
    problems += [str(e).strip().splitlines()[0] for e in errors if str(e).strip()]
    if problems:
        raise XrayBenchError(
            f"{what}: the checkpoint's weights do not match the model's parameters ({'; '.join(problems)}; "
            "names as the model calls them); it was saved by another model or another transformers/peft layout, "
            f"or the weight files were edited. {refusing}"
        )


def load_model(auto: Any, path: Path, dtype: Any, device: str, *, what: str) -> Any:
    """`auto.from_pretrained(path)` on `device` (`auto`: spread by accelerate), with every key accounted for."""
    safetensors = require("safetensors", "hf", "hf: models")
    kwargs: dict[str, Any] = {"dtype": dtype, "output_loading_info": True, "ignore_mismatched_sizes": True}
    if device == "auto":
        kwargs["device_map"] = "auto"
    try:
        # ignore_mismatched_sizes: a shape mismatch then comes back in the loading info (reported with the other
        # keys below) instead of as a bare RuntimeError
        model, info = auto.from_pretrained(path, **kwargs)
    except (OSError, ValueError, RuntimeError, safetensors.SafetensorError) as exc:
        raise XrayBenchError(f"{what}: cannot load the model from {path}: {exc}") from exc
    weights = sorted(p.name for p in path.glob("*.safetensors*")) or sorted(p.name for p in path.glob("*.bin"))
    check_loaded_keys(
        what + (f" ({', '.join(weights[:3])}{', ...' if len(weights) > 3 else ''})" if weights else ""),
        info.get("missing_keys", ()),
        info.get("unexpected_keys", ()),
        info.get("mismatched_keys", ()),
        info.get("error_msgs", ()),
    )
    return model if device == "auto" else model.to(device)


def _dtype(torch: Any, name: str | None, device: str) -> Any:
    if name is None:
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if name not in DTYPES:
        raise XrayBenchError(f"unknown dtype {name!r} for hf:; choose one of {', '.join(DTYPES)}")
    return "auto" if name == "auto" else getattr(torch, name)


@dataclass(kw_only=True)
class HFOptions(ModelArgs):
    """`--model-arg` options of `hf:` (the display name is `--name`, default the checkpoint folder's name)."""

    device: str | None = model_option(help="cpu, cuda, cuda:N, or auto (spread over GPUs); default cuda if available")
    dtype: str | None = model_option(
        help="weights dtype (default bfloat16 on GPU, float32 on CPU)", identity=True, choices=DTYPES
    )
    batch_size: int | None = model_option(help="items per generate call (default 8 on GPU, 2 on CPU; --batch-size)")
    system_prompt: str | None = model_option(
        help="a system message before every prompt (through the checkpoint's chat template)", identity=True
    )
    max_images: int | None = model_option(
        help="images per prompt at most (a study's key view comes first; default every view)", identity=True
    )

    def __post_init__(self) -> None:
        check_max_images(self.max_images)


class HFModel:
    """Batched `generate` with left padding; greedy at temperature 0, seeded sampling otherwise. Options:
    `HFOptions`; decoding: the `GenerateConfig`; image sizing: the run's image policy in the context."""

    Options = HFOptions
    concurrency = 1

    def __init__(
        self,
        arg: str,
        options: HFOptions | Mapping[str, Any] | None = None,
        context: ModelContext | None = None,
        generate: GenerateConfig | None = None,
    ):
        self.options = opts = build_options(HFOptions, options, spec=f"hf:{arg}")
        torch = require("torch", "hf", "hf: models")
        transformers = require("transformers", "hf", "hf: models")
        path = Path(arg).expanduser()
        if not (path / "config.json").is_file():
            raise XrayBenchError(f"hf:{arg}: expected a local checkpoint folder with config.json")
        self._torch = torch
        self.decoding = generate or GenerateConfig()
        self.context = context or ModelContext()
        self.name = opts.name or path.name
        self.device = opts.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = opts.batch_size or (2 if self.device == "cpu" else 8)
        self.image_kwargs = self.context.image_kwargs()
        config = transformers.AutoConfig.from_pretrained(path)
        self.vision = getattr(config, "vision_config", None) is not None
        auto = transformers.AutoModelForImageTextToText if self.vision else transformers.AutoModelForCausalLM
        self.model = load_model(auto, path, _dtype(torch, opts.dtype, self.device), self.device, what=f"hf:{arg}")
        self.model.eval()
        self.processor = load_processor(path, vision=self.vision)
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._stop_ids = self._eos_ids()
        if opts.system_prompt and not self._has_chat_template():
            raise XrayBenchError(f"hf:{arg}: the checkpoint has no chat template, so it cannot take a system_prompt")

    def _eos_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    def _has_chat_template(self) -> bool:
        return getattr(self.processor, "chat_template", None) is not None or self.tokenizer.chat_template is not None

    def _text(self, prompt: str, n_images: int) -> str:
        if not self._has_chat_template():
            return prompt
        if self.vision:
            content: Any = [{"type": "image"} for _ in range(n_images)] + [{"type": "text", "text": prompt}]
        else:
            content = prompt
        messages = [{"role": "user", "content": content}]
        if self.options.system_prompt:
            messages.insert(0, {"role": "system", "content": self.options.system_prompt})
        return self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _inputs(self, samples: list[Sample], prompts: list[str]) -> Any:
        images = []
        texts = []
        for sample, prompt in zip(samples, prompts, strict=True):
            paths = sample.image_paths[: self.options.max_images] if self.vision else []  # key view first
            images.extend(load_image(p, sample.id, **self.image_kwargs).image for p in paths)
            texts.append(self._text(prompt, len(paths)))
        if self.vision:
            inputs = self.processor(text=texts, images=images or None, padding=True, return_tensors="pt")
        else:
            inputs = self.tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False)
        target = self.model.device if self.device == "auto" else self.device
        return inputs.to(target)

    def _decoding(self, samples: list[Sample]) -> dict[str, Any]:
        gen = self.decoding
        kwargs: dict[str, Any] = {"max_new_tokens": gen.max_tokens, "pad_token_id": self.tokenizer.pad_token_id}
        if gen.temperature > 0:
            kwargs.update(do_sample=True, temperature=gen.temperature, top_p=gen.top_p)
            # Seeded by the batch's ids, so a resumed run samples the same outputs as an uninterrupted one.
            key = "\n".join(s.id for s in samples).encode()
            self._torch.manual_seed((zlib.crc32(key) + gen.sampling_seed()) % 2**32)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if gen.stop_seqs:  # generation ends at a stop text; the text itself is cut off in `generate`
            kwargs.update(stop_strings=list(gen.stop_seqs), tokenizer=self.tokenizer)
        return kwargs

    def generate(self, samples: list[Sample], prompts: list[str]) -> list[Generation]:
        if not samples:
            return []
        start = time.perf_counter()
        inputs = self._inputs(samples, prompts)
        with self._torch.inference_mode():
            output = self.model.generate(**inputs, **self._decoding(samples))
        prompt_len = inputs["input_ids"].shape[1]
        latency = (time.perf_counter() - start) / len(samples)  # each sample's share of the batch
        prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist()
        results = []
        sizes = [input_size(s.image_paths, s.id, **self.image_kwargs) if self.vision else None for s in samples]
        for row, n_prompt, size in zip(output[:, prompt_len:].tolist(), prompt_tokens, sizes, strict=True):
            stop = next((i for i, tok in enumerate(row) if tok in self._stop_ids), None)
            tokens = row if stop is None else row[:stop]
            text, cut = cut_at_stop(self.tokenizer.decode(tokens, skip_special_tokens=True), self.decoding.stop_seqs)
            if cut and stop is None:  # a stop text ended it; the padding after it in the batch is not the answer's
                pad = self.tokenizer.pad_token_id
                tokens = tokens[: next((i for i, tok in enumerate(tokens) if tok == pad), len(tokens))]
            results.append(
                Generation(
                    text=text,
                    latency_s=latency,
                    prompt_tokens=int(n_prompt),
                    completion_tokens=len(tokens) + (0 if stop is None else 1),
                    finish_reason="stop" if stop is not None or cut else "length",
                    input_size=size,
                )
            )
        return results


def cut_at_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    """`text` up to the first stop text (left out, as OpenAI-compatible servers and vLLM leave it out)."""
    ends = [i for i in (text.find(s) for s in stops) if i >= 0]
    return (text[: min(ends)], True) if ends else (text, False)
