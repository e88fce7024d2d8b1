"""`metric:findings`: the laterality, severity and comparison errors `metric:clinical` misses, on our own reports,
the mutator audit, and agreement on the hold-out half of our IU X-ray preference set (real reports)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.audit import AuditConfig, run_audit
from arena.judges import build_judge
from arena.prompt import ERROR_TYPES

REFERENCE = "Small left pleural effusion. Mild cardiomegaly. No pneumothorax."
CORRECT = "There is a small left pleural effusion. The heart is mildly enlarged. No pneumothorax is seen."
ERRORS = {
    "laterality": "Small right pleural effusion. Mild cardiomegaly. No pneumothorax.",
    "severity": "Large left pleural effusion. Mild cardiomegaly. No pneumothorax.",
    "comparison": "Small left pleural effusion, unchanged from the prior study. Mild cardiomegaly. No pneumothorax.",
}
MIRROR = {"A>>B": "B>>A", "A>B": "B>A", "tie": "tie", "B>A": "A>B", "B>>A": "A>>B"}


@pytest.mark.parametrize("kind", sorted(ERRORS))
def test_prefers_the_correct_report_where_clinical_labels_cannot_tell(kind: str) -> None:
    findings, clinical = build_judge("metric:findings"), build_judge("metric:clinical")
    decided = findings.decide(REFERENCE, CORRECT, ERRORS[kind]).parsed  # type: ignore[attr-defined]
    assert decided["verdict"] in ("A>B", "A>>B")
    assert not decided["errors_a"] and decided["errors_b"]
    assert {e["type"] for e in decided["errors_b"]} <= set(ERROR_TYPES)
    swapped = findings.decide(REFERENCE, ERRORS[kind], CORRECT).parsed  # type: ignore[attr-defined]
    assert swapped["verdict"] == MIRROR[decided["verdict"]]  # order-flip rate 0
    # the gap this judge closes: the labels agree, and the erroneous report keeps the reference's wording
    assert clinical.decide(REFERENCE, CORRECT, ERRORS[kind]).parsed["verdict"] in ("tie", "B>A")  # type: ignore[attr-defined]


def test_sides_are_read_per_device_and_no_change_is_not_a_negation() -> None:
    judge = build_judge("metric:findings")
    reference = "Right subclavian catheter tip in the SVC. Left PICC tip in the mid SVC. No change in the large hernia."
    swapped = "Left subclavian catheter tip in the SVC. Right PICC tip in the mid SVC. No change in the large hernia."
    same = "Right subclavian catheter tip is in the SVC. The left PICC tip is in the mid SVC. Stable large hernia."
    decided = judge.decide(reference, same, swapped).parsed  # type: ignore[attr-defined]
    assert decided["verdict"] in ("A>B", "A>>B")
    assert [e["type"] for e in decided["errors_b"]] == ["wrong_location", "wrong_location"]
    # "no change in the hernia" states a hernia: a report without one misses it
    dropped = judge.decide(reference, reference.replace(" No change in the large hernia.", ""), same).parsed  # type: ignore[attr-defined]
    assert any("hernia" in e["description"] for e in dropped["errors_a"])


def test_mutator_audit_finds_every_error_type(tmp_path: Path) -> None:
    config = AuditConfig(judge="metric:findings", task="demo_findings", out=str(tmp_path), bootstrap_rounds=50)
    by_type = {r["variant"].removeprefix("error:"): r for r in run_audit(config).data["error_types"]}
    assert {"laterality", "severity", "comparison"} <= set(by_type)
    assert all(r["prefer_correct"] == 1.0 for r in by_type.values()), {
        k: r["prefer_correct"] for k, r in by_type.items()
    }


def test_agreement_on_the_iu_holdout_pairs(shared_data: Path, tmp_path: Path) -> None:
    """The hold-out half of our IU preference set (docs/preferences.md), never used to build the judge."""
    config = AuditConfig(judge="metric:findings", preferences="iu-h11:holdout", out=str(tmp_path / "out"),
                         data_roots=[f"iu_xray={shared_data / 'iu_xray'}"], bootstrap_rounds=200,
                         metrics="metric:clinical")  # fmt: skip
    data = run_audit(config).data
    assert data["agreement"]["n"] == 46 and data["raters"] == ["h11"]
    assert data["agreement"]["value"] >= 0.85
    clinical = next(r for r in data["metrics"]["ranking"] if r["judge"] == "metric:clinical")
    assert clinical["agreement"]["value"] < 0.6  # the judge it improves on, same pairs
    written = json.loads((tmp_path / "out" / "agreement.json").read_text())
    assert written["agreement"] == data["agreement"]


def test_a_changed_text_is_refused_not_paired_with_old_ratings(shared_data: Path, tmp_path: Path) -> None:
    from arena.preference_sets import derive_pairs
    from xraybench.errors import DataFormatError

    csv_text = (shared_data / "iu_xray" / "indiana_reports.csv").read_text(encoding="utf-8")
    # uid 1407 is the reference of pair iu1407: one changed word in its findings must stop the derivation
    changed = csv_text.replace("Right lung base granuloma.", "Left lung base granuloma.", 1)
    assert changed != csv_text
    (tmp_path / "indiana_reports.csv").write_text(changed, encoding="utf-8")
    with pytest.raises(DataFormatError, match="id 'iu1407'.*differs from the one that was rated"):
        derive_pairs(tmp_path, "dev")
