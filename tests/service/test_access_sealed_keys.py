"""An open assessment's seal holds against staff without authority over it too: the key,
explanation and feedback of a question it seals show only to site staff and the staff of the
sealing assessment's course; another course's staff and LMS tokens (which never see keys) see
at most what the student sees, wherever the question shows (an attempt, a submission, the
question itself). service.access.sees_past_seal, used by service.attempts.question_review and
service.access.sees_answer_keys."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.models import Quiz, db
from tests.helpers import bearer
from tests.service.samples import QUIZZES, WRONG, put_answer, start

IMMEDIATELY = {p: "immediately" for p in ("score", "feedback", "correct_answer", "explanation")}
TOMORROW = (datetime.now(UTC) + timedelta(days=1)).isoformat()
EXPLANATION_WORD = "scale"  # in t-single's explanation (tests/service/samples.py)


def _quiz(client: FlaskClient, headers: dict[str, str], **body: Any) -> None:
    made = client.post(QUIZZES, json={"title": body["slug"], **body}, headers=headers)
    assert made.status_code == 201, made.get_json()


def _close(app: Flask, slug: str) -> None:
    with app.app_context():
        quiz = db.session.scalar(select(Quiz).where(Quiz.slug == slug))
        assert quiz is not None
        quiz.closes_at = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()


def _seen(client: FlaskClient, headers: dict[str, str], attempt: int, submission: int) -> Any:
    answer = client.get(f"/api/v1/attempts/{attempt}", headers=headers).get_json()["answers"][0]
    shown = client.get(f"/api/v1/submissions/{submission}", headers=headers).get_json()
    grades = client.get(f"/api/v1/submissions/{submission}/grades", headers=headers).get_json()
    return {
        "score": answer["score"],
        "key": answer["correct_answer"],
        "explanation": answer["explanation"] or shown["explanation"],
        "feedback": answer["feedback"] or shown["feedback"] or shown["tests"],
        "grade_feedback": [g.get("feedback") or g.get("comment") for g in grades],
    }


def test_other_courses_staff_and_lms_tokens_see_no_key_an_open_exam_seals(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    token_for: Callable[..., str],
) -> None:
    b_prof = bearer(token_for("instructor", "b-prof", course="course-b"))
    lms = bearer(token_for("lms", "canvas"))
    lms_b = bearer(token_for("lms", "canvas-b", course="course-b"))
    sock = bearer(token_for("student", "sock", course="course-b"))
    # Course B's practice quiz uses the shared question; then site staff's exam in reg-101
    # holds it with authority: sealed for every student while it is open.
    _quiz(
        client, b_prof, slug="drill", course="course-b", questions=["t-single"],
        practice=True, review=IMMEDIATELY,
    )  # fmt: skip
    _quiz(
        client, instructor, slug="exam", course="reg-101", questions=["t-single"],
        attempt_limit=1, closes_at=TOMORROW,
    )  # fmt: skip
    attempt = start(client, sock, "drill").get_json()["id"]
    submission = put_answer(client, sock, attempt, "t-single", WRONG["t-single"]).get_json()["id"]
    client.post(f"/api/v1/attempts/{attempt}/submit", headers=sock)

    student = _seen(client, sock, attempt, submission)
    assert student["key"] is None and student["explanation"] is None and not student["feedback"]
    for who in (b_prof, lms, lms_b):
        seen = _seen(client, who, attempt, submission)
        assert seen["key"] is None, seen
        assert seen["explanation"] is None, seen
        assert not seen["feedback"], seen
        assert not any(seen["grade_feedback"]), seen
        assert seen["score"] == 0.0  # staff grade with the score, as their gradebook shows it
    # As the student does, page included.
    as_student = client.get(f"/api/v1/attempts/{attempt}?view=student", headers=b_prof)
    assert as_student.get_json()["answers"][0]["correct_answer"] is None
    # Site staff, whose exam it is, see everything.
    site = _seen(client, instructor, attempt, submission)
    assert site["key"] == "b" and EXPLANATION_WORD in site["explanation"] and site["feedback"]

    # Once the exam has closed, course B's staff see the review as before (as the student does).
    _close(app, "exam")
    after = _seen(client, b_prof, attempt, submission)
    assert after["key"] == "b" and EXPLANATION_WORD in after["explanation"] and after["feedback"]
    assert _seen(client, sock, attempt, submission)["key"] == "b"


def test_keys_granted_to_a_course_stay_hidden_while_another_courses_exam_seals_them(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    token_for: Callable[..., str],
) -> None:
    """Site staff put the shared question into course B's quiz (which gives B's staff its keys),
    then into reg-101's exam: while that exam is open B's staff read the question, their quiz
    and their exports without its key."""
    b_prof = bearer(token_for("instructor", "b-prof", course="course-b"))
    _quiz(
        client, instructor, slug="drill", course="course-b", questions=["t-single"],
        practice=True,
    )  # fmt: skip

    def keys_b_sees() -> dict[str, bool]:
        read = client.get("/api/v1/questions/t-single", headers=b_prof)
        question = read.get_json() if read.status_code == 200 else {"data": {}}  # 403: sealed
        quiz = client.get(f"{QUIZZES}/drill", headers=b_prof).get_json()["questions"][0]
        export = client.get("/api/v1/questions/export?format=moodle-xml", headers=b_prof)
        return {
            "question": "explanation" in question
            or any("correct" in c for c in question["data"].get("choices", [])),
            "quiz": "explanation" in quiz,
            "export": "t-single" in export.get_data(as_text=True)
            or "Dropout at inference" in export.get_data(as_text=True),
        }

    assert keys_b_sees() == {"question": True, "quiz": True, "export": True}
    _quiz(
        client, instructor, slug="exam", course="reg-101", questions=["t-single"],
        attempt_limit=1, closes_at=TOMORROW,
    )  # fmt: skip
    assert keys_b_sees() == {"question": False, "quiz": False, "export": False}
    # The exam's own course's staff and site staff keep them.
    reg_ta = bearer(token_for("instructor", "reg-prof", course="reg-101"))
    assert "explanation" in client.get("/api/v1/questions/t-single", headers=instructor).get_json()
    assert client.get("/api/v1/questions/t-single", headers=reg_ta).status_code == 200
    _close(app, "exam")
    assert keys_b_sees() == {"question": True, "quiz": True, "export": True}
