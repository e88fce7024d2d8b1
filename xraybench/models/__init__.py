"""Model-adapter registry. A new adapter = one module + one `register` line here.

Each target is a factory `(arg, options, context, generate) -> Model` declaring its options as `Options` (a
`ModelArgs` dataclass); see `xraybench.models.base`.
"""

from __future__ import annotations

from xraybench.models.base import Model, ModelArgs, ModelContext, build_options, options_class, split_spec
from xraybench.registry import Registry, has_members

# a target is a factory (a class or a function); plugins add adapters with `model.NAME` entry points
MODELS: Registry = Registry("model adapter", plugin_kind="model", check=has_members())
_r = MODELS.register
_r(
    "predictions",
    "xraybench.models.predictions:PredictionsFile",
    help="predictions:FILE — JSONL {id, prediction} or ReXrank JSON {study_id: {model_prediction}}",
)
_r(
    "baseline",
    "xraybench.models.baselines:make_baseline",
    help="baseline:normal | baseline:retrieval — weight-free CPU baselines built from the train split",
)
_r("hf", "xraybench.models.hf:HFModel", extra="hf", help="hf:PATH — transformers, batched, CPU/GPU (Qwen2.5-VL first)")
_r("vllm", "xraybench.models.vllm:VLLMModel", extra="vllm", help="vllm:PATH — vLLM offline engine")
_r(
    "openai",
    "xraybench.models.openai_compat:OpenAIModel",
    help="openai:MODEL — any OpenAI-compatible server (--api-base for vLLM, SGLang, Ollama)",
)
_r("litellm", "xraybench.models.litellm_model:LiteLLMModel", extra="judge", help="litellm:PROVIDER/MODEL")

__all__ = ["MODELS", "Model", "ModelArgs", "ModelContext", "build_options", "options_class", "split_spec"]
