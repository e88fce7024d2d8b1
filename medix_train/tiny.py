"""`xraybench train init-tiny`: a tiny randomly initialised Qwen2.5-VL for tests, demos and CPU pipelines.

The builder lives in the core (`xraybench.testing.tiny_qwen_vl`, also used by the `hf:` adapter's tests), so the
trainer and the evaluator load one and the same checkpoint layout; this wrapper only reports what it wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xraybench.config import Seeded, option, shared_option


@dataclass
class InitTinyConfig(Seeded):
    """`xraybench train init-tiny`: where the tiny checkpoint goes and the seed of its weights."""

    out: str = option(help="output folder")
    seed: int = shared_option(Seeded, "seed", help="weights seed (same seed, same files)")


def init_tiny(out_dir: str | Path, seed: int = 0) -> list[Path]:
    """Write the tiny checkpoint (weights, config, tokenizer, processor, chat template) and list its files."""
    from xraybench.testing.tiny_qwen_vl import build_tiny_qwen2_5_vl

    out = build_tiny_qwen2_5_vl(out_dir, seed=seed)
    return sorted(p for p in out.iterdir() if p.is_file())
