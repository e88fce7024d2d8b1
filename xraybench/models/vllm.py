"""vllm:PATH — the vLLM offline engine, for fast batched generation on one or more GPUs.

vLLM batches internally, so the runner hands it large batches (`batch_size`, default 64). Prompts are made
with the checkpoint's own chat template (found the same way as for `hf:`), images go in as PIL images.
Sampling is seeded per sample id, so a resumed run samples what an uninterrupted one would have.
"""

from __future__ import annotations

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

ENGINE_OPTIONS = ("tensor_parallel_size", "max_model_len", "gpu_memory_utilization", "max_num_seqs", "enforce_eager")


@dataclass(kw_only=True)
class VLLMOptions(ModelArgs):
    """`--model-arg` options of `vllm:`; those in `ENGINE_OPTIONS` go to `vllm.LLM` when given."""

    dtype: str | None = model_option(help="weights dtype (vLLM's, default auto)", identity=True)
    batch_size: int = model_option(64, help="items handed to the engine at once (--batch-size)")
    max_images: int = model_option(4, help="images per prompt at most (a study's key view first)", identity=True)
    tensor_parallel_size: int | None = model_option(help="GPUs one model is split over")
    max_model_len: int | None = model_option(help="context length (prompt + answer)", identity=True)
    gpu_memory_utilization: float | None = model_option(help="share of each GPU's memory vLLM may take")
    max_num_seqs: int | None = model_option(help="sequences decoded at once")
    enforce_eager: bool | None = model_option(help="no CUDA graphs (slower, less memory)")
    system_prompt: str | None = model_option(
        help="a system message before every prompt (through the checkpoint's chat template)", identity=True
    )

    def __post_init__(self) -> None:
        check_max_images(self.max_images)


class VLLMModel:
    """The vLLM engine. Options: `VLLMOptions`; decoding: the `GenerateConfig`; image sizing: the run's image
    policy in the context."""

    Options = VLLMOptions
    concurrency = 1

    def __init__(
        self,
        arg: str,
        options: VLLMOptions | Mapping[str, Any] | None = None,
        context: ModelContext | None = None,
        generate: GenerateConfig | None = None,
    ):
        self.options = opts = build_options(VLLMOptions, options, spec=f"vllm:{arg}")
        vllm = require("vllm", "vllm", "vllm: models")
        from xraybench.models.hf import chat_template

        path = Path(arg).expanduser()
        if not (path / "config.json").is_file():
            raise XrayBenchError(f"vllm:{arg}: expected a local checkpoint folder with config.json")
        self._vllm = vllm
        self.decoding = generate or GenerateConfig()
        self.context = context or ModelContext()
        self.name = opts.name or path.name
        self.batch_size = opts.batch_size
        self.image_kwargs = self.context.image_kwargs()
        self.max_images = opts.max_images
        engine = {key: getattr(opts, key) for key in ENGINE_OPTIONS if getattr(opts, key) is not None}
        self.llm = vllm.LLM(
            model=str(path),
            dtype=opts.dtype or "auto",
            seed=self.decoding.sampling_seed(),
            limit_mm_per_prompt={"image": opts.max_images},
            **engine,
        )
        self.tokenizer = self.llm.get_tokenizer()
        self.template = chat_template(path, self.tokenizer)

    def _request(self, sample: Sample, prompt: str) -> dict[str, Any]:
        # a study with more views than the engine takes gets its first ones: loaders put the key (frontal) view
        # first, so a single-image model sees the key image (ReXrank's rule)
        paths = sample.image_paths[: self.max_images]
        images = [load_image(p, sample.id, **self.image_kwargs).image for p in paths]
        content = [{"type": "image"} for _ in images] + [{"type": "text", "text": prompt}]
        system = [{"role": "system", "content": self.options.system_prompt}] if self.options.system_prompt else []
        text = self.tokenizer.apply_chat_template(
            [*system, {"role": "user", "content": content}],
            chat_template=self.template,
            tokenize=False,
            add_generation_prompt=True,
        )
        request: dict[str, Any] = {"prompt": text}
        if images:
            request["multi_modal_data"] = {"image": images if len(images) > 1 else images[0]}
        return request

    def _sampling(self, sample: Sample) -> Any:
        gen = self.decoding
        stop = {"stop": list(gen.stop_seqs)} if gen.stop_seqs else {}  # vLLM leaves the stop text out
        if gen.temperature > 0:
            seed = (zlib.crc32(sample.id.encode()) + gen.sampling_seed()) % 2**31
            return self._vllm.SamplingParams(
                temperature=gen.temperature, top_p=gen.top_p, max_tokens=gen.max_tokens, seed=seed, **stop
            )
        return self._vllm.SamplingParams(temperature=0.0, max_tokens=gen.max_tokens, **stop)

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
