"""Seeded generator of realistic, invented chest X-ray report pairs (reference, hypothesis).

Hypotheses are built from the reference the way model outputs differ from it: sentences dropped,
reordered or replaced, words swapped for synonyms or other inflections, numbers and punctuation changed,
so every METEOR module (exact, stem, synonym, paraphrase) and the chunk penalty are exercised.
"""

from __future__ import annotations

import random

SENTENCES = [
    "The heart size is normal.",
    "Heart size is within normal limits.",
    "The cardiomediastinal silhouette is normal in size and contour.",
    "Mild cardiomegaly is again noted.",
    "The heart is mildly enlarged, unchanged from the prior study.",
    "There is no focal consolidation, pleural effusion, or pneumothorax.",
    "No focal airspace consolidation is seen.",
    "The lungs are clear bilaterally.",
    "Lungs are well expanded and clear.",
    "There is a small left pleural effusion with adjacent atelectasis.",
    "Small bilateral pleural effusions are present.",
    "Bibasilar opacities likely represent atelectasis, though infection cannot be excluded.",
    "Patchy opacity in the right lower lobe may reflect early pneumonia.",
    "There is mild pulmonary vascular congestion without frank edema.",
    "Moderate pulmonary edema has worsened since the previous radiograph.",
    "A right internal jugular central venous catheter terminates in the mid SVC.",
    "The endotracheal tube tip is 4.5 cm above the carina.",
    "A nasogastric tube courses below the diaphragm, tip not visualized.",
    "Sternotomy wires and mediastinal clips are intact.",
    "No acute osseous abnormality is identified.",
    "Degenerative changes of the thoracic spine are noted.",
    "There is an old healed fracture of the left sixth rib.",
    "A 1.2 cm nodule projects over the right upper lung zone.",
    "Calcified granulomas are seen in the left upper lobe.",
    "The aorta is tortuous and calcified.",
    "Hilar contours are unremarkable.",
    "Left basilar atelectasis has improved compared to 03/14/2019.",
    "There is blunting of the right costophrenic angle.",
    "Hyperinflation of the lungs is consistent with COPD.",
    "No evidence of free air under the diaphragm.",
]
IMPRESSIONS = [
    "No acute cardiopulmonary process.",
    "No acute cardiopulmonary abnormality.",
    "Stable chest radiograph.",
    "Findings concerning for pneumonia in the right lower lobe.",
    "Small left effusion and atelectasis; pneumonia not excluded.",
    "Interval worsening of pulmonary edema.",
    "Support devices in satisfactory position.",
    "Mild cardiomegaly without acute process.",
]
SUBSTITUTIONS = {
    "heart": ["cardiac silhouette", "heart"],
    "normal": ["unremarkable", "within normal limits", "normal"],
    "enlarged": ["enlargement", "large", "increased in size"],
    "clear": ["clean", "free of consolidation", "clear"],
    "effusion": ["effusions", "fluid"],
    "effusions": ["effusion", "fluid collections"],
    "opacity": ["opacities", "opacification", "density"],
    "opacities": ["opacity", "densities"],
    "pneumonia": ["infection", "pneumonias", "consolidation"],
    "small": ["little", "minimal", "trace"],
    "mild": ["slight", "minimal", "mildly"],
    "seen": ["identified", "visualized", "noted", "seeing"],
    "noted": ["seen", "present", "noting"],
    "no": ["without", "no evidence of"],
    "is": ["was", "appears", "are"],
    "worsened": ["worsening", "increased", "progressed"],
    "improved": ["improving", "decreased", "resolved"],
    "unchanged": ["stable", "not changed", "unchanging"],
    "lungs": ["lung", "lung fields"],
    "cm": ["mm", "centimeters"],
}
NOISE = ["is", "the", "a", "of", "and", "there", "with", ",", "."]


def _perturb_sentence(sentence: str, rng: random.Random) -> str:
    words = sentence.split()
    out: list[str] = []
    for word in words:
        core = word.rstrip(".,;")
        tail = word[len(core) :]
        r = rng.random()
        if core.lower() in SUBSTITUTIONS and r < 0.35:
            out.append(rng.choice(SUBSTITUTIONS[core.lower()]) + tail)
        elif r < 0.40:
            continue
        elif r < 0.43:
            out.append(word)
            out.append(rng.choice(NOISE))
        elif r < 0.45 and any(c.isdigit() for c in core):
            out.append(str(rng.randint(1, 40) / 10) + tail)
        else:
            out.append(word)
    if rng.random() < 0.2 and len(out) > 3:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    return " ".join(out)


def make_reference(rng: random.Random) -> str:
    n = rng.randint(2, 7)
    body = rng.sample(SENTENCES, n)
    if rng.random() < 0.5:
        body.append(rng.choice(IMPRESSIONS))
    return " ".join(body)


def make_hypothesis(reference: str, rng: random.Random) -> str:
    sentences = [s if s.endswith(".") else s + "." for s in reference.split(". ")]
    sentences = [s for s in sentences if rng.random() > 0.2]
    sentences = [_perturb_sentence(s, rng) for s in sentences]
    if rng.random() < 0.4:
        sentences.insert(rng.randint(0, len(sentences)), rng.choice(SENTENCES))
    if rng.random() < 0.3:
        rng.shuffle(sentences)
    text = " ".join(sentences)
    if rng.random() < 0.1:
        text = text.upper()
    return text


def report_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """`n` (reference, hypothesis) pairs, deterministic for a seed."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        reference = make_reference(rng)
        pairs.append((reference, make_hypothesis(reference, rng)))
    return pairs
