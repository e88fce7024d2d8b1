"""The report mutator: each error type changes what it says (checked with the offline labeler), neutral ones do not.

All reports here are written for these tests (MIMIC-like sections and IU X-ray-like sentences); no real text.
"""

from __future__ import annotations

import pytest

from arena.mutator import (
    CLINICAL_TYPES,
    ERROR_TYPES,
    POSITIVE_SENTENCES,
    NothingToMutate,
    applicable,
    apply_edits,
    labels_of,
    mutate,
    parse_report,
)
from xraybench.errors import XrayBenchError

MIMIC_EFFUSION = (
    "FINDINGS: There is a small right pleural effusion. There is no focal consolidation or pneumothorax. "
    "The heart size is normal.\nIMPRESSION: Small right pleural effusion."
)
MIMIC_NORMAL = (
    "FINDINGS: PA and lateral views of the chest were obtained. There is no focal consolidation, pleural effusion "
    "or pneumothorax. The cardiomediastinal silhouette is normal.\nIMPRESSION: No acute cardiopulmonary process."
)
MIMIC_PRIOR = (
    "FINDINGS: Moderate cardiomegaly is unchanged from the prior radiograph. There is mild pulmonary edema. "
    "Compared to the prior study, there is no significant interval change.\n"
    "IMPRESSION: 1. Mild pulmonary edema. 2. Moderate cardiomegaly."
)
IU_NORMAL = (
    "The heart is normal in size. The mediastinum is unremarkable. The lungs are clear. "
    "No pneumothorax or pleural effusion."
)
IU_ABNORMAL = (
    "The cardiac silhouette is enlarged. There is a moderate left pleural effusion. "
    "The lungs are clear without focal consolidation. There is no pneumothorax."
)
REPORTS = (MIMIC_EFFUSION, MIMIC_NORMAL, MIMIC_PRIOR, IU_NORMAL, IU_ABNORMAL)


def _changed(before: str, after: str) -> dict[str, tuple[int | None, int | None]]:
    a, b = labels_of(before), labels_of(after)
    return {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k) and k != "No Finding"}


def test_sentences_and_sections() -> None:
    report = parse_report(MIMIC_PRIOR)
    texts = [s.text for s in report.sentences]
    assert texts[0] == "Moderate cardiomegaly is unchanged from the prior radiograph."
    assert texts[-2:] == ["Mild pulmonary edema.", "Moderate cardiomegaly."]  # list numbers are not sentences
    assert {s.section for s in report.sentences} == {1, 2}
    assert all(MIMIC_PRIOR[s.start : s.end] == s.text for s in report.sentences)
    decimal = parse_report("A 1.5 cm nodule is seen in the left upper lobe. No effusion")
    assert [s.text for s in decimal.sentences] == ["A 1.5 cm nodule is seen in the left upper lobe.", "No effusion"]


@pytest.mark.parametrize("report", REPORTS)
@pytest.mark.parametrize("kind", ERROR_TYPES)
def test_deterministic_and_edits_reproduce_text(report: str, kind: str) -> None:
    try:
        first = mutate(report, kind, seed=3)
    except NothingToMutate:
        with pytest.raises(NothingToMutate):
            mutate(report, kind, seed=3)
        return
    assert mutate(report, kind, seed=3) == first
    assert first.text != report and first.original == report and first.kind == kind
    assert apply_edits(report, list(first.edits)) == first.text
    assert first.clinical == (kind in CLINICAL_TYPES) and first.change
    assert "  " not in first.text.replace("\n", " ")


@pytest.mark.parametrize("report", REPORTS)
@pytest.mark.parametrize("seed", range(4))
def test_neutral_changes_keep_labels(report: str, seed: int) -> None:
    for kind in ("filler", "paraphrase", "laterality", "severity", "comparison"):
        try:
            m = mutate(report, kind, seed)
        except NothingToMutate:
            continue
        assert _changed(report, m.text) == {}, (kind, m.text)
    filler = mutate(report, "filler", seed)
    assert len(filler.text) > len(report) * 1.2


@pytest.mark.parametrize("report", [MIMIC_EFFUSION, MIMIC_PRIOR, IU_ABNORMAL])
@pytest.mark.parametrize("seed", range(4))
def test_drop_finding_removes_a_positive(report: str, seed: int) -> None:
    m = mutate(report, "drop_finding", seed)
    assert labels_of(report)[m.observation] == 1
    assert labels_of(m.text).get(m.observation) != 1
    assert set(_changed(report, m.text)) == {m.observation}


def test_drop_finding_fills_an_emptied_section() -> None:
    m = mutate(MIMIC_EFFUSION, "drop_finding", 0)
    assert m.text.startswith("FINDINGS: There is no focal consolidation or pneumothorax. The heart size is normal.")
    assert m.text.endswith("IMPRESSION: No acute cardiopulmonary process.")


@pytest.mark.parametrize("report", REPORTS)
@pytest.mark.parametrize("seed", range(4))
def test_false_finding_adds_one_positive(report: str, seed: int) -> None:
    m = mutate(report, "false_finding", seed)
    assert m.observation not in labels_of(report)
    assert _changed(report, m.text) == {m.observation: (None, 1)}


@pytest.mark.parametrize("report", REPORTS)
@pytest.mark.parametrize("seed", range(4))
def test_flip_negation_flips_one_label(report: str, seed: int) -> None:
    m = mutate(report, "flip_negation", seed)
    before, after = labels_of(report)[m.observation], labels_of(m.text)[m.observation]
    assert {before, after} == {0, 1}
    assert set(_changed(report, m.text)) == {m.observation}


def test_flip_negation_takes_one_item_out_of_a_list() -> None:
    seen = {mutate(MIMIC_NORMAL, "flip_negation", seed).observation for seed in range(12)}
    assert seen <= {"Consolidation", "Pleural Effusion", "Pneumothorax"} and len(seen) >= 2
    m = mutate(IU_NORMAL, "flip_negation", 0)
    assert "No pneumothorax" in m.text or "No pleural effusion" in m.text


def test_laterality_swaps_the_finding_everywhere() -> None:
    m = mutate(MIMIC_EFFUSION, "laterality", 0)
    assert m.text.count("left") == 2 and "right" not in m.text
    assert mutate(IU_ABNORMAL, "laterality", 0).text.count("moderate right pleural effusion") == 1


def test_severity_swaps_keep_case() -> None:
    m = mutate(MIMIC_EFFUSION, "severity", 0)
    assert "There is a large right pleural effusion." in m.text and "IMPRESSION: Large right" in m.text


def test_comparison_removed_when_present_added_when_absent() -> None:
    removed = {mutate(MIMIC_PRIOR, "comparison", seed).text for seed in range(8)}
    assert all(t.lower().count("prior") < MIMIC_PRIOR.lower().count("prior") for t in removed)
    added = mutate(IU_ABNORMAL, "comparison", 0)
    assert "prior study" in added.text and "prior" not in IU_ABNORMAL


def test_nothing_to_mutate_is_clear() -> None:
    with pytest.raises(NothingToMutate, match="drop_finding: the report states no positive finding"):
        mutate(IU_NORMAL, "drop_finding", 0)
    with pytest.raises(NothingToMutate, match="laterality"):
        mutate(IU_NORMAL, "laterality", 0)
    with pytest.raises(NothingToMutate, match="no sentence"):
        mutate("   ", "paraphrase", 0)
    with pytest.raises(XrayBenchError, match="unknown error type 'typo'"):
        mutate(IU_NORMAL, "typo", 0)
    assert set(applicable(IU_NORMAL)) == {"false_finding", "flip_negation", "comparison", "filler", "paraphrase"}


def test_positive_sentences_are_read_as_positive() -> None:
    for obs, sentences in POSITIVE_SENTENCES.items():
        for sentence in sentences:
            assert {k for k, v in labels_of(sentence).items() if v == 1} == {obs}, sentence


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        ("Compared to the prior study, there is a new small left pleural effusion. The heart size is normal.",
         "There is a new small left pleural effusion. The heart size is normal."),
        ("In comparison with the radiograph of 2 days ago, the moderate right pleural effusion has increased. "
         "No pneumothorax.", "The moderate right pleural effusion has increased. No pneumothorax."),
        ("Since the prior exam, there is mild pulmonary edema. The heart is normal in size.",
         "There is mild pulmonary edema. The heart is normal in size."),
        ("As compared to the previous radiograph, there is mild pulmonary edema. No focal consolidation.",
         "There is mild pulmonary edema. No focal consolidation."),
        ("When compared with ___, the heart is mildly enlarged.", "The heart is mildly enlarged."),
        ("Relative to the CT from ___, there is a small left pleural effusion.",
         "There is a small left pleural effusion."),
        ("Again seen is a moderate right pleural effusion. The heart size is normal.",
         "There is a moderate right pleural effusion. The heart size is normal."),
        ("A small left pleural effusion is again noted.", "A small left pleural effusion is noted."),
        ("Mild bibasilar atelectasis is redemonstrated.", "Mild bibasilar atelectasis is seen."),
        ("Stable mild cardiomegaly. No pleural effusion.", "Mild cardiomegaly. No pleural effusion."),
        ("Moderate cardiomegaly is unchanged since ___. The lungs are clear.",
         "Moderate cardiomegaly. The lungs are clear."),
        ("There is a small right pleural effusion. Compared to prior, there is no significant interval change.",
         "There is a small right pleural effusion."),
        ("EXAMINATION: Chest radiograph.\nCOMPARISON: Chest radiograph from ___.\nFINDINGS: Mild cardiomegaly.",
         "EXAMINATION: Chest radiograph.\nFINDINGS: Mild cardiomegaly."),
        ("There is mild cardiomegaly. Compared to the prior study, no change.", "There is mild cardiomegaly."),
        ("Unchanged appearance of the chest. There is mild cardiomegaly.", "There is mild cardiomegaly."),
        ("FINDINGS: There is mild cardiomegaly.\nCOMPARISON: ___.", "FINDINGS: There is mild cardiomegaly."),
    ],
)  # fmt: skip
def test_comparison_wordings_are_removed(report: str, expected: str) -> None:
    m = mutate(report, "comparison", 0)
    assert m.text == expected and m.change.startswith("removed comparison")
    assert apply_edits(report, list(m.edits)) == m.text
    assert _changed(report, m.text) == {}


def test_comparison_keeps_what_is_not_a_comparison() -> None:
    rotated = "Since the patient is rotated, the mediastinum appears widened. There is no pneumothorax."
    assert mutate(rotated, "comparison", 0).change.startswith("added comparison")
    none = "FINDINGS: There is mild cardiomegaly. No pleural effusion.\nCOMPARISON: None."
    added = mutate(none, "comparison", 0)
    assert added.change.startswith("added comparison") and added.text.endswith("COMPARISON: None.")


def test_comparison_refuses_when_the_comparison_cannot_go_cleanly() -> None:
    # the comparison is the predicate of a finding: removing it breaks the sentence; adding one could contradict it
    for report in ("The small left pleural effusion is unchanged. The heart size is normal.",
                   "Interval increase in the left pleural effusion. No pneumothorax."):  # fmt: skip
        with pytest.raises(NothingToMutate, match="comparison: the report compares with an earlier study"):
            mutate(report, "comparison", 0)


def test_the_mutator_lives_in_the_arena_only() -> None:
    """The arena-only mutator has one home, `arena.mutator`; the core keeps no copy."""
    import importlib.util

    assert importlib.util.find_spec("arena.mutator") is not None
    assert importlib.util.find_spec("xraybench.mutator") is None
