"""`xraybench render`: draw a prediction's boxes and step numbers on its X-ray, or a contact sheet."""

from __future__ import annotations

import argparse

from xraybench.config import add_arguments, from_namespace


def add_parser(parser: argparse.ArgumentParser) -> None:
    from xraybench.render import RenderConfig

    add_arguments(parser, RenderConfig)


def run(args: argparse.Namespace) -> int:
    from xraybench import api
    from xraybench.render import Rendering

    config = from_namespace(api.RenderConfig, args)
    result = api.render(config)
    if isinstance(result, Rendering):
        print(f"{len(result.boxes)} boxes; {result.space.describe()}")
        for box in result.flagged():
            print(f"  step {box.step} box {box.model_box}: {box.status}")
    else:
        print(f"{len(result)} cases: {', '.join(s.id for s, _ in result)}")
    print(f"wrote {config.out}")
    return 0
