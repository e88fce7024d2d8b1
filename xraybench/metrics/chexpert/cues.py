"""Negation, uncertainty and scope cues, in the same template syntax as `phrases.py`.

The labeler reads a sentence left to right. A *pre* cue opens a scope that covers the mentions after it
until the clause ends; a *post* cue reaches back to the mentions of its own clause; a *bi* cue does both
("atelectasis versus pneumonia"). Longest match wins, so the double negations ("cannot be excluded",
"not ruled out") and pseudo-negations ("no change in", "without change") are matched as one cue and
never seen as a bare "no"/"not".
"""

from __future__ import annotations

from enum import IntEnum


class Cue(IntEnum):
    """What a matched cue does to the mentions around it."""

    NEG_PRE = 1  # negates the mentions that follow in its clause ("no", "without", "free of")
    UNC = 2  # uncertain: the mentions that follow in its clause, else the ones before ("... is likely")
    UNC_REL = 3  # "suggesting", "concerning for": uncertain, but inside an open negation it stays a negation
    NEG_POST = 4  # negates the mentions before it in its clause, else the ones after ("has resolved")
    UNC_BI = 5  # uncertain both ways, back to the nearest mention ("atelectasis versus pneumonia")
    PSEUDO = 6  # looks like a negation but is not ("no change in"): closes any open scope
    TERM = 7  # ends the open scope and the backward reach of post cues ("but", "however", "which")
    VERB = 8  # the next mention starts a new clause for post cues; after a mention, lists end at "and"/","
    CONJ = 9  # "and"/"or": lists continue through it unless a verb came first or a new clause starts
    CLAUSE = 10  # "the"/"a"/"with" right after a comma or conjunction start a new clause
    NOOP = 11  # matched so that its words cannot be read as a mention ("pericardial effusion")
    ALT = 12  # "or": outside a negation the mentions it joins are alternatives, so uncertain (CheXpert)
    NORMAL = 13  # "normal", "within limits of normal" right after a verb negate the clause's mentions
    MASK = 14  # IU X-ray's "XXXX" (a masked word): a hedge between a finding and the diagnosis it names


CUES: list[tuple[Cue, tuple[str, ...]]] = [
    (
        Cue.NEG_PRE,
        (
            "{no|not|without|neither|nor|never|absence of|no evidence of|no signs of|no sign of|no findings of}",
            "{free of|clear of|negative for|resolution of|removal of|no longer|no definite|no definitive|no convincing|no other|no new|no acute|no significant|no residual|no focal|no visible|no large|no evidence for}",
            "{lungs|lung fields} ~ {clear of|free of}",
            "{lungs|lung fields} ~ {well expanded|well aerated|well inflated|expanded|hyperinflated|low in volume} and {clear of|free of}",
            "{there ~ no|without evidence of|with no|rather than|instead of|interval resolution of|interval removal of}",
            "{history of|known history of|sequela of|sequelae of}",  # CheXpert: "history of X" is no finding now
        ),
    ),
    (
        Cue.UNC,
        (
            "{may|might|could|possible|possibly|probable|probably|likely|most likely|presumably|presumed|presumptive|suspected|questionable|question of|questionably|equivocal|indeterminate|uncertain|unclear|borderline|perhaps|potential|potentially|unlikely}",
            "{cannot exclude|can not exclude|cannot rule out|can not rule out|can't exclude|could not exclude|difficult to exclude|not exclude|would not exclude|does not exclude}",
            "{differential includes|differential diagnosis includes|differential diagnosis|differential considerations include|differential considerations|differential|considerations include|consider|considered|consideration of}",
            "{rule out|to rule out|r/o|evaluate for|evaluation for|to evaluate for|assess for|to assess for|assessment for}",
            "{may represent|may reflect|could represent|could reflect|might represent|may ~ due to|may ~ related to|may indicate|may ~ secondary to}",
            # CheXpert: "correlate clinically for (symptoms of) X" is uncertain
            "{correlate clinically for|clinically correlate for|clinical correlation for|correlate for|correlation for|correlate clinically as to|symptoms of}",
            # IU X-ray's de-identification replaced every "likely" with XXXX: "xxxx representing pneumonia"
            "xxxx {representing|represents|represent|reflecting|reflects|reflect|due to|secondary to|related to}",
            "most xxxx",
            "{appearance|distribution} xxxx",
            "{question|questioned|suspicion of|suspicion for}",
            # a resolving finding is on its way out: neither clearly present nor gone
            "{resolving|resolving or developing|developing or resolving}",
            "{a consideration|difficult to exclude|a possibility|suggested|favored|favoring}",
            "{cannot|can not|could not|can't} ~ {excluded|ruled out}",
            "{difficult to|cannot|can not|could not} ~ exclude",
            "another consideration",
            "{not ~ excluded|not ~ ruled out}",
            "{may|might|could} ~ {present|seen|there}",
        ),
    ),
    (
        Cue.UNC_REL,
        (
            "{suggest|suggests|suggesting|suggestive of|suggestion of|to suggest|concerning for|concern for|worrisome for|suspicious for|suspicious of|worrisome of|concerning of|raising concern for}",
        ),
    ),
    (
        Cue.NEG_POST,
        (
            "{not|no longer} ~ {seen|visualized|identified|appreciated|evident|present|detected|demonstrated|noted|visible|apparent}",
            "{resolved|absent|cleared|disappeared|gone|removed|removal|ruled out}",
        ),
    ),
    (Cue.UNC_BI, ("{versus|vs}",)),
    (
        Cue.PSEUDO,
        (
            "{no|without|not} ~ {change|changed|interval change|appreciable change|substantial change|relevant change|definite change|significant change|significant interval change|appreciable interval change|increase|worsening|progression|improvement|improved|decrease|decreased|different|appreciably changed}",
            "{no|without} change in",
            "{not only|no longer enlarged}",
            "{nearly|almost|partially|largely|mostly|incompletely|not} ~ resolved",
            "{nearly|almost|partially|largely|mostly|incompletely} ~ cleared",
            "{gram negative|cannot ~ assessed|not assessed|cannot ~ evaluated|not well evaluated|not well seen|not well visualized}",
        ),
    ),
    (
        Cue.TERM,
        (
            "{but|however|although|though|except|aside from|apart from|other than|whereas|while|yet|which|there|with the exception of|except for}",
        ),
    ),
    (
        Cue.VERB,
        (
            "{is|are|was|were|has|have|had|remains|remain|appears|appear|seen|noted|present|identified|demonstrated|shows|show|measures|visualized|unchanged|stable|increased|decreased|improved|worsened}",
        ),
    ),
    (Cue.CONJ, ("{and|as well as}",)),
    (Cue.ALT, ("{or|and or}",)),
    (
        Cue.NORMAL,
        (
            "{normal|within normal limits|within limits of normal|within the limits of normal|unremarkable|normal in size|of normal size}",
        ),
    ),
    (Cue.CLAUSE, ("{the|this|these|it|a|an|with}",)),
    (Cue.MASK, ("xxxx",)),
]
