"""Matching, ordering and cloze, and partial credit in the older types, through the REST API
(questions, answers, quizzes and attempts) and the server-rendered pages (form posts)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import assert_problem, bearer
from tests.question_bank.test_qtypes import (
    CLOZE,
    CLOZE_KEY,
    CLOZE_PROMPT,
    MATCHING,
    ORDERING,
    RIGHTS,
    STEPS,
    THIRDS,
)
from tests.service.samples import create_quiz, put_answer, start
from tests.service.test_assessments_random import create
from tests.service.test_assessments_rules import csrf, page_client


def body(
    slug: str, qtype: str, points: float, data: dict[str, Any], prompt: str = "Answer."
) -> dict[str, Any]:
    return {
        "slug": slug,
        "type": qtype,
        "title": slug.replace("-", " ").capitalize(),
        "prompt": prompt,
        "explanation": "Because.",
        "points": points,
        "data": data,
    }


NEW = {
    "t-matching": body("t-matching", "matching", 4, MATCHING, "Match each activation."),
    "t-ordering": body("t-ordering", "ordering", 5, ORDERING, "Order a training step."),
    "t-cloze": body("t-cloze", "cloze", 5, CLOZE, CLOZE_PROMPT),
    "t-fractions": body("t-fractions", "multiple_choice", 3, THIRDS),
    "t-text-partial": body(
        "t-text-partial",
        "short_text",
        2,
        {
            "accept": ["ReLU"],
            "case_sensitive": True,
            "partial": [{"accept": "relu", "fraction": 0.5}],
        },
    ),
    "t-number-partial": body(
        "t-number-partial",
        "numeric",
        4,
        {"answer": 2.0, "partial": [{"answer": 0.5, "tolerance": {"abs": 0.25}, "fraction": 0.25}]},
    ),
}
SWAPPED = {**RIGHTS, "relu": RIGHTS["sig"], "sig": RIGHTS["relu"]}


@pytest.fixture
def new_questions(client: FlaskClient, instructor: dict[str, str]) -> dict[str, dict[str, Any]]:
    create(client, instructor, *NEW.values())
    return NEW


@pytest.fixture
def browser(app: Flask, new_questions: dict[str, Any], student: dict[str, str]) -> FlaskClient:
    """The student, signed in to the pages."""
    return page_client(app, student)


@pytest.fixture
def answer(
    client: FlaskClient, new_questions: dict[str, Any], student: dict[str, str]
) -> Callable[[str, Any], Any]:
    """The student answers one of the new questions over the API."""

    def post(slug: str, value: Any) -> Any:
        return client.post(
            f"/api/v1/questions/{slug}/submissions", json={"answer": value}, headers=student
        )

    return post


# --- the API --------------------------------------------------------------------------------------


def test_students_see_what_they_need_and_no_key(
    client: FlaskClient,
    new_questions: dict[str, Any],
    student: dict[str, str],
    instructor: dict[str, str],
) -> None:
    for slug, question in new_questions.items():
        seen = client.get(f"/api/v1/questions/{slug}", headers=student).get_json()
        assert seen["type"] == question["type"]
        text = json.dumps(seen["data"])
        for key in ("correct", '"answer"', "accept", "tolerance", "partial", "fraction", "pairs"):
            assert key not in text, (slug, text)
        assert client.get(f"/api/v1/questions/{slug}", headers=instructor).get_json()["data"][
            "pairs" if slug == "t-matching" else next(iter(question["data"]))
        ]
    matching = client.get("/api/v1/questions/t-matching", headers=student).get_json()["data"]
    assert [left["text"] for left in matching["lefts"]] == ["ReLU", "Sigmoid", "Tanh", "Identity"]
    assert sorted(matching["rights"]) == sorted([*RIGHTS.values(), "x^2"])
    ordering = client.get("/api/v1/questions/t-ordering", headers=student).get_json()["data"]
    assert sorted(i["id"] for i in ordering["items"]) == sorted(STEPS)
    assert [i["id"] for i in ordering["items"]] != STEPS
    cloze = client.get("/api/v1/questions/t-cloze", headers=student).get_json()
    assert cloze["prompt"] == CLOZE_PROMPT  # the markers place the blanks
    assert [b["id"] for b in cloze["data"]["blanks"]] == ["p", "scale", "name", "when"]


@pytest.mark.parametrize(
    ("slug", "value", "expected"),
    [
        ("t-matching", {"matches": RIGHTS}, 4.0),
        ("t-matching", {"matches": SWAPPED}, 2.0),
        ("t-matching", {"matches": {"id": "x"}}, 1.0),
        ("t-ordering", {"order": STEPS}, 5.0),
        ("t-ordering", {"order": ["forward", "backward", "loss", "step", "zero"]}, 3.0),
        ("t-ordering", {"order": ["zero", *STEPS[:4]]}, 0.0),
        ("t-cloze", CLOZE_KEY, 5.0),
        ("t-cloze", {"blanks": {"p": 0.505, "scale": 0.5, "name": "Dropout", "when": "test"}}, 2.5),
        ("t-cloze", {"blanks": {"when": "train"}}, 1.0),
        ("t-fractions", ["a", "b", "c"], 3.0),
        ("t-fractions", ["a", "b", "c", "d"], 1.5),
        ("t-text-partial", "ReLU", 2.0),
        ("t-text-partial", "relu", 1.0),
        ("t-text-partial", "RELU", 0.0),
        ("t-number-partial", 2, 4.0),
        ("t-number-partial", 0.7, 1.0),
        ("t-number-partial", 1.0, 0.0),
    ],
)
def test_answers_are_graded_at_once_with_partial_credit(
    answer: Callable[[str, Any], Any], slug: str, value: Any, expected: float
) -> None:
    response = answer(slug, value)
    assert response.status_code == 201, response.get_json()
    graded = response.get_json()
    assert graded["status"] == "graded"
    assert graded["score"] == pytest.approx(expected, abs=1e-6)
    assert graded["max_score"] == NEW[slug]["points"]
    assert (graded["feedback"] == "Correct.") == (expected == graded["max_score"])


@pytest.mark.parametrize(
    ("slug", "value", "words"),
    [
        ("t-matching", RIGHTS, ("matches",)),
        ("t-matching", {"matches": {"relu": "nothing"}}, ("not one of the right-hand texts",)),
        ("t-matching", {"matches": {"elu": "x"}}, ("unknown pair id",)),
        ("t-ordering", {"order": STEPS[:3]}, ("every item id once",)),
        ("t-ordering", {"order": [*STEPS, "zero"]}, ("every item id once",)),
        ("t-cloze", {"blanks": {"p": "half"}}, ("blank 'p'", "number")),
        ("t-cloze", {"blanks": {"nope": 1}}, ("unknown blank id",)),
        ("t-cloze", {"p": 0.5}, ("blanks",)),
    ],
)
def test_answers_of_the_wrong_shape_are_a_problem_saying_which(
    answer: Callable[[str, Any], Any],
    row_counts: Callable[[], dict[str, int]],
    slug: str,
    value: Any,
    words: tuple[str, ...],
) -> None:
    before = row_counts()
    problem = assert_problem(answer(slug, value), 422, *words)
    assert problem["detail"].startswith(f"Invalid answer for {NEW[slug]['type']} question")
    assert row_counts() == before


@pytest.mark.parametrize(
    ("question", "words"),
    [
        (body("t-bad", "matching", 1, {"pairs": MATCHING["pairs"][:1]}), ("pairs",)),
        (body("t-bad", "matching", 1, {**MATCHING, "distractors": ["x"]}), ("appears twice",)),
        (body("t-bad", "ordering", 1, {"items": [{"id": "a", "text": "A"}] * 2}), ("unique",)),
        (body("t-bad", "cloze", 1, CLOZE, "No blanks marked."), ("has no {{blank:p}}",)),
        (
            body("t-bad", "cloze", 1, {"blanks": [{"id": "p", "kind": "essay"}]}, "{{blank:p}}"),
            ("kind",),
        ),
        (
            body(
                "t-bad",
                "multiple_choice",
                1,
                {
                    "choices": [
                        {**c, "fraction": 0.25 if c["correct"] else c["fraction"]}
                        for c in THIRDS["choices"]
                    ]
                },
            ),
            ("add up to 0.75",),
        ),
        (
            body(
                "t-bad",
                "short_text",
                1,
                {"accept": ["a"], "partial": [{"accept": "b", "fraction": 1}]},
            ),
            ("between 0 and 1",),
        ),
    ],
)
def test_bad_data_is_refused_with_the_reason(
    client: FlaskClient,
    instructor: dict[str, str],
    question: dict[str, Any],
    words: tuple[str, ...],
) -> None:
    assert_problem(client.post("/api/v1/questions", json=question, headers=instructor), 422, *words)


def test_editing_a_cloze_prompt_keeps_its_markers_checked(
    client: FlaskClient, new_questions: dict[str, Any], instructor: dict[str, str]
) -> None:
    changed = {**NEW["t-cloze"], "prompt": "{{blank:p}} {{blank:scale}} {{blank:name}}"}
    assert_problem(
        client.put("/api/v1/questions/t-cloze", json=changed, headers=instructor), 422, "'when'"
    )
    kept = {**NEW["t-cloze"], "prompt": CLOZE_PROMPT + " Take your time."}
    assert client.put("/api/v1/questions/t-cloze", json=kept, headers=instructor).status_code == 200


NEW_QUIZ = ["t-matching", "t-ordering", "t-cloze"]


def test_a_quiz_attempt_shows_each_student_their_order_and_grades_per_part(
    client: FlaskClient,
    new_questions: dict[str, Any],
    instructor: dict[str, str],
    token_for: Callable[..., str],
) -> None:
    create_quiz(client, instructor, questions=NEW_QUIZ)
    orders, rights = set(), set()
    for i in range(6):
        headers = bearer(token_for("student", f"s{i}"))
        attempt = start(client, headers).get_json()["id"]
        view = client.get(f"/api/v1/attempts/{attempt}", headers=headers).get_json()
        shown = {q["slug"]: q["data"] for q in view["questions"]}
        assert shown == {
            q["slug"]: q["data"]
            for q in client.get(f"/api/v1/attempts/{attempt}", headers=headers).get_json()[
                "questions"
            ]
        }  # a reload shows the same
        order = [item["id"] for item in shown["t-ordering"]["items"]]
        assert sorted(order) == sorted(STEPS) and order != STEPS
        orders.add(tuple(order))
        rights.add(tuple(shown["t-matching"]["rights"]))
        assert (
            put_answer(client, headers, attempt, "t-matching", {"matches": SWAPPED}).status_code
            == 200
        )
        assert (
            put_answer(client, headers, attempt, "t-ordering", {"order": STEPS}).status_code == 200
        )
        assert (
            put_answer(client, headers, attempt, "t-cloze", {"blanks": {"p": 0.5}}).status_code
            == 200
        )
        done = client.post(f"/api/v1/attempts/{attempt}/submit", headers=headers).get_json()
        assert (done["score"], done["max_score"]) == (2.0 + 5.0 + 1.0, 14.0)
        review = {a["question"]: a for a in done["answers"]}
        assert review["t-matching"]["correct_answer"] == {"matches": RIGHTS}
        assert review["t-ordering"]["correct_answer"] == {"order": STEPS}
        assert review["t-cloze"]["correct_answer"] == CLOZE_KEY
        assert review["t-cloze"]["answer"] == {"blanks": {"p": 0.5}}
    assert len(orders) > 1 and len(rights) > 1


def test_a_wrong_shape_in_an_attempt_is_a_problem(
    client: FlaskClient,
    new_questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    create_quiz(client, instructor, questions=NEW_QUIZ)
    attempt = start(client, student).get_json()["id"]
    assert_problem(
        put_answer(client, student, attempt, "t-ordering", {"order": ["zero"]}), 422, "every item"
    )


def test_the_openapi_document_names_every_answer_shape(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").get_json()
    described = doc["components"]["schemas"]["Answer"]["properties"]["answer"]["description"]
    for qtype in ("matching", "ordering", "cloze", "single_choice", "code"):
        assert f"({qtype})" in described


# --- the pages ------------------------------------------------------------------------------------


def post_form(browser: FlaskClient, path: str, fields: dict[str, str]) -> Any:
    page = browser.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return browser.post(path, data={"csrf": csrf(page.get_data(as_text=True)), **fields})


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


MATCH_FIELDS = {f"answer-t-matching-{pid}": right for pid, right in SWAPPED.items()}
ORDER_FIELDS = {f"answer-t-ordering-{s}": str(i + 1) for i, s in enumerate(STEPS)}
CLOZE_FIELDS = {
    "answer-t-cloze-p": "0,5",
    "answer-t-cloze-scale": "0.5",
    "answer-t-cloze-name": "Dropout",
    "answer-t-cloze-when": "test",
}


@pytest.mark.parametrize(
    ("slug", "fields", "expected"),
    [
        ("t-matching", MATCH_FIELDS, "2 / 4 points"),
        ("t-ordering", ORDER_FIELDS, "5 / 5 points"),
        ("t-cloze", CLOZE_FIELDS, "2.5 / 5 points"),
    ],
)
def test_a_question_page_posts_its_form_and_shows_the_grade(
    browser: FlaskClient,
    slug: str,
    fields: dict[str, str],
    expected: str,
) -> None:
    html = browser.get(f"/app/questions/{slug}").get_data(as_text=True)
    for name in fields:
        assert f'name="{name}"' in html  # the type's template drew each field
    posted = post_form(browser, f"/app/questions/{slug}", fields)
    assert posted.status_code == 303, posted.get_data(as_text=True)
    assert expected in text_of(browser.get(posted.headers["Location"]).get_data(as_text=True))


def test_the_matching_page_offers_every_right_and_the_cloze_page_every_blank(
    browser: FlaskClient,
) -> None:
    matching = browser.get("/app/questions/t-matching").get_data(as_text=True)
    offered = re.findall(r'<select id="answer-t-matching-relu".*?</select>', matching, re.S)[0]
    options = re.findall(r'<option value="([^"]+)"', offered)
    assert sorted(options) == sorted([*RIGHTS.values(), "x^2"])
    cloze = browser.get("/app/questions/t-cloze").get_data(as_text=True)
    assert re.findall(r'<label for="answer-t-cloze-(\w+)">', cloze) == [
        "p",
        "scale",
        "name",
        "when",
    ]
    assert '<option value="train"' in cloze and "while training" in cloze
    assert "{{blank:" not in cloze and "<strong>[scale]</strong>" in cloze  # markers as labels


@pytest.mark.parametrize(
    ("slug", "fields", "words"),
    [
        ("t-ordering", {"answer-t-ordering-loss": "1"}, "every item a position"),
        ("t-ordering", {f"answer-t-ordering-{s}": "2" for s in STEPS}, "exactly one item"),
        ("t-cloze", {"answer-t-cloze-p": "half"}, "is not a number"),
        ("t-matching", {"answer-t-matching-relu": "forged"}, "not one of the right-hand texts"),
        ("t-matching", {}, "Give an answer"),
    ],
)
def test_a_form_that_holds_no_answer_says_why(
    browser: FlaskClient,
    slug: str,
    fields: dict[str, str],
    words: str,
) -> None:
    posted = post_form(browser, f"/app/questions/{slug}", fields)
    assert posted.status_code == 422
    assert words in posted.get_data(as_text=True)


def test_a_quiz_attempt_on_the_pages_saves_hands_in_and_reviews_the_new_types(
    client: FlaskClient, browser: FlaskClient, instructor: dict[str, str], student: dict[str, str]
) -> None:
    create_quiz(client, instructor, questions=NEW_QUIZ)
    page = browser.get("/app/quizzes/t-quiz").get_data(as_text=True)
    token = csrf(page)
    assert browser.post("/app/quizzes/t-quiz/attempts", data={"csrf": token}).status_code == 303
    page = browser.get("/app/quizzes/t-quiz").get_data(as_text=True)
    attempt = int(re.findall(r'action="/app/attempts/(\d+)"', page)[0])
    # The student's own order of the items, as the page draws them.
    view = client.get(f"/api/v1/attempts/{attempt}", headers=student).get_json()
    shown = next(q for q in view["questions"] if q["slug"] == "t-ordering")["data"]["items"]
    assert re.findall(r'<select id="answer-t-ordering-(\w+)"', page) == [i["id"] for i in shown]
    saved = browser.post(
        f"/app/attempts/{attempt}",
        data={"csrf": token, "action": "save", **MATCH_FIELDS, **ORDER_FIELDS},
    )
    assert saved.status_code == 303
    page = browser.get("/app/quizzes/t-quiz").get_data(as_text=True)
    assert re.search(r'<option value="4" selected>4</option>', page)  # saved answers are shown
    assert re.search(r'<option value="max\(0, x\)" selected>', page)
    handed_in = browser.post(
        f"/app/attempts/{attempt}", data={"csrf": token, "action": "submit", **CLOZE_FIELDS}
    )
    assert handed_in.status_code == 303
    review = text_of(browser.get(handed_in.headers["Location"]).get_data(as_text=True))
    assert "9.5 / 14 points" in review  # 2 + 5 + 2.5
    assert "ReLU → 1/(1+e^-x)" in review and "ReLU → max(0, x)" in review  # answer, then the key
    assert "1. The forward step" in review
    assert "p: 0.5; scale: 0.5; name: Dropout; when: at inference" in review
    assert "when: while training" in review
