"""vllm:PATH — the vLLM offline engine, for fast batched generation on one or more GPUs.

vLLM batches internally, so the runner hands it large batches (`batch_size`, default 64). Prompts are made
with the checkpoint's own chat template (found the same way as for `hf:`), images go in as PIL images.
Sampling is seeded per sample id, so a resumed run samples what an uninterrupted one would have.
"""

from __future__ import annotations

import time
import zlib
from pathlib import Path
from typing import Any

from xraybench.errors import XrayBenchError
from xraybench.lazy import require
from xraybench.models.base import ModelContext, ModelOptions
from xraybench.models.images import image_options, input_size, load_image
from xraybench.records import Generation, Sample

ENGINE_OPTIONS = ("tensor_parallel_size", "max_model_len", "gpu_memory_utilization", "max_num_seqs", "enforce_eager")


class VLLMModel:
    """Options in `extra`: `tensor_parallel_size`, `max_model_len`, `gpu_memory_utilization`, `max_num_seqs`,
    `enforce_eager` (passed to `vllm.LLM`), `max_images` (per prompt, default 4), `batch_size`, `image_size` /
    `max_pixels`, `name`."""

    concurrency = 1

    def __init__(self, arg: str, options: ModelOptions, context: ModelContext | None = None):
        vllm = require("vllm", "vllm", "vllm: models")
        from xraybench.models.hf import chat_template

        path = Path(arg).expanduser()
        if not (path / "config.json").is_file():
            raise XrayBenchError(f"vllm:{arg}: expected a local checkpoint folder with config.json")
        self._vllm = vllm
        self.options = options
        self.context = context or ModelContext()
        self.name = str(options.extra.get("name") or path.name)
        self.batch_size = int(options.extra.get("batch_size", 64))
        self.image_kwargs = image_options(options.extra)
        engine: dict[str, Any] = {key: options.extra[key] for key in ENGINE_OPTIONS if key in options.extra}
        self.llm = vllm.LLM(
            model=str(path),
            dtype=options.dtype or "auto",
            seed=self.context.seed,
            limit_mm_per_prompt={"image": int(options.extra.get("max_images", 4))},
            **engine,
        )
        self.tokenizer = self.llm.get_tokenizer()
        self.template = chat_template(path, self.tokenizer)

    def _request(self, sample: Sample, prompt: str) -> dict[str, Any]:
        images = [load_image(p, sample.id, **self.image_kwargs).image for p in sample.image_paths]
        content = [{"type": "image"} for _ in images] + [{"type": "text", "text": prompt}]
        text = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": content}],
            chat_template=self.template,
            tokenize=False,
            add_generation_prompt=True,
        )
        request: dict[str, Any] = {"prompt": text}
        if images:
            request["multi_modal_data"] = {"image": images if len(images) > 1 else images[0]}
        return request

    def _sampling(self, sample: Sample) -> Any:
        opts = self.options
        if opts.temperature > 0:
            seed = (zlib.crc32(sample.id.encode()) + self.context.seed) % 2**31
            return self._vllm.SamplingParams(
                temperature=opts.temperature, top_p=opts.top_p, max_tokens=opts.max_new_tokens, seed=seed
            )
        return self._vllm.SamplingParams(temperature=0.0, max_tokens=opts.max_new_tokens)

    def generate(self, samples: list[Sample], prompts: list[str]) -> list[Generation]:
        if not samples:
            return []
        requests = [self._request(s, p) for s, p in zip(samples, prompts, strict=True)]
        start = time.perf_counter()
        outputs = self.llm.generate(requests, [self._sampling(s) for s in samples], use_tqdm=False)
        latency = (time.perf_counter() - start) / len(samples)  # each sample's share of the batch
        results = []
        for sample, out in zip(samples, outputs, strict=True):
            completion = out.outputs[0]
            results.append(
                Generation(
                    text=completion.text,
                    latency_s=latency,
                    prompt_tokens=len(out.prompt_token_ids or []),
                    completion_tokens=len(completion.token_ids),
                    finish_reason=completion.finish_reason,
                    input_size=input_size(sample.image_paths, sample.id, **self.image_kwargs),
                )
            )
        return results
