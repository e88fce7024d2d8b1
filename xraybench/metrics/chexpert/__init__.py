"""Our offline CheXpert-style report labeler (14 observations, 1 / 0 / -1 / None per report)."""

from __future__ import annotations

from xraybench.metrics.chexpert.labeler import label_report, label_reports, normalise
from xraybench.metrics.chexpert.phrases import CHEXPERT_LABELS

__all__ = ["CHEXPERT_LABELS", "label_report", "label_reports", "normalise"]
