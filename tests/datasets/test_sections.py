"""The MIMIC-style section parser on the heading variants found in real reports (texts invented)."""

from __future__ import annotations

import pytest

from xraybench.datasets.sections import is_notification, parse_report, split_sentences

STANDARD = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)

 INDICATION:  ___F with cough  // eval for pneumonia

 TECHNIQUE:  Chest PA and lateral

 COMPARISON:  ___

 FINDINGS:

 The lungs are clear without focal consolidation.  No pleural effusion or
 pneumothorax.  The cardiomediastinal silhouette is within normal limits.

 IMPRESSION:

 No acute cardiopulmonary process.
"""


def test_standard_report_sections() -> None:
    parsed = parse_report(STANDARD)
    assert parsed.findings == (
        "The lungs are clear without focal consolidation. No pleural effusion or pneumothorax. "
        "The cardiomediastinal silhouette is within normal limits."
    )
    assert parsed.impression == "No acute cardiopulmonary process."
    assert parsed.get("examination") == "CHEST (PA AND LAT)"
    assert parsed.get("indication") == "___F with cough // eval for pneumonia"
    assert parsed.get("technique") == "Chest PA and lateral"
    assert parsed.get("comparison") == "___"


def test_inline_headings_on_one_line() -> None:
    parsed = parse_report("FINDINGS: Heart size is normal. Lungs are clear. IMPRESSION: Normal chest.")
    assert parsed.findings == "Heart size is normal. Lungs are clear."
    assert parsed.impression == "Normal chest."


def test_lower_and_title_case_headings() -> None:
    parsed = parse_report("Findings: small left effusion.\nimpression: small effusion.\n")
    assert parsed.findings == "small left effusion."
    assert parsed.impression == "small effusion."


def test_heading_without_colon_on_its_own_line() -> None:
    parsed = parse_report("FINDINGS\nMild cardiomegaly.\n\nIMPRESSION\nCardiomegaly without edema.\n")
    assert parsed.findings == "Mild cardiomegaly."
    assert parsed.impression == "Cardiomegaly without edema."


def test_missing_findings_only_impression() -> None:
    parsed = parse_report("FINAL REPORT\nINDICATION: Fever.\n\nIMPRESSION: No pneumonia.\n")
    assert parsed.findings is None
    assert parsed.impression == "No pneumonia."


def test_conclusion_is_impression() -> None:
    parsed = parse_report("FINDINGS: Low lung volumes.\nCONCLUSION: Low lung volumes, no focal opacity.")
    assert parsed.impression == "Low lung volumes, no focal opacity."


def test_impressions_plural() -> None:
    assert parse_report("IMPRESSIONS: Stable.").impression == "Stable."


def test_findings_and_impression_serves_both() -> None:
    parsed = parse_report("INDICATION: Chest pain.\nFINDINGS AND IMPRESSION: No acute process.\n")
    assert parsed.findings == "No acute process."
    assert parsed.impression == "No acute process."
    assert "impression" not in parsed.sections


def test_findings_and_impression_ampersand_and_slash() -> None:
    assert parse_report("FINDINGS & IMPRESSION: Clear lungs.").impression == "Clear lungs."
    assert parse_report("FINDINGS/IMPRESSION: Clear lungs.").findings == "Clear lungs."


def test_separate_sections_win_over_combined() -> None:
    parsed = parse_report("FINDINGS AND IMPRESSION: Combined.\nIMPRESSION: Separate impression.")
    assert parsed.impression == "Separate impression."
    assert parsed.findings == "Combined."


def test_view_heading_is_findings_when_no_findings_heading() -> None:
    report = (
        "HISTORY: Shortness of breath.\n\nPA AND LATERAL VIEWS OF THE CHEST: The heart is mildly enlarged. "
        "There is no effusion.\n\nIMPRESSION: Mild cardiomegaly."
    )
    parsed = parse_report(report)
    assert parsed.findings == "The heart is mildly enlarged. There is no effusion."
    assert parsed.impression == "Mild cardiomegaly."
    assert parsed.get("indication") == "Shortness of breath."


@pytest.mark.parametrize(
    "heading", ["CHEST (PORTABLE AP)", "CHEST, TWO VIEWS", "SINGLE FRONTAL VIEW OF THE CHEST", "AP UPRIGHT RADIOGRAPH"]
)
def test_view_heading_variants(heading: str) -> None:
    assert parse_report(f"{heading}: Lines and tubes unchanged.").findings == "Lines and tubes unchanged."


def test_explicit_findings_beat_view_heading() -> None:
    parsed = parse_report("PORTABLE AP CHEST: Film quality limited.\nFINDINGS: No pneumothorax.")
    assert parsed.findings == "No pneumothorax."


def test_wet_read_before_final_report_is_ignored() -> None:
    report = (
        "WET READ: ___ ___ 10:27 AM\n  Possible left lower lobe pneumonia. IMPRESSION: wet impression\n"
        " ______________________________________________________________________________\n"
        "                                 FINAL REPORT\n IMPRESSION: Left lower lobe pneumonia.\n"
    )
    parsed = parse_report(report)
    assert parsed.impression == "Left lower lobe pneumonia."
    assert parsed.get("wet_read") is not None
    assert parsed.get("wet_read").startswith("___ ___ 10:27 AM Possible left lower lobe pneumonia.")
    assert "____" not in parsed.get("wet_read")


def test_notification_heading_is_split_off() -> None:
    report = "IMPRESSION: Right pneumothorax.\n\nNOTIFICATION: Discussed with Dr. ___ at 09:30 on ___."
    parsed = parse_report(report)
    assert parsed.impression == "Right pneumothorax."
    assert parsed.get("notification") == "Discussed with Dr. ___ at 09:30 on ___."


def test_inline_notification_heading() -> None:
    parsed = parse_report("IMPRESSION: Small effusion. NOTIFICATION: Dr. ___ was paged at 14:00.")
    assert parsed.impression == "Small effusion."


def test_trailing_notification_sentence_moved_out() -> None:
    report = (
        "IMPRESSION: New right upper lobe opacity concerning for pneumonia. These findings were "
        "discussed with Dr. ___ by telephone at 10:20 a.m. on ___, at the time of discovery."
    )
    parsed = parse_report(report)
    assert parsed.impression == "New right upper lobe opacity concerning for pneumonia."
    assert parsed.get("notification").startswith("These findings were discussed with Dr. ___")


def test_notification_sentence_in_findings() -> None:
    report = (
        "FINDINGS: Endotracheal tube is too low. Findings communicated to ___ by ___ at 8:00.\nIMPRESSION: Low tube."
    )
    parsed = parse_report(report)
    assert parsed.findings == "Endotracheal tube is too low."


def test_deidentification_tokens_kept() -> None:
    parsed = parse_report("FINDINGS: Compared to ___, the ___ line is unchanged.")
    assert parsed.findings == "Compared to ___, the ___ line is unchanged."


def test_unknown_caps_heading_ends_previous_section() -> None:
    parsed = parse_report("FINDINGS: Clear lungs.\nSUPPORT DEVICES: Right PICC ends in the SVC.\nIMPRESSION: Normal.")
    assert parsed.findings == "Clear lungs."
    assert parsed.get("support_devices") == "Right PICC ends in the SVC."


def test_mixed_case_label_inside_text_is_not_a_heading() -> None:
    parsed = parse_report("FINDINGS: Clear lungs.\nLeft base: minimal atelectasis.\nIMPRESSION: Normal.")
    assert parsed.findings == "Clear lungs. Left base: minimal atelectasis."


def test_times_and_numbered_lists_are_not_headings() -> None:
    parsed = parse_report("IMPRESSION:\n1. Stable effusion at 10:30.\n2. No pneumothorax.")
    assert parsed.impression == "1. Stable effusion at 10:30. 2. No pneumothorax."


def test_repeated_section_is_concatenated() -> None:
    parsed = parse_report("IMPRESSION: First part.\nCOMPARISON: None.\nIMPRESSION: Second part.")
    assert parsed.impression == "First part. Second part."


def test_recommendation_after_impression() -> None:
    parsed = parse_report("IMPRESSION: Nodule.\nRECOMMENDATION(S): Chest CT in 3 months.")
    assert parsed.impression == "Nodule."
    assert parsed.get("recommendation") == "Chest CT in 3 months."


def test_report_without_headings_has_no_sections() -> None:
    parsed = parse_report("The lungs are clear. No effusion.")
    assert parsed.findings is None and parsed.impression is None


def test_empty_section_is_none() -> None:
    parsed = parse_report("FINDINGS:\n\nIMPRESSION: Normal.")
    assert parsed.findings is None
    assert parsed.impression == "Normal."


def test_section_accessor() -> None:
    parsed = parse_report(STANDARD)
    assert parsed.section("findings") == parsed.findings
    assert parsed.section("impression") == parsed.impression
    assert parsed.section("technique") == "Chest PA and lateral"


def test_sentence_split_keeps_doctor_abbreviation() -> None:
    assert split_sentences("Told Dr. ___ at noon. Lungs clear.") == ["Told Dr. ___ at noon.", "Lungs clear."]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Findings were discussed with Dr. ___ at 10:00.", True),
        ("Results were telephoned to the ordering physician.", True),
        ("Dr. ___ was paged.", True),
        ("The so-called bat wing pattern is absent.", False),
        ("Small left pleural effusion.", False),
        ("Findings discussed in the tumor board.", False),
    ],
)
def test_is_notification(sentence: str, expected: bool) -> None:
    assert is_notification(sentence) is expected
