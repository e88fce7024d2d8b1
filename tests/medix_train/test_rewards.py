"""DeepMedix-R1 reward: scripted completions with hand-computed values, and the paper variant against an
independent re-statement of the released semantics built on nltk and rouge-score."""

from __future__ import annotations

import math
import pickle
import random
import re
import warnings

import pytest

from medix_train.rewards import (
    MAX_OVERALL,
    DeepMedixRewardFunc,
    answer_reward,
    completion_text,
    coordinate_reward,
    deepmedix_reward,
    extract_answer,
    format_reward,
    normalise_response,
    trl_reward_funcs,
)
from xraybench.errors import XrayBenchError

B = "\\boxed"  # keeps the scripted completions readable


# --- format -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (f"<think>looks normal</think> The answer is: {B}{{yes}}.", 1.0),
        (f"<think></think>{B}{{}}", 1.0),
        (f"  \n<think>a</think>\n{B}{{yes}}", 1.0),  # whitespace before '<' is removed, so it starts with <think>
        (f"< think >a</ think >{B}{{yes}}", 1.0),  # whitespace around '<', '>' and '/' inside tags
        (f"<think>a</think>b<think>c</think>{B}{{d}}", 1.0),  # several think blocks
        (f"Sure. <think>a</think>{B}{{yes}}", 0.0),  # must start with <think>
        ("<think>a</think> The answer is yes.", 0.0),  # missing \boxed{}
        (f"<think>{B}{{yes}}</think> done", 0.0),  # a \boxed{ counts only after the first </think>
        (f"{B}{{yes}}<think>a</think>", 0.0),
        (f"<think>a</think>{B}{{yes", 0.0),  # no closing brace after \boxed{
        (f"<think>a</think>{B}{{yes and {{x}}", 1.0),  # unclosed by depth, but a '}' follows: format only needs one
        (f"<think>a {B}{{yes}}", 0.0),  # no </think>
        (f"<thinking>a</thinking>{B}{{yes}}", 0.0),
        ("<think>a</think>\\boxed {yes}", 0.0),  # '\boxed {' is not '\boxed{'
    ],
)
def test_format_reward(response: str, expected: float) -> None:
    assert format_reward(response) == expected


def test_normalisation_is_whole_response_and_idempotent() -> None:
    text = "a / b < c > d\n/\te"
    assert normalise_response(text) == "a/b<c>d/e"
    assert normalise_response(normalise_response(text)) == normalise_response(text)


# --- coordinate ---------------------------------------------------------------------------------------


def think(body: str, after: str = f" {B}{{yes}}") -> str:
    return f"<think>{body}</think>{after}"


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (think("heart [100, 120, 300, 280]"), 0.05),
        (think("[1,2,3,4] [5,6,7,8]"), 0.10),
        (think("[1,2,3,4] [5,6,7,8] [9,10,11,12]"), 0.15),
        (think("[1,2,3,4] " * 5), 0.15),  # more than three boxes: capped at 0.15
        (think("[0, 0, 512, 512]"), 0.05),  # 512 is inside
        (think("[0, 0, 512.5, 10]"), -0.2),  # decimals; only a value > 512 costs
        (think("[0, 0, 513, 10] [0, 0, 900, 900]"), -0.4),  # no floor
        (think("[-5, -3, 10, 10]"), 0.05),  # negative values earn +0.05
        (think("[-600, -3, 10, 10]"), 0.05),  # max is 10: a large negative value is not > 512
        (think("[+1, -2, .5, 3.25]"), 0.05),  # signs and a leading-dot decimal are numbers
        (think("[1,\n2,\t3,   4]"), 0.05),  # whitespace (newlines too) allowed after commas
        (think("[[1, 2, 3, 4]]"), 0.05),  # contains one box
        (think("[1 ,2,3,4]"), 0.0),  # whitespace before a comma
        (think("[ 1,2,3,4]"), 0.0),
        (think("[1,2,3,4 ]"), 0.0),
        (think("[1e3,2,3,4]"), 0.0),  # no exponents
        (think("[5.,1,2,3]"), 0.0),  # '5.' is not a number
        (think("[1,2,3]"), 0.0),
        (think("[1,2,3,4,5]"), 0.0),
        (think("(1,2,3,4) {1,2,3,4}"), 0.0),
        (think("no boxes at all"), 0.0),
        ("[1,2,3,4] without a think block", 0.0),
        ("<think>[1,2,3,4] never closed", 0.0),
        (think("none here") + " <think>[1,2,3,4]</think>", 0.0),  # boxes outside the first block do not count
        (think("none here", after=f" [1,2,3,4] {B}{{yes}}"), 0.0),
        ("[1,2,3,4]<think>[5,6,7,8]</think>", 0.05),  # the first block need not start the response
        ("< think >[1,2,3,4]</ think >", 0.05),  # whitespace in tags is normalised first
    ],
)
def test_coordinate_reward(response: str, expected: float) -> None:
    assert coordinate_reward(response) == pytest.approx(expected, abs=1e-12)


def test_coordinate_is_summed_left_to_right_then_capped() -> None:
    # capping after every box would give 0.15 - 0.2 = -0.05; the released reward sums first: 4 * 0.05 - 0.2 = 0
    assert coordinate_reward(think("[1,2,3,4] " * 4 + "[0,0,600,1]")) == pytest.approx(0.0, abs=1e-12)
    assert coordinate_reward(think("[0,0,600,1] " + "[1,2,3,4] " * 4)) == pytest.approx(0.0, abs=1e-12)
    assert coordinate_reward(think("[1,2,3,4] " * 3 + "[0,0,600,1]")) == pytest.approx(-0.05, abs=1e-12)


# --- answer extraction and the three branches ---------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (f"{B}{{a}} then {B}{{b}}", "b"),  # the last \boxed{
        (f"{B}{{  effusion \n}}", "effusion"),  # stripped
        (f"{B}{{\\text{{T1}}}}", "\\text{T1}"),  # nested braces, depth counted
        (f"{B}{{a{{b}}c}} tail", "a{b}c"),
        (f"{B}{{a}} {B}{{b", "None"),  # the last one is unclosed: None, even after a closed one
        ("no box here", "None"),
        (f"{B}{{}}", ""),  # empty: the score turns it into a single space
        (f"{B}{{T1 / T2}}", "T1/T2"),  # the answer is normalised with the response
    ],
)
def test_extract_answer(response: str, expected: str) -> None:
    assert extract_answer(response) == expected


@pytest.mark.parametrize(
    ("answer", "truth", "expected"),
    [
        # list branch: truth has '|' and <= 20 words; items lower-cased and stripped, set hits / list lengths
        ("Cardiomegaly | effusion", "effusion|cardiomegaly", 1.5),
        ("effusion", "effusion|cardiomegaly", 1.5 * 2 * (1 * 0.5) / 1.5),  # P 1, R 1/2 -> F1 2/3
        ("effusion|effusion", "effusion|cardiomegaly", 1.5 * 0.5),  # duplicates: P = 1/2, R = 1/2
        ("effusion||edema", "effusion|edema", 1.5 * 0.8),  # an empty item counts: P = 2/3, R = 1
        ("nodule", "effusion|edema", 0.0),
        ("a | b", "a | b", 1.5),  # 3 tokens with '|': the list branch
        # exact branch: truth <= 2 words, stripped answer vs unstripped truth, case-insensitive
        ("YES", "yes", 1.5),
        ("  left SIDE ", "Left side", 1.5),
        ("yes.", "yes", 0.0),
        ("yes", " yes", 0.0),  # the ground truth is never stripped
        ("T1 / T2", "T1/T2", 1.5),  # the response normalisation joins the answer
        ("", "yes", 0.0),
        ("", "None", 0.0),  # an empty box is a space, not None
        # report branch: identical strings score 1 on each of BLEU-1, BLEU-4 and ROUGE-1
        ("left lower lobe", "left lower lobe", 1.5),  # 3 words never use exact match ...
        ("xyz", "no acute disease", 0.0),  # no shared character, no shared word
    ],
)
def test_answer_reward_paper(answer: str, truth: str, expected: float) -> None:
    assert answer_reward(think("r", after=f"{B}{{{answer}}}"), truth) == pytest.approx(expected, abs=1e-12)


def test_missing_box_is_the_answer_none() -> None:
    assert answer_reward("<think>r</think> yes", "yes") == 0.0
    assert answer_reward("<think>r</think> yes", "None") == 1.5  # the released reward's quirk, kept
    assert answer_reward("<think>r</think> yes", "none|effusion") == pytest.approx(1.5 * 2 * 0.5 / 1.5)


def test_three_words_are_scored_by_bleu_not_exact_match() -> None:
    # case-sensitive character BLEU: 'Left lower lobe' vs 'left lower lobe' is high but not 1
    value = answer_reward(f"{B}{{Left lower lobe}}", "left lower lobe")
    assert 0.9 < value < 1.5


def test_short_report_hand_computed() -> None:
    # truth 'ab ab ab' (8 characters), answer 'ab' (2): character BLEU with brevity penalty exp(1 - 8/2)
    bp = math.exp(-3)
    bleu1 = bp  # both characters match
    bleu4 = bp * math.exp(0.25 * (0 + 0 + 2 * math.log(0.5)))  # p2 = (1+1)/(1+1); p3 = p4 = (0+1)/(1+1)
    rouge1 = 2 * 1 * (1 / 3) / (1 + 1 / 3)  # one of three 'ab' tokens
    assert answer_reward(f"{B}{{ab}}", "ab ab ab") == pytest.approx(1.5 * (bleu1 + bleu4 + rouge1) / 3, abs=1e-12)
    # the word variant tokenises: brevity penalty exp(1 - 3/1), p2..p4 = 1/2
    bp = math.exp(-2)
    word = (bp + bp * 0.5**0.75 + rouge1) / 3
    assert answer_reward(f"{B}{{ab}}", "ab ab ab", variant="word") == pytest.approx(1.5 * word, abs=1e-12)


def test_word_variant_normalises_answers() -> None:
    assert answer_reward(f"{B}{{Yes.}}", "yes", variant="word") == 1.5
    assert answer_reward(f"{B}{{Yes.}}", "yes", variant="paper") == 0.0
    assert answer_reward(f"{B}{{effusion, edema}}", "edema|effusion", variant="word") == 1.5


# --- overall ------------------------------------------------------------------------------------------


def test_overall_combines_the_terms() -> None:
    response = (
        "<think>The heart [100, 120, 300, 280] is enlarged; the costophrenic angles [10, 300, 200, 500] are sharp."
        f"</think> The answer is: {B}{{Cardiomegaly}}"
    )
    scores = deepmedix_reward(response, "cardiomegaly")
    assert scores == pytest.approx({"overall": 0.9 * 1.5 + 0.1 + 0.1, "format": 1.0, "accuracy": 1.5,
                                    "coordinate": 0.1})  # fmt: skip
    best = think("[1,2,3,4] [1,2,3,4] [1,2,3,4]", after=f"{B}{{yes}}")
    assert deepmedix_reward(best, "yes")["overall"] == pytest.approx(MAX_OVERALL) == pytest.approx(1.6)
    worst = "<think>[0,0,600,600] [0,0,700,1]</think> no box"
    assert deepmedix_reward(worst, "yes") == pytest.approx(
        {"overall": -0.4, "format": 0.0, "accuracy": 0.0, "coordinate": -0.4}
    )


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(XrayBenchError, match="variant"):
        deepmedix_reward("x", "yes", variant="chars")  # type: ignore[arg-type]
    with pytest.raises(XrayBenchError, match="ground truth must be a string"):
        deepmedix_reward("x", None)  # type: ignore[arg-type]


# --- the paper variant against nltk + rouge-score ------------------------------------------------------


def reference_reward(predict: str, truth: str) -> dict[str, float]:
    """The released reward restated from DESIGN.md, scoring with nltk's BLEU and rouge-score's ROUGE-1."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    from rouge_score.rouge_scorer import RougeScorer

    text = re.sub(r"\s*([<>/])\s*", r"\1", predict)
    fmt = 1.0 if re.fullmatch(r"<think>.*?</think>.*?\\boxed\{.*\}.*", text, re.DOTALL) else 0.0
    coordinate = 0.0
    block = re.search(r"<think>(.*?)</think>", text, re.DOTALL)
    if block:
        for match in re.finditer(r"\[([-+]?\d*\.?\d+(?:,\s*[-+]?\d*\.?\d+){3})\]", block.group(1)):
            values = [float(v) for v in match.group(1).split(",")]
            coordinate += -0.2 if max(values) > 512 else 0.05
        coordinate = min(coordinate, 0.15)
    answer = "None"
    start = text.rfind("\\boxed{")
    if start >= 0:
        depth, body = 0, text[start + len("\\boxed{") :]
        for i, ch in enumerate(body):
            depth += {"{": 1, "}": -1}.get(ch, 0)
            if depth < 0:
                answer = body[:i].strip()
                break
    answer = answer or " "
    if "|" in truth and len(truth.split()) <= 20:
        gold = [t.strip().lower() for t in truth.strip().split("|")]
        pred = [t.strip().lower() for t in answer.strip().split("|")]
        hits = len(set(gold) & set(pred))
        p, r = hits / len(pred), hits / len(gold)
        accuracy = 1.5 * (2 * p * r / (p + r) if p + r else 0.0)
    elif len(truth.split()) <= 2:
        accuracy = 1.5 if answer.lower() == truth.lower() else 0.0
    else:
        smooth = SmoothingFunction().method2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            b1 = sentence_bleu([truth], answer, weights=(1, 0, 0, 0), smoothing_function=smooth)
            b4 = sentence_bleu([truth], answer, weights=(0.25,) * 4, smoothing_function=smooth)
        r1 = RougeScorer(["rouge1"], use_stemmer=True).score(answer, truth)["rouge1"].fmeasure
        accuracy = 1.5 * (b1 + b4 + r1) / 3
    overall = 0.9 * accuracy + 0.1 * fmt + coordinate
    return {"overall": overall, "format": fmt, "accuracy": accuracy, "coordinate": coordinate}


TRUTHS = [
    "yes", "No", "left", "T1/T2", "None", "effusion|cardiomegaly", "Effusion | Edema | Nodule", "a||b",
    "left lower lobe", "Mild cardiomegaly with small bilateral pleural effusions.",
    "The heart size is normal. The lungs are clear. No pneumothorax or pleural effusion is seen.",
    "There is a small right apical pneumothorax. Lines and tubes are unchanged in position since the prior study.",
    " | ".join(["effusion"] * 11),  # '|' but more than 20 words: the report branch
]  # fmt: skip
PIECES = [
    "<think>", "</think>", "< think >", "</ think>", "\\boxed{", "}", "{", " ", "\n", "/", " / ", "|", " | ",
    "[10, 20, 30, 40]", "[0,0,600,10]", "[-5,-6,7,8]", "[1.5, 2.5,\n3.5, 4.5]", "[1 ,2,3,4]", "[[9,9,9,9]]",
    "yes", "No", "effusion", "cardiomegaly", "Edema", "left lower lobe", "The heart size is normal.",
    "small right pleural effusions", "pneumothorax", "T1", "T2", "None", "The answer is: ",
]  # fmt: skip


def scripted(rng: random.Random) -> str:
    """A random completion: mostly well-formed reasoning, with random pieces spliced in."""
    body = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 10)))
    answer = "".join(rng.choice(PIECES[19:]) for _ in range(rng.randint(0, 4)))
    if rng.random() < 0.6:
        return f"<think>{body}</think> The answer is: \\boxed{{{answer}}}{rng.choice(['', '.', ' }'])}"
    return body + answer


def test_paper_variant_equals_nltk_and_rouge_score_reference() -> None:
    pytest.importorskip("nltk")
    pytest.importorskip("rouge_score")
    rng = random.Random(7)
    cases = [(scripted(rng), rng.choice(TRUTHS)) for _ in range(1500)]
    cases += [(f"<think>r</think>\\boxed{{{t2}}}", t1) for t1 in TRUTHS for t2 in TRUTHS]
    for response, truth in cases:
        assert deepmedix_reward(response, truth) == pytest.approx(reference_reward(response, truth), abs=1e-12), (
            response,
            truth,
        )


# --- TRL wrappers -------------------------------------------------------------------------------------


def test_trl_overall_on_strings_and_conversations() -> None:
    responses = [think("[1,2,3,4]", after=f"{B}{{yes}}"), "no format", think("x", after=f"{B}{{effusion|edema}}")]
    truths = ["yes", "no", "edema|effusion"]
    expected = [deepmedix_reward(r, t)["overall"] for r, t in zip(responses, truths, strict=True)]
    (overall,) = trl_reward_funcs("paper")
    assert overall.__name__ == "deepmedix_overall_paper"
    assert overall(completions=responses, ground_truth=truths, prompts=["p"] * 3) == pytest.approx(expected)
    conversations = [[{"role": "assistant", "content": r}] for r in responses]
    assert overall(completions=conversations, ground_truth=truths) == pytest.approx(expected)
    parts = [[{"role": "assistant", "content": [{"type": "text", "text": r}]}] for r in responses]
    assert overall(completions=parts, ground_truth=truths) == pytest.approx(expected)


def test_trl_split_terms_sum_to_overall_and_log_metrics() -> None:
    rng = random.Random(3)
    responses = [scripted(rng) for _ in range(40)]
    truths = [rng.choice(TRUTHS) for _ in responses]
    funcs = trl_reward_funcs("word", split=True)
    assert [f.__name__ for f in funcs] == ["deepmedix_format", "deepmedix_accuracy_word", "deepmedix_coordinate"]
    columns = [f(completions=responses, ground_truth=truths) for f in funcs]
    logged: dict[str, float] = {}
    overall = DeepMedixRewardFunc("overall", "word")(
        completions=responses, ground_truth=truths, log_metric=lambda name, value: logged.__setitem__(name, value)
    )
    assert [sum(c) for c in zip(*columns, strict=True)] == pytest.approx(overall, abs=1e-12)
    assert set(logged) == {"deepmedix/format", "deepmedix/accuracy", "deepmedix/coordinate"}
    assert logged["deepmedix/format"] == pytest.approx(sum(columns[0]) / len(responses) / 0.1)


def test_trl_funcs_pickle_and_reject_bad_input() -> None:
    func = pickle.loads(pickle.dumps(DeepMedixRewardFunc("accuracy", "paper")))
    assert func.__name__ == "deepmedix_accuracy_paper"
    assert func(completions=[f"{B}{{yes}}"], ground_truth=["yes"]) == pytest.approx([0.9 * 1.5])
    with pytest.raises(XrayBenchError, match="ground truths"):
        func(completions=["a", "b"], ground_truth=["yes"])
    with pytest.raises(XrayBenchError, match="string or a list"):
        completion_text(42)
    with pytest.raises(XrayBenchError, match="unknown reward term"):
        DeepMedixRewardFunc("length")
