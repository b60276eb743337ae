"""GIFT, written from Moodle's GIFT format documentation (docs.moodle.org/en/GIFT_format)."""

from __future__ import annotations

from question_bank.interop.gift import sniff
from question_bank.types import grade_quick
from tests.question_bank.interop_helpers import (
    by_title,
    imported,
    needs_fractions,
    needs_matching,
    needs_partial,
    refused,
)

BASIC = r"""
// Comments start with two slashes and are ignored.
$CATEGORY: $course$/top/Regularization/Dropout

::Inference:: At inference time, inverted dropout {
  =does nothing#Right: the scaling happened in training.
  ~multiplies by 1-p#That is the original dropout.
  ~divides by 1-p
}

::True or false:: Dropout with p = 1 keeps the input. {F}

::Is it true:: Weight decay shrinks the weights. {TRUE#No, it does.#Yes.}

::Pi:: What is pi to two decimals? {#3.14:0.005}

::Range:: Any number from 1 to 5. {#1..5}

::Name:: Name the technique that zeroes random activations. {=dropout =drop-out}

::Escapes:: Which one is written \{a\} \= b\: c \~ d? {=\{a\} ~\= b}

// A question without a title.
Early stopping watches the {=validation ~training} loss.

$CATEGORY: Week 2

::Second category:: Is L2 the same as weight decay for SGD? {T}
"""


def test_the_documented_basic_types_with_their_keys() -> None:
    result = imported(BASIC, "quiz.gift")
    assert result.format == "gift" and result.error is None
    assert not result.refused, result.refused
    q = by_title(result)
    inference = q["Inference"]
    assert inference["type"] == "single_choice"
    assert [c["text"] for c in inference["data"]["choices"]] == [
        "does nothing",
        "multiplies by 1-p",
        "divides by 1-p",
    ]
    assert [c["correct"] for c in inference["data"]["choices"]] == [True, False, False]
    assert "Right: the scaling happened in training." in inference["explanation"]
    assert inference["tags"] == ["regularization", "dropout"]
    assert q["True or false"]["data"] == {"answer": False}
    assert q["Is it true"]["data"] == {"answer": True}
    assert q["Pi"]["data"]["answer"] == 3.14
    assert q["Pi"]["data"]["tolerance"] == {"abs": 0.005, "rel": 0.0}
    assert q["Range"]["data"]["answer"] == 3.0
    assert q["Range"]["data"]["tolerance"]["abs"] == 2.0
    assert grade_quick("numeric", q["Range"]["data"], 1.0).fraction == 1.0
    assert grade_quick("numeric", q["Range"]["data"], 5.5).fraction == 0.0
    assert q["Name"]["data"]["accept"] == ["dropout", "drop-out"]
    assert grade_quick("short_text", q["Name"]["data"], "Dropout").fraction == 1.0
    assert q["Second category"]["tags"] == ["week-2"]


def test_escaped_characters_are_text_not_syntax() -> None:
    q = by_title(imported(BASIC))["Escapes"]
    assert q["type"] == "single_choice"
    texts = [c["text"] for c in q["data"]["choices"]]
    assert texts[0] == "{a}" and "= b" in texts[1].replace("\\", "")
    assert "{a}" in q["prompt"] and ": c" in q["prompt"]


def test_missing_word_questions_keep_the_text_after_the_blank() -> None:
    q = next(q for q in imported(BASIC).questions if "loss" in q["prompt"])
    assert "_____" in q["prompt"].replace("\\", "") and q["prompt"].endswith("loss.")
    assert q["data"]["choices"][0]["text"] == "validation"


def test_slugs_are_stable_and_unique() -> None:
    text = "::Same:: one {T}\n\n::Same:: two {F}\n"
    first = [q["slug"] for q in imported(text).questions]
    second = [q["slug"] for q in imported(text).questions]
    assert first == second == ["same", "same-2"]


def test_what_cannot_be_graded_is_refused_by_name_and_the_rest_imported() -> None:
    text = """::Essay:: Discuss regularization. {}

::Description:: Just some text without answers.

::Broken:: The braces never close {=a ~b

::Good:: Is this imported? {T}

::No right answer:: Pick one {~a ~b}
"""
    result = imported(text)
    assert [q["title"] for q in result.questions] == ["Good"]
    reasons = refused(result)
    assert len(reasons) == 4
    assert any("essay" in r for r in reasons.values())
    assert any("description" in r for r in reasons.values())
    assert any("closing" in r for r in reasons.values())
    assert any("no answer earns" in r or "add up" in r for r in reasons.values())
    assert set(reasons) == {"Essay", "Description", "Broken", "No right answer"}


def test_html_format_marker_is_sanitised() -> None:
    text = "::Html::[html]<p>Which is <b>bold</b>?<script>alert(1)</script></p>{=this ~that}"
    q = by_title(imported(text))["Html"]
    assert q["prompt"] == "Which is **bold**?"


def test_an_image_is_refused() -> None:
    text = '::Pic::[html]<p>Look: <img src="@@PLUGINFILE@@/a.png"></p>{T}'
    reasons = refused(imported(text))
    assert any("image" in r for r in reasons.values())


@needs_fractions
def test_weights_make_partial_credit_and_multiple_answers() -> None:
    text = """::Partial:: Pick the best {=right ~%50%half right ~wrong}

::Several:: Which are regularizers? {~%50%dropout ~%50%weight decay ~%-100%a larger learning rate}

::Not 100:: Which? {~%50%a ~%30%b ~%-100%c}
"""
    result = imported(text)
    q = by_title(result)
    assert [c.get("fraction") for c in q["Partial"]["data"]["choices"]] == [None, 0.5, None]
    assert grade_quick("single_choice", q["Partial"]["data"], "b").fraction == 0.5
    assert q["Several"]["type"] == "multiple_choice"
    assert grade_quick("multiple_choice", q["Several"]["data"], ["a"]).fraction == 0.5
    assert "add up to 80 %" in refused(result)["Not 100"]


def test_multiple_answers_in_holdouts_own_rule_need_no_fractions() -> None:
    text = "::Own:: Which? {~%50%a ~%50%b ~%-100%c}"
    q = by_title(imported(text))["Own"]
    assert q["type"] == "multiple_choice"
    assert all("fraction" not in c or c["fraction"] is None for c in q["data"]["choices"])


@needs_partial
def test_partial_credit_on_short_and_numeric_answers() -> None:
    text = """::Short:: Name it {=dropout =%50%drop}

::Num:: Value? {#=2:0.1 =%50%2:0.5}
"""
    q = by_title(imported(text))
    assert q["Short"]["data"]["partial"] == [{"accept": "drop", "fraction": 0.5}]
    assert q["Num"]["data"]["partial"][0]["fraction"] == 0.5


@needs_matching
def test_matching_pairs() -> None:
    text = "::Match:: Match them {=L1 -> sparse =L2 -> small =dropout -> random}"
    q = by_title(imported(text))["Match"]
    assert q["type"] == "matching"
    assert (q["data"]["pairs"][0]["left"], q["data"]["pairs"][0]["right"]) == ("L1", "sparse")


def test_sniffing() -> None:
    assert sniff(b"::a:: b {T}", "x")
    assert not sniff(b"<?xml version='1.0'?><quiz/>", "x")
    assert imported(b"\xff\xfe\x00garbage", "bad.gift", "gift").error is not None
