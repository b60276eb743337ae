"""`after_due` waits for the end: a review part with it shows a student the key only once their
due date (or else the close) has passed and they can no longer earn marks on the quiz: no
attempt open and none left to start (the limit reached, or the quiz closed for them,
extensions included). service.quizzes.review_allows and may_still_earn_marks."""

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

AFTER_DUE = {
    "score": "after_submit",
    "feedback": "after_due",
    "correct_answer": "after_due",
    "explanation": "after_due",
}


def _iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def _quiz(client: FlaskClient, headers: dict[str, str], slug: str, **rules: Any) -> None:
    body = {"slug": slug, "title": slug, "course": "reg-101", "questions": ["t-single"]}
    made = client.post(QUIZZES, json={**body, "review": AFTER_DUE, **rules}, headers=headers)
    assert made.status_code == 201, made.get_json()


def _take(client: FlaskClient, student: dict[str, str], slug: str, submit: bool = True) -> int:
    started = start(client, student, slug)
    assert started.status_code == 201, started.get_json()
    attempt: int = started.get_json()["id"]
    put_answer(client, student, attempt, "t-single", WRONG["t-single"])
    if submit:
        client.post(f"/api/v1/attempts/{attempt}/submit", headers=student)
    return attempt


def _key(client: FlaskClient, student: dict[str, str], attempt: int) -> Any:
    view = client.get(f"/api/v1/attempts/{attempt}", headers=student).get_json()
    answer = view["answers"][0]
    assert view["review"]["correct_answer"] == (answer["correct_answer"] is not None)
    return answer["correct_answer"]


def _move(app: Flask, slug: str, **when: datetime) -> None:
    with app.app_context():
        quiz = db.session.scalar(select(Quiz).where(Quiz.slug == slug))
        assert quiz is not None
        for name, moment in when.items():
            setattr(quiz, name, moment)
        db.session.commit()


def test_after_due_waits_while_late_attempts_may_still_be_started(
    app: Flask, client: FlaskClient, questions: dict[str, Any], instructor: dict[str, str],
    student: dict[str, str],
) -> None:  # fmt: skip
    rules = {"attempt_limit": 2, "due_at": _iso(timedelta(hours=1)), "late_penalty": 0.1}
    _quiz(client, instructor, "late", closes_at=_iso(timedelta(days=1)), **rules)
    first = _take(client, student, "late")
    assert _key(client, student, first) is None  # before the due date, as before
    _move(app, "late", due_at=datetime.now(UTC) - timedelta(minutes=1))
    # Past the due date, but a late attempt may still be started: no key.
    assert _key(client, student, first) is None
    submission = client.get(f"/api/v1/attempts/{first}", headers=student).get_json()
    assert submission["answers"][0]["explanation"] is None
    second = _take(client, student, "late", submit=False)
    assert _key(client, student, first) is None  # an attempt in progress: still none
    client.post(f"/api/v1/attempts/{second}/submit", headers=student)
    # Both attempts used: nothing more to earn, the key shows on each.
    assert _key(client, student, first) == "b"
    assert _key(client, student, second) == "b"
    page = client.get(f"/api/v1/attempts/{second}", headers=student).get_json()["answers"][0]
    assert page["explanation"] and page["feedback"]


def test_after_due_without_dates_waits_for_the_attempt_limit(
    client: FlaskClient, questions: dict[str, Any], instructor: dict[str, str],
    student: dict[str, str],
) -> None:  # fmt: skip
    _quiz(client, instructor, "undated", attempt_limit=2)
    first = _take(client, student, "undated")
    assert _key(client, student, first) is None  # not after_submit in disguise
    _take(client, student, "undated")
    assert _key(client, student, first) == "b"
    # With neither dates nor a limit a student can always try again: the key never shows.
    _quiz(client, instructor, "open-ended", practice=True)
    endless = _take(client, student, "open-ended")
    assert _key(client, student, endless) is None


def test_after_due_shows_once_the_quiz_closed_for_the_student_extensions_included(
    app: Flask, client: FlaskClient, questions: dict[str, Any], instructor: dict[str, str],
    student: dict[str, str], token_for: Callable[..., str],
) -> None:  # fmt: skip
    bob = bearer(token_for("student", "bob"))
    _quiz(client, instructor, "closing", attempt_limit=3, closes_at=_iso(timedelta(hours=1)))
    alice_attempt = _take(client, student, "closing")
    bob_attempt = _take(client, bob, "closing")
    bob_id = client.get("/api/v1/me", headers=bob).get_json()["id"]
    extended = client.put(
        f"{QUIZZES}/closing/extensions/{bob_id}",
        json={"due_at": _iso(timedelta(days=2))},
        headers=instructor,
    )
    assert extended.status_code in (200, 201), extended.get_json()
    assert _key(client, student, alice_attempt) is None  # attempts left, quiz open
    _move(app, "closing", closes_at=datetime.now(UTC) - timedelta(minutes=1))
    assert _key(client, student, alice_attempt) == "b"  # closed for her: nothing more to earn
    assert _key(client, bob, bob_attempt) is None  # his extension keeps it open for him
