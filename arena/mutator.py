"""Inject one known error (or one clinically neutral change) into a radiology report.

Why: to audit a judge we need pairs of reports whose difference is known exactly — the reference with one
clinical error against a paraphrase of the reference that says the same — and synthetic "models" whose quality
is known because their errors were put there on purpose.

How: the report is cut into sections (`FINDINGS:`, `IMPRESSION:` ...) and sentences with their character spans;
every sentence is labelled with the offline CheXpert-style labeler, so "a positive finding" means a sentence the
labeler reads as positive for an observation. Each error type lists the places it could apply, a seeded choice
picks one, and the result is a set of span edits on the original text (recorded, so a reader sees what changed).
A finding mentioned in several sections (findings and impression) is changed everywhere, since a report that
contradicts itself would be a different, easier error. When a report offers nothing for an error type the
mutator raises `NothingToMutate` instead of returning an unchanged or meaningless text.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache

from xraybench.errors import XrayBenchError
from xraybench.metrics.chexpert import CHEXPERT_LABELS, label_report

CLINICAL_TYPES = ("drop_finding", "false_finding", "flip_negation", "laterality", "severity", "comparison")
NEUTRAL_TYPES = ("filler", "paraphrase")
ERROR_TYPES = CLINICAL_TYPES + NEUTRAL_TYPES
# The expected preference between two variants of one reference: harm tiers, most harmful first. A good judge
# prefers the variant of the lower tier; within a tier no order is expected. Why this order: a wrong set of
# findings (one missed, invented or negated) changes what the reader acts on — an untreated pneumothorax, a needless
# work-up; a wrong attribute (side, size) keeps the finding in front of the reader, who still looks at it, though
# the report misleads on where or how much; a missing or invented comparison keeps the finding and its attributes
# and loses only the change over time; filler and paraphrase say what the reference says. This follows the error
# categories of radiologist-rated report metrics (false / omitted finding, then location and severity, then
# comparison), where errors of the first kind are the ones most often rated clinically significant.
HARM_TIERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("wrong findings", ("drop_finding", "false_finding", "flip_negation")),
    ("wrong attribute", ("laterality", "severity")),
    ("comparison", ("comparison",)),
    ("no clinical change", NEUTRAL_TYPES),
)
HARM: dict[str, int] = {kind: len(HARM_TIERS) - 1 - i for i, (_, kinds) in enumerate(HARM_TIERS) for kind in kinds}
EMPTY_SECTION = "No acute cardiopulmonary process."  # what a section says once its only finding is dropped

# One positive sentence per observation (false findings, flipped negations) and the noun that negates it.
POSITIVE_SENTENCES: dict[str, tuple[str, ...]] = {
    "Cardiomegaly": ("The heart is mildly enlarged.", "There is moderate cardiomegaly."),
    "Pleural Effusion": ("There is a small left pleural effusion.", "There is a small right pleural effusion."),
    "Pneumothorax": ("There is a small right apical pneumothorax.", "There is a small left apical pneumothorax."),
    "Consolidation": (
        "There is focal consolidation in the right lower lobe.",
        "There is focal consolidation in the left lower lobe.",
    ),  # fmt: skip
    "Edema": ("There is mild pulmonary edema.",),
    "Atelectasis": ("There is mild bibasilar atelectasis.",),
    "Lung Lesion": ("There is a 1 cm nodule in the right upper lobe.",),
    "Fracture": ("There is an acute fracture of the left sixth rib.",),
}
NEGATED_NOUNS: dict[str, str] = {
    "Cardiomegaly": "cardiomegaly",
    "Pleural Effusion": "pleural effusion",
    "Pneumothorax": "pneumothorax",
    "Consolidation": "focal consolidation",
    "Edema": "pulmonary edema",
    "Atelectasis": "atelectasis",
    "Lung Lesion": "pulmonary nodule",
    "Fracture": "acute fracture",
    "Lung Opacity": "focal opacity",
    "Pneumonia": "pneumonia",
}
# Normal-sounding sentences that state no CheXpert observation (length only); skipped if their subject is there.
FILLER_SENTENCES: tuple[tuple[str, str], ...] = (
    ("trachea", "The trachea is midline."),
    ("abdomen", "The visualized upper abdomen is unremarkable."),
    ("soft tissue", "The soft tissues of the chest wall are unremarkable."),
    ("thoracic spine", "Degenerative changes are noted in the thoracic spine."),
    ("technique", "The study is adequate for interpretation, with good inspiratory effort."),
    ("diaphragm", "The hemidiaphragms are well defined."),
)
SEVERITY_SWAPS = {
    "small": "large", "large": "small", "tiny": "large", "trace": "large", "moderate": "small",
    "massive": "small", "mild": "severe", "minimal": "severe", "severe": "mild", "marked": "mild",
    "extensive": "minimal", "mildly": "severely", "moderately": "severely", "severely": "mildly",
    "markedly": "mildly", "slightly": "severely",
}  # fmt: skip
_SEVERITY = re.compile(r"\b(" + "|".join(SEVERITY_SWAPS) + r")\b", re.IGNORECASE)
_SIDE = re.compile(r"\b(left|right)\b", re.IGNORECASE)
# When an earlier study was taken: "___" (a de-identified date), "2 days ago", "yesterday", "1/2/2010".
_DATE = r"(?:_{2,}|yesterday|\d+ (?:hours?|days?|weeks?|months?|years?) (?:ago|earlier|prior)|\d{1,4}[/-]\d{1,2}(?:[/-]\d{1,4})?)"  # noqa: E501
_STUDY = r"(?:chest )?(?:study|studies|exam|exams|examination|examinations|radiograph|radiographs|film|films|x-rays?|images?|ct|cxr)"  # noqa: E501
# What a comparison refers to: "the prior study", "the radiograph of 2 days ago", "prior", "___", "the CT from ___".
_PRIOR_REF = (
    rf"(?:(?:the|a|an|multiple|several|all) )?(?:(?:most recent|immediately|prior|previous|earlier|last|preceding|"
    rf"recent|outside|portable|same-day) )*{_STUDY}(?: (?:of|dated|from|on|taken) [^,.;]+| {_DATE})?"
    rf"|(?:the )?(?:prior|previous)(?: one| {_DATE})?|{_DATE}"
)
# An explicit comparison with an earlier study; a sentence keeping one of these still compares.
_COMPARISON_WORDS = re.compile(
    r"\b(?:compared (?:to|with)|comparison|(?:since|relative to|versus) (?:" + _PRIOR_REF + r")|interval|prior|"
    r"previous(?:ly)?|again (?:seen|noted|demonstrated|visualized|identified)|redemonstrat\w*)\b",
    re.IGNORECASE,
)  # fmt: skip
# A trailing comparison clause that can go without breaking the sentence: ", unchanged from the prior study".
_COMPARISON_CLAUSE = re.compile(
    r",?\s+(?:(?:which is |and is |is |are )?(?:unchanged|stable|similar|new|increased|decreased|improved|worsened|"
    r"not significantly changed)\s+)?(?:(?:as |when )?compared (?:to|with)|since|from|relative to)\s+(?:"
    + _PRIOR_REF + r")(?=[.;]?$)",
    re.IGNORECASE,
)  # fmt: skip
# A leading comparison phrase: "Compared to the prior study, ...", "In comparison with the radiograph of 2 days ago,
# ...", "Since the prior exam, ...". After an unambiguous "compared"/"comparison" any short reference goes; after
# "since", "from" or "relative to" the reference must name an earlier study ("Since the patient ..." stays).
_COMPARISON_LEAD = re.compile(
    r"^(?:(?:(?:as |when )?compared (?:to|with)|(?:in|on) comparison (?:to|with)|comparison (?:is made )?(?:to|with)|"
    r"versus|vs\.?) [^,;.]{1,80}?|(?:since|from|relative to) (?:" + _PRIOR_REF + r")),\s+(?P<rest>\S.*)$",
    re.IGNORECASE,
)  # fmt: skip
# "Again seen is a small effusion" -> "There is a small effusion"; "is again noted" -> "is noted".
_AGAIN_LEAD = re.compile(
    r"^again (?:seen|noted|demonstrated|visualized|identified) (?P<verb>is|are) (?P<rest>\S.*)$", re.IGNORECASE
)
_AGAIN = re.compile(r"\bagain (?=(?:seen|noted|demonstrated|visualized|identified)\b)", re.IGNORECASE)
_REDEMONSTRATED = re.compile(r"\bre-?demonstrated\b", re.IGNORECASE)
# "Stable mild cardiomegaly." -> "Mild cardiomegaly." (only when the rest states a finding).
_UNCHANGED_LEAD = re.compile(r"^(?:stable|unchanged|persistent|persisting)\s+(?P<rest>\S.*)$", re.IGNORECASE)
# Change over time without naming the earlier study: such a report compares too, so no comparison is added to it.
_CHANGE_WORDS = re.compile(
    r"\b(?:unchanged|changed?|stable|new|newly|increas\w*|decreas\w*|improv\w*|worsen\w*|resolv\w*|persist\w*|again)\b",
    re.IGNORECASE,
)
_COMPARISON_HEADER = re.compile(r"COMPARISONS?")
_NO_COMPARISON = re.compile(r"^(?:none|n/a|no prior(?: stud(?:y|ies)| exams?| images?)?(?: available)?)\.?$", re.I)
ADDED_COMPARISONS = (", unchanged from the prior study", ", new since the prior study")
ADDED_COMPARISON_SENTENCE = "There is no significant interval change compared to the prior study."
_HEADER = re.compile(r"(?:^|(?<=\s))([A-Z][A-Z /&]{2,}):")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_LIST_NUMBER = re.compile(r"^\d{1,2}[.)]$")


class NothingToMutate(XrayBenchError):
    """The report offers nothing for this error type (e.g. no positive finding to drop)."""


@dataclass(frozen=True)
class Edit:
    """Replace `original[start:end]` by `replacement` (insertions have start == end)."""

    start: int
    end: int
    replacement: str


@dataclass(frozen=True)
class Mutation:
    """One variant of a report. `clinical` is False for filler and paraphrase (no clinical change).

    `change` says in words what changed; `edits` are the span edits on `original` that give `text`;
    `observation` is the CheXpert observation the change is about, when there is one.
    """

    kind: str
    text: str
    original: str
    change: str
    clinical: bool
    edits: tuple[Edit, ...]
    observation: str | None = None


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str
    section: int  # index into the report's sections (0 = text before any header)


@dataclass(frozen=True)
class Report:
    text: str
    sentences: tuple[Sentence, ...]
    section_ends: tuple[int, ...]  # where each section's body ends (the next header's start, or len(text))


def parse_report(text: str) -> Report:
    """Sections and sentences of `text`, with character spans (headers and list numbers are not sentences)."""
    headers = list(_HEADER.finditer(text))
    bodies = [(0, headers[0].start() if headers else len(text))]
    for i, header in enumerate(headers):
        bodies.append((header.end(), headers[i + 1].start() if i + 1 < len(headers) else len(text)))
    sentences: list[Sentence] = []
    for section, (start, end) in enumerate(bodies):
        pos = start
        cuts = [m.end() for m in _SENTENCE_END.finditer(text, start, end)]
        if not cuts or text[cuts[-1] : end].strip():
            cuts.append(end)
        for cut in cuts:
            piece = text[pos:cut]
            stripped = piece.strip()
            if stripped and not _LIST_NUMBER.match(stripped):
                lead = len(piece) - len(piece.lstrip())
                s = pos + lead
                sentences.append(Sentence(s, s + len(stripped), stripped, section))
            pos = cut
    return Report(text, tuple(sentences), tuple(end for _, end in bodies))


@lru_cache(maxsize=4096)
def labels_of(text: str) -> dict[str, int]:
    """The labeler's observations of `text` that are mentioned (1 present, 0 absent, -1 uncertain)."""
    return {CHEXPERT_LABELS[i]: v for i, v in enumerate(label_report(text)) if v is not None}


def positives(text: str) -> frozenset[str]:
    return frozenset(k for k, v in labels_of(text).items() if v == 1 and k != "No Finding")


def speaks_of_change(sentence: str) -> bool:
    """Whether a sentence compares with an earlier study or speaks of change over time ("stable", "new", "again
    seen", "compared to prior"): what the `comparison` mutation removes or adds (also read by `metric:findings`)."""
    return bool(_COMPARISON_WORDS.search(sentence) or _CHANGE_WORDS.search(sentence))


def apply_edits(text: str, edits: list[Edit]) -> str:
    out = text
    for edit in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        out = out[: edit.start] + edit.replacement + out[edit.end :]
    return out


def _rng(kind: str, seed: int, text: str) -> random.Random:
    return random.Random(f"{kind}:{seed}:{text}")


def _capitalise_like(word: str, template: str) -> str:
    return word.capitalize() if template[:1].isupper() else word


# -- removing sentences ---------------------------------------------------------------------------------------


def _removal_edits(report: Report, dropped: set[int]) -> list[Edit]:
    """Edits that remove sentences `dropped` (indices) with their whitespace; an emptied section says EMPTY_SECTION."""
    edits: list[Edit] = []
    by_section: dict[int, list[int]] = {}
    for i, s in enumerate(report.sentences):
        by_section.setdefault(s.section, []).append(i)
    for idx in by_section.values():
        gone = [i for i in idx if i in dropped]
        if not gone:
            continue
        if len(gone) == len(idx):
            first, last = report.sentences[idx[0]], report.sentences[idx[-1]]
            edits.append(Edit(first.start, last.end, EMPTY_SECTION))
            continue
        run: list[int] = []
        for pos, i in enumerate(idx + [-1]):
            if i in dropped:
                run.append(pos)
                continue
            if run:
                first_s, last_s = report.sentences[idx[run[0]]], report.sentences[idx[run[-1]]]
                if i != -1:  # a kept sentence follows: cut up to its start
                    edits.append(Edit(first_s.start, report.sentences[i].start, ""))
                else:  # the run ends the section: cut from the end of the kept sentence before it
                    edits.append(Edit(report.sentences[idx[run[0] - 1]].end, last_s.end, ""))
                run = []
    return edits


def _finding_groups(report: Report) -> dict[str, list[int]]:
    """Observation -> the sentences positive for it, kept only when each of them states that finding alone."""
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(report.sentences):
        for obs in positives(s.text):
            groups.setdefault(obs, []).append(i)
    return {
        obs: idx for obs, idx in sorted(groups.items())
        if all(positives(report.sentences[i].text) == {obs} for i in idx)
    }  # fmt: skip


# -- the error types ---------------------------------------------------------------------------------------------


def _drop_finding(report: Report, rng: random.Random) -> tuple[list[Edit], str, str]:
    groups = _finding_groups(report)
    if not groups:
        raise NothingToMutate("drop_finding: the report states no positive finding that can be removed on its own")
    obs = rng.choice(sorted(groups))
    gone = [report.sentences[i].text for i in groups[obs]]
    return _removal_edits(report, set(groups[obs])), f"dropped {obs}: removed {' / '.join(map(repr, gone))}", obs


def _insertion_point(report: Report) -> tuple[int, str]:
    """Where a new sentence goes: after the last sentence of the first section that has sentences."""
    first = report.sentences[0].section
    last = [s for s in report.sentences if s.section == first][-1]
    return last.end, " "


def _false_finding(report: Report, rng: random.Random) -> tuple[list[Edit], str, str]:
    if not report.sentences:
        raise NothingToMutate("false_finding: the report has no sentence to add a finding after")
    mentioned = labels_of(report.text)
    options = [(obs, s) for obs, texts in POSITIVE_SENTENCES.items() if obs not in mentioned for s in texts]
    if not options:
        raise NothingToMutate("false_finding: every observation we can add is already mentioned in the report")
    obs, sentence = rng.choice(options)
    at, sep = _insertion_point(report)
    return [Edit(at, at, sep + sentence)], f"added false finding {obs}: {sentence!r}", obs


_NEGATED_LIST = re.compile(
    r"^(?P<head>(?:there (?:is|are) )?no (?:evidence of )?)(?P<items>.+?)(?P<tail> (?:is|are) (?:seen|identified|noted|present))?(?P<end>[.!?]?)$",  # noqa: E501
    re.IGNORECASE,
)


def _split_items(items: str) -> list[str]:
    parts = re.split(r",\s*(?:or\s+|and\s+)?|\s+or\s+|\s+and\s+", items)
    return [p.strip() for p in parts if p.strip()]


def _join_items(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _flip_options(report: Report) -> list[tuple[str, str, list[Edit], str]]:
    """(direction, observation, edits, description) for every negation that can be flipped."""
    options: list[tuple[str, str, list[Edit], str]] = []
    for s in report.sentences:  # "no X" -> "small X"
        m = _NEGATED_LIST.match(s.text)
        if not m:
            continue
        items = _split_items(m["items"])
        for k, item in enumerate(items):
            found = [o for o, v in labels_of(f"No {item}.").items() if v == 0 and o in POSITIVE_SENTENCES]
            if len(found) != 1:
                continue
            obs = found[0]
            positive = POSITIVE_SENTENCES[obs][0]
            rest = items[:k] + items[k + 1 :]
            if rest:
                kept = m["head"] + _join_items(rest) + (m["tail"] or "") + (m["end"] or ".")
                new = kept[0].upper() + kept[1:] + " " + positive
            else:
                new = positive
            options.append(("negative to positive", obs, [Edit(s.start, s.end, new)], f"{s.text!r} -> {new!r}"))
    for obs, idx in _finding_groups(report).items():  # "small X" -> "no X"
        if obs not in NEGATED_NOUNS:
            continue
        new = f"There is no {NEGATED_NOUNS[obs]}."
        edits = [Edit(report.sentences[i].start, report.sentences[i].end, new) for i in idx]
        before = " / ".join(repr(report.sentences[i].text) for i in idx)
        options.append(("positive to negative", obs, edits, f"{before} -> {new!r}"))
    return options


def _flip_negation(report: Report, rng: random.Random) -> tuple[list[Edit], str, str]:
    options = _flip_options(report)
    if not options:
        raise NothingToMutate("flip_negation: the report has neither a negated finding ('no X') nor a positive one")
    direction, obs, edits, what = rng.choice(options)
    return edits, f"flipped {obs} ({direction}): {what}", obs


def _word_swap_edits(report: Report, chosen: int, pattern: re.Pattern[str], table: dict[str, str]) -> list[Edit]:
    """Swap `pattern` words in sentence `chosen` and in every sentence stating the same positive findings."""
    same = positives(report.sentences[chosen].text)
    edits: list[Edit] = []
    for i, s in enumerate(report.sentences):
        if i != chosen and (not same or positives(s.text) != same):
            continue
        for m in pattern.finditer(s.text):
            word = m.group(1)
            edits.append(Edit(s.start + m.start(1), s.start + m.end(1), _capitalise_like(table[word.lower()], word)))
    return edits


def _swap(report: Report, rng: random.Random, kind: str, pattern: re.Pattern[str], table: dict[str, str]
          ) -> tuple[list[Edit], str, str | None]:  # fmt: skip
    candidates = [i for i, s in enumerate(report.sentences) if pattern.search(s.text)]
    if not candidates:
        what = "laterality word (left/right)" if kind == "laterality" else "severity word (small, mild, large ...)"
        raise NothingToMutate(f"{kind}: the report has no {what}")
    with_finding = [i for i in candidates if positives(report.sentences[i].text)]
    chosen = rng.choice(with_finding or candidates)
    edits = _word_swap_edits(report, chosen, pattern, table)
    obs = sorted(positives(report.sentences[chosen].text))
    words = ", ".join(f"{report.text[e.start : e.end]!r} -> {e.replacement!r}" for e in edits)
    return edits, f"{kind}: {words} (in {report.sentences[chosen].text!r})", (obs[0] if obs else None)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _mentions_finding(text: str) -> bool:
    """Whether the labeler reads an observation in `text`, present or absent ("No Finding" is not one)."""
    return any(k != "No Finding" for k in labels_of(text))


def _strip_comparison(text: str) -> str | None:
    """The sentence without its comparison wording, or None when none goes cleanly (see `_comparison`)."""
    new = text
    if m := _COMPARISON_LEAD.match(new):
        new = _capitalise(m["rest"])
    if m := _AGAIN_LEAD.match(new):
        new = f"There {m['verb'].lower()} {m['rest']}"
    new = _REDEMONSTRATED.sub("seen", _AGAIN.sub("", new))
    body = new.rstrip(".!?")
    if clause := _COMPARISON_CLAUSE.search(body):
        new = body[: clause.start()] + body[clause.end() :] + new[len(body) :]
    if (m := _UNCHANGED_LEAD.match(new)) and _mentions_finding(m["rest"]):
        new = _capitalise(m["rest"])
    new = _capitalise(new) if text[:1].isupper() else new
    if new == text or len(new.rstrip(".!?").split()) < 2 or _COMPARISON_WORDS.search(new):
        return None
    if _CHANGE_WORDS.search(new) and not _mentions_finding(new):  # "No change." still compares: the sentence goes whole
        return None
    return new


def _diff_edit(start: int, old: str, new: str) -> Edit:
    """The one span edit turning `old` (at `start` in the report) into `new`: what lies between their common ends."""
    head = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return Edit(start + head, start + len(old) - tail, new[head : len(new) - tail])


def _comparison_sections(report: Report) -> dict[int, Edit | None]:
    """Section index -> the edit removing that `COMPARISON:` section (header and body), None when it names no
    earlier study ("COMPARISON: None.")."""
    text, out = report.text, {}
    headers = list(_HEADER.finditer(text))
    for i, header in enumerate(headers):
        if not _COMPARISON_HEADER.fullmatch(header[1]):
            continue
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        body = text[header.end() : end].strip()
        start = header.start() if i + 1 < len(headers) else len(text[: header.start()].rstrip())
        out[i + 1] = None if not body or _NO_COMPARISON.match(body) else Edit(start, end, "")
    return out


def _comparison(report: Report, rng: random.Random) -> tuple[list[Edit], str, str | None]:
    """Remove one comparison with an earlier study when the report makes one, else add one.

    The removal is a seeded choice among: a sentence's comparison wording, the finding kept ("Compared to the prior
    study, there is a small effusion." -> "There is a small effusion."; a trailing ", unchanged from the prior
    radiograph"; "again seen"; a leading "Stable"); a sentence that is only a comparison and states no positive
    finding, whole ("Compared to prior, no significant interval change.", "Unchanged appearance of the chest."); a
    `COMPARISON:` section with its header. Every option must leave the labeler's reading of the report unchanged,
    so the error is the comparison alone. A report that compares but offers no such removal is refused rather than
    given a second comparison that might contradict the first; one that never compares gets a comparison added to
    a finding ("..., new since the prior study") or as a sentence of its own.
    """
    sections = _comparison_sections(report)
    options = [(f"removed comparison section: {report.text[e.start : e.end].strip()!r}", [e])
               for e in sections.values() if e is not None]  # fmt: skip
    compares = bool(options)
    for i, s in enumerate(report.sentences):
        if s.section in sections:
            continue
        compares = compares or speaks_of_change(s.text)
        if (new := _strip_comparison(s.text)) is not None:
            options.append((f"removed comparison wording: {s.text!r} -> {new!r}", [_diff_edit(s.start, s.text, new)]))
        elif not positives(s.text) and (
            _COMPARISON_WORDS.search(s.text) or (_CHANGE_WORDS.search(s.text) and not _mentions_finding(s.text))
        ):
            options.append((f"removed comparison sentence: {s.text!r}", _removal_edits(report, {i})))
    before = labels_of(report.text)
    options = [(what, edits) for what, edits in options if labels_of(apply_edits(report.text, edits)) == before]
    if options:
        what, edits = rng.choice(options)
        return edits, what, None
    if compares:
        raise NothingToMutate(
            "comparison: the report compares with an earlier study, but no comparison can be removed without changing "
            "a finding, and adding one could contradict it"
        )
    findings = [s for s in report.sentences if positives(s.text) and s.text.endswith(".")]
    if findings:
        s = rng.choice(findings)
        clause = rng.choice(ADDED_COMPARISONS)
        obs = sorted(positives(s.text))[0]
        return [Edit(s.end - 1, s.end - 1, clause)], f"added comparison to {s.text!r}: {clause.strip(', ')!r}", obs
    at, sep = _insertion_point(report)
    return [Edit(at, at, sep + ADDED_COMPARISON_SENTENCE)], f"added comparison: {ADDED_COMPARISON_SENTENCE!r}", None


def _filler(report: Report, rng: random.Random) -> tuple[list[Edit], str, None]:
    lowered = report.text.lower()
    options = [s for subject, s in FILLER_SENTENCES if subject not in lowered]
    if len(options) < 2 or not report.sentences:
        raise NothingToMutate("filler: the report already mentions what our filler sentences describe")
    count = min(len(options), max(2, len(report.sentences) // 2 + 1))
    added = rng.sample(options, count)
    at, sep = _insertion_point(report)
    return [Edit(at, at, sep + " ".join(added))], f"added {count} neutral sentences: {' '.join(added)!r}", None


# -- paraphrase ----------------------------------------------------------------------------------------------------

_VERBS = re.compile(
    r"\b(?:is|are|was|were|has|have|seen|noted|with|without|no|not|consistent|concerning|recommended|suggest\w*)\b",
    re.IGNORECASE,
)
_PARAPHRASES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), replacements)
    for pattern, replacements in (
        (r"^there (is|are) no (?P<x>[^;]+?)\.$", ("No {x} {v} seen.", "No {x} {v} identified.")),
        (r"^no (?P<x>(?!acute)[^;]+?)(?<! seen)(?<! identified)(?<! noted)\.$", ("There is no {x}.",)),
        (r"^no (?P<x>[^;]+?) (is|are) (?:seen|identified|noted)\.$", ("There is no {x}.",)),
        (r"^no acute cardiopulmonary (?:process|abnormality|disease)\.$",
         ("No acute cardiopulmonary abnormality is seen.", "No evidence of acute cardiopulmonary disease.")),
        (r"^there (is|are) (?P<x>(?!no\b)(?!(?:likely|possibl[ey]|probabl[ey]|may|might|questionable)\b)[^;]+?)\.$",
         ("{X} {v} present.", "{X} {v} seen.")),
        (r"^(?:the )?heart size is (?:normal|within normal limits)\.$", ("The heart is normal in size.",)),
        (r"^(?:the )?heart is (?:normal|not enlarged) in size\.$", ("Heart size is normal.",)),
        (r"^(?:the )?cardiac silhouette is (?:normal|within normal limits)(?: in size)?\.$",
         ("The heart is normal in size.",)),
        (r"^(?:the )?lungs are clear\.$", ("Both lungs are clear.",)),
        (r"^(?:the )?mediastinum is (?:unremarkable|normal)\.$", ("The mediastinal contours are unremarkable.",)),
        (r"^(?:the )?(?:cardiomediastinal silhouette|mediastinal contours?) (?:is|are) (?:normal|unremarkable|within normal limits)\.$",  # noqa: E501
         ("The heart and mediastinum are normal in appearance.",)),
        (r"^(?P<x>.+?) (is|are) seen (?P<y>.+?)\.$", ("{X} {v} noted {y}.",)),
    )
)  # fmt: skip


def _sentence_paraphrases(text: str) -> list[str]:
    out: list[str] = []
    for pattern, replacements in _PARAPHRASES:
        m = pattern.match(text)
        if not m:
            continue
        groups = m.groupdict()
        verb = next((g.lower() for g in m.groups() if g and g.lower() in ("is", "are")), "is")
        x = groups.get("x") or ""
        for template in replacements:
            new = template.format(x=x, X=x[:1].upper() + x[1:], y=groups.get("y") or "", v=verb)
            out.append(new[0].upper() + new[1:])
    words = text.rstrip(".").split()
    if not out and text.endswith(".") and 1 <= len(words) <= 8 and "," not in text and not _VERBS.search(text):
        out.append(f"{text[:-1]} {'are' if words[-1].lower().endswith(('ies', 'ions')) else 'is'} present.")
    return [o for o in dict.fromkeys(out) if o != text and labels_of(o) == labels_of(text)]


def _paraphrase(report: Report, rng: random.Random) -> tuple[list[Edit], str, None]:
    edits: list[Edit] = []
    for s in report.sentences:
        options = _sentence_paraphrases(s.text)
        if options:
            edits.append(Edit(s.start, s.end, rng.choice(options)))
    if not edits:
        raise NothingToMutate("paraphrase: no sentence of the report matches a meaning-preserving rewrite")
    return edits, f"paraphrased {len(edits)} of {len(report.sentences)} sentences", None


# -- entry point --------------------------------------------------------------------------------------------------


def mutate(report: str, kind: str, seed: int = 0) -> Mutation:
    """The report with one change of type `kind` (see `ERROR_TYPES`), chosen with `seed` among the options.

    Raises `NothingToMutate` when the report has nothing for `kind`, `XrayBenchError` for an unknown kind.
    """
    if kind not in ERROR_TYPES:
        raise XrayBenchError(f"unknown error type {kind!r}; expected one of {', '.join(ERROR_TYPES)}")
    parsed = parse_report(report)
    if not parsed.sentences:
        raise NothingToMutate(f"{kind}: the report has no sentence")
    rng = _rng(kind, seed, report)
    if kind == "drop_finding":
        edits, change, obs = _drop_finding(parsed, rng)
    elif kind == "false_finding":
        edits, change, obs = _false_finding(parsed, rng)
    elif kind == "flip_negation":
        edits, change, obs = _flip_negation(parsed, rng)
    elif kind == "laterality":
        edits, change, obs = _swap(parsed, rng, kind, _SIDE, {"left": "right", "right": "left"})
    elif kind == "severity":
        edits, change, obs = _swap(parsed, rng, kind, _SEVERITY, SEVERITY_SWAPS)
    elif kind == "comparison":
        edits, change, obs = _comparison(parsed, rng)
    elif kind == "filler":
        edits, change, obs = _filler(parsed, rng)
    else:
        edits, change, obs = _paraphrase(parsed, rng)
    text = apply_edits(report, edits)
    if text == report:
        raise NothingToMutate(f"{kind}: no change was possible")
    return Mutation(kind, text, report, change, kind in CLINICAL_TYPES, tuple(edits), obs)


def applicable(report: str, seed: int = 0) -> dict[str, Mutation]:
    """Every error type that applies to `report`, with its mutation (types that raise NothingToMutate are left out)."""
    out: dict[str, Mutation] = {}
    for kind in ERROR_TYPES:
        try:
            out[kind] = mutate(report, kind, seed)
        except NothingToMutate:
            continue
    return out
