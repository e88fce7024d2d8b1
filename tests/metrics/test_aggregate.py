"""Paper-style aggregation: weighted averages across subsets, relative gains, shared helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xraybench.errors import XrayBenchError
from xraybench.metrics.aggregate import (
    check_aligned,
    nanmean_scores,
    relative_gain,
    relative_gains,
    resample_counts,
    weighted_average,
)
from xraybench.records import Prediction, Sample


def test_weighted_average_by_sample_count() -> None:
    # The paper's report subsets: MIMIC findings 1,906 / impression 1,927, OPEN-I 329 / 385.
    values = {"mimic_f": 0.30, "mimic_i": 0.28, "openi_f": 0.35, "openi_i": 0.40}
    counts = {"mimic_f": 1906, "mimic_i": 1927, "openi_f": 329, "openi_i": 385}
    expected = (0.30 * 1906 + 0.28 * 1927 + 0.35 * 329 + 0.40 * 385) / (1906 + 1927 + 329 + 385)
    assert weighted_average(values, counts) == pytest.approx(expected)
    assert weighted_average({"a": 0.5, "b": float("nan")}, {"a": 10, "b": 90}) == 0.5
    assert math.isnan(weighted_average({}, {}))
    with pytest.raises(XrayBenchError, match="no sample count"):
        weighted_average({"a": 0.5}, {})


def test_relative_gains() -> None:
    assert relative_gain(0.69, 0.44) == pytest.approx(0.25 / 0.44)
    assert math.isnan(relative_gain(0.5, 0.0))
    gains = relative_gains({"r1": {"vqa": 0.69, "x": 1.0}, "medgemma": {"vqa": 0.44}}, baseline="medgemma")
    assert gains == {"r1": {"vqa": pytest.approx(0.25 / 0.44)}, "medgemma": {"vqa": 0.0}}
    with pytest.raises(XrayBenchError, match="baseline"):
        relative_gains({"a": {}}, baseline="b")


def test_helpers() -> None:
    counts = resample_counts(np.array([[0, 0, 2], [1, 2, 2]]), 3)
    assert counts.tolist() == [[2, 0, 1], [0, 1, 2]]
    scores = nanmean_scores("m", [np.nan, np.nan])
    assert math.isnan(scores.value) and scores.details["n"] == 0
    s = [Sample("a", "t", "d", "test", "q", "r")]
    with pytest.raises(XrayBenchError, match="aligned"):
        check_aligned(s, [], "m")
    check_aligned(s, [Prediction("a", "t", "m", "", "")], "m")
