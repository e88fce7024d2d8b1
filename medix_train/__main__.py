"""`python -m medix_train ...` = `xraybench train ...` (handy under `accelerate launch -m medix_train grpo ...`)."""

from __future__ import annotations

import sys

from xraybench.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
