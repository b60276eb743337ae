"""A course's gradebook: the best submitted attempt per student per quiz, for instructors and lms
tokens (an lms token limited to a course sees only that course); never for students."""

from __future__ import annotations

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
