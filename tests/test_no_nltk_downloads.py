"""Tests never download nltk data: in the test process `nltk.download` raises (tests/conftest.py), except inside
`xraybench.lazy.nltk_offline`, which answers from the installed data only."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_a_download_in_a_test_fails_loudly_and_nltk_offline_answers_locally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nltk = pytest.importorskip("nltk")
    from xraybench.lazy import nltk_offline

    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])  # nothing installed where nltk looks
    with pytest.raises(RuntimeError, match="tests never download"):
        nltk.download("punkt_tab", quiet=True)
    with nltk_offline():
        assert nltk.download("punkt_tab", quiet=True) is False  # not installed, not fetched
    with pytest.raises(RuntimeError, match="tests never download"):  # the guard is back afterwards
        nltk.download("punkt_tab", quiet=True)
