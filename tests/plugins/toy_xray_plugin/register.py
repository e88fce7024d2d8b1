"""A registration function: a bare entry point (`toy_xray_plugin = ...:register`) runs it once, and its lines
are the same registration lines xraybench's own registries use."""

from __future__ import annotations


def register() -> None:
    from xraybench.metrics import METRICS

    METRICS.register("toy_chars", "toy_xray_plugin.metric:CharCount", help="characters per answer (toy plugin)")
