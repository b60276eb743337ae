"""A scripted exam through the LMS: a quiz with a window, a 1-minute time limit, shuffled choices
and per-student variants; 30 students launch it from the fake LMS, some finish, some run out of
time (the clock is moved by ageing their attempts, not by waiting), one tries every choice on the
side. In the end every attempt is handed in, no answer was taken outside the rules, and the
gradebook page, its JSON, its CSV and the scores the LMS received agree."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.lti.ags import run_lti_background
from service.models import QuizAttempt, Submission, db
from tests.lti import platform as fake
from tests.lti.conftest import launch
from tests.lti.platform import FakePlatform

STUDENTS = 30
FINISHERS = range(0, 15)  # answer everything right and hand in
TIMED_OUT = range(15, 28)  # answer one question, then the time runs out
CHEATER = 28  # tries every choice on the side and in the attempt
IDLE = 29  # starts and does nothing

CHOICES = {
    "slug": "exam-choice",
    "type": "single_choice",
    "title": "Where dropout goes",
    "prompt": "Where is dropout active?",
    "explanation": "Only in training.",
    "points": 1,
    "data": {
        "shuffle": True,
        "choices": [
            {"id": "train", "text": "In training only", "correct": True},
            {"id": "eval", "text": "In evaluation only", "correct": False},
            {"id": "both", "text": "In both", "correct": False},
            {"id": "never", "text": "Never", "correct": False},
        ],
    },
}
VARIANT = {
    "slug": "exam-survivors",
    "type": "numeric",
    "title": "Survivors",
    "prompt": "Dropout with $p = {p}$ on {n} units keeps how many on average?",
    "explanation": "n (1 - p).",
    "points": 2,
    "data": {
        "parameters": {
            "n": {"min": 10, "max": 500, "step": 10},
            "p": {"min": 0.1, "max": 0.9, "step": 0.1},
        },
        "answer_formula": "n * (1 - p)",
        "tolerance": {"abs": 0.001},
    },
}


def run_attempt_background(app: Flask) -> int:
    from service.attempts import run_attempt_background as one_pass

    return one_pass(app)


def attempt_deadline(attempt: QuizAttempt) -> datetime | None:
    from service.quizzes import attempt_deadline as deadline

    return deadline(attempt)


def _token(page_html: str) -> dict[str, str]:
    """What the page's script sends to the API: its session cookie and this CSRF token."""
    found = re.search(r'name="holdout-csrf" content="([^"]+)"', page_html)
    assert found, "no CSRF token on the page"
    return {"X-CSRF-Token": found.group(1)}


@pytest.fixture
def people(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    names = [f"s{i:02d}" for i in range(STUDENTS)]
    for i, name in enumerate(names):
        person = {"sub": f"exam-{i}", "name": f"Student {i:02d}", "roles": [fake.LEARNER]}
        monkeypatch.setitem(fake.PEOPLE, name, person)
    return names


def test_an_exam_ends_with_every_attempt_handed_in_and_one_set_of_scores(
    app: Flask,
    client: FlaskClient,
    platform: FakePlatform,
    instructor: dict[str, str],
    people: list[str],
) -> None:
    for body in (CHOICES, VARIANT):
        assert client.post("/api/v1/questions", json=body, headers=instructor).status_code == 201
    now = datetime.now(UTC)
    quiz = {
        "slug": "exam",
        "title": "Exam",
        "course": "exam-bank",
        "questions": ["exam-choice", "exam-survivors"],
        "opens_at": (now - timedelta(minutes=5)).isoformat(),
        "closes_at": (now + timedelta(hours=1)).isoformat(),
        "time_limit_minutes": 1,
        "attempt_limit": 1,
    }
    assert client.post("/api/v1/quizzes", json=quiz, headers=instructor).status_code == 201

    browsers: dict[int, FlaskClient] = {}
    tokens: dict[int, dict[str, str]] = {}
    attempts: dict[int, dict[str, Any]] = {}
    for i, name in enumerate(people):
        browser = app.test_client()
        entered = launch(browser, platform, platform.claims(name, custom={"quiz": "exam"}))
        assert entered.status_code == 303
        page = browser.get(entered.headers["Location"]).get_data(as_text=True)
        assert "What is" not in page and "Where is dropout active?" not in page  # not started
        browsers[i], tokens[i] = browser, _token(page)
        started = browser.post("/api/v1/quizzes/exam/attempts", headers=tokens[i])
        assert started.status_code == 201, started.get_json()
        attempts[i] = started.get_json()

    def put(i: int, slug: str, value: Any) -> Any:
        url = f"/api/v1/attempts/{attempts[i]['id']}/answers/{slug}"
        return browsers[i].put(url, json={"answer": value}, headers=tokens[i])

    def own_value(i: int) -> float:
        variant = next(q for q in attempts[i]["questions"] if q["slug"] == "exam-survivors")
        return float(variant["variant"]["n"] * (1 - variant["variant"]["p"]))

    def choice_order(attempt: dict[str, Any]) -> tuple[str, ...]:
        shown = next(q for q in attempt["questions"] if q["slug"] == "exam-choice")
        return tuple(c["id"] for c in shown["data"]["choices"])

    orders = {choice_order(a) for a in attempts.values()}
    assert len(orders) > 1  # shuffled per student
    variants = {
        tuple(q["variant"].items())
        for a in attempts.values()
        for q in a["questions"]
        if q["variant"]
    }
    assert len(variants) > 1  # fmt: skip

    for i in FINISHERS:
        assert put(i, "exam-choice", "train").status_code == 200
        assert put(i, "exam-survivors", own_value(i)).status_code == 200
        handed = browsers[i].post(f"/api/v1/attempts/{attempts[i]['id']}/submit", headers=tokens[i])
        assert handed.get_json()["score"] == 3.0
    for i in TIMED_OUT:
        assert put(i, "exam-choice", "train" if i % 2 else "eval").status_code == 200

    # The cheater: every choice on the side is refused; in the attempt nothing tells which is right.
    cheat = CHEATER
    for choice in ("train", "eval", "both", "never"):
        side = browsers[cheat].post(
            "/api/v1/questions/exam-choice/submissions",
            json={"answer": choice},
            headers=tokens[cheat],
        )
        assert side.status_code in (403, 409)  # sealed, and held by the open attempt
        inside = put(cheat, "exam-choice", choice)
        assert inside.status_code == 200 and inside.get_json()["score"] is None
        page = browsers[cheat].get(f"/app/attempts/{attempts[cheat]['id']}").get_data(as_text=True)
        assert "Correct." not in page and "Not quite." not in page
    assert (
        browsers[cheat].get("/api/v1/questions/exam-choice", headers=tokens[cheat]).status_code
        == 403
    )

    # Two minutes pass for everyone still working (their history moves back, as if it were
    # older): the background loop hands them in.
    with app.app_context():
        open_ids = db.session.scalars(
            select(QuizAttempt.id).where(QuizAttempt.status == "in_progress")
        ).all()
        for row in db.session.scalars(select(QuizAttempt).where(QuizAttempt.id.in_(open_ids))):
            row.started_at = row.started_at - timedelta(minutes=2)
        for answer in db.session.scalars(
            select(Submission).where(Submission.attempt_id.in_(open_ids))
        ):
            answer.created_at = answer.created_at - timedelta(minutes=2)
        db.session.commit()
    assert run_attempt_background(app) == len(TIMED_OUT) + 2
    for i in (*TIMED_OUT, CHEATER, IDLE):
        late = put(i, "exam-survivors", own_value(i))
        assert late.status_code == 409, late.get_json()
        again = browsers[i].post("/api/v1/quizzes/exam/attempts", headers=tokens[i])
        assert again.status_code == 409  # one attempt, already handed in

    with app.app_context():
        rows = list(db.session.scalars(select(QuizAttempt)))
        assert len(rows) == STUDENTS and all(r.status.value == "submitted" for r in rows)
        assert {
            r.ended_by for r in rows if r.user.name in {f"Student {i:02d}" for i in TIMED_OUT}
        } == {"time"}
        for submission in db.session.scalars(select(Submission)):
            # Every answer taken was given inside its attempt, before its deadline and hand-in.
            attempt = submission.attempt
            assert attempt is not None and attempt.submitted_at is not None
            limit = attempt_deadline(attempt)
            assert limit is not None and submission.created_at <= min(
                limit, attempt.submitted_at
            ), (
                attempt.id,
                attempt.started_at,
                attempt.ended_by,
                submission.id,
                submission.created_at,
            )

    # The instructor reviews the cheater's attempt and overrides the last answer, with a reason.
    with app.app_context():
        last = db.session.scalars(
            select(Submission.id)
            .where(Submission.attempt_id == attempts[cheat]["id"])
            .order_by(Submission.id.desc())
        ).first()
    overridden = client.post(
        f"/api/v1/submissions/{last}/override",
        json={"score": 0.5, "comment": "Half a point for the written reasoning."},
        headers=instructor,
    )
    assert overridden.status_code == 200, overridden.get_json()

    # The scores: JSON, CSV, page and LMS agree for every student.
    while run_lti_background(app):
        pass
    sent: dict[str, float] = {}
    for score in platform.recorded.scores:
        sent[score["body"]["userId"]] = score["body"]["scoreGiven"]
    courses = client.get("/api/v1/courses?page_size=100", headers=instructor).get_json()["items"]
    course = next(c["slug"] for c in courses if c["slug"].startswith("lti-"))
    book = client.get(f"/api/v1/courses/{course}/gradebook", headers=instructor).get_json()
    from_json = {r["user"]["name"]: r["item_scores"]["quiz:exam"] for r in book["students"]}
    text = client.get(f"/api/v1/courses/{course}/gradebook.csv", headers=instructor).get_data(
        as_text=True
    )
    from_csv = {r["name"]: float(r["quiz:exam"]) for r in csv.DictReader(io.StringIO(text))}
    from tests.service.test_assessments_rules import page_client

    html = page_client(app, instructor).get(f"/app/courses/{course}").get_data(as_text=True)
    cells = r'<th scope="row">(Student \d\d)</th>\s*<td class="num">([^<]*)</td>'
    from_page = {name: float(cell) for name, cell in re.findall(cells, html)}
    from_lms = {f"Student {int(sub.split('-')[1]):02d}": given for sub, given in sent.items()}
    assert len(from_json) == STUDENTS, (len(from_csv), len(from_page), len(from_lms))
    assert from_json == from_csv == from_page == from_lms
    assert all(from_json[f"Student {i:02d}"] == 3.0 for i in FINISHERS)
    assert all(from_json[f"Student {i:02d}"] == (1.0 if i % 2 else 0.0) for i in TIMED_OUT)
    assert from_json[f"Student {IDLE:02d}"] == 0.0
    # The last choice tried ("never") counted 0, then the override gave half a point.
    assert from_json[f"Student {CHEATER:02d}"] == 0.5
