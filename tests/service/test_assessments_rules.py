"""Assessments through the API and the pages: questions sealed inside attempts until the quiz
closes (unless it is practice), content hidden before it opens, review options, attempts handed
in when their time runs out, extensions."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.models import QuizAttempt, db
from tests.helpers import assert_problem, bearer, recorded_statements
from tests.service.samples import QUIZZES, RIGHT, WRONG, quiz_body, start
from tests.service.samples import create_quiz as make_quiz
from tests.service.samples import put_answer as answer


def page_client(app: Flask, headers: dict[str, str]) -> FlaskClient:
    """A browser signed in as the token's user."""
    browser = app.test_client()
    made = browser.post("/api/v1/sign-in-links", json={"next": "/app/"}, headers=headers)
    assert made.status_code == 201, made.get_json()
    path = made.get_json()["url"].removeprefix("http://localhost")
    nonce = re.search(r'name="nonce" value="([^"]+)"', browser.get(path).get_data(as_text=True))
    assert nonce is not None  # the link opens a page that asks to continue; its POST signs in
    assert browser.post(path, data={"nonce": nonce.group(1)}).status_code == 303
    return browser


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def run_attempt_background(app: Flask) -> int:
    """One pass of the background loop's hand-in of expired attempts."""
    from service.attempts import run_attempt_background as one_pass

    return one_pass(app)


def age_attempt(app: Flask, attempt_id: int, minutes: float) -> None:
    """Move an attempt's start, and its answers, into the past: the clock, without waiting."""
    with app.app_context():
        row = db.session.get(QuizAttempt, attempt_id)
        assert row is not None
        row.started_at = row.started_at - timedelta(minutes=minutes)
        for answer in row.submissions:
            answer.created_at = answer.created_at - timedelta(minutes=minutes)
        db.session.commit()


def iso(moment: datetime) -> str:
    return moment.isoformat()


# --- practice vs assessment ----------


@pytest.mark.parametrize("rule", [{"attempt_limit": 1}, {"time_limit_minutes": 5}])
def test_assessment_questions_are_answered_and_read_only_in_an_attempt(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
    rule: dict[str, Any],
) -> None:
    make_quiz(client, instructor, **rule)
    alone = client.post(
        "/api/v1/questions/t-single/submissions", json={"answer": "b"}, headers=student
    )
    assert_problem(alone, 403, "t-quiz")
    assert_problem(client.get("/api/v1/questions/t-single", headers=student), 403, "attempt")
    shown = client.get(f"{QUIZZES}/t-quiz", headers=student).get_json()
    assert shown["assessment"] is True and shown["questions"] == []
    assert "attempt" in shown["questions_hidden"]
    assert client.get("/api/v1/questions/t-single", headers=instructor).status_code == 200
    assert len(client.get(f"{QUIZZES}/t-quiz", headers=instructor).get_json()["questions"]) == 5

    # In the attempt, the questions are there in full (no keys), and answers are taken.
    attempt = start(client, student).get_json()
    inside = {q["slug"]: q for q in attempt["questions"]}
    assert inside["t-single"]["prompt"].startswith("What happens at inference")
    assert [c["id"] for c in inside["t-single"]["data"]["choices"]] == ["a", "b", "c"]
    assert "correct" not in inside["t-single"]["data"]["choices"][0]
    assert answer(client, student, attempt["id"], "t-single", "b").status_code == 200

    # The pages apply the same rule.
    browser = page_client(app, student)
    page = browser.get("/app/questions/t-single")
    assert page.status_code == 403 and "assessment" in page.get_data(as_text=True)
    posted = browser.post("/app/questions/t-single", data={"answer-t-single": "b", "csrf": "x"})
    assert posted.status_code in (400, 403)


def test_a_practice_quiz_or_a_closed_one_leaves_its_questions_open(
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    make_quiz(client, instructor, attempt_limit=1, practice=True)
    answered = client.post(
        "/api/v1/questions/t-single/submissions", json={"answer": "b"}, headers=student
    )
    assert answered.status_code == 201 and answered.get_json()["score"] == 2.0
    now = datetime.now(UTC)
    client.put(
        f"{QUIZZES}/t-quiz",
        json=quiz_body(
            attempt_limit=1,
            opens_at=iso(now - timedelta(days=2)),
            closes_at=iso(now - timedelta(days=1)),
        ),
        headers=instructor,
    )
    after = client.post(
        "/api/v1/questions/t-multiple/submissions", json={"answer": ["a"]}, headers=student
    )
    assert after.status_code == 201
    assert len(client.get(f"{QUIZZES}/t-quiz", headers=student).get_json()["questions"]) == 5


def test_quiz_content_is_hidden_before_it_opens(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    opens = datetime.now(UTC) + timedelta(days=1)
    make_quiz(client, instructor, opens_at=iso(opens), practice=True)
    shown = client.get(f"{QUIZZES}/t-quiz", headers=student).get_json()
    assert shown["questions"] == [] and "not opened" in shown["questions_hidden"]
    page = page_client(app, student).get("/app/quizzes/t-quiz").get_data(as_text=True)
    assert "opens" in page and "What happens at inference" not in page


# --- review options ----------


def test_an_open_attempt_shows_no_score_feedback_or_explanation_anywhere(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    make_quiz(client, instructor, attempt_limit=2)
    attempt = start(client, student).get_json()["id"]
    for slug, value in RIGHT.items():
        if slug != "t-numeric-rel":
            assert answer(client, student, attempt, slug, value).status_code == 200
    page = page_client(app, student).get(f"/app/attempts/{attempt}").get_data(as_text=True)
    assert "Correct." not in page and "points</span>" not in page
    assert "Survivors were already scaled" not in page  # the explanation
    assert "Correct answer" not in page
    view = client.get(f"/api/v1/attempts/{attempt}", headers=student).get_json()
    assert view["score"] is None
    assert all(a["score"] is None and a["correct_answer"] is None for a in view["answers"])


def test_review_options_decide_what_shows_after_hand_in(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    due = datetime.now(UTC) + timedelta(hours=1)
    review = {
        "score": "after_submit",
        "feedback": "after_due",
        "correct_answer": "after_due",
        "explanation": "never",
    }
    make_quiz(client, instructor, attempt_limit=1, due_at=iso(due), review=review)
    attempt = start(client, student).get_json()["id"]
    answer(client, student, attempt, "t-single", WRONG["t-single"])
    done = client.post(f"/api/v1/attempts/{attempt}/submit", headers=student).get_json()
    assert done["score"] == 0.0
    single = next(a for a in done["answers"] if a["question"] == "t-single")
    assert (single["score"], single["feedback"], single["correct_answer"]) == (0.0, None, None)
    assert single["explanation"] is None
    browser = page_client(app, student)
    page = browser.get(f"/app/attempts/{attempt}").get_data(as_text=True)
    assert "0 / 2 points" in page and "Not quite." not in page and "Correct answer" not in page
    # Staff see everything, or exactly what the student sees.
    staff = client.get(f"/api/v1/attempts/{attempt}", headers=instructor).get_json()
    assert next(a for a in staff["answers"] if a["question"] == "t-single")["correct_answer"] == "b"
    as_student = client.get(f"/api/v1/attempts/{attempt}?view=student", headers=instructor)
    assert as_student.get_json()["answers"] == done["answers"]

    # After the due date, feedback and the correct answer show; the explanation never does.
    client.put(
        f"{QUIZZES}/t-quiz",
        json=quiz_body(
            attempt_limit=1, due_at=iso(datetime.now(UTC) - timedelta(minutes=1)), review=review
        ),
        headers=instructor,
    )
    later = client.get(f"/api/v1/attempts/{attempt}", headers=student).get_json()
    single = next(a for a in later["answers"] if a["question"] == "t-single")
    assert (single["feedback"], single["correct_answer"], single["explanation"]) == (
        "Not quite.",
        "b",
        None,
    )
    page = browser.get(f"/app/attempts/{attempt}").get_data(as_text=True)
    assert "Not quite." in page and "Correct answer" in page and "Nothing" in page
    assert "Survivors were already scaled" not in page


def test_review_immediately_shows_scores_during_the_attempt(
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    make_quiz(client, instructor, attempt_limit=1, review={"score": "immediately"})
    attempt = start(client, student).get_json()["id"]
    saved = answer(client, student, attempt, "t-single", "b").get_json()
    assert saved["score"] == 2.0 and saved["feedback"] == ""  # feedback: after hand-in


# --- attempts end on time ----------


def test_the_background_loop_hands_in_an_attempt_whose_time_ran_out(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    make_quiz(client, instructor, time_limit_minutes=1, attempt_limit=2)
    attempt = start(client, student).get_json()
    assert answer(client, student, attempt["id"], "t-single", "b").status_code == 200
    age_attempt(app, attempt["id"], 1.5)
    assert run_attempt_background(app) == 1
    assert run_attempt_background(app) == 0  # exactly once
    with app.app_context():
        row = db.session.get(QuizAttempt, attempt["id"])
        assert row is not None
        assert (row.status.value, row.ended_by, row.score) == ("submitted", "time", 2.0)
        assert row.submitted_at == row.started_at + timedelta(minutes=1)
    book = client.get("/api/v1/courses/reg-101/gradebook", headers=instructor).get_json()
    assert book["students"][0]["scores"]["t-quiz"] == 2.0
    assert_problem(answer(client, student, attempt["id"], "t-single", "a"), 409, "ran out")
    again = start(client, student)
    assert again.status_code == 201 and again.get_json()["id"] != attempt["id"]


def test_an_expired_attempt_is_never_shown_open(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    """Before the loop comes by, reading or resuming an expired attempt hands it in."""
    make_quiz(client, instructor, time_limit_minutes=1, attempt_limit=1)
    attempt = start(client, student).get_json()["id"]
    age_attempt(app, attempt, 2)
    assert_problem(start(client, student), 409, "1 attempt")
    view = client.get(f"/api/v1/attempts/{attempt}", headers=student).get_json()
    assert (view["status"], view["ended_by"]) == ("submitted", "time")


def test_the_embedded_executor_hands_in_within_seconds(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    import time

    from service import jobs

    make_quiz(client, instructor, time_limit_minutes=1)
    attempt = start(client, student).get_json()["id"]
    age_attempt(app, attempt, 1.01)
    jobs.start_embedded_executor(app)
    try:
        for _ in range(100):
            with app.app_context():
                row = db.session.get(QuizAttempt, attempt)
                assert row is not None
                status = row.status.value
                db.session.remove()
            if status == "submitted":
                break
            time.sleep(0.1)
        assert status == "submitted"
    finally:
        jobs.stop_embedded_executor(app, timeout=10)


def test_the_quiz_page_states_the_rules_and_counts_down(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    due = datetime(2099, 5, 1, 12, 0, tzinfo=UTC)
    make_quiz(client, instructor, time_limit_minutes=30, due_at=iso(due), late_penalty=0.25)
    browser = page_client(app, student)
    before = browser.get("/app/quizzes/t-quiz").get_data(as_text=True)
    assert "Due <time" in before and "2099-05-01 12:00 UTC" in before
    assert "lose 25% of their score" in before and "30 minutes per attempt" in before
    started = browser.post("/app/quizzes/t-quiz/attempts", data={"csrf": csrf(before)})
    assert started.status_code == 303
    during = browser.get("/app/quizzes/t-quiz").get_data(as_text=True)
    assert 'class="countdown" data-deadline="' in during


def test_extensions_give_one_student_more_time_and_a_later_due_date(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    token_for: Callable[..., str],
) -> None:
    alice, bob = bearer(token_for("student", "alice")), bearer(token_for("student", "bob"))
    past_due = datetime.now(UTC) - timedelta(minutes=5)
    make_quiz(client, instructor, time_limit_minutes=10, due_at=iso(past_due), late_penalty=0.5)
    alice_attempt = start(client, alice).get_json()
    alice_id = alice_attempt["user"]["id"]
    later = datetime.now(UTC) + timedelta(days=1)
    put = client.put(
        f"{QUIZZES}/t-quiz/extensions/{alice_id}",
        json={"extra_minutes": 20, "due_at": iso(later)},
        headers=instructor,
    )
    assert put.status_code == 200, put.get_json()
    assert put.get_json()["extra_minutes"] == 20
    assert_problem(
        client.put(f"{QUIZZES}/t-quiz/extensions/{alice_id}", json={}, headers=alice), 403
    )
    listed = client.get(f"{QUIZZES}/t-quiz/extensions", headers=instructor).get_json()
    assert [e["user"]["name"] for e in listed] == ["alice"]
    view = client.get(f"/api/v1/attempts/{alice_attempt['id']}", headers=alice).get_json()
    started = datetime.fromisoformat(view["started_at"])
    assert datetime.fromisoformat(view["deadline"]) == started + timedelta(minutes=30)
    # Alice is on time (no penalty), Bob is late (half the score).
    answer(client, alice, alice_attempt["id"], "t-single", "b")
    assert (
        client.post(f"/api/v1/attempts/{alice_attempt['id']}/submit", headers=alice).get_json()[
            "score"
        ]
        == 2.0
    )
    bob_attempt = start(client, bob).get_json()["id"]
    answer(client, bob, bob_attempt, "t-single", "b")
    assert (
        client.post(f"/api/v1/attempts/{bob_attempt}/submit", headers=bob).get_json()["score"]
        == 1.0
    )
    # The instructor's quiz page lists the extension and gives new ones.
    browser = page_client(app, instructor)
    page = browser.get("/app/quizzes/t-quiz").get_data(as_text=True)
    assert "Extensions" in page and "alice" in page
    bob_user = client.get(f"/api/v1/attempts/{bob_attempt}", headers=bob).get_json()["user"]["id"]
    saved = browser.post(
        "/app/quizzes/t-quiz/extensions",
        data={"csrf": csrf(page), "user": bob_user, "extra_minutes": "15", "due_at": ""},
    )
    assert saved.status_code == 303
    listed = client.get(f"{QUIZZES}/t-quiz/extensions", headers=instructor).get_json()
    assert {e["user"]["name"]: e["extra_minutes"] for e in listed} == {"alice": 20, "bob": 15}


def test_an_answer_looks_the_students_extension_up_once(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    token_for: Callable[..., str],
) -> None:
    # An answer in a timed attempt needs the student's deadline, due date and time limit, which
    # all depend on their extension: under an exam's load, one query per request, not five.
    alice = bearer(token_for("student", "alice"))
    due = datetime.now(UTC) + timedelta(days=1)
    make_quiz(client, instructor, time_limit_minutes=10, due_at=iso(due), late_penalty=0.5)
    attempt = start(client, alice).get_json()
    client.put(
        f"{QUIZZES}/t-quiz/extensions/{attempt['user']['id']}",
        json={"extra_minutes": 20, "due_at": None},
        headers=instructor,
    )
    with recorded_statements(app) as statements:
        answered = answer(client, alice, attempt["id"], "t-single", "b")
    assert answered.status_code == 200, answered.get_json()
    assert sum("FROM quiz_extensions" in s for s in statements) == 1, statements
    # And the extension still counts: the deadline is the longer one.
    view = client.get(f"/api/v1/attempts/{attempt['id']}", headers=alice).get_json()
    started = datetime.fromisoformat(view["started_at"])
    assert datetime.fromisoformat(view["deadline"]) == started + timedelta(minutes=30)


def test_the_deadline_sweep_reads_extensions_only_for_attempts_past_their_time(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    token_for: Callable[..., str],
) -> None:
    # During an exam every open attempt is swept every few seconds, in every process: those far
    # from their time cost no query each; one past it is handed in unless an extension saves it.
    make_quiz(client, instructor, time_limit_minutes=10)
    students = {name: bearer(token_for("student", name)) for name in ("alice", "bob", "carol")}
    attempts = {name: start(client, headers).get_json() for name, headers in students.items()}
    client.put(
        f"{QUIZZES}/t-quiz/extensions/{attempts['alice']['user']['id']}",
        json={"extra_minutes": 20},
        headers=instructor,
    )
    with recorded_statements(app) as statements:
        assert run_attempt_background(app) == 0
    assert not any("FROM quiz_extensions" in s for s in statements), statements

    for attempt in attempts.values():
        age_attempt(app, attempt["id"], 15)  # past 10 minutes, within alice's 30
    assert run_attempt_background(app) == 2
    status = {
        name: client.get(f"/api/v1/attempts/{a['id']}", headers=students[name]).get_json()["status"]
        for name, a in attempts.items()
    }
    assert status == {"alice": "in_progress", "bob": "submitted", "carol": "submitted"}
