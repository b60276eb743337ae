"""Quizzes and attempts: create, start, resume, answer (scores hidden), submit, limits, windows,
time limits, and students kept to their own attempts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from question_bank.loader import Bank
from service.models import QuizAttempt, db
from tests.helpers import assert_problem
from tests.service.samples import (
    ANSWER_KEYS,
    QUIZZES,
    RIGHT,
    SINGLE,
    WRONG,
    create_quiz,
    put_answer,
    quiz_body,
    start,
)

# t-single 2 + t-multiple 4 + t-true-false 1 + t-numeric 1 + t-short-text 1
QUIZ_MAX = 9.0


def iso(moment: datetime) -> str:
    return moment.isoformat()


@pytest.fixture
def quiz(
    client: FlaskClient, questions: dict[str, Any], instructor: dict[str, str]
) -> dict[str, Any]:
    return create_quiz(client, instructor)


# --- quizzes ------------------------------------------------------------------------------------


def test_create_quiz_keeps_question_order(
    client: FlaskClient, questions: dict[str, Any], instructor: dict[str, str]
) -> None:
    created = create_quiz(client, instructor, questions=["t-numeric", "t-single", "t-true-false"])
    assert [q["slug"] for q in created["questions"]] == ["t-numeric", "t-single", "t-true-false"]
    assert (created["course"], created["question_count"], created["max_score"]) == ("reg-101", 3, 4)
    listed = client.get(f"{QUIZZES}?course=reg-101", headers=instructor).get_json()
    assert [q["slug"] for q in listed["items"]] == ["t-quiz"]
    assert client.get(f"{QUIZZES}?course=other", headers=instructor).get_json()["total"] == 0
    assert client.get("/api/v1/courses/reg-101", headers=instructor).status_code == 200


def test_update_quiz_reorders_and_changes_settings(
    client: FlaskClient, quiz: dict[str, Any], instructor: dict[str, str]
) -> None:
    body = quiz_body(questions=["t-short-text", "t-single"], attempt_limit=2, title="Shorter")
    updated = client.put(f"{QUIZZES}/t-quiz", json=body, headers=instructor)
    assert updated.status_code == 200, updated.get_json()
    shown = client.get(f"{QUIZZES}/t-quiz", headers=instructor).get_json()
    assert [q["slug"] for q in shown["questions"]] == ["t-short-text", "t-single"]
    assert (shown["title"], shown["attempt_limit"], shown["max_score"]) == ("Shorter", 2, 3)
    mismatch = client.put(f"{QUIZZES}/t-quiz", json=quiz_body(slug="other"), headers=instructor)
    assert_problem(mismatch, 422, "slug")
    assert_problem(
        client.put(f"{QUIZZES}/nope", json=quiz_body(slug="nope"), headers=instructor), 404, "nope"
    )


def test_quiz_refuses_bad_question_lists_and_windows(
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
    row_counts: Callable[[], dict[str, int]],
) -> None:
    before = row_counts()
    unknown = client.post(
        QUIZZES, json=quiz_body(questions=["t-single", "no-such-q"]), headers=instructor
    )
    assert_problem(unknown, 422, "no-such-q")
    twice = client.post(
        QUIZZES, json=quiz_body(questions=["t-single", "t-single"]), headers=instructor
    )
    assert_problem(twice, 422, "more than once")
    now = datetime.now(UTC)
    backwards = quiz_body(opens_at=iso(now), closes_at=iso(now - timedelta(hours=1)))
    assert_problem(client.post(QUIZZES, json=backwards, headers=instructor), 422, "closes_at")
    naive = quiz_body(opens_at="2030-01-01T00:00:00")
    assert_problem(client.post(QUIZZES, json=naive, headers=instructor), 422, "opens_at")
    assert_problem(client.post(QUIZZES, json=quiz_body(), headers=student), 403)
    assert row_counts() == before  # not even the course was created
    create_quiz(client, instructor)
    assert_problem(client.post(QUIZZES, json=quiz_body(), headers=instructor), 409, "t-quiz")


# --- attempts -----------------------------------------------------------------------------------


def test_start_then_resume(
    client: FlaskClient, quiz: dict[str, Any], student: dict[str, str]
) -> None:
    first = start(client, student)
    assert first.status_code == 201, first.get_json()
    attempt = first.get_json()
    assert first.headers["Location"] == f"/api/v1/attempts/{attempt['id']}"
    assert (attempt["status"], attempt["number"], attempt["score"]) == ("in_progress", 1, None)
    assert attempt["max_score"] == QUIZ_MAX
    assert [a["question"] for a in attempt["answers"]] == quiz_body()["questions"]
    again = start(client, student)
    assert again.status_code == 200
    assert again.get_json()["id"] == attempt["id"]


def test_scores_stay_hidden_until_submitted_then_last_answer_counts(
    client: FlaskClient, quiz: dict[str, Any], student: dict[str, str]
) -> None:
    attempt = start(client, student).get_json()["id"]
    wrong = put_answer(client, student, attempt, "t-single", WRONG["t-single"])
    assert wrong.status_code == 200, wrong.get_json()
    hidden = wrong.get_json()
    assert (hidden["score"], hidden["tests"], hidden["feedback"]) == (None, [], "")
    assert hidden["explanation"] is None and hidden["attempt"] == attempt

    # Nowhere does the score show before the attempt is submitted.
    by_id = client.get(f"/api/v1/submissions/{hidden['id']}", headers=student).get_json()
    assert (by_id["score"], by_id["feedback"], by_id["explanation"]) == (None, "", None)
    listed = client.get("/api/v1/submissions", headers=student).get_json()["items"]
    assert [s["score"] for s in listed] == [None]
    view = client.get(f"/api/v1/attempts/{attempt}", headers=student).get_json()
    assert view["score"] is None
    for item in view["answers"]:
        assert (item["score"], item["feedback"], item["explanation"]) == (None, None, None)
    assert view["answers"][0]["answered"] is True and view["answers"][0]["answer"] == "a"

    # Re-answer: the last answer counts.
    put_answer(client, student, attempt, "t-single", RIGHT["t-single"])
    put_answer(client, student, attempt, "t-multiple", ["a"])  # half of 4 points
    put_answer(client, student, attempt, "t-numeric", RIGHT["t-numeric"])
    submitted = client.post(f"/api/v1/attempts/{attempt}/submit", headers=student)
    assert submitted.status_code == 200, submitted.get_json()
    result = submitted.get_json()
    assert (result["status"], result["score"], result["max_score"]) == ("submitted", 5.0, 9.0)
    assert result["submitted_at"]
    per_question = {a["question"]: a for a in result["answers"]}
    assert per_question["t-single"]["score"] == 2.0
    assert per_question["t-multiple"]["score"] == 2.0
    assert per_question["t-true-false"] == {
        **per_question["t-true-false"],
        "answered": False,
        "score": 0.0,
    }
    assert per_question["t-single"]["explanation"] == SINGLE["explanation"]
    assert all(a["explanation"] for a in result["answers"])
    # Now the submission shows its score too.
    shown = client.get(f"/api/v1/submissions/{hidden['id']}", headers=student).get_json()
    assert (shown["score"], shown["feedback"]) == (0.0, "Not quite.")
    assert shown["explanation"]

    # Submitting again changes nothing; answering again is refused.
    again = client.post(f"/api/v1/attempts/{attempt}/submit", headers=student).get_json()
    assert (again["score"], again["submitted_at"]) == (5.0, result["submitted_at"])
    late = put_answer(client, student, attempt, "t-true-false", True)
    assert_problem(late, 409, "submitted")


def test_answer_must_fit_the_question_and_the_quiz(
    client: FlaskClient,
    quiz: dict[str, Any],
    student: dict[str, str],
    row_counts: Callable[[], dict[str, int]],
) -> None:
    attempt = start(client, student).get_json()["id"]
    before = row_counts()
    assert_problem(put_answer(client, student, attempt, "t-numeric", "two"), 422, "number")
    assert_problem(
        put_answer(client, student, attempt, "t-numeric-rel", 1000), 404, "t-numeric-rel"
    )
    assert_problem(put_answer(client, student, 999_999, "t-single", "b"), 404)
    assert row_counts() == before


def test_attempt_limit(
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    create_quiz(client, instructor, attempt_limit=2)
    for number in (1, 2):
        attempt = start(client, student)
        assert attempt.status_code == 201 and attempt.get_json()["number"] == number
        client.post(f"/api/v1/attempts/{attempt.get_json()['id']}/submit", headers=student)
    assert_problem(start(client, student), 409, "2 attempt")
    mine = client.get(f"{QUIZZES}/t-quiz/attempts", headers=student).get_json()
    assert [a["number"] for a in mine["items"]] == [1, 2]


def test_open_and_close_window(
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    now = datetime.now(UTC)
    create_quiz(client, instructor, slug="later", opens_at=iso(now + timedelta(days=1)))
    create_quiz(
        client,
        instructor,
        slug="over",
        opens_at=iso(now - timedelta(days=2)),
        closes_at=iso(now - timedelta(days=1)),
    )
    create_quiz(
        client,
        instructor,
        slug="open-now",
        opens_at=iso(now - timedelta(days=1)),
        closes_at=iso(now + timedelta(days=1)),
    )
    assert_problem(start(client, student, "later"), 409, "opens")
    assert_problem(start(client, student, "over"), 409, "closed")
    assert start(client, student, "open-now").status_code == 201


def test_time_limit(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    create_quiz(client, instructor, time_limit_minutes=10)
    attempt = start(client, student).get_json()
    started = datetime.fromisoformat(attempt["started_at"])
    assert datetime.fromisoformat(attempt["deadline"]) == started + timedelta(minutes=10)
    assert put_answer(client, student, attempt["id"], "t-single", "b").status_code == 200
    with app.app_context():  # eleven minutes later
        row = db.session.get(QuizAttempt, attempt["id"])
        assert row is not None
        row.started_at = row.started_at - timedelta(minutes=11)
        db.session.commit()
    assert_problem(put_answer(client, student, attempt["id"], "t-single", "a"), 409, "ran out")
    result = client.post(f"/api/v1/attempts/{attempt['id']}/submit", headers=student).get_json()
    assert result["score"] == 2.0  # the answer given in time counts, the late one was refused


def test_students_only_see_and_touch_their_own_attempts(
    client: FlaskClient,
    quiz: dict[str, Any],
    student: dict[str, str],
    other_student: dict[str, str],
    instructor: dict[str, str],
    row_counts: Callable[[], dict[str, int]],
) -> None:
    attempt = start(client, student).get_json()["id"]
    submission = put_answer(client, student, attempt, "t-single", "b").get_json()["id"]
    before = row_counts()
    assert_problem(client.get(f"/api/v1/attempts/{attempt}", headers=other_student), 404)
    assert_problem(put_answer(client, other_student, attempt, "t-single", "a"), 404)
    assert_problem(client.post(f"/api/v1/attempts/{attempt}/submit", headers=other_student), 404)
    assert_problem(client.get(f"/api/v1/submissions/{submission}", headers=other_student), 404)
    theirs = client.get("/api/v1/submissions", headers=other_student).get_json()
    assert theirs["total"] == 0
    listed = client.get(f"{QUIZZES}/t-quiz/attempts", headers=other_student).get_json()
    assert listed["total"] == 0
    assert row_counts() == before
    view = client.get(f"/api/v1/attempts/{attempt}", headers=student).get_json()
    assert view["status"] == "in_progress"
    # Staff see everyone's.
    assert client.get(f"/api/v1/attempts/{attempt}", headers=instructor).status_code == 200
    everyone = client.get(f"{QUIZZES}/t-quiz/attempts", headers=instructor).get_json()
    assert everyone["total"] == 1


def test_only_students_take_quizzes(
    client: FlaskClient, quiz: dict[str, Any], instructor: dict[str, str], lms: dict[str, str]
) -> None:
    assert_problem(start(client, instructor), 403, "student")
    assert_problem(start(client, lms), 403, "student")
    assert_problem(start(client, instructor, "no-such-quiz"), 403)


def test_unknown_quiz_is_404(client: FlaskClient, student: dict[str, str]) -> None:
    assert_problem(start(client, student, "no-such-quiz"), 404, "no-such-quiz")
    assert_problem(client.get(f"{QUIZZES}/no-such-quiz", headers=student), 404, "no-such-quiz")


def _right_answer(question: dict[str, Any]) -> Any:
    data = question["data"]
    if question["type"] == "single_choice":
        return next(c["id"] for c in data["choices"] if c["correct"])
    if question["type"] == "multiple_choice":
        return [c["id"] for c in data["choices"] if c["correct"]]
    if question["type"] in ("true_false", "numeric"):
        return data["answer"]
    return data["accept"][0] if data["accept"] else None


def test_student_answers_a_bundled_quiz_and_sees_the_score(
    client: FlaskClient, bank: Bank, student: dict[str, str]
) -> None:
    by_slug = {q["slug"]: q for q in bank.questions}
    quiz = next(
        q
        for q in bank.quizzes
        if all(by_slug.get(s) and _right_answer(by_slug[s]) is not None for s in q["questions"])
    )
    shown = client.get(f"{QUIZZES}/{quiz['slug']}", headers=student).get_json()
    attempt = start(client, student, quiz["slug"]).get_json()
    for question in shown["questions"]:
        assert not set(question["data"]) & set(ANSWER_KEYS)
        response = put_answer(
            client,
            student,
            attempt["id"],
            question["slug"],
            _right_answer(by_slug[question["slug"]]),
        )
        assert response.status_code == 200, response.get_json()
    result = client.post(f"/api/v1/attempts/{attempt['id']}/submit", headers=student).get_json()
    assert result["status"] == "submitted"
    assert result["score"] == result["max_score"] == shown["max_score"] > 0
    assert all(a["score"] == a["max_score"] for a in result["answers"])
