"""The `coco` tokenizer against the real Stanford PTBTokenizer 3.4.1 (pycocoevalcap's), and the other modes."""

from __future__ import annotations

import random
import shutil

import pytest
from fixtures_lexical import SETS

from xraybench.errors import XrayBenchError
from xraybench.metrics.tokenize import coco_tokenize, coco_tokenize_batch, r2gen_clean, tokenize, tokenize_batch

TRICKY = [
    "The heart is normal in size. No pleural effusion (left/right). 1.5 cm nodule, 3-4 mm.",
    "Don't can't won't it's patient's patients' I'm we've they'll he'd O'Neil d'Avignon rock'n'roll",
    "\"Quoted\" 'single' `tick' -- dash ... ellipsis . . . end '' `` ’“",
    "XXXX. 1. No acute process. 2. Stable. x-XXXX XXXX-year-old",
    "Ratio 1/2 and 3:4 at 10:30 a.m. e.g. i.e. vs. Dr. Smith U.S. etc. The end",
    "café naïve — en–dash ½ ° ± × µm İ Σ ‐ ‑ ‒ ‼ 🙂 中",
    "[bracket] {brace} <tag> <br/> * asterisk & amp; &amp; &APOS; &lt; &gt; # $5 £3 €4 ¢ 50%",
    "gonna wanna cannot gotta lemme gimme 'tis 'twas dunno C++ c# :) :-( :P",
    "abc.def findings.Impression yes!no word.,next 1.5cm 5mm 12x10 x-ray T2-weighted 2.5-cm 1 1/2",
    "no. 5 No. Inc. Corp.w/ Etc.b/l FEB.n't s/pA.M. Mr. Ph.D. St. approx. Fig. 2",
    "http://example.com/a.b www.foo.com foo@bar.com a@b.com,! @name #tag1.2.3 L1-L2 C5/C6 AP/PA s/p",
    "12/25/2020 2020-01-01 555-1234 (555) 123-4567 +5 -5 -0.5 1,000 1.2.3 ~5 >5 <5 5x5x5",
    "",
    "   ",
    "Impression: U.S.\tMr.!!  etc.",
    "Seen on CT. Mme. Mlle. Az. AZ. az. Pty. Ltd co. lim Dept. Their report1.pdf, 12.png 1.2.jpg. (^_^) (xx) x_x",
    "’tis O'o http://a.b/{x}y <a b=c> <a b='c d'> Ph. The Ft. The U.S. Their",
]


def _fuzz_lines(n: int, seed: int) -> list[str]:
    atoms = " ".join(TRICKY).split() + list(".,;:!?()[]{}\"'`-/\\*&%$#@+=<>~^|_")
    rng = random.Random(seed)
    seps = [" ", " ", " ", "", "  ", "\t"]
    lines = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 20)):
            atom = rng.choice(atoms)
            atom = atom.upper() if rng.random() < 0.15 else atom.capitalize() if rng.random() < 0.15 else atom
            parts.append(atom + rng.choice(seps))
        lines.append("".join(parts).strip())
    return lines


def _java_ptb(texts: list[str]) -> list[list[str]]:
    """pycocoevalcap's own PTBTokenizer (runs the 3.4.1 jar), one call for the whole batch, order kept."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    captions = {i: [{"caption": t}] for i, t in enumerate(texts)}
    out = PTBTokenizer().tokenize(captions)
    return [out[i][0].split(" ") if out[i][0] else [] for i in range(len(texts))]


needs_java = pytest.mark.skipif(
    shutil.which("java") is None, reason="Java not installed: cannot run the PTBTokenizer jar"
)


@pytest.mark.java
@needs_java
def test_coco_equals_ptbtokenizer_on_fixtures_and_fuzz() -> None:
    texts = list(TRICKY)
    for hyps, refs in SETS.values():
        texts += hyps + [r for rs in refs for r in rs]
    texts += _fuzz_lines(600, seed=5)
    expected = _java_ptb(texts)
    ours = coco_tokenize_batch(texts)
    mismatches = [(t, e, o) for t, e, o in zip(texts, expected, ours, strict=False) if e != o]
    assert not mismatches, mismatches[:3]


@pytest.mark.java
@needs_java
def test_lookahead_crosses_caption_boundaries_like_pycocoevalcap() -> None:
    texts = ["Stable etc.", "The heart is normal.", "Seen at 10 a.m.", "The end etc."]
    assert coco_tokenize_batch(texts) == _java_ptb(texts)
    assert coco_tokenize_batch(texts)[0] == ["stable", "etc."]


@pytest.mark.java
@needs_java
def test_a_tag_left_open_runs_over_captions_like_pycocoevalcap() -> None:
    texts = ["one <a b='c", "two", "three d'> here <x y=\"1", '2"> end', "see <a b=c> here"]
    assert coco_tokenize_batch(texts) == _java_ptb(texts)
    assert coco_tokenize_batch(texts)[1] == ["two"]


def test_coco_examples() -> None:
    assert coco_tokenize("Don't see 1.5cm (left) nodules; can't.") == [
        "do",
        "n't",
        "see",
        "1.5",
        "cm",
        "-lrb-",
        "left",
        "-rrb-",
        "nodules",
        "ca",
        "n't",
    ]
    assert coco_tokenize("") == []
    assert coco_tokenize("cannot") == ["can", "not"]
    assert coco_tokenize_batch([]) == []


def test_raw_and_r2gen() -> None:
    assert tokenize("A  b,c.\n d", "raw") == ["A", "b,c.", "d"]
    text = "1. The heart is normal.. 2. No effusion/pneumothorax (stable). Lungs: clear!"
    assert r2gen_clean(text) == "the heart is normal . no effusionpneumothorax stable . lungs clear ."
    assert tokenize(text, "r2gen")[-1] == "."
    assert tokenize("", "r2gen") == []


def test_batch_and_errors() -> None:
    assert tokenize_batch(["a b", "a b"], "raw") == [["a", "b"], ["a", "b"]]
    with pytest.raises(XrayBenchError, match="unknown tokenizer mode"):
        tokenize("x", "ptb")
    with pytest.raises(XrayBenchError, match="expected str"):
        tokenize_batch(["x", None], "raw")  # type: ignore[list-item]
