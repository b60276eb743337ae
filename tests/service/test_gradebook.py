"""A course's gradebook: the best submitted attempt per student per quiz, for instructors and lms
tokens (an lms token limited to a course sees only that course); never for students."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers import assert_problem, bearer
from tests.service.samples import quiz_body

GRADEBOOK = "/api/v1/courses/reg-101/gradebook"


def take(client: FlaskClient, headers: dict[str, str], quiz: str, answers: dict[str, Any]) -> float:
    """One whole attempt: start, answer, submit; returns its score."""
    attempt = client.post(f"/api/v1/quizzes/{quiz}/attempts", headers=headers).get_json()["id"]
    for question, value in answers.items():
        response = client.put(
            f"/api/v1/attempts/{attempt}/answers/{question}",
            json={"answer": value},
            headers=headers,
        )
        assert response.status_code == 200, response.get_json()
    result = client.post(f"/api/v1/attempts/{attempt}/submit", headers=headers).get_json()
    return float(result["score"])


@pytest.fixture
def course(client: FlaskClient, questions: dict[str, Any], instructor: dict[str, str]) -> None:
    """reg-101 with two quizzes (max 9 and 3); alice takes the first twice, bob once, carol starts
    it without submitting; dave takes a quiz of another course."""
    for body in (
        quiz_body(),
        quiz_body(slug="t-quiz-2", questions=["t-single", "t-true-false"]),
        quiz_body(slug="elsewhere", course="other-course", questions=["t-single"]),
    ):
        assert client.post("/api/v1/quizzes", json=body, headers=instructor).status_code == 201


def test_gradebook_shows_best_attempt_per_student_and_quiz(
    client: FlaskClient,
    course: None,
    token_for: Callable[..., str],
    instructor: dict[str, str],
    lms: dict[str, str],
) -> None:
    alice, bob, carol, dave = (
        bearer(token_for("student", n)) for n in ("alice", "bob", "carol", "dave")
    )
    assert take(client, alice, "t-quiz", {"t-single": "b", "t-true-false": True}) == 3.0
    assert take(client, alice, "t-quiz", {"t-multiple": ["a", "b"], "t-single": "b"}) == 6.0
    assert take(client, alice, "t-quiz", {"t-true-false": True}) == 1.0  # worse: not counted
    assert take(client, bob, "t-quiz-2", {"t-single": "b"}) == 2.0
    client.post("/api/v1/quizzes/t-quiz/attempts", headers=carol)  # never submitted
    take(client, dave, "elsewhere", {"t-single": "b"})

    for who in (instructor, lms):
        response = client.get(GRADEBOOK, headers=who)
        assert response.status_code == 200, response.get_json()
        book = response.get_json()
        assert book["course"]["slug"] == "reg-101"
        assert [(q["slug"], q["max_score"]) for q in book["quizzes"]] == [
            ("t-quiz", 9.0),
            ("t-quiz-2", 3.0),
        ]
        rows = {row["user"]["name"]: row for row in book["students"]}
        assert list(rows) == ["alice", "bob", "carol"]  # by name; dave is in another course
        assert rows["alice"]["scores"] == {"t-quiz": 6.0, "t-quiz-2": None}
        assert rows["bob"]["scores"] == {"t-quiz": None, "t-quiz-2": 2.0}
        assert rows["carol"]["scores"] == {"t-quiz": None, "t-quiz-2": None}
        assert [(r["total"], r["max_total"]) for r in rows.values()] == [
            (6.0, 12.0),
            (2.0, 12.0),
            (0.0, 12.0),
        ]


def test_lms_token_limited_to_a_course(
    client: FlaskClient, course: None, token_for: Callable[..., str]
) -> None:
    scoped = bearer(token_for("lms", "canvas-reg", course="reg-101"))
    assert client.get(GRADEBOOK, headers=scoped).status_code == 200
    elsewhere = bearer(token_for("lms", "canvas-other", course="other-course"))
    assert_problem(client.get(GRADEBOOK, headers=elsewhere), 404)
    assert (
        client.get("/api/v1/courses/other-course/gradebook", headers=elsewhere).status_code == 200
    )


def test_students_cannot_read_gradebooks(
    client: FlaskClient, course: None, student: dict[str, str]
) -> None:
    assert_problem(client.get(GRADEBOOK, headers=student), 403, "instructor")


def test_unknown_course_is_404(client: FlaskClient, instructor: dict[str, str]) -> None:
    assert_problem(client.get("/api/v1/courses/nope/gradebook", headers=instructor), 404, "nope")


SNEAKY_NAMES = [
    "Mallory;=HYPERLINK(CHAR(104)&A3);",  # a ';' locale splits here: the second part is a formula
    "Eve,@SUM(1+1)",
    "Trent\t+1",
    'Oscar;"=1"',
    "Peggy\n-2+3",
    "=cmd|' /C calc'!A0",
    "\uff1dHYPERLINK(1)",  # full-width '='
    "Walter, Jr.",  # harmless: kept as it is
]


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_the_csv_has_no_formula_cell_in_any_locales_reading(
    client: FlaskClient,
    course: None,
    token_for: Callable[..., str],
    instructor: dict[str, str],
    separator: str,
) -> None:
    """Spreadsheets split CSV on ',' ';' or tab by locale; whichever they use, no cell starts
    with a formula character; the file stays the same plain CSV otherwise."""
    for name in SNEAKY_NAMES:
        take(client, bearer(token_for("student", name)), "t-quiz", {"t-single": "b"})
    response = client.get(GRADEBOOK + ".csv", headers=instructor)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    cells = [
        cell.strip(' "')
        for line in text.splitlines()
        for row in csv.reader([line], delimiter=separator)
        for cell in row
    ]
    starts = "=+-@\t\r\uff1d\uff0b\uff0d\uff20"
    assert [c for c in cells if c and c[0] in starts] == []
    assert not [line for line in text.splitlines() if line and line[0] in starts]

    rows = list(csv.reader(io.StringIO(text)))  # the usual ',' reading: a name is one cell
    names = {row[1] for row in rows[1:]}
    assert "Mallory;'=HYPERLINK(CHAR(104)&A3);" in names
    assert "Eve,'@SUM(1+1)" in names
    assert "'=cmd|' /C calc'!A0" in names
    assert "Walter, Jr." in names
    header, *lines = text.splitlines()
    assert header.startswith("user_id,name,quiz:t-quiz,quiz:t-quiz-2,question:")
    walter = next(line for line in lines if "Walter" in line)
    user_id, scores = walter.split(',"Walter, Jr.",')
    assert user_id.isdigit()
    assert scores.startswith("2,,2,") and scores.endswith(",2,12"), scores
