"""Builds the optional C beam search of native METEOR; everything else is in pyproject.toml.

`optional=True`: without a C compiler the install still succeeds and METEOR uses the Python beam search
(same values, slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "xraybench.metrics.meteor_native._align",
            ["xraybench/metrics/meteor_native/_align.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
