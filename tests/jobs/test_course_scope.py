"""Course-scoped lms tokens see only their course's student work, and an open quiz attempt
doesn't leak its scores through a standalone answer to the same question."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.helpers import assert_problem, bearer
from tests.jobs.test_policies_and_regrades import CHOICE


def quiz(client: FlaskClient, instructor: dict[str, str], slug: str, course: str) -> None:
    body = {"slug": slug, "title": slug, "course": course, "questions": ["bn-eval"]}
    assert client.post("/api/v1/quizzes", json=body, headers=instructor).status_code == 201


def answer_in_quiz(client: FlaskClient, student: dict[str, str], slug: str) -> dict[str, Any]:
    attempt = client.post(f"/api/v1/quizzes/{slug}/attempts", headers=student).get_json()
    url = f"/api/v1/attempts/{attempt['id']}/answers/bn-eval"
    answered: dict[str, Any] = client.put(url, json={"answer": "b"}, headers=student).get_json()
    client.post(f"/api/v1/attempts/{attempt['id']}/submit", headers=student)
    return answered


def test_an_lms_token_for_one_course_sees_nothing_of_another(
    client: FlaskClient,
    instructor: dict[str, str],
    student: dict[str, str],
    other_student: dict[str, str],
    token_for: Any,
) -> None:
    assert client.post("/api/v1/questions", json=CHOICE, headers=instructor).status_code == 201
    quiz(client, instructor, "quiz-a", "course-a")
    quiz(client, instructor, "quiz-b", "course-b")
    mine = answer_in_quiz(client, student, "quiz-a")
    theirs = answer_in_quiz(client, other_student, "quiz-b")
    lms = bearer(token_for("lms", "canvas-a", course="course-a"))

    listed = client.get("/api/v1/submissions", headers=lms).get_json()
    assert [s["id"] for s in listed["items"]] == [mine["id"]]
    assert client.get(f"/api/v1/submissions/{mine['id']}", headers=lms).status_code == 200
    assert_problem(client.get(f"/api/v1/submissions/{theirs['id']}", headers=lms), 404)
    quizzes = client.get("/api/v1/quizzes", headers=lms).get_json()
    assert [q["slug"] for q in quizzes["items"]] == ["quiz-a"]
    assert_problem(client.get("/api/v1/quizzes/quiz-b", headers=lms), 404)
    assert_problem(client.get("/api/v1/courses/course-b/gradebook", headers=lms), 404)
    # An unscoped instructor still sees both.
    everything = client.get("/api/v1/submissions", headers=instructor).get_json()
    assert {s["id"] for s in everything["items"]} == {mine["id"], theirs["id"]}


def test_an_open_attempt_keeps_its_questions_scores_hidden(
    client: FlaskClient, instructor: dict[str, str], student: dict[str, str]
) -> None:
    assert client.post("/api/v1/questions", json=CHOICE, headers=instructor).status_code == 201
    quiz(client, instructor, "quiz-a", "course-a")
    attempt = client.post("/api/v1/quizzes/quiz-a/attempts", headers=student).get_json()
    url = "/api/v1/questions/bn-eval/submissions"
    assert_problem(client.post(url, json={"answer": "b"}, headers=student), 409, "quiz-a")
    client.post(f"/api/v1/attempts/{attempt['id']}/submit", headers=student)
    assert client.post(url, json={"answer": "b"}, headers=student).status_code == 201
