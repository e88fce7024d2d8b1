"""Mention phrases for the 14 CheXpert observations.

Phrases are templates over lower-cased, hyphen-free text: `{a|b|}` is an alternation (an empty choice
makes it optional) and `~` is a slot for copulas and degree adverbs ("is", "remains", "mildly", "again" ...), so
"heart {size |}~ enlarged" covers "the heart size is again mildly enlarged". Templates expand to
literal phrases that are compiled into one trie-shaped regex (see `trie.py`).

Each phrase carries the observations it mentions and, for phrases that are themselves a verdict
("heart size is normal", "lungs are clear"), a fixed status that no negation cue overrides.
"""

from __future__ import annotations

CHEXPERT_LABELS: tuple[str, ...] = (
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
    "No Finding",
)
EC, CM, LO, LL, ED, CO, PN, AT, PX, PE, PO, FR, SD, NF = range(14)

# Words allowed in `~` slots. None of them may appear literally in a multi-word phrase.
SLOT_WORDS: tuple[str, ...] = (
    "is", "are", "was", "were", "be", "been", "has", "have", "had", "remains", "remain", "appears", "appear",
    "seems", "seem", "appears to be", "appear to be", "seems to be", "has become", "have become",
    "mildly", "mild", "moderately", "moderate", "severely", "severe", "markedly", "marked", "slightly",
    "minimally", "massively", "substantially", "significantly", "again", "still", "now", "grossly", "stably",
    "persistently", "diffusely", "somewhat", "also", "otherwise", "completely", "entirely", "fully", "overall",
    "essentially", "radiographically",
)  # fmt: skip

# Hedges allowed in `~` slots too: a mention matched through one ("heart is possibly enlarged") is uncertain.
HEDGE_SLOT_WORDS: tuple[str, ...] = ("possibly", "probably", "perhaps", "questionably", "potentially")

# (templates, observations). Plain mentions: their status comes from the negation/uncertainty rules.
MENTIONS: list[tuple[tuple[str, ...], tuple[int, ...]]] = [
    (
        (
            "{widened|widening of the|enlarged|enlargement of the} {mediastinum|mediastinal silhouette|mediastinal contour|mediastinal contours}",
            "mediastinal {widening|enlargement}",
            "{widened|enlarged|enlargement of the|widening of the} {cardiomediastinal|cardio mediastinal} {silhouette|contour|contours}",
            "{cardiomediastinal|cardio mediastinal} {enlargement|widening}",
            "{mediastinum|mediastinal silhouette|mediastinal contour|mediastinal contours|cardiomediastinal silhouette|cardio mediastinal silhouette|cardiomediastinal contour|cardiomediastinal contours} ~ {widened|enlarged|wide}",
        ),
        (EC,),
    ),
    (
        (
            "cardiomegaly",
            "cardiac enlargement",
            "{enlarged|large|increased} {heart|heart size|cardiac silhouette|cardiac size|cardiac shadow}",
            "enlargement of the {heart|cardiac silhouette|cardiac shadow}",
            "{heart|heart size|cardiac silhouette|cardiac size|cardiac shadow|size of the heart|cardiac contour} ~ {enlarged|increased|large|increased in size}",
            # IU X-ray masks some words: "heart size XXXX mildly enlarged"
            "{heart|heart size|cardiac silhouette|cardiac size|cardiac shadow} xxxx ~ {enlarged|large|increased in size}",
            "{increase|enlargement} in {the |}{heart size|size of the heart|cardiac size|size of the cardiac silhouette}",
            "{cardiac silhouette|heart} enlargement",
        ),
        (CM,),
    ),
    (
        (
            "{opacity|opacities|opacification|opacifications|opacified}",
            "{density|densities}",
            "{infiltrate|infiltrates|infiltration|infiltrative process}",
            "{airspace|air space} {disease|process|opacity|opacities|opacification}",
            "{haziness|hazy opacity|hazy opacities|ground glass|groundglass}",
        ),
        (LO,),
    ),
    (
        ("consolidative {opacity|opacities}",),
        (LO, CO),
    ),
    (
        (
            "{nodular} {opacity|opacities|density|densities}",
            "{mass like|masslike} {lesion|density|opacity|opacities}",  # a mass, not a consolidation
        ),
        (LO, LL),
    ),
    (
        (
            "{mass|masses|nodule|nodules|nodularity|lesion|lesions}",
            "{tumor|tumors|neoplasm|neoplasms|malignancy|carcinoma|metastasis|metastases|metastatic disease}",
            "{pulmonary|lung|cavitary|cavitating|spiculated} {nodule|nodules|mass|masses|lesion|lesions}",
        ),
        (LL,),
    ),
    (
        (
            "edema",
            "{pulmonary|interstitial|alveolar|perihilar|airspace|air space|pulmonary interstitial|pulmonary alveolar} edema",
            "{congestive heart failure|heart failure|chf}",
        ),
        (ED,),
    ),
    (
        ("{consolidation|consolidations|consolidative|consolidated|consolidative process}",),
        (CO,),
    ),
    (
        (
            "{pneumonia|pneumonias|bronchopneumonia|pneumonic|pneumonitis}",
            "{infection|infections|infectious process|infectious|aspiration}",
        ),
        (PN,),
    ),
    (
        (
            "{atelectasis|atelectases|atelectatic|atelectatic change|atelectatic changes}",
            "{collapse|collapsed}",
        ),
        (AT,),
    ),
    (
        (
            "{pneumothorax|pneumothoraces|pneumothoraxes|ptx}",
            "pleural air {collection|collections}",
        ),
        (PX,),
    ),
    (
        ("{hydropneumothorax|hydropneumothoraces|hemopneumothorax|hemopneumothoraces}",),
        (PX, PE),
    ),
    (
        (
            "{effusion|effusions}",
            "pleural {effusion|effusions|fluid}",
            "{hydrothorax|hemothorax|hydrothoraces}",
            "{fluid|effusion} in the {left |right |}pleural space",
        ),
        (PE,),
    ),
    (
        (
            "pleural {thickening|plaque|plaques|scarring|scar|calcification|calcifications|fibrosis|abnormality|abnormalities}",
            "{fibrothorax|apical cap|apical caps|pleural cap}",
        ),
        (PO,),
    ),
    (
        ("{fracture|fractures|fractured|compression deformity|compression deformities|fracture deformity}",),
        (FR,),
    ),
    (
        (
            "{endotracheal|et|nasogastric|ng|orogastric|og|feeding|enteric|dobhoff|gastric|chest|tracheostomy|trach|thoracostomy|nasoenteric} {tube|tubes}",
            "{tube|tubes|lines and tubes|tubes and lines|lines|support lines|support devices|device|devices}",
            "{picc|picc line|central line|central venous line|central venous catheter|ij line|subclavian line|midline catheter|dialysis catheter|swan ganz catheter|swan ganz|pulmonary artery catheter|pa catheter|pigtail catheter|catheter|catheters}",
            "{prosthetic|mechanical|bioprosthetic} {aortic|mitral|tricuspid|pulmonic} valve",
            "{aortic|mitral|tricuspid} valve {replacement|prosthesis}",
            "{pacemaker|pacemakers|pacer|pacer leads|pacemaker leads|pacing leads|pacing wires|icd|aicd|defibrillator|lvad|iabp|intra aortic balloon pump|balloon pump|impella}",
            "{sternotomy wires|sternal wires|epicardial wires|guidewire|stent|stents|valve replacement|prosthetic valve|mechanical valve|valve prosthesis|port|port a cath|portacath|mediport|drain|drains|hardware|tracheostomy}",
        ),
        (SD,),
    ),
]

# Status of a mention that is uncertain unless a negation covers it (then 0).
HEDGED = 2

# Mentions that are only a sign of an observation: uncertain unless negated. CheXpert's explicit rule
# for Edema ("vascular congestion", "pulmonary congestion", "vascular prominence", "indistinctness"
# are uncertain), extended to the other wordings of the same vascular signs.
_VESSELS = "{vascularity|vasculature|vascular markings|vessels|vascular structures}"
_WHERE = "{pulmonary |central |central pulmonary |lung |hilar |perihilar |}"
HEDGED_MENTIONS: list[tuple[tuple[str, ...], tuple[int, ...]]] = [
    (
        (
            "{pulmonary vascular|vascular|pulmonary venous|venous|pulmonary|central vascular|central pulmonary vascular|interstitial} congestion",
            "congestion",
            "{central |pulmonary |central pulmonary |}vascular {congestive changes|prominence|engorgement|redistribution|indistinctness|fullness}",
            "{pulmonary |}venous {hypertension|engorgement|distension}",
            "{fluid overload|volume overload|cephalization|indistinctness}",
            "{kerley b lines|kerley lines|septal lines}",  # a sign of interstitial edema (not in CheXpert's list)
            f"{{prominent|increased|accentuated|engorged|indistinct|congested|prominence of the|engorgement of the|indistinctness of the}} {_WHERE}{_VESSELS}",
            f"{_WHERE}{_VESSELS} ~ {{prominent|increased|accentuated|engorged|indistinct|congested}}",
            # IU X-ray masked "vessels": "pulmonary XXXX are engorged"
            "pulmonary xxxx ~ {prominent|increased|accentuated|engorged|indistinct|congested|enlarged}",
        ),
        (ED,),
    ),
    (  # CheXpert: blunting of the costophrenic angle is uncertain (effusion or pleural thickening)
        (
            "blunting of the {left |right |bilateral |}{costophrenic|cp} {angle|angles|sulcus|sulci|recess|recesses|xxxx}",
            "blunting of {left |right |bilateral |both |}{costophrenic|cp} {angle|angles|sulcus|sulci|recess|recesses|xxxx}",
            "blunted {left |right |bilateral |}{costophrenic|cp} {angle|angles|sulcus|sulci|recess|recesses|xxxx}",
            "{left |right |bilateral |}{costophrenic|cp} {angle|angles|sulcus|sulci|recess|recesses|xxxx} blunting",
            "{left |right |bilateral |}{costophrenic|cp} {angle|angles|sulcus|sulci|recess|recesses|xxxx} ~ blunted",
        ),
        (PE,),
    ),
]

# Phrases that are a verdict on their own: (templates, observations, status).
NORMAL_SUBJECT_CARDIAC = "{heart|heart size|cardiac silhouette|cardiac size|cardiac shadow|size of the heart|cardiac contour|cardiac contours|heart contour|heart size and pulmonary vascularity|heart and pulmonary vascularity|heart and pulmonary xxxx|heart size and pulmonary xxxx|heart size and pulmonary vasculature|heart and lungs}"
NORMAL_SUBJECT_MEDIASTINAL = "{mediastinum|mediastinal contour|mediastinal contours|mediastinal silhouette|mediastinal silhouettes|mediastinal and hilar contours|hilar and mediastinal contours|mediastinal and hilar silhouettes|mediastinal width}"
NORMAL_SUBJECT_BOTH = "{cardiomediastinal silhouette|cardio mediastinal silhouette|cardiomediastinal contour|cardiomediastinal contours|cardiomediastinal silhouettes|cardiomediastinal and hilar contours|cardiomediastinal and hilar silhouettes|cardiac and mediastinal contours|cardiac and mediastinal silhouettes|heart and mediastinum|heart size and mediastinum|heart size and mediastinal contours|heart size and mediastinal contour|heart size and cardiomediastinal contours|heart and mediastinal contours|heart size mediastinal and hilar contours|heart mediastinum and hila|cardiomediastinal silhouette and pulmonary vasculature|cardiomediastinal silhouette and pulmonary vascularity|cardiomediastinal contours and pulmonary vascularity|heart size mediastinal contours and pulmonary vascularity}"
_NORMAL_PREDICATE = "~ {normal|within limits of normal|within the limits of normal|normal in size|of normal size|normal in size and contour|normal in size and configuration|within normal limits|unremarkable|not ~ enlarged|top normal|upper normal|top normal in size|at the upper limits of normal|upper limits of normal|upper limits normal|at upper limits of normal|upper limit of normal|at the upper limit of normal|within normal limits for size|normal size}"
_NORMAL_PREFIX = "{normal|unremarkable}"

FIXED: list[tuple[tuple[str, ...], tuple[int, ...], int]] = [
    (
        (
            f"{NORMAL_SUBJECT_CARDIAC} {_NORMAL_PREDICATE}",
            f"{_NORMAL_PREFIX} {{heart size|heart|cardiac silhouette|cardiac size|size heart|size of the heart|heart contour}}",
            "no {cardiac enlargement|enlargement of the heart}",
        ),
        (CM,),
        0,
    ),
    (
        (
            f"{NORMAL_SUBJECT_MEDIASTINAL} {_NORMAL_PREDICATE}",
            f"{_NORMAL_PREFIX} {{mediastinum|mediastinal contour|mediastinal contours|mediastinal silhouette|mediastinal and hilar contours}}",
            "{mediastinum|mediastinal contour|mediastinal contours} ~ not widened",
        ),
        (EC,),
        0,
    ),
    (
        (
            f"{NORMAL_SUBJECT_BOTH} {_NORMAL_PREDICATE}",
            f"{_NORMAL_PREFIX} {{cardiomediastinal silhouette|cardio mediastinal silhouette|cardiomediastinal contour|cardiomediastinal contours|cardiomediastinal and hilar contours|heart and mediastinum|cardiac and mediastinal contours|cardiac and mediastinal silhouettes}}",
        ),
        (EC, CM),
        0,
    ),
    (
        (
            f"{NORMAL_SUBJECT_CARDIAC} ~ {{borderline|borderline enlarged|borderline in size|at the upper limits of normal to ~ enlarged|top normal to ~ enlarged}}",
            f"{NORMAL_SUBJECT_CARDIAC} ~ {{upper limits of normal|upper limits normal|at the upper limits of normal|top normal|upper normal|normal}} or ~ enlarged",
            "borderline {heart size|cardiac size|cardiac silhouette}",
        ),
        (CM,),
        -1,
    ),
    (
        (
            "{lungs|lung fields|lung|both lungs} ~ clear",
            "{lungs|lung fields} ~ {well expanded|well aerated|well inflated|expanded|hyperinflated|low in volume} and clear",
            "{lungs|lung fields} ~ {clear of|free of}",
            "{lungs|lung fields} ~ {well expanded|well aerated|well inflated|expanded|hyperinflated|low in volume} and {clear of|free of}",
            "clear lungs",
        ),
        (LO,),
        0,
    ),
    (
        (
            "{costophrenic|cp} {angles|angle|sulci} ~ {sharp|sharply defined|clear|preserved}",
            "sharp {costophrenic|cp} {angles|angle|sulci}",
            "pleural spaces ~ clear",
            "clear pleural spaces",
        ),
        (PE,),
        0,
    ),
]

# Phrases that look like mentions but are not (matched so that their words cannot trigger a mention).
UNMENTIONS: tuple[str, ...] = (
    "{pericardial|joint} {effusion|effusions}",
    "mass effect",
    "{soft tissue|subcutaneous|chest wall|soft tissues} edema",
    "edema of the soft tissues",
    "{osseous|bony|lytic|sclerotic|skin|bone|liver|hepatic|renal|adrenal} {lesion|lesions}",
    "{soft tissue|bone} {density|densities}",
    "{vertebral|vertebral body} collapse",
    "breast {mass|masses|implant|implants|prosthesis}",
    "nipple {shadow|shadows|marker|markers}",
    # infection that names no pneumonia: an old granulomatous or tuberculous one
    "{prior|previous|old|remote|healed|past} {granulomatous |tuberculous |tuberculosis |fungal |}{infection|infections|infectious process|infectious disease}",
    "{granulomatous|tuberculous|tuberculosis|fungal|mycobacterial|histoplasmosis} {infection|infections|infectious process}",
    # "mild residual or recurrent pneumonia": an "or" between two modifiers offers no alternative finding
    "{residual|recurrent|persistent|worsening|increasing|developing|evolving|early|acute|chronic|small|large|new} or {residual|recurrent|persistent|worsening|increasing|developing|evolving|early|acute|chronic|small|large|new}",
)
