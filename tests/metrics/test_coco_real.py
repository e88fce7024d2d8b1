"""The `coco` pipeline against pycocoevalcap on real radiology text (IU X-ray / Open-i reports).

The reports are read in place from `../shared/data/iu_xray/indiana_reports.csv` (never copied into the
repository); the tests skip, saying why, when the file or Java is missing. The PTBTokenizer jar runs once
per module over every text at once (a few seconds; a jar call per text would take minutes).

- Tokenizer: every findings and impression text of the file, plus generated sentences for every
  abbreviation in the lexer's lists (PTBLexer.flex of CoreNLP 3.4.1, as `tokenize` copies them) in upper,
  capitalised and lower case, sentence-final, mid-sentence, before a digit, a comma and a tab, and every
  word after which an acronym ends a sentence. Token lists must be equal (no known exception: see
  docs/tokenizer-conformance.md).
- Metrics: BLEU-1..4, ROUGE-L and CIDEr-D within 1e-9 of pycocoevalcap, and METEOR's segment statistics
  exactly the jar's (captured from pycocoevalcap's own `Meteor` calls), on a few hundred real pairs.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from fixtures_lexical import IU_REPORTS, iu_report_pairs, iu_texts

from xraybench.metrics import tokenize
from xraybench.metrics.api import score_texts
from xraybench.metrics.meteor import parse_stats, shared_native
from xraybench.metrics.tokenize import coco_tokenize_batch

pytestmark = [
    pytest.mark.java,
    pytest.mark.skipif(shutil.which("java") is None, reason="Java not installed: cannot run pycocoevalcap's jars"),
    pytest.mark.skipif(not IU_REPORTS.is_file(), reason=f"real IU X-ray reports not found at {IU_REPORTS}"),
]
N_PAIRS = 300


def _spellings(flex: str) -> list[str]:
    """Every word a (finite) list of the lexer spec matches, lower-cased."""
    return sorted(tokenize._spellings(list(tokenize._sre_parse.parse(tokenize._caseless(flex)))))


def _cases(word: str) -> set[str]:
    return {word, word[:1].upper() + word[1:], word.upper()}


def abbreviation_cases() -> list[str]:
    """Sentences around every abbreviation of the lexer's lists and every acronym-ending next word."""
    lists = (tokenize._FLEX_ABBREV1, tokenize._FLEX_ABBREV4, tokenize._FLEX_ABBREV3)
    lines: list[str] = []
    for word in sorted({w for flex in lists for w in _spellings(flex)}):
        for v in sorted(_cases(word)):
            lines += [
                f"Seen on {v}.",  # sentence-final, last in its caption (the next caption starts upper-case)
                f"Seen on {v}. The heart is normal.",  # sentence-final inside a caption
                f"The {v}. x is here.",  # mid-sentence
                f"The {v}. 5 cm",  # before a number
                f"the {v}., next",
                f"{v}.",
                f"({v}.)",
                f"in {v}.\tNo",
            ]
    for word in _spellings(tokenize._FLEX_ACRONYM_NEXT.replace("\\.", "")):
        for v in sorted(_cases(word)):
            lines += [f"From the U.S. {v} came", f"Seen on CT. {v} is", f"Seen on X. {v} is"]
    return lines


@pytest.fixture(scope="module")
def jar_tokens() -> tuple[list[str], list[list[str]]]:
    """(texts, pycocoevalcap's tokens of each): the IU texts, then the abbreviation cases, in one call."""
    pytest.importorskip("pycocoevalcap", reason="pycocoevalcap (the [dev] extra) is the reference")
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    texts = iu_texts() + abbreviation_cases()
    out = PTBTokenizer().tokenize({i: [{"caption": t}] for i, t in enumerate(texts)})
    return texts, [out[i][0].split(" ") if out[i][0] else [] for i in range(len(texts))]


def test_every_iu_text_and_abbreviation_case_tokenizes_as_the_jar(jar_tokens) -> None:
    texts, expected = jar_tokens
    n_iu = len(iu_texts())
    assert n_iu > 7000  # every findings and impression text of the 3,851 reports
    ours = coco_tokenize_batch(texts)  # one batch, as the jar saw them: look-ahead crosses caption ends
    mismatches = [(i, t, e, o) for i, (t, e, o) in enumerate(zip(texts, expected, ours, strict=True)) if e != o]
    assert not [m for m in mismatches if m[0] < n_iu], mismatches[:3]
    assert not mismatches, mismatches[:3]
    # the cases the old lists got wrong ("CT." ends many real reports)
    assert ours[texts.index("Seen on CT. The heart is normal.")][:3] == ["seen", "on", "ct."]
    assert ours[texts.index("Seen on Mme.")][-1] == "mme."


def test_abbreviation_cases_cover_the_lists() -> None:
    cases = abbreviation_cases()
    for word in ("ct", "mme", "mlle", "az", "rt", "bldg", "pte", "dept", "ft", "msgr"):
        assert f"Seen on {word.upper()}." in cases and f"Seen on {word}." in cases


@pytest.fixture(scope="module")
def pycocoevalcap_scores() -> tuple[list[str], list[list[str]], dict[str, float], list[str]]:
    """pycocoevalcap's pipeline on real pairs: its values and the METEOR statistics lines of its jar."""
    pytest.importorskip("pycocoevalcap", reason="pycocoevalcap (the [dev] extra) is the reference")
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    hyps, refs = iu_report_pairs(N_PAIRS, seed=14)
    # make sure the pairs hold the cases this module is about: every study with an abbreviation period
    extra_hyps, extra_refs = iu_report_pairs(seed=15)
    chosen = [i for i, h in enumerate(extra_hyps) if "CT." in h or "CT." in extra_refs[i][0]]
    assert chosen, "no IU report with 'CT.' found"
    hyps += [extra_hyps[i] for i in chosen]
    refs += [extra_refs[i] for i in chosen]
    tokenizer = PTBTokenizer()
    gts = tokenizer.tokenize({i: [{"caption": r} for r in rs] for i, rs in enumerate(refs)})
    res = tokenizer.tokenize({i: [{"caption": h}] for i, h in enumerate(hyps)})
    values: dict[str, float] = {}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    values.update({f"bleu_{k + 1}": bleu[k] for k in range(4)})
    values["rouge_l"], _ = Rouge().compute_score(gts, res)
    values["cider"], _ = Cider().compute_score(gts, res)
    scorer = Meteor()
    lines: list[str] = []
    stat = scorer._stat
    scorer._stat = lambda hyp, refs: lines.append(stat(hyp, refs)) or lines[-1]  # record its statistics
    values["meteor"], _ = scorer.compute_score(gts, res)
    del scorer
    return hyps, refs, values, lines


def test_lexical_metrics_equal_pycocoevalcap_on_real_pairs(pycocoevalcap_scores) -> None:
    hyps, refs, expected, jar_lines = pycocoevalcap_scores
    assert len(hyps) >= N_PAIRS + 5
    ours = score_texts(hyps, refs, ["bleu", "meteor", "rouge_l", "cider"])
    for name in ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "rouge_l", "cider"):
        assert abs(ours[name].value - expected[name]) <= 1e-9, (name, ours[name].value, expected[name])
    # METEOR: the jar's own statistics for each segment, exactly; then the corpus value
    assert len(jar_lines) == len(hyps)
    tokens = coco_tokenize_batch(hyps), coco_tokenize_batch([r for rs in refs for r in rs])
    native = shared_native().stats([" ".join(t) for t in tokens[0]], [[" ".join(t)] for t in tokens[1]])
    np.testing.assert_array_equal(native, parse_stats(jar_lines))
    assert abs(ours["meteor"].value - expected["meteor"]) <= 1e-12
