"""question_bank.types: each type's data, what a student sees, answer shapes and scores."""

from __future__ import annotations

import json
from typing import Any

import pytest
from marshmallow import ValidationError

from question_bank.types import (
    AnswerError,
    check_answer_shape,
    grade_quick,
    normalize_text,
    student_view,
    validate_data,
)

CHOICES = [
    {"id": "a", "text": "A", "correct": True},
    {"id": "b", "text": "B", "correct": False},
    {"id": "c", "text": "C", "correct": False},
]
# Three correct (C = 3) and two wrong (W = 2) choices, for the partial-credit rule.
MULTI = {
    "choices": [
        {"id": "a", "text": "A", "correct": True},
        {"id": "b", "text": "B", "correct": True},
        {"id": "c", "text": "C", "correct": True},
        {"id": "d", "text": "D", "correct": False},
        {"id": "e", "text": "E", "correct": False},
    ]
}


def score(qtype: str, data: dict[str, Any], answer: Any) -> float:
    data = validate_data(qtype, data)
    return grade_quick(qtype, data, check_answer_shape(qtype, data, answer)).fraction


# --- single choice ----------------------------------------------------------------------------


def test_single_choice_scores_the_one_correct_id() -> None:
    data = {"choices": CHOICES}
    assert score("single_choice", data, "a") == 1.0
    assert score("single_choice", data, "b") == 0.0


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ([{**c, "correct": False} for c in CHOICES], "exactly one"),
        ([{**c, "correct": True} for c in CHOICES], "exactly one"),
        ([CHOICES[0], {**CHOICES[1], "id": "a"}], "unique"),
        ([CHOICES[0]], "Length"),
    ],
)
def test_single_choice_data_is_checked(choices: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_data("single_choice", {"choices": choices})
    assert message.lower() in json.dumps(caught.value.messages).lower()


@pytest.mark.parametrize("answer", ["z", 1, ["a"], None, True])
def test_single_choice_answer_must_be_a_known_id(answer: Any) -> None:
    data = validate_data("single_choice", {"choices": CHOICES})
    with pytest.raises(AnswerError, match="choice ids"):
        check_answer_shape("single_choice", data, answer)


# --- multiple choice: points x max(0, hits/C - false_ticks/W) ----------------------------------


@pytest.mark.parametrize(
    ("ticked", "expected"),
    [
        (["a", "b", "c"], 1.0),  # perfect
        (["a", "b", "c", "d", "e"], 0.0),  # every box: nothing
        ([], 0.0),  # no box: nothing
        (["a", "b"], 2 / 3),  # two of three hits, no false tick
        (["a"], 1 / 3),
        (["a", "b", "c", "d"], 1 - 1 / 2),  # all hits, one of two wrong ticked
        (["a", "b", "d"], 2 / 3 - 1 / 2),
        (["a", "d", "e"], 0.0),  # clamped at zero, never negative
        (["d"], 0.0),
    ],
)
def test_multiple_choice_partial_credit_rule(ticked: list[str], expected: float) -> None:
    assert score("multiple_choice", MULTI, ticked) == pytest.approx(expected)


def test_multiple_choice_order_does_not_matter_and_feedback_counts() -> None:
    data = validate_data("multiple_choice", MULTI)
    assert check_answer_shape("multiple_choice", data, ["c", "a"]) == ["a", "c"]
    verdict = grade_quick("multiple_choice", data, ["a", "d"])
    assert "1 of 3" in verdict.feedback and "1 wrong" in verdict.feedback


def test_multiple_choice_needs_both_kinds_of_choice() -> None:
    with pytest.raises(ValidationError, match="at least one correct"):
        validate_data("multiple_choice", {"choices": [{**c, "correct": True} for c in CHOICES]})
    with pytest.raises(ValidationError, match="at least one correct"):
        validate_data("multiple_choice", {"choices": [{**c, "correct": False} for c in CHOICES]})


@pytest.mark.parametrize(
    ("answer", "message"),
    [("a", "list"), ([1], "list"), (["a", "z"], "unknown"), (["a", "a"], "more than once")],
)
def test_multiple_choice_answer_shape(answer: Any, message: str) -> None:
    data = validate_data("multiple_choice", MULTI)
    with pytest.raises(AnswerError, match=message):
        check_answer_shape("multiple_choice", data, answer)


# --- true/false --------------------------------------------------------------------------------


def test_true_false() -> None:
    assert score("true_false", {"answer": False}, False) == 1.0
    assert score("true_false", {"answer": False}, True) == 0.0


@pytest.mark.parametrize("answer", ["true", 1, 0, None])
def test_true_false_answer_must_be_a_boolean(answer: Any) -> None:
    with pytest.raises(AnswerError, match="true or false"):
        check_answer_shape("true_false", {"answer": True}, answer)


# --- numeric -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tolerance", "answer", "expected"),
    [
        ({"abs": 0.25}, 2.0, 1.0),
        ({"abs": 0.25}, 2.25, 1.0),  # the boundary is inside (0.25 is exact in binary)
        ({"abs": 0.25}, 1.75, 1.0),
        ({"abs": 0.25}, 2.5, 0.0),
        ({"rel": 0.125}, 2.25, 1.0),  # 0.125 x 2 = 0.25
        ({"rel": 0.125}, 2.5, 0.0),
        ({"abs": 0.5, "rel": 0.125}, 2.5, 1.0),  # the larger of the two counts
        ({}, 2.0, 1.0),  # default: exact
        ({}, 2.0000001, 0.0),
    ],
)
def test_numeric_tolerance(tolerance: dict[str, float], answer: float, expected: float) -> None:
    assert score("numeric", {"answer": 2.0, "tolerance": tolerance}, answer) == expected


def test_numeric_relative_tolerance_scales_with_the_answer() -> None:
    data = {"answer": -1000, "tolerance": {"rel": 0.01}}
    assert score("numeric", data, -1010) == 1.0
    assert score("numeric", data, -1011) == 0.0
    assert score("numeric", data, 1000) == 0.0


@pytest.mark.parametrize("answer", ["2", True, None, [2], float("nan"), float("inf"), 10**400])
def test_numeric_answer_must_be_a_finite_number(answer: Any) -> None:
    with pytest.raises(AnswerError, match="number"):
        check_answer_shape("numeric", {"answer": 2.0, "tolerance": {"abs": 0, "rel": 0}}, answer)


def test_numeric_data_rejects_negative_tolerance_and_nan() -> None:
    with pytest.raises(ValidationError):
        validate_data("numeric", {"answer": 1.0, "tolerance": {"abs": -1}})
    with pytest.raises(ValidationError):
        validate_data("numeric", {"answer": float("nan")})


# --- short text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Early stopping", 1.0),
        ("  EARLY   stopping. ", 1.0),  # case, whitespace and trailing punctuation
        ("early stopping!", 1.0),
        ("\uff45\uff41\uff52\uff4c\uff59 stopping", 1.0),  # full-width letters fold (NFKC)
        ("early stop", 0.0),
        ("not early stopping", 0.0),
    ],
)
def test_short_text_normalized_match(given: str, expected: float) -> None:
    assert score("short_text", {"accept": ["Early stopping"]}, given) == expected


def test_short_text_pattern_must_match_the_whole_normalized_answer() -> None:
    data = {"patterns": [r"l[12]( penalty| regularization)?"]}
    assert score("short_text", data, "L2 regularization") == 1.0
    assert score("short_text", data, "l1") == 1.0
    assert score("short_text", data, "use l2 regularization") == 0.0
    assert score("short_text", data, "l3") == 0.0


def test_normalize_text() -> None:
    assert normalize_text("  Weight\tDecay!! ") == "weight decay"


def test_short_text_data_needs_accept_or_patterns_and_valid_regexes() -> None:
    with pytest.raises(ValidationError, match="at least one"):
        validate_data("short_text", {})
    with pytest.raises(ValidationError, match="invalid regular expression"):
        validate_data("short_text", {"patterns": ["(unclosed"]})


def test_short_text_answer_is_a_bounded_string() -> None:
    data = validate_data("short_text", {"accept": ["x"]})
    with pytest.raises(AnswerError, match="string"):
        check_answer_shape("short_text", data, 3)
    with pytest.raises(AnswerError, match="longer"):
        check_answer_shape("short_text", data, "x" * 1001)


# --- data in general, and what a student may see ------------------------------------------------


def test_unknown_fields_and_types_are_rejected() -> None:
    with pytest.raises(ValidationError):
        validate_data("true_false", {"answer": True, "hint": "yes"})
    with pytest.raises(ValidationError, match="unknown question type"):
        validate_data("essay", {})
    with pytest.raises(ValidationError, match="object"):
        validate_data("true_false", [True])


@pytest.mark.parametrize(
    ("qtype", "data"),
    [
        ("single_choice", {"choices": CHOICES}),
        ("multiple_choice", MULTI),
        ("true_false", {"answer": True}),
        ("numeric", {"answer": 2.0, "tolerance": {"abs": 0.1, "rel": 0.2}, "unit": "m"}),
        ("short_text", {"accept": ["secret"], "patterns": ["sec.*"]}),
    ],
)
def test_student_view_never_holds_an_answer_key(qtype: str, data: dict[str, Any]) -> None:
    view = json.dumps(student_view(qtype, validate_data(qtype, data)))
    for key in ("correct", "answer", "accept", "patterns", "tolerance", "secret"):
        assert key not in view.lower(), view


def test_student_view_keeps_what_is_needed_to_answer() -> None:
    view = student_view("single_choice", validate_data("single_choice", {"choices": CHOICES}))
    assert view == {"choices": [{"id": c["id"], "text": c["text"]} for c in CHOICES]}
    numeric = validate_data("numeric", {"answer": 1.0, "unit": "m/s"})
    assert student_view("numeric", numeric) == {"unit": "m/s"}


def test_code_answers_are_source_strings_and_not_graded_at_once() -> None:
    data: dict[str, Any] = {"exercise": {}}
    assert check_answer_shape("code", data, "def f(): pass") == "def f(): pass"
    with pytest.raises(AnswerError):
        check_answer_shape("code", data, {"src": "x"})
    with pytest.raises(AnswerError, match="not graded at once"):
        grade_quick("code", data, "def f(): pass")
