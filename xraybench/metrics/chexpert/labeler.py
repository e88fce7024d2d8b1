"""A rule-based CheXpert-style labeler: mentions, negation and uncertainty with clause scope.

Pipeline per report: keep the findings/impression sections, normalise (lower case, hyphens to
spaces, single spaces), then one `finditer` of a single trie regex yields, in order, the mentions,
the cues and the punctuation of the whole report. A small state machine walks these items sentence
by sentence and gives every mention a status (1 present, 0 absent, -1 uncertain); the statuses of an
observation are then aggregated the CheXpert way (positive wins, then uncertain, then negative).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from xraybench.metrics.chexpert.cues import CUES, Cue
from xraybench.metrics.chexpert.phrases import (
    CHEXPERT_LABELS,
    FIXED,
    HEDGE_SLOT_WORDS,
    HEDGED,
    HEDGED_MENTIONS,
    MENTIONS,
    NF,
    PE,
    SD,
    SLOT_WORDS,
    UNMENTIONS,
)
from xraybench.metrics.chexpert.sections import findings_text
from xraybench.metrics.chexpert.trie import expand, key_of, slot_regex, strip_regex, trie_regex

Label = int | None
POSITIVE, NEGATIVE, UNCERTAIN = 1, 0, -1

# Item kinds beyond the cues: a phrase that mentions observations, a sentence end, a comma.
_MENTION, _END, _COMMA = 100, 101, 102


@dataclass(frozen=True)
class Entry:
    """What one matched phrase means: the observations it mentions (with a fixed status or None)
    and the cue it carries, if any ("lungs are clear of" is both a verdict and a negation cue)."""

    mentions: tuple[tuple[int, int | None], ...] = ()
    cue: Cue | None = None


@dataclass(frozen=True)
class _Tables:
    regex: re.Pattern[str]
    entries: dict[str, Entry]
    slot_strip: re.Pattern[str]
    hedge: re.Pattern[str]


def _add(entries: dict[str, Entry], phrase: str, entry: Entry) -> None:
    key = key_of(phrase)
    old = entries.get(key)
    if old is None:
        entries[key] = entry
        return
    if old.mentions and entry.mentions and old.mentions != entry.mentions:
        raise ValueError(f"phrase {key!r} is listed with different observations")
    if old.cue is not None and entry.cue is not None and old.cue != entry.cue:
        raise ValueError(f"phrase {key!r} is listed as two different cues ({old.cue.name}, {entry.cue.name})")
    entries[key] = Entry(old.mentions or entry.mentions, old.cue if old.cue is not None else entry.cue)


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    """Expand every template and compile the one regex (once per process, a few tenths of a second)."""
    entries: dict[str, Entry] = {}
    phrases: list[str] = []

    def add_all(templates: Iterable[str], entry: Entry) -> None:
        for template in templates:
            for phrase in expand(template):
                phrases.append(phrase)
                _add(entries, phrase, entry)

    for templates, observations in MENTIONS:
        add_all(templates, Entry(tuple((obs, None) for obs in observations)))
    for templates, observations in HEDGED_MENTIONS:
        add_all(templates, Entry(tuple((obs, HEDGED) for obs in observations)))
    for templates, observations, status in FIXED:
        add_all(templates, Entry(tuple((obs, status) for obs in observations)))
    add_all(UNMENTIONS, Entry(cue=Cue.NOOP))
    for cue, templates in CUES:
        add_all(templates, Entry(cue=cue))

    all_slot_words = (*SLOT_WORDS, *HEDGE_SLOT_WORDS)
    slot_words = {w for w in all_slot_words if " " not in w}
    for key in entries:
        words = key.split()
        clash = slot_words.intersection(words) if len(words) > 1 else set()
        if clash:
            raise ValueError(f"phrase {key!r} contains slot words {sorted(clash)}; use a ~ slot instead")
    # a sentence ends at . ; ? ! : before a space, a bracket or an HTML entity ("pneumothorax.&gt;]"),
    # or at a full stop glued to the next word ("seen.Heart")
    regex = re.compile(
        r"\b(?:" + trie_regex(set(phrases), slot_regex(all_slot_words)) + r")\b"
        r"|([.;?!:](?=\s|$|&[a-z]+;|[\])>])|(?<=[a-z]{2})\.(?=[a-z]{2}))|(,)"
    )
    hedge = re.compile(r"\b(?:" + "|".join(HEDGE_SLOT_WORDS) + r")\b")
    return _Tables(regex, entries, re.compile(strip_regex(all_slot_words)), hedge)


_HYPHENS = str.maketrans({c: " " for c in "-\u2010\u2011\u2012\u2013\u2014\u2015"})
# "atelectasis/infiltrate", "and/or": a slash between two words is an "or" ("r/o" keeps its slash)
_SLASH = re.compile(r"(?:\band ?)?(?<=[a-z]{2}) ?/ ?(?=[a-z]{2})")


def normalise(text: str) -> str:
    """Lower case, hyphens as spaces ("ground-glass"), word/word as "word or word", single spaces."""
    text = " ".join(text.lower().translate(_HYPHENS).split())
    return _SLASH.sub(" or ", text) if "/" in text else text


Item = tuple[int, Entry | None, int, int]  # kind, entry, start and end offset in the normalised text


def _items(text: str, tables: _Tables) -> list[Item]:
    """The report as a sequence of (kind, entry, start, end): mentions, cues, sentence ends and commas."""
    items: list[Item] = []
    entries = tables.entries
    for m in tables.regex.finditer(text):
        start, end = m.span()
        if m.group(1) is not None:
            items.append((_END, None, start, end))
            continue
        if m.group(2) is not None:
            items.append((_COMMA, None, start, end))
            continue
        phrase = m.group()
        entry = entries.get(phrase)
        if entry is None:
            entry = entries.get(" ".join(tables.slot_strip.sub("", phrase).split()))
            if entry is None:  # a slot filled with "to"/"and" alone: not one of our phrases
                continue
        if entry.mentions:
            if tables.hedge.search(phrase) and phrase not in entries:  # a hedge filled one of its slots
                items.append((int(Cue.UNC), None, start, start))
            items.append((_MENTION, entry, start, end))
        if entry.cue is not None:
            items.append((int(entry.cue), entry, start, end))
    items.append((_END, None, len(text), len(text)))
    return items


def _adjacent(text: str, items: list[Item], i: int, j: int, words: int = 0) -> bool:
    """Whether at most `words` words stand between item `i` and the later item `j`."""
    return len(text[items[i][3] : items[j][2]].split()) <= words


def _mention_follows(items: list[Item], i: int, text: str) -> bool:
    """Whether a plain mention follows item `i` in the same clause (before a verb, comma, "and" or end).

    An "and" right after the cue ends the clause ("atelectasis is likely and ..."); one after other
    words joins what the cue governs ("possibly related to scarring and atelectasis").
    """
    for j in range(i + 1, len(items)):
        kind, entry = items[j][0], items[j][1]
        if kind == _MENTION:
            assert entry is not None
            return any(status is None or status == HEDGED for _, status in entry.mentions)
        if kind == Cue.CONJ and not _adjacent(text, items, i, j):
            continue
        if kind in (_END, _COMMA, Cue.TERM, Cue.VERB, Cue.CONJ):
            return False
    return False


def _starts_clause(items: list[Item], i: int) -> bool:
    """Whether the item after a comma/conjunction at `i` opens a new clause rather than a list item."""
    if i + 1 >= len(items):
        return True
    return items[i + 1][0] in (Cue.CLAUSE, Cue.VERB, Cue.TERM, _END)


_PARTICIPLE_ADJECTIVES = frozenset({"visualized", "seen", "identified", "demonstrated", "noted", "present"})
_SINGULAR = frozenset({"is", "was", "has"})


def _statuses(items: list[Item], text: str) -> list[list[int]]:
    """Walk the items and return [observation, status, sign] for every mention (sign: 1 when the
    mention is only a sign of the observation, e.g. vascular congestion for Edema)."""
    found: list[list[int]] = []
    window: list[list[int]] = []  # plain mentions a post cue can reach back to
    # "consolidation, atelectasis, and blunting have cleared": the earlier items of a comma list
    # joined by "and"; a post cue or a normal predicate reaches back over the whole list
    list_window: list[list[int]] = []
    list_and = False
    last: list[list[int]] = []  # the records of the latest mention ("or" reaches back to it only)
    scope: int | None = None  # status imposed by the open forward scope
    strong = False  # a strong scope runs through list commas; a weak one ends at any comma
    mention_in_scope = verb_in_scope = verb_pending = False
    alt_next = False  # the next mention is the second half of an "X or Y" outside a negation
    alt_prev: list[list[int]] = []  # the first half's records, made uncertain by that "or"
    listing = False  # after "no change in": "X or Y" lists what is unchanged, no alternatives
    n = len(items)

    def reach_back(i: int) -> list[list[int]]:
        # a singular verb ("..., and X has resolved") governs the last item only
        singular = i > 0 and items[i - 1][0] == Cue.VERB and text[items[i - 1][2] : items[i - 1][3]] in _SINGULAR
        return list_window + window if list_and and not singular else window

    for i, (kind, entry, _, _) in enumerate(items):
        if kind == _MENTION:
            assert entry is not None
            if verb_pending:
                window, list_window, list_and = [], [], False
                verb_pending = False
            last = []
            for obs, fixed in entry.mentions:
                if fixed is not None and fixed != HEDGED:
                    found.append([obs, fixed, 0])
                    continue
                status = POSITIVE if scope is None else scope
                if alt_next and status == POSITIVE and fixed != HEDGED:
                    same = [r for r in alt_prev if r[0] == obs]
                    for r in same:  # "effusion/hemothorax": both alternatives are an effusion
                        r[1] = POSITIVE
                    status = POSITIVE if same else UNCERTAIN
                elif fixed == HEDGED and status == POSITIVE:
                    status = UNCERTAIN
                record = [obs, status, int(fixed == HEDGED)]
                found.append(record)
                window.append(record)
                last.append(record)
            alt_next, alt_prev = False, []
            if scope is not None:
                mention_in_scope = True
        elif kind == _END:
            window, scope, verb_pending, alt_next, listing = [], None, False, False, False
            list_window, list_and, last = [], False, []
        elif kind == _COMMA:
            # a list goes on when a mention follows the comma and no verb came first
            if not verb_pending and i + 1 < n and items[i + 1][0] in (_MENTION, Cue.CONJ):
                list_window = list_window + window
            else:
                list_window, list_and = [], False
            window, alt_next = [], False
            if scope is not None and (not strong or verb_in_scope or _starts_clause(items, i)):
                scope = None
        elif kind == Cue.CONJ:
            alt_next = False
            if list_window and not verb_pending and not _starts_clause(items, i):
                list_and = True
            elif _starts_clause(items, i):  # ", and the left effusion has resolved": a new clause
                list_window, list_and = [], False
            if scope is not None and (verb_in_scope or _starts_clause(items, i)):
                scope = None
        elif kind == Cue.ALT:
            # "no large effusion or visualized pneumothorax": a participle right before the next
            # mention is an adjective, not the verb of a new clause
            adjective = (
                i + 2 < n
                and items[i + 1][0] == Cue.VERB
                and items[i + 2][0] == _MENTION
                and text[items[i + 1][2] : items[i + 1][3]] in _PARTICIPLE_ADJECTIVES
                and _adjacent(text, items, i + 1, i + 2)
            )
            if scope is not None and (verb_in_scope or (_starts_clause(items, i) and not adjective)):
                scope = None
            if scope is None and not listing:  # "atelectasis or scarring": both only possible (CheXpert)
                alt_prev = []
                if items[i - 1][0] == _MENTION and last:
                    # only the nearest mention is an alternative: "edema and atelectasis/airspace disease"
                    alt_prev = [record for record in last if record[1] == POSITIVE]
                    for record in alt_prev:
                        record[1] = UNCERTAIN
                alt_next = True
        elif kind == Cue.NORMAL:
            # "heart size and vascular engorgement appear within limits of normal": the predicate
            # negates every mention of its subject; a bare "normal" elsewhere is an adjective
            if i > 0 and items[i - 1][0] == Cue.VERB:
                for record in reach_back(i):
                    record[1] = NEGATIVE
        elif kind == Cue.TERM:
            window, scope, verb_pending, alt_next, listing = [], None, False, False, False
            list_window, list_and = [], False
        elif kind == Cue.VERB:
            verb_pending, listing = True, False
            if scope is not None and mention_in_scope:
                verb_in_scope = True
        elif kind == Cue.PSEUDO:
            scope, listing = None, True
        elif kind == Cue.NEG_PRE:
            scope, strong, mention_in_scope, verb_in_scope = NEGATIVE, True, False, False
        elif kind == Cue.MASK:
            # IU X-ray's de-identification masked "likely": "opacities, XXXX atelectasis",
            # "opacity XXXX atelectasis". Only right after a comma or a mention, right before one.
            if (
                i > 0
                and i + 1 < n
                and items[i - 1][0] in (_COMMA, _MENTION)
                and items[i + 1][0] == _MENTION
                and _adjacent(text, items, i - 1, i)
                and _adjacent(text, items, i, i + 1, 2)
            ):
                scope, strong, mention_in_scope, verb_in_scope = UNCERTAIN, False, False, False
        elif kind in (Cue.UNC, Cue.UNC_REL):
            if kind == Cue.UNC_REL and scope == NEGATIVE:
                continue  # "no consolidation to suggest pneumonia": the negation carries on
            if _mention_follows(items, i, text) or not window:
                scope, strong, mention_in_scope, verb_in_scope = UNCERTAIN, True, False, False
            else:
                for record in window:
                    record[1] = UNCERTAIN
        elif kind == Cue.NEG_POST:
            if window:
                for record in reach_back(i):
                    record[1] = NEGATIVE
            else:
                scope, strong, mention_in_scope, verb_in_scope = NEGATIVE, False, False, False
        elif kind == Cue.UNC_BI:
            if window:  # only the nearest alternative: "opacities, edema versus pneumonia"
                window[-1][1] = UNCERTAIN
            scope, strong, mention_in_scope, verb_in_scope = UNCERTAIN, False, False, False
    return found


def _aggregate(found: Sequence[list[int]]) -> list[Label]:
    """Per observation: any positive wins, then uncertain, then negative; No Finding from the rest."""
    labels: list[Label] = [None] * len(CHEXPERT_LABELS)
    signs_only = [True] * len(CHEXPERT_LABELS)  # uncertain only through signs ("blunting")
    negated = [False] * len(CHEXPERT_LABELS)  # the observation itself stated absent ("no effusion")
    for obs, status, sign in found:
        if status == UNCERTAIN and not sign:
            signs_only[obs] = False
        elif status == NEGATIVE and not sign:
            negated[obs] = True
        current = labels[obs]
        if current is None or status == POSITIVE or (status == UNCERTAIN and current == NEGATIVE):
            labels[obs] = status
    # "blunting of the costophrenic angle ... without definite pleural effusion": the report settles
    # what the sign left open. Edema keeps CheXpert's rule ("congestion without overt edema" is -1).
    if labels[PE] == UNCERTAIN and signs_only[PE] and negated[PE]:
        labels[PE] = NEGATIVE
    pathologies = (v for i, v in enumerate(labels[:NF]) if i != SD)
    labels[NF] = None if any(v in (POSITIVE, UNCERTAIN) for v in pathologies) else POSITIVE
    return labels


def _items_of(text: str, tables: _Tables) -> tuple[list[Item], str]:
    norm = normalise(findings_text(text))
    return _items(norm, tables), norm


def label_report(text: str) -> list[Label]:
    """Label one report: 14 values in CheXpert order, each 1, 0, -1 (uncertain) or None (not mentioned)."""
    tables = _tables()
    return _aggregate(_statuses(*_items_of(text, tables)))


def label_reports(texts: Iterable[str]) -> list[list[Label]]:
    """Label many reports (see `label_report`)."""
    return [label_report(text) for text in texts]
