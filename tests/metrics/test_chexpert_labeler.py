"""Tests of the offline CheXpert-style labeler and of `xraybench label`.

Evaluation-set scoring (`test_eval_set_micro_f1`): for every record and each of the 13 observations
other than No Finding, the gold and predicted values are compared as mention classes. A value of 1, 0
or -1 is a mention of that class; blank is no mention. For each class c in {1, 0, -1}: TP = pred == c
and gold == c; FP = pred == c and gold != c; FN = gold == c and pred != c. Micro-F1 pools TP/FP/FN over
the three classes and all observations: 2 TP / (2 TP + FP + FN). A blank/blank pair counts nowhere.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from xraybench.errors import DataFormatError
from xraybench.metrics.chexpert import CHEXPERT_LABELS, label_report, label_reports

EVAL = Path(__file__).parent / "chexpert_eval" / "gold.jsonl"
OBSERVATIONS = CHEXPERT_LABELS[:13]


def _records() -> list[dict]:
    return [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line.strip()]


def mention_counts(gold: dict[str, int], pred: list[int | None]) -> tuple[int, int, int]:
    tp = fp = fn = 0
    for i, name in enumerate(OBSERVATIONS):
        g, p = gold.get(name), pred[i]
        for c in (1, 0, -1):
            tp += p == c and g == c
            fp += p == c and g != c
            fn += g == c and p != c
    return tp, fp, fn


def test_eval_set_is_large_and_varied() -> None:
    records = _records()
    assert len(records) >= 300
    groups = {r["group"] for r in records}
    assert {"negation", "uncertainty", "scope", "double_negation", "synonyms", "mimic_style_report"} <= groups
    values = [v for r in records for v in r["labels"].values()]
    assert values.count(-1) >= 50 and values.count(0) >= 100 and values.count(1) >= 100
    for r in records:
        assert set(r["labels"]) <= set(OBSERVATIONS), r
        assert set(r["labels"].values()) <= {1, 0, -1}, r


def test_eval_set_micro_f1() -> None:
    tp = fp = fn = 0
    for record in _records():
        a, b, c = mention_counts(record["labels"], label_report(record["text"]))
        tp, fp, fn = tp + a, fp + b, fn + c
    f1 = 2 * tp / (2 * tp + fp + fn)
    assert f1 >= 0.90, f"micro-F1 {f1:.4f} (tp={tp}, fp={fp}, fn={fn})"


@pytest.mark.parametrize("group", ["negation", "uncertainty", "scope", "double_negation", "synonyms"])
def test_eval_set_micro_f1_per_group(group: str) -> None:
    tp = fp = fn = 0
    for record in (r for r in _records() if r["group"] == group):
        a, b, c = mention_counts(record["labels"], label_report(record["text"]))
        tp, fp, fn = tp + a, fp + b, fn + c
    assert 2 * tp / (2 * tp + fp + fn) >= 0.85


CUES_COVERED = [
    "no ", "without", "free of", "negative for", "resolved", "clear of", "may", "possible", "cannot be excluded",
    "not excluded", "likely", "suggestive of", "versus", "differential includes", "questionable", "concerning for",
    "not ruled out", "cannot exclude", "resolution of", "no change", "but", "however", "although", "neither",
]  # fmt: skip


@pytest.mark.parametrize("cue", CUES_COVERED)
def test_eval_set_covers_cue(cue: str) -> None:
    assert any(cue in r["text"].lower() for r in _records()), cue


def labels_of(text: str) -> dict[str, int]:
    return {name: v for name, v in zip(CHEXPERT_LABELS, label_report(text), strict=True) if v is not None}


TRICKY: list[tuple[str, dict[str, int]]] = [
    # lists: one negation covers every item until the clause ends
    ("No effusion or pneumothorax.", {"Pleural Effusion": 0, "Pneumothorax": 0}),
    ("No focal consolidation, pleural effusion, pneumothorax or pulmonary edema is seen.",
     {"Consolidation": 0, "Pleural Effusion": 0, "Pneumothorax": 0, "Edema": 0}),
    # scope ends at "but", "however", a verb clause, "there", a new clause after a comma
    ("No effusion, but there is atelectasis.", {"Pleural Effusion": 0, "Atelectasis": 1}),
    ("No pneumothorax; however, a small effusion is present.", {"Pneumothorax": 0, "Pleural Effusion": 1}),
    ("No pneumothorax is seen and mild atelectasis is present.", {"Pneumothorax": 0, "Atelectasis": 1}),
    ("No pleural effusion, the heart is enlarged.", {"Pleural Effusion": 0, "Cardiomegaly": 1}),
    ("No effusion, stable mild cardiomegaly.", {"Pleural Effusion": 0, "Cardiomegaly": 1}),
    ("Mild edema without effusion.", {"Edema": 1, "Pleural Effusion": 0}),
    # pre-negation uncertainty and double negation
    ("Cannot exclude a small left effusion.", {"Pleural Effusion": -1}),
    ("Pneumonia cannot be excluded.", {"Pneumonia": -1}),
    ("A small pneumothorax is not excluded.", {"Pneumothorax": -1}),
    ("Pneumonia is not ruled out.", {"Pneumonia": -1}),
    ("Pneumothorax has been ruled out.", {"Pneumothorax": 0}),
    # pseudo-negation: the finding is still there
    ("No change in the small left effusion.", {"Pleural Effusion": 1}),
    ("No significant interval change in moderate cardiomegaly.", {"Cardiomegaly": 1}),
    ("The effusion has nearly resolved.", {"Pleural Effusion": 1}),
    ("The effusion has completely resolved.", {"Pleural Effusion": 0}),
    # uncertainty words and their direction
    ("Opacity is likely atelectasis.", {"Lung Opacity": 1, "Atelectasis": -1}),
    ("Atelectasis is likely.", {"Atelectasis": -1}),
    ("Atelectasis versus pneumonia.", {"Atelectasis": -1, "Pneumonia": -1}),
    ("Bilateral opacities, edema versus pneumonia.", {"Lung Opacity": 1, "Edema": -1, "Pneumonia": -1}),
    ("Opacity suggestive of pneumonia.", {"Lung Opacity": 1, "Pneumonia": -1}),
    ("No consolidation to suggest pneumonia.", {"Consolidation": 0, "Pneumonia": 0}),
    ("Questionable small pneumothorax.", {"Pneumothorax": -1}),
    ("Differential includes edema and infection.", {"Edema": -1, "Pneumonia": -1}),
    ("No effusion. Possible atelectasis.", {"Pleural Effusion": 0, "Atelectasis": -1}),
    # negation words
    ("The lungs are free of consolidation.", {"Lung Opacity": 0, "Consolidation": 0}),
    ("Negative for pneumothorax.", {"Pneumothorax": 0}),
    ("Interval resolution of the effusion.", {"Pleural Effusion": 0}),
    ("Pneumothorax is no longer visualized.", {"Pneumothorax": 0}),
    ("The NG tube has been removed.", {"Support Devices": 0, "No Finding": 1}),
    # normal statements
    ("Heart size is normal.", {"Cardiomegaly": 0, "No Finding": 1}),
    ("The heart is not enlarged.", {"Cardiomegaly": 0, "No Finding": 1}),
    ("Normal cardiomediastinal silhouette.", {"Enlarged Cardiomediastinum": 0, "Cardiomegaly": 0, "No Finding": 1}),
    ("Lungs are clear.", {"Lung Opacity": 0, "No Finding": 1}),
    ("Sharp costophrenic angles.", {"Pleural Effusion": 0, "No Finding": 1}),
    ("Borderline heart size.", {"Cardiomegaly": -1}),
    ("Heart size is upper limits of normal.", {"Cardiomegaly": 0, "No Finding": 1}),  # CheXpert: negative
    # synonyms
    ("The cardiac silhouette is mildly enlarged.", {"Cardiomegaly": 1}),
    ("Heart size is moderately to severely enlarged.", {"Cardiomegaly": 1}),
    ("Blunting of the left costophrenic angle.", {"Pleural Effusion": -1}),  # CheXpert: blunting is uncertain
    ("Bilateral pneumothoraces.", {"Pneumothorax": 1}),
    ("Left lower lobe collapse.", {"Atelectasis": 1}),
    ("Mild vascular congestion.", {"Edema": -1}),  # CheXpert: congestion is uncertain Edema
    ("Right upper lobe infiltrate.", {"Lung Opacity": 1}),
    ("Patchy airspace disease at the right base.", {"Lung Opacity": 1}),
    ("A 2 cm mass in the left upper lobe.", {"Lung Lesion": 1}),
    ("Right hydropneumothorax.", {"Pneumothorax": 1, "Pleural Effusion": 1}),
    ("Right PICC terminates in the SVC.", {"Support Devices": 1, "No Finding": 1}),
    ("ET tube 4 cm above the carina.", {"Support Devices": 1, "No Finding": 1}),
    ("Left chest wall pacemaker.", {"Support Devices": 1, "No Finding": 1}),
    ("Healed left rib fractures.", {"Fracture": 1}),
    ("Apical pleural thickening.", {"Pleural Other": 1}),
    ("Widened mediastinum.", {"Enlarged Cardiomediastinum": 1}),
    # look-alikes that are not mentions
    ("Small pericardial effusion.", {"No Finding": 1}),
    ("No mass effect.", {"No Finding": 1}),
    ("Subcutaneous edema of the chest wall.", {"No Finding": 1}),
    ("Ground-glass opacity.", {"Lung Opacity": 1}),
    # hedges inside a mention phrase
    ("The heart is possibly mildly enlarged.", {"Cardiomegaly": -1}),
    ("Heart size is probably enlarged, and there is a small effusion.", {"Cardiomegaly": -1, "Pleural Effusion": 1}),
    ("The mediastinum is questionably widened.", {"Enlarged Cardiomediastinum": -1}),
    # real IU X-ray wording (issue 14): a normal predicate governs its whole subject list
    ("Heart size and pulmonary vascular engorgement appear within limits of normal.", {"Edema": 0, "No Finding": 1}),
    ("Cardiomegaly with normal pulmonary vascularity.", {"Cardiomegaly": 1}),  # "normal" as an adjective
    ("No definite radiographic changes of pneumonia.", {"Pneumonia": 0}),
    # resolved findings are gone, resolving ones only possibly there
    ("The previously seen pneumonia has resolved.", {"Pneumonia": 0}),
    ("Resolving right lower lobe pneumonia.", {"Pneumonia": -1}),
    # infection words that name no pneumonia
    ("Calcified sequelae of prior granulomatous infection.", {"No Finding": 1}),
    ("Stable cavity, consistent with prior tuberculous infection.", {"No Finding": 1}),
    ("Please correlate clinically for pneumonia.", {"Pneumonia": -1}),
    # IU's de-identification turned every "likely" into XXXX
    ("Right lower lobe opacity XXXX representing pneumonia.", {"Lung Opacity": 1, "Pneumonia": -1}),
    # vascular wording: a sign of edema, uncertain unless negated (CheXpert's rule for congestion)
    ("Prominent pulmonary vascularity.", {"Edema": -1}),
    ("Mild cardiomegaly and central vascular congestion.", {"Cardiomegaly": 1, "Edema": -1}),
    ("No pulmonary vascular congestion.", {"Edema": 0, "No Finding": 1}),
    ("Cardiomegaly and pulmonary venous hypertension.", {"Cardiomegaly": 1, "Edema": -1}),
    ("Findings of mild volume overload.", {"Edema": -1}),
    # alternatives joined by or, and/or, a slash: each only possible (negated lists stay negated)
    ("Left basilar atelectasis or scarring.", {"Atelectasis": -1}),
    ("Left upper lobe atelectasis / infiltrate.", {"Atelectasis": -1, "Lung Opacity": -1}),
    ("Cardiomegaly and/or pericardial effusion.", {"Cardiomegaly": -1}),
    ("Right basilar infiltrate or atelectasis, and small bilateral pleural effusions.",
     {"Lung Opacity": -1, "Atelectasis": -1, "Pleural Effusion": 1}),
    ("No significant change in pneumothorax or right pleural fluid.", {"Pneumothorax": 1, "Pleural Effusion": 1}),
    ("Small left pleural effusion/hemothorax.", {"Pleural Effusion": 1}),  # both alternatives are effusions
    # a full stop glued to the next word still ends the sentence
    ("Increased right base atelectasis.Catheter may be outside the patient.", {"Atelectasis": 1, "Support Devices": -1}),
    # synonyms seen in real reports
    ("Small medial left upper lobe pleural air collection.", {"Pneumothorax": 1}),
    ("Moderate right-sided hemopneumothorax.", {"Pneumothorax": 1, "Pleural Effusion": 1}),
    ("Stable left-sided volume loss after thoracotomy.", {"No Finding": 1}),  # CheXpert: not atelectasis
    ("Mild heart failure.", {"Edema": 1}),
    # --- issue 14, second pass: wording studied on all 3,851 IU reports against their MeSH indexing ---
    # "or" makes only its nearest mention an alternative, not everything earlier in the clause
    ("Mild pulmonary edema and bibasilar atelectasis/airspace disease.",
     {"Edema": 1, "Atelectasis": -1, "Lung Opacity": -1}),
    ("Moderate bilateral pleural effusions with basilar atelectasis or consolidation.",
     {"Pleural Effusion": 1, "Atelectasis": -1, "Consolidation": -1}),
    # a post-negation reaches back over a comma list joined by "and"; a new clause after a comma stops it
    ("Consolidation, atelectasis, and blunting of the costophrenic angle at the left base have cleared.",
     {"Consolidation": 0, "Atelectasis": 0, "Pleural Effusion": 0}),
    ("Stable cardiomegaly, the effusion has resolved.", {"Cardiomegaly": 1, "Pleural Effusion": 0}),
    ("Stable cardiomegaly, small right effusion, and the left pneumothorax has resolved.",
     {"Cardiomegaly": 1, "Pleural Effusion": 1, "Pneumothorax": 0}),
    ("Cardiomegaly, small right effusion, and atelectasis has resolved.",  # singular verb: the last item
     {"Cardiomegaly": 1, "Pleural Effusion": 1, "Atelectasis": 0}),
    ("Heart size, vascular congestion, and pleural effusion are normal.", {"Edema": 0, "Pleural Effusion": 0}),
    # hedges written as a bare noun
    ("Cardiomegaly, question small bilateral effusions.", {"Cardiomegaly": 1, "Pleural Effusion": -1}),
    ("Suspicion for small bilateral pleural effusions.", {"Pleural Effusion": -1}),
    # IU's masked "likely" between a finding and the diagnosis it names; elsewhere XXXX is no hedge
    ("Streaky basilar opacities, XXXX subsegmental atelectasis.", {"Lung Opacity": 1, "Atelectasis": -1}),
    ("Left base opacity XXXX atelectasis.", {"Lung Opacity": 1, "Atelectasis": -1}),
    ("The appearance XXXX atelectasis.", {"Atelectasis": -1}),
    ("No XXXX consolidation.", {"Consolidation": 0}),
    ("Large right XXXX pneumothorax.", {"Pneumothorax": 1}),
    ("Moderate effusion and XXXX atelectasis.", {"Pleural Effusion": 1, "Atelectasis": 1}),
    # a sign the report itself settles: blunting with an explicit "no effusion" is no effusion
    ("Mild blunting of the right costophrenic angle without definite pleural effusion.", {"Pleural Effusion": 0}),
    ("Blunted left costophrenic angle. No pleural effusion on the lateral view.", {"Pleural Effusion": 0}),
    ("Vascular congestion without overt edema.", {"Edema": -1}),  # CheXpert's rule kept for Edema
    # a participle right after "or" is an adjective: the negation goes on
    ("No large effusion or visualized pneumothorax.", {"Pleural Effusion": 0, "Pneumothorax": 0}),
    ("Lungs are expanded and clear of airspace disease or consolidation.", {"Lung Opacity": 0, "Consolidation": 0}),
    # heart size wording
    ("Heart size XXXX mildly enlarged.", {"Cardiomegaly": 1}),
    ("The heart size is upper limits normal or mildly enlarged.", {"Cardiomegaly": -1}),
    ("Heart size upper limits normal.", {"Cardiomegaly": 0, "No Finding": 1}),
    ("Marked interval increase in heart size.", {"Cardiomegaly": 1}),
    # Kerley / septal lines are a sign of edema; a masslike opacity is a lesion, not a consolidation
    ("A few septal lines at the right base.", {"Edema": -1}),
    ("The pulmonary XXXX are engorged.", {"Edema": -1}),  # IU masked "vessels"
    ("The heart and pulmonary XXXX appear normal.", {"Cardiomegaly": 0, "No Finding": 1}),
    ("Large masslike opacity in the left upper lobe.", {"Lung Opacity": 1, "Lung Lesion": 1}),
    # "or" between two modifiers offers no alternative finding
    ("Improved consolidation at the right base with mild residual or recurrent pneumonia.",
     {"Consolidation": 1, "Pneumonia": 1}),
    # a hedge governs an "and" list it reaches through other words; right before "and" it looks back
    ("Streaky opacities at the left base possibly related to scarring and atelectasis.",
     {"Lung Opacity": 1, "Atelectasis": -1}),
    ("Atelectasis is likely and there is a small effusion.", {"Atelectasis": -1, "Pleural Effusion": 1}),
    # a full stop before an HTML entity or a bracket ends the sentence
    ("No effusion or pneumothorax.&gt;] Calcifications may reflect old granulomatous disease.",
     {"Pleural Effusion": 0, "Pneumothorax": 0}),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), TRICKY, ids=[t for t, _ in TRICKY])
def test_tricky_sentences(text: str, expected: dict[str, int]) -> None:
    got = labels_of(text)
    if "No Finding" not in expected:
        got.pop("No Finding", None)
    assert got == expected


def test_api_shape_and_order() -> None:
    assert CHEXPERT_LABELS[0] == "Enlarged Cardiomediastinum" and CHEXPERT_LABELS[-1] == "No Finding"
    assert len(CHEXPERT_LABELS) == 14
    out = label_report("Small left pleural effusion.")
    assert len(out) == 14 and out[CHEXPERT_LABELS.index("Pleural Effusion")] == 1
    assert all(v in (1, 0, -1, None) for v in out)
    assert label_reports(["No effusion.", "Effusion."]) == [label_report("No effusion."), label_report("Effusion.")]


def test_no_finding_rule() -> None:
    nf = CHEXPERT_LABELS.index("No Finding")
    assert label_report("")[nf] == 1
    assert label_report("No acute cardiopulmonary process.")[nf] == 1
    assert label_report("ET tube in place. No pneumothorax.")[nf] == 1  # support devices do not count
    assert label_report("Possible small effusion.")[nf] is None  # uncertain counts
    assert label_report("Mild cardiomegaly.")[nf] is None
    assert label_report("Mild cardiomegaly.\nHeart size is normal.")[CHEXPERT_LABELS.index("Cardiomegaly")] == 1


def test_aggregation_negative_plus_uncertain_is_uncertain() -> None:
    assert labels_of("No effusion on the right. Possible small left effusion.")["Pleural Effusion"] == -1
    assert labels_of("Possible effusion. Small left effusion.")["Pleural Effusion"] == 1


def test_sections_history_and_indication_are_ignored() -> None:
    report = (
        "INDICATION: History of pneumonia and pleural effusion, evaluate for pneumothorax.\n"
        "COMPARISON: Prior radiograph showed cardiomegaly.\n"
        "FINDINGS: The lungs are clear. No pneumothorax.\n"
        "IMPRESSION: No acute process."
    )
    assert labels_of(report) == {"Lung Opacity": 0, "Pneumothorax": 0, "No Finding": 1}
    inline = "History: fever. Findings: Right lower lobe consolidation. Impression: pneumonia"
    assert labels_of(inline) == {"Consolidation": 1, "Pneumonia": 1}
    assert labels_of("Clinical history: cough\nCOMPARISON: none") == {"No Finding": 1}


def test_case_hyphens_and_whitespace_do_not_matter() -> None:
    assert label_report("NO  PLEURAL\nEFFUSION.") == label_report("no pleural effusion.")
    assert labels_of("Plate-like atelectasis.") == {"Atelectasis": 1}


def test_throughput_is_reasonable() -> None:
    """A loose guard (the benchmark measures properly): well above 200 reports/s even on a loaded CI box."""
    import time

    reports = [r["text"] for r in _records()] * 3
    label_reports(reports[:5])
    start = time.perf_counter()
    label_reports(reports)
    assert len(reports) / (time.perf_counter() - start) > 200


# --- xraybench label -----------------------------------------------------------------------------


def _run_cli(reports: Path | None, out: Path | None, **eval_args: object) -> int:
    from xraybench.cli.label import run

    ns = {"eval": None, "id_column": None, "text_column": None, **eval_args}
    return run(argparse.Namespace(reports=reports, out=out, **ns))


def test_cli_csv_roundtrip(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    with src.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "Reports"])
        writer.writerow(["1", "No pleural effusion. Possible pneumonia, with a comma."])
        writer.writerow(["2", ""])
    out = tmp_path / "labels.csv"
    assert _run_cli(src, out) == 0
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["Reports", *CHEXPERT_LABELS]
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["Reports"] == "No pleural effusion. Possible pneumonia, with a comma."
    assert first["Pleural Effusion"] == "0.0" and first["Pneumonia"] == "-1.0" and first["Cardiomegaly"] == ""
    assert rows[2][-1] == "1.0"  # empty report: No Finding


def test_cli_text_file(tmp_path: Path) -> None:
    src = tmp_path / "reports.txt"
    src.write_text("Mild cardiomegaly.\nNo pneumothorax.\n")
    out = tmp_path / "labels.csv"
    assert _run_cli(src, out) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["Cardiomegaly"] for r in rows] == ["1.0", ""]
    assert [r["Pneumothorax"] for r in rows] == ["", "0.0"]


def test_cli_missing_column_names_file_and_line(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("id,report_text\n1,No effusion.\n")
    with pytest.raises(DataFormatError, match=r"bad\.csv:1.*'Reports' column.*id, report_text"):
        _run_cli(src, tmp_path / "o.csv")


def test_cli_short_row_names_the_row(tmp_path: Path) -> None:
    src = tmp_path / "short.csv"
    src.write_text("id,Reports\n1,No effusion.\n2\n")
    with pytest.raises(DataFormatError, match=r"short\.csv:3"):
        _run_cli(src, tmp_path / "o.csv")


def test_cli_as_module(tmp_path: Path) -> None:
    src = tmp_path / "r.txt"
    src.write_text("Small right pneumothorax.\n")
    out = tmp_path / "o.csv"
    done = subprocess.run(
        [sys.executable, "-m", "xraybench.cli.label", "--reports", str(src), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert list(csv.DictReader(out.open()))[0]["Pneumothorax"] == "1.0"
    missing = subprocess.run(
        [sys.executable, "-m", "xraybench.cli.label", "--reports", str(tmp_path / "nope.txt"), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 1 and "nope.txt" in missing.stderr


# --- the IU X-ray gold standard (real reports, labelled by us; texts joined at test time) -----------

IU_GOLD = Path(__file__).parent / "chexpert_eval" / "iu_gold_labels.csv"
IU_REPORTS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "iu_xray" / "indiana_reports.csv"
SEVEN = ("Cardiomegaly", "Edema", "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion")


def test_iu_gold_file_holds_labels_only_and_every_finding_has_positives() -> None:
    from xraybench.metrics.chexpert import evaluate

    rows = list(csv.DictReader(IU_GOLD.open()))
    assert list(rows[0]) == ["uid", "split", *SEVEN]  # ids and labels only: the texts stay in ../shared/data
    assert len(rows) == 300 and len({r["uid"] for r in rows}) == 300
    assert sum(r["split"] == "holdout" for r in rows) == 100 and {r["split"] for r in rows} == {"dev", "holdout"}
    gold = evaluate.read_gold(IU_GOLD)
    assert gold.observations == SEVEN and gold.key_column == "uid" and gold.ignored_columns == ("uid", "split")
    for split in ("dev", "holdout"):
        part = [r for r in rows if r["split"] == split]
        for name in SEVEN:
            assert sum(r[name] in ("1", "-1") for r in part) >= 5, (split, name)
            assert sum(r[name] == "1" for r in part) >= 2, (split, name)


def _iu_scores(split: str) -> dict:
    from xraybench.metrics.chexpert import evaluate

    if not IU_REPORTS.is_file():
        pytest.skip(f"real IU X-ray reports not found at {IU_REPORTS} (shared dev data)")
    gold = evaluate.read_gold(IU_GOLD)
    evaluate.attach_texts(gold, evaluate.read_report_texts(IU_REPORTS, "uid"))
    splits = {r["uid"]: r["split"] for r in csv.DictReader(IU_GOLD.open())}
    gold.rows = [r for r in gold.rows if splits[r.key] == split]
    return evaluate.score(gold)


# Floors a little under the measured values (docs/labeler.md): dev 0.991 / 0.996, hold-out 0.995 / 0.988
# (uncertain as positive / negative). The labeler before issue 14 scored dev 0.963 / 0.862 and hold-out
# 0.959 / 0.897; after the first pass 0.991 / 0.989 and 0.973 / 0.945.
IU_FLOORS = {("dev", "positive"): 0.98, ("dev", "negative"): 0.98, ("holdout", "positive"): 0.98, ("holdout", "negative"): 0.97}  # fmt: skip


@pytest.mark.parametrize(("split", "policy"), list(IU_FLOORS))
def test_iu_gold_micro_f1_floor(split: str, policy: str) -> None:
    result = _iu_scores(split)[policy]
    per = {k: round(v["f1"], 3) for k, v in result.per_observation.items()}
    assert result.micro["f1"] >= IU_FLOORS[split, policy], (result.micro, per)
    assert min(per.values()) >= 0.6, per


# --- agreement with the IU reports' own MeSH indexing (a noisy proxy, not a gold) ----------------
#
# Each IU report carries human MeSH terms ("Pneumonia/lower lobe/left", "Pulmonary Edema"). They are
# incomplete and index some hedged findings and not others, so they are only a second reference; the
# floors guard against the false positives issue 14 found on real wording (docs/labeler.md).

_MESH_POSITIVE = {"Pneumonia": ("Pneumonia",), "Edema": ("Pulmonary Edema", "Heart Failure")}
_MESH_UNCERTAIN = {"Edema": ("Pulmonary Congestion",)}  # CheXpert's rule: congestion is uncertain Edema


def _mesh_value(mesh: str, name: str) -> int | None:
    heads = {term.split("/")[0].strip() for term in mesh.split(";")}
    if heads.intersection(_MESH_POSITIVE[name]):
        return 1
    return -1 if heads.intersection(_MESH_UNCERTAIN.get(name, ())) else None


@functools.lru_cache(maxsize=1)
def _iu_rows_and_labels() -> tuple[list[dict[str, str]], list[list[int | None]]]:
    from xraybench.metrics.chexpert.evaluate import join_sections

    with IU_REPORTS.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return rows, label_reports([join_sections((r["findings"], r["impression"])) for r in rows])


def _mesh_f1(name: str, policy: str) -> float:
    if not IU_REPORTS.is_file():
        pytest.skip(f"real IU X-ray reports not found at {IU_REPORTS} (shared dev data)")
    rows, labels = _iu_rows_and_labels()
    index = CHEXPERT_LABELS.index(name)

    def positive(value: int | None) -> bool:
        return value == 1 or (value == -1 and policy == "positive")

    tp = fp = fn = 0
    for row, label in zip(rows, labels, strict=True):
        gold, pred = positive(_mesh_value(row["MeSH"], name)), positive(label[index])
        tp, fp, fn = tp + (gold and pred), fp + (pred and not gold), fn + (gold and not pred)
    return 2 * tp / (2 * tp + fp + fn)


# Measured 0.462 / 0.753 (Pneumonia) and 0.845 / 0.805 (Edema), uncertain as positive / negative; the
# labeler at the start of issue 14 gave 0.426 / 0.661 and 0.734 / 0.551.
MESH_FLOORS = {("Pneumonia", "positive"): 0.45, ("Pneumonia", "negative"): 0.74, ("Edema", "positive"): 0.83, ("Edema", "negative"): 0.78}  # fmt: skip


@pytest.mark.parametrize(("name", "policy"), list(MESH_FLOORS))
def test_iu_agreement_with_mesh_floor(name: str, policy: str) -> None:
    assert _mesh_f1(name, policy) >= MESH_FLOORS[name, policy]


# --- xraybench label --eval ---------------------------------------------------------------------

EVAL_TEXTS = {
    "1": "Mild cardiomegaly. Possible small left pleural effusion.",
    "2": "No pneumothorax. Right lower lobe pneumonia.",
    "3": "Heart size is normal. Lungs are clear.",
    "4": "Pulmonary vascular congestion.",
}


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_eval_chexpert_layout_with_text_column_scores_both_policies(tmp_path: Path) -> None:
    from xraybench.metrics.chexpert import evaluate

    # labeler: 1 -> CM 1, PE -1; 2 -> PX 0, PN 1; 3 -> CM 0; 4 -> Edema -1
    gold_rows = [
        ["Reports", "Cardiomegaly", "Pleural Effusion", "Pneumonia", "Edema"],
        [EVAL_TEXTS["1"], "1", "1", "", ""],  # PE: gold 1, labeler -1 -> TP when positive, FN when negative
        [EVAL_TEXTS["2"], "", "", "1.0", ""],
        [EVAL_TEXTS["3"], "1", "", "", "0"],  # CM: gold 1, labeler 0 -> FN under both
        [EVAL_TEXTS["4"], "", "", "", "-1"],  # Edema: -1/-1 -> TP when positive, nothing when negative
    ]
    gold = evaluate.read_gold(_write(tmp_path / "gold.csv", gold_rows))
    assert gold.layout == "chexpert" and gold.key_column is None
    res = evaluate.score(gold)
    pos, neg = res["positive"], res["negative"]
    assert pos.per_observation["Cardiomegaly"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2, "tp": 1, "fp": 0, "fn": 1}
    )
    assert pos.per_observation["Pleural Effusion"]["f1"] == 1.0 and neg.per_observation["Pleural Effusion"]["f1"] == 0.0
    assert pos.per_observation["Edema"]["tp"] == 1 and neg.per_observation["Edema"]["support"] == 0
    # micro, positive: tp = CM 1 + PE 1 + PN 1 + ED 1 = 4, fn = 1 (CM on report 3), fp = 0
    assert pos.micro == pytest.approx({"precision": 1.0, "recall": 0.8, "f1": 8 / 9})
    # micro, negative: tp = CM 1 + PN 1 = 2, fn = CM 1 + PE 1 = 2
    assert neg.micro == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3})
    out = tmp_path / "per_report.csv"
    assert _run_cli(None, out, eval=tmp_path / "gold.csv") == 0
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["Pleural Effusion (gold)"] == "1.0" and rows[0]["Pleural Effusion (labeler)"] == "-1.0"


def test_eval_negbio_layout_joins_reports_by_filename_stem(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    gold = _write(
        tmp_path / "negbio.csv",
        [["filename", "Cardiomegaly", "Effusion", "Pneumonia"]]
        + [[f"ecgen-radiology/{k}.xml", "1" if k == "1" else "0", "0", "1" if k == "2" else "0"] for k in EVAL_TEXTS],
    )
    reports = _write(
        tmp_path / "reports.csv", [["uid", "findings", "impression"]] + [[k, t, ""] for k, t in EVAL_TEXTS.items()]
    )
    assert _run_cli(reports, None, eval=gold) == 0
    shown = capsys.readouterr().out
    assert "4 gold reports (negbio layout, key filename)" in shown
    assert "uncertain_as=positive" in shown and "uncertain_as=negative" in shown
    from xraybench.metrics.chexpert import evaluate

    parsed = evaluate.read_gold(gold)
    assert parsed.observations == ("Cardiomegaly", "Pleural Effusion", "Pneumonia")  # NIH "Effusion"
    evaluate.attach_texts(parsed, evaluate.read_report_texts(reports, parsed.key_column or ""))
    assert [r.text for r in parsed.rows] == list(EVAL_TEXTS.values())  # matched by stem: "…/2.xml" -> "2"
    res = evaluate.score(parsed)
    # the labeler's -1 effusion on report 1 is a false positive only when uncertain counts as positive
    assert res["positive"].per_observation["Pleural Effusion"]["fp"] == 1
    assert res["negative"].per_observation["Pleural Effusion"]["fp"] == 0
    assert res["negative"].micro["f1"] == 1.0


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [["uid", "Edema"], ["1", "1"], ["2", "2"]],
            r"gold\.csv:3: column 'Edema' \(Edema\) holds '2'; expected 1, 0, -1 or blank",
        ),
        ([["uid", "Edema"], ["1", "1"], ["1", "0"]], r"gold\.csv:3: uid '1' repeats line 2"),
        ([["uid", "Edema"], ["1", "1", "x"]], r"gold\.csv:2: 3 fields, the header has 2"),
        ([["uid", "notes"], ["1", "x"]], r"gold\.csv:1: no observation columns"),
        ([["uid", "Edema"], ["7", "1"], ["1", "0"]], r"gold\.csv: 1 gold rows have no report text: line 2 \('7'\)"),
    ],
)
def test_eval_bad_gold_names_file_and_line(tmp_path: Path, rows: list[list[str]], message: str) -> None:
    gold = _write(tmp_path / "gold.csv", rows)
    reports = _write(tmp_path / "reports.csv", [["uid", "Reports"], ["1", "No edema."], ["2", "Edema."]])
    with pytest.raises(DataFormatError, match=message):
        _run_cli(reports, None, eval=gold)


def test_eval_without_texts_says_what_to_pass(tmp_path: Path) -> None:
    gold = _write(tmp_path / "gold.csv", [["filename", "Edema"], ["a.txt", "1"]])
    with pytest.raises(
        DataFormatError,
        match=r"gold\.csv:1: the gold has no report text column.*--reports CSV with a 'filename' column",
    ):
        _run_cli(None, None, eval=gold)


def test_eval_cli_error_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    gold = _write(tmp_path / "gold.csv", [["Reports", "Edema"], ["Edema.", "yes"]])
    done = subprocess.run(
        [sys.executable, "-m", "xraybench.cli.label", "--eval", str(gold)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "gold.csv:2: column 'Edema' (Edema) holds 'yes'" in done.stderr


def test_label_without_reports_or_eval_is_an_error(tmp_path: Path) -> None:
    from xraybench.errors import XrayBenchError

    with pytest.raises(XrayBenchError, match="needs --reports and --out"):
        _run_cli(None, tmp_path / "o.csv")
