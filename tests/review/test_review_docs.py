"""docs/review.md explains every way `review create` is told where the data is and how to load it."""

from __future__ import annotations

from pathlib import Path

import pytest

from xraybench.cli import main
from xraybench.config import DATA_SOURCE_FLAGS

DOC = Path(__file__).resolve().parents[2] / "docs" / "review.md"


def test_every_data_source_flag_of_review_create_is_documented(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["review", "create", "--help"])
    help_text = capsys.readouterr().out
    text = DOC.read_text(encoding="utf-8")
    for flag in DATA_SOURCE_FLAGS:
        assert flag in help_text  # what the command really takes
        assert f"`{flag} NAME" in text, f"{DOC.name} does not explain {flag}"
    assert "`--data-option NAME.KEY=VALUE`" in text
