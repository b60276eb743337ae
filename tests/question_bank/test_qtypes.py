"""question_bank/qtypes: the registry, partial credit in the choice, numeric and short-text types,
and the matching, ordering and cloze types (data, student view, answers, scores, form fields)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from question_bank.check import check_bank
from question_bank.qtypes import REGISTRY, TEMPLATES
from question_bank.types import (
    QUESTION_TYPES,
    AnswerError,
    check_answer_shape,
    consistency_problems,
    correct_answer,
    form_answer,
    full_marks_answers,
    grade_quick,
    shuffled,
    student_view,
    validate_data,
)


def verdict(qtype: str, data: dict[str, Any], answer: Any) -> tuple[float, str]:
    data = validate_data(qtype, data)
    found = grade_quick(qtype, data, check_answer_shape(qtype, data, answer))
    return found.fraction, found.feedback


def score(qtype: str, data: dict[str, Any], answer: Any) -> float:
    return verdict(qtype, data, answer)[0]


def answer_refused(qtype: str, data: dict[str, Any], answer: Any) -> str:
    with pytest.raises(AnswerError) as caught:
        check_answer_shape(qtype, validate_data(qtype, data), answer)
    return str(caught.value)


def refused(qtype: str, data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        validate_data(qtype, data)
    return json.dumps(caught.value.messages)


# --- the registry ---------------------------------------------------------------------------------


def test_every_module_is_a_registered_type_with_its_template() -> None:
    modules = {p.stem for p in TEMPLATES.glob("*.py") if not p.stem.startswith("_")}
    assert set(REGISTRY) == modules == set(QUESTION_TYPES)
    assert {
        "single_choice",
        "multiple_choice",
        "true_false",
        "numeric",
        "short_text",
        "code",
        "matching",
        "ordering",
        "cloze",
    } <= modules
    for name in modules:
        template = (TEMPLATES / f"{name}.html").read_text(encoding="utf-8")
        assert re.search(r"{% macro fields\(q, view, value, name, about, code\) %}", template)
        assert re.search(r"{% macro shown\(q, value\) %}", template)


# --- partial credit in the choice types -----------------------------------------------------------

SINGLE = {
    "choices": [
        {"id": "a", "text": "A", "correct": True},
        {"id": "b", "text": "B", "correct": False, "fraction": 0.5},
        {"id": "c", "text": "C", "correct": False, "fraction": -0.5},
        {"id": "d", "text": "D", "correct": False},
    ]
}


def test_single_choice_fractions_give_partial_credit_never_below_zero() -> None:
    assert verdict("single_choice", SINGLE, "a") == (1.0, "Correct.")
    assert verdict("single_choice", SINGLE, "b") == (0.5, "Partly right: 50% of the points.")
    assert score("single_choice", SINGLE, "c") == 0.0
    assert score("single_choice", SINGLE, "d") == 0.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "a", "fraction": 0.5}, "must be 1"),
        ({"id": "b", "fraction": 1.0}, "must be below 1"),
        ({"id": "b", "fraction": 1.5}, "between -1 and 1"),
        ({"id": "b", "fraction": -2}, "between -1 and 1"),
    ],
)
def test_single_choice_fractions_are_checked(change: dict[str, Any], message: str) -> None:
    choices = [{**c, **change} if c["id"] == change["id"] else c for c in SINGLE["choices"]]
    assert message in refused("single_choice", {"choices": choices}).replace(
        "greater than or equal to -1 and less than or equal to 1", "between -1 and 1"
    )


THIRDS = {
    "choices": [
        {"id": "a", "text": "A", "correct": True, "fraction": 0.3333333},
        {"id": "b", "text": "B", "correct": True, "fraction": 0.3333333},
        {"id": "c", "text": "C", "correct": True, "fraction": 0.3333333},
        {"id": "d", "text": "D", "correct": False, "fraction": -0.5},
        {"id": "e", "text": "E", "correct": False, "fraction": 0.0},
    ]
}


@pytest.mark.parametrize(
    ("ticked", "expected"),
    [
        (["a", "b", "c"], 1.0),  # Moodle's thirds add up to 0.9999999: still full marks
        (["a", "b", "c", "e"], 1.0),  # a choice worth 0 costs nothing
        (["a"], 0.3333333),
        (["a", "b", "c", "d"], 0.5),  # the sum of the ticked fractions
        (["a", "d"], 0.0),  # clamped at 0
        (["d"], 0.0),
        ([], 0.0),
    ],
)
def test_multiple_choice_fractions_add_up(ticked: list[str], expected: float) -> None:
    assert score("multiple_choice", THIRDS, ticked) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("fractions", "message"),
    [
        ({"a": 0.5, "b": 0.25, "c": 0.0}, "above 0"),  # a correct choice worth nothing
        ({"a": 0.5, "b": 0.25, "c": 0.25, "d": 0.5}, "0 or below"),  # a wrong one worth something
        ({"a": 0.5, "b": 0.25, "c": 0.2}, "add up to 0.95"),  # can't reach full marks
        ({"a": 0.5, "b": 0.5, "c": 0.5}, "add up to 1.5"),
    ],
)
def test_multiple_choice_fractions_must_reach_exactly_full_marks(
    fractions: dict[str, float], message: str
) -> None:
    choices = [{**c, "fraction": fractions.get(c["id"], c["fraction"])} for c in THIRDS["choices"]]
    assert message in refused("multiple_choice", {"choices": choices})


def test_multiple_choice_fractions_are_all_or_nothing() -> None:
    choices = [dict(c) for c in THIRDS["choices"]]
    del choices[4]["fraction"]
    assert "every choice, or for none" in refused("multiple_choice", {"choices": choices})


def test_data_without_the_new_fields_loads_as_before() -> None:
    """Loading a bank written before partial credit must not change its data (a change would be
    a new version of every question at the next `bank load`)."""
    single = validate_data(
        "single_choice", {"choices": [SINGLE["choices"][0], SINGLE["choices"][3]]}
    )
    assert all("fraction" not in c for c in single["choices"])
    text = validate_data("short_text", {"accept": ["x"]})
    assert "case_sensitive" not in text and "partial" not in text
    assert "partial" not in validate_data("numeric", {"answer": 1.0})


# --- partial credit in short text and numeric -----------------------------------------------------


def test_short_text_case_sensitive_keeps_case_and_defaults_to_folding() -> None:
    assert score("short_text", {"accept": ["ReLU"]}, "relu") == 1.0
    data = {"accept": ["ReLU"], "case_sensitive": True}
    assert score("short_text", data, "  ReLU. ") == 1.0
    assert score("short_text", data, "relu") == 0.0
    assert score("short_text", {"patterns": ["[A-Z]+"], "case_sensitive": True}, "ABC") == 1.0
    assert score("short_text", {"patterns": ["[A-Z]+"], "case_sensitive": True}, "abc") == 0.0


def test_short_text_partial_answers_take_the_best_match() -> None:
    data = {
        "accept": ["inverted dropout"],
        "partial": [
            {"accept": "dropout", "fraction": 0.5},
            {"accept": "Dropout!", "fraction": 0.8},
        ],
    }
    assert score("short_text", data, "Inverted Dropout") == 1.0
    assert verdict("short_text", data, "DROPOUT") == (0.8, "Partly right: 80% of the points.")
    assert score("short_text", data, "batch norm") == 0.0
    case = {**data, "case_sensitive": True, "partial": [{"accept": "Dropout", "fraction": 0.5}]}
    assert score("short_text", case, "Dropout") == 0.5
    assert score("short_text", case, "dropout") == 0.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"partial": [{"accept": "x", "fraction": 0.5}]}, "at least one of accept or patterns"),
        ({"accept": ["x"], "partial": [{"accept": "x", "fraction": 1.0}]}, "between 0 and 1"),
        ({"accept": ["x"], "partial": [{"accept": "y", "fraction": 0}]}, "between 0 and 1"),
        (
            {"accept": ["Early stop"], "partial": [{"accept": "early STOP.", "fraction": 0.5}]},
            "already fully accepted",
        ),
        ({"accept": ["x"], "partial": [{"accept": "y"}]}, "fraction"),
    ],
)
def test_short_text_partial_answers_are_checked(data: dict[str, Any], message: str) -> None:
    assert message in refused("short_text", data)


def test_numeric_partial_answers_have_their_own_tolerance() -> None:
    data = {
        "answer": 2.0,
        "tolerance": {"abs": 0.25},
        "partial": [
            {"answer": 0.5, "tolerance": {"abs": 0.25}, "fraction": 0.5},  # forgot to divide
            {"answer": 2.0, "tolerance": {"abs": 1.0}, "fraction": 0.25},  # roughly right
        ],
    }
    assert score("numeric", data, 2.25) == 1.0
    assert verdict("numeric", data, 0.75) == (0.5, "Partly right: 50% of the points.")
    assert score("numeric", data, 2.5) == 0.25
    assert score("numeric", data, 1.0) == 0.25  # the boundary is inside (exact in binary)
    assert score("numeric", data, 3.5) == 0.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"answer": 1.0, "partial": [{"answer": 2.0, "fraction": 1}]}, "between 0 and 1"),
        ({"answer": 1.0, "partial": [{"answer": 2.0, "fraction": -0.5}]}, "between 0 and 1"),
        ({"answer": 1.0, "partial": [{"fraction": 0.5}]}, "answer"),
        ({"partial": [{"answer": 2.0, "fraction": 0.5}]}, "give an answer"),
        (
            {
                "answer": 1.0,
                "tolerance": {"abs": 0.5},
                "partial": [{"answer": 1.5, "fraction": 0.5}],
            },
            "partial answer 1.5 accepts only numbers that already get full marks",
        ),
        (
            {
                "answer_formula": "a",
                "parameters": {"a": {"min": 1, "max": 2}},
                "partial": [{"answer": 2.0, "fraction": 0.5}],
            },
            "cannot go with an answer_formula",
        ),
    ],
)
def test_numeric_partial_answers_are_checked(data: dict[str, Any], message: str) -> None:
    assert message in refused("numeric", data)


# --- matching -------------------------------------------------------------------------------------

MATCHING = {
    "pairs": [
        {"id": "relu", "left": "ReLU", "right": "max(0, x)"},
        {"id": "sig", "left": "Sigmoid", "right": "1/(1+e^-x)"},
        {"id": "tanh", "left": "Tanh", "right": "(e^x-e^-x)/(e^x+e^-x)"},
        {"id": "id", "left": "Identity", "right": "x"},
    ],
    "distractors": ["x^2"],
}
RIGHTS = {p["id"]: p["right"] for p in MATCHING["pairs"]}


def test_matching_scores_each_pair() -> None:
    assert verdict("matching", MATCHING, {"matches": RIGHTS}) == (1.0, "Correct.")
    swapped = {**RIGHTS, "relu": RIGHTS["sig"], "sig": RIGHTS["relu"]}
    assert verdict("matching", MATCHING, {"matches": swapped}) == (
        0.5,
        "2 of 4 pairs matched correctly.",
    )
    assert score("matching", MATCHING, {"matches": {"relu": RIGHTS["relu"]}}) == 0.25  # one given
    assert score("matching", MATCHING, {"matches": {**RIGHTS, "id": "x^2"}}) == 0.75
    assert score("matching", MATCHING, {"matches": {}}) == 0.0


def test_matching_student_view_hides_the_pairing() -> None:
    data = validate_data("matching", MATCHING)
    view = student_view("matching", data)
    assert view["lefts"] == [{"id": p["id"], "text": p["left"]} for p in MATCHING["pairs"]]
    assert sorted(view["rights"]) == sorted([*RIGHTS.values(), "x^2"])
    assert view["rights"] != [*RIGHTS.values(), "x^2"]  # never the pairs' own order
    assert set(view) == {"lefts", "rights"}
    # In an attempt: the student's own order, from a seed.
    order = shuffled("matching", data, "seed-1")
    assert order is not None and student_view("matching", data, order)["rights"] == order
    assert shuffled("matching", data, "seed-1") == order


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (RIGHTS, "object"),
        ({"matches": RIGHTS, "extra": 1}, "object"),
        ({"matches": ["x"]}, "object"),
        ({"matches": {"nope": "x"}}, "unknown pair id"),
        ({"matches": {"relu": "max(0,x)"}}, "not one of the right-hand texts"),
        ({"matches": {"relu": 3}}, "not one of the right-hand texts"),
    ],
)
def test_matching_answer_shape(answer: Any, message: str) -> None:
    assert message in answer_refused("matching", MATCHING, answer)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"pairs": MATCHING["pairs"][:1]}, "Length"),
        ({"pairs": [*MATCHING["pairs"][:2], {**MATCHING["pairs"][2], "id": "relu"}]}, "unique"),
        ({"pairs": MATCHING["pairs"], "distractors": ["x"]}, "appears twice"),
        (
            {
                "pairs": [
                    *MATCHING["pairs"][:2],
                    {**MATCHING["pairs"][2], "right": "x"},
                    MATCHING["pairs"][3],
                ]
            },
            "appears twice",
        ),
        ({"pairs": [{"id": "a b", "left": "L", "right": "R"}, MATCHING["pairs"][0]]}, "id"),
        ({"pairs": MATCHING["pairs"], "hint": "x"}, "Unknown field"),
    ],
)
def test_matching_data_is_checked(data: dict[str, Any], message: str) -> None:
    assert message.lower() in refused("matching", data).lower()


# --- ordering -------------------------------------------------------------------------------------

STEPS = ["forward", "loss", "backward", "step", "zero"]
ORDERING = {"items": [{"id": s, "text": f"The {s} step"} for s in STEPS]}


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (STEPS, 1.0),
        (["forward", "backward", "loss", "step", "zero"], 3 / 5),  # two neighbours swapped
        (["zero", "forward", "loss", "backward", "step"], 0.0),  # everything one place late
        (["zero", "loss", "backward", "step", "forward"], 3 / 5),  # ends swapped
        (list(reversed(STEPS)), 1 / 5),  # the middle stays
    ],
)
def test_ordering_scores_items_in_their_right_position(order: list[str], expected: float) -> None:
    assert score("ordering", ORDERING, {"order": order}) == pytest.approx(expected)


def test_ordering_feedback_counts_items_in_place() -> None:
    swapped = ["forward", "backward", "loss", "step", "zero"]
    assert (
        verdict("ordering", ORDERING, {"order": swapped})[1] == "3 of 5 items in their right place."
    )


def test_ordering_is_shown_shuffled_never_in_the_right_order() -> None:
    two = validate_data("ordering", {"items": ORDERING["items"][:2]})
    data = validate_data("ordering", ORDERING)
    orders = set()
    for i in range(40):
        for question in (two, data):
            order = shuffled("ordering", question, f"student-{i}")
            assert order is not None and sorted(order) == sorted(i["id"] for i in question["items"])
            assert order != [i["id"] for i in question["items"]]
        orders.add(tuple(shuffled("ordering", data, f"student-{i}") or ()))
        assert shuffled("ordering", data, f"student-{i}") == shuffled(
            "ordering", data, f"student-{i}"
        )
    assert len(orders) > 10  # each student their own order
    some = list(next(iter(orders)))
    view = student_view("ordering", data, some)
    assert [i["id"] for i in view["items"]] == some
    standalone = student_view("ordering", data)  # outside an attempt: fixed, and not the key
    assert [i["id"] for i in standalone["items"]] != STEPS
    assert set(view) == {"items"} and all(set(i) == {"id", "text"} for i in view["items"])


@pytest.mark.parametrize(
    "answer",
    [
        STEPS,
        {"order": STEPS[:4]},
        {"order": [*STEPS, "forward"]},
        {"order": [*STEPS[:4], "x"]},
        {"order": "forward"},
    ],
)
def test_ordering_answer_lists_every_item_once(answer: Any) -> None:
    assert "order" in answer_refused("ordering", ORDERING, answer)


def test_ordering_data_is_checked() -> None:
    assert "Length" in refused("ordering", {"items": ORDERING["items"][:1]})
    assert "unique" in refused("ordering", {"items": [ORDERING["items"][0]] * 2})


# --- cloze ----------------------------------------------------------------------------------------

CLOZE_PROMPT = (
    "With p = {{blank:p}} the survivors are scaled by {{blank:scale}}: {{blank:name}} "
    "({{blank:when}})."
)
CLOZE = {
    "blanks": [
        {"id": "p", "kind": "numeric", "points": 1, "answer": 0.5, "tolerance": {"abs": 0.01}},
        {
            "id": "scale",
            "kind": "numeric",
            "points": 2,
            "answer": 2.0,
            "partial": [{"answer": 0.5, "fraction": 0.5}],
        },
        {
            "id": "name",
            "kind": "short_text",
            "accept": ["inverted dropout"],
            "partial": [{"accept": "dropout", "fraction": 0.5}],
        },
        {
            "id": "when",
            "kind": "choice",
            "choices": [
                {"id": "train", "text": "while training", "correct": True},
                {"id": "test", "text": "at inference", "correct": False},
            ],
        },
    ]
}
CLOZE_KEY = {"blanks": {"p": 0.5, "scale": 2.0, "name": "inverted dropout", "when": "train"}}


def test_cloze_grades_each_blank_by_its_kind_weighted_by_points() -> None:
    assert verdict("cloze", CLOZE, CLOZE_KEY) == (1.0, "Correct.")
    # 5 points in all: p 1 of 1, scale 1 of 2 (partial), name 0.5 of 1 (partial), when 0 of 1.
    given = {"blanks": {"p": 0.505, "scale": 0.5, "name": "Dropout", "when": "test"}}
    fraction, feedback = verdict("cloze", CLOZE, given)
    assert fraction == pytest.approx(2.5 / 5)
    assert feedback == (
        "Blank p: Correct. Blank scale: Partly right: 50% of the points. "
        "Blank name: Partly right: 50% of the points. Blank when: Not quite."
    )
    left_out = verdict("cloze", CLOZE, {"blanks": {"scale": 2}})
    assert left_out[0] == pytest.approx(2 / 5) and "Blank p: No answer." in left_out[1]


def test_cloze_key_and_student_view() -> None:
    data = validate_data("cloze", CLOZE)
    assert correct_answer("cloze", data) == CLOZE_KEY
    assert full_marks_answers("cloze", data) == [CLOZE_KEY]
    view = student_view("cloze", data)
    assert view == {
        "blanks": [
            {"id": "p", "kind": "numeric", "points": 1.0, "unit": None},
            {"id": "scale", "kind": "numeric", "points": 2.0, "unit": None},
            {"id": "name", "kind": "short_text", "points": 1.0},
            {
                "id": "when",
                "kind": "choice",
                "points": 1.0,
                "choices": [
                    {"id": "train", "text": "while training"},
                    {"id": "test", "text": "at inference"},
                ],
            },
        ]
    }


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (CLOZE_KEY["blanks"], "object"),
        ({"blanks": [0.5]}, "object"),
        ({"blanks": {"q": 1}}, "unknown blank id 'q'"),
        ({"blanks": {"p": "half"}}, "blank 'p': answer must be a number"),
        ({"blanks": {"when": "never"}}, "blank 'when': answer must be one of the choice ids"),
        ({"blanks": {"name": 4}}, "blank 'name': answer must be a string"),
    ],
)
def test_cloze_answer_shape_is_checked_by_each_blank_kind(answer: Any, message: str) -> None:
    assert message in answer_refused("cloze", CLOZE, answer)


@pytest.mark.parametrize(
    ("blank", "message"),
    [
        ({"id": "x", "kind": "essay"}, "Must be one of"),
        ({"id": "x", "kind": "numeric"}, "give an answer"),
        ({"id": "x", "kind": "numeric", "answer": 1, "points": 0}, "points"),
        ({"id": "x", "kind": "short_text", "accept": []}, "at least one of accept"),
        ({"id": "x", "kind": "choice", "choices": CLOZE["blanks"][3]["choices"][:1]}, "Length"),
        (
            {
                "id": "x",
                "kind": "choice",
                "choices": [{**c, "correct": True} for c in CLOZE["blanks"][3]["choices"]],
            },
            "exactly one",
        ),
        (
            {
                "id": "x",
                "kind": "numeric",
                "answer_formula": "a",
                "parameters": {"a": {"min": 1, "max": 2}},
            },
            "cannot have parameters",
        ),
        ({"id": "x", "kind": "numeric", "answer": 1, "accept": ["y"]}, "Unknown field"),
        ({"kind": "numeric", "answer": 1}, "id"),
        ("x", "must be an object"),
    ],
)
def test_cloze_blanks_are_checked_by_their_kind(blank: Any, message: str) -> None:
    assert message in refused("cloze", {"blanks": [CLOZE["blanks"][0], blank]})


def test_cloze_blank_ids_are_unique_and_there_is_one() -> None:
    assert "unique" in refused("cloze", {"blanks": [CLOZE["blanks"][0]] * 2})
    assert "Length" in refused("cloze", {"blanks": []})


def test_cloze_prompt_marks_each_blank_exactly_once() -> None:
    data = validate_data("cloze", CLOZE)
    assert consistency_problems("c", "cloze", 1, data, CLOZE_PROMPT) == []
    problems = consistency_problems(
        "c",
        "cloze",
        1,
        data,
        "{{blank:p}} {{blank:p}} {{blank:scale}} {{blank:when}} {{blank:oops}}",
    )
    assert problems == [
        "the prompt's {{blank:oops}} has no blank",
        "blank 'name' has no {{blank:name}} in the prompt",
        "the prompt marks blank 'p' 2 times",
    ]


# --- page form fields -----------------------------------------------------------------------------


def form(qtype: str, data: dict[str, Any], fields: dict[str, str]) -> Any:
    return form_answer(qtype, validate_data(qtype, data), MultiDict(fields), "answer-q")


def test_form_fields_become_api_answers() -> None:
    assert form("matching", MATCHING, {"answer-q-relu": "x", "answer-q-sig": ""}) == {
        "matches": {"relu": "x"}
    }
    assert form("matching", MATCHING, {"answer-q-relu": ""}) is None
    positions = {f"answer-q-{s}": str(5 - i) for i, s in enumerate(STEPS)}
    assert form("ordering", ORDERING, positions) == {"order": list(reversed(STEPS))}
    assert form("ordering", ORDERING, {}) is None
    fields = {
        "answer-q-p": "0,5",
        "answer-q-name": "dropout",
        "answer-q-when": "train",
        "answer-q-scale": "",
    }
    assert form("cloze", CLOZE, fields) == {
        "blanks": {"p": 0.5, "name": "dropout", "when": "train"}
    }
    assert form("cloze", CLOZE, {"answer-q-p": ""}) is None
    assert form("numeric", {"answer": 1.0}, {"answer-q": "1,5"}) == 1.5
    assert form("multiple_choice", THIRDS, {}) == []
    assert form("true_false", {"answer": True}, {"answer-q": "false"}) is False


@pytest.mark.parametrize(
    ("qtype", "data", "fields", "message"),
    [
        ("ordering", ORDERING, {"answer-q-forward": "1"}, "every item a position"),
        ("ordering", ORDERING, {f"answer-q-{s}": "1" for s in STEPS}, "exactly one item"),
        ("ordering", ORDERING, {f"answer-q-{s}": "x" for s in STEPS}, "whole number"),
        ("cloze", CLOZE, {"answer-q-p": "half"}, "blank p: 'half' is not a number"),
        ("numeric", {"answer": 1.0}, {"answer-q": "one"}, "'one' is not a number"),
    ],
)
def test_form_fields_that_are_no_answer_say_why(
    qtype: str, data: dict[str, Any], fields: dict[str, str], message: str
) -> None:
    with pytest.raises(AnswerError, match=re.escape(message)):
        form(qtype, data, fields)


# --- the bank -------------------------------------------------------------------------------------


def write_bank(root: Path, questions: list[dict[str, Any]]) -> Path:
    (root / "questions").mkdir(parents=True)
    (root / "questions" / "new.yaml").write_text(yaml.safe_dump({"questions": questions}))
    return root


def bank_question(
    slug: str, qtype: str, data: dict[str, Any], prompt: str = "Answer."
) -> dict[str, Any]:
    return {
        "slug": slug,
        "type": qtype,
        "title": slug,
        "prompt": prompt,
        "explanation": "Why.",
        **data,
    }


def test_bank_files_hold_the_new_types_and_their_keys_get_full_marks(tmp_path: Path) -> None:
    root = write_bank(
        tmp_path,
        [
            bank_question("t-m", "matching", MATCHING),
            bank_question("t-o", "ordering", ORDERING),
            bank_question("t-c", "cloze", CLOZE, CLOZE_PROMPT),
            bank_question("t-mc", "multiple_choice", THIRDS),
            bank_question("t-s", "single_choice", SINGLE),
        ],
    )
    report = check_bank(root, run_exercises=False)
    assert report.problems == [] and report.summary.startswith("OK: 5 questions")


def test_the_bank_check_refuses_a_cloze_prompt_without_its_markers(tmp_path: Path) -> None:
    root = write_bank(tmp_path, [bank_question("t-c", "cloze", CLOZE, "No markers here.")])
    report = check_bank(root, run_exercises=False)
    assert len(report.problems) == 1
    assert "blank 'p' has no {{blank:p}} in the prompt" in report.problems[0]
