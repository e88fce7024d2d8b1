"""Which comparisons to judge: the full pair matrix or a new model against the field.

A comparison is `(model_a, model_b, study)`: the judge compares the two models' reports for one study.

`full_schedule` is the paper's matrix (every unordered model pair on every study); `new_model_schedule`
judges a newly submitted model against the existing field only, so the field's judgments are reused. The
adaptive schedule is in `arena.adaptive` (it needs numpy and the rating fit; these two do not, so a full-matrix
run sends its first request at once).
"""

from __future__ import annotations

from collections.abc import Sequence

from xraybench.errors import XrayBenchError

Comparison = tuple[str, str, str]


def _unique(names: Sequence[str], what: str) -> tuple[str, ...]:
    names = tuple(str(n) for n in names)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise XrayBenchError(f"duplicate {what}: {', '.join(dupes)}")
    return names


def full_schedule(models: Sequence[str], studies: Sequence[str]) -> list[Comparison]:
    """Every unordered model pair on every study (the paper's matrix), ordered by study, then pair.

    Pairs follow the given model order (a before b when a is listed first), so the result is deterministic.
    """
    models, studies = _unique(models, "models"), _unique(studies, "studies")
    pairs = [(models[i], models[j]) for i in range(len(models)) for j in range(i + 1, len(models))]
    return [(a, b, study) for study in studies for a, b in pairs]


def new_model_schedule(new: str, field: Sequence[str], studies: Sequence[str]) -> list[Comparison]:
    """A newly submitted model against each model of the existing field on every study, and nothing else."""
    field, studies = _unique(field, "field models"), _unique(studies, "studies")
    if new in field:
        raise XrayBenchError(f"new model {new!r} is already in the field")
    if not field:
        raise XrayBenchError(f"new model {new!r} has no field to be judged against")
    return [(new, opponent, study) for study in studies for opponent in field]
