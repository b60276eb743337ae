"""Submission policies (late penalty, cooldown, rate limits, best or latest), regrades with their
history, the gradebook and its CSV export, and signed webhooks to a real HTTP receiver."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import jobs, webhooks
from service.app import create_app
from service.models import utcnow
from tests.conftest import make_settings
from tests.helpers import assert_problem
from tests.jobs.conftest import read_answer
from tests.jobs.test_embedded_grading import wait_settled

CHOICE = {
    "slug": "bn-eval",
    "type": "single_choice",
    "title": "Batch norm in eval mode",
    "prompt": "Which statistics does batch norm use at inference?",
    "explanation": "The running averages collected in training.",
    "points": 2,
    "data": {
        "choices": [
            {"id": "a", "text": "The running averages", "correct": False},
            {"id": "b", "text": "The current batch's", "correct": True},
        ]
    },
}


def make_quiz(
    client: FlaskClient, instructor: dict[str, str], questions: list[str], **fields: Any
) -> None:
    body = {"slug": "policy-quiz", "title": "Policies", "course": "ml", "questions": questions}
    response = client.post("/api/v1/quizzes", json={**body, **fields}, headers=instructor)
    assert response.status_code == 201, response.get_json()


def take_quiz(
    client: FlaskClient, student: dict[str, str], answers: dict[str, Any]
) -> dict[str, Any]:
    attempt = client.post("/api/v1/quizzes/policy-quiz/attempts", headers=student).get_json()
    for slug, answer in answers.items():
        response = client.put(
            f"/api/v1/attempts/{attempt['id']}/answers/{slug}",
            json={"answer": answer},
            headers=student,
        )
        assert response.status_code == 200, response.get_json()
    result: dict[str, Any] = client.post(
        f"/api/v1/attempts/{attempt['id']}/submit", headers=student
    ).get_json()
    return result


@pytest.fixture
def choice(client: FlaskClient, instructor: dict[str, str]) -> None:
    assert client.post("/api/v1/questions", json=CHOICE, headers=instructor).status_code == 201


def test_answers_after_the_due_date_lose_the_late_penalty(
    client: FlaskClient, instructor: dict[str, str], student: dict[str, str], choice: None
) -> None:
    now = utcnow()
    make_quiz(
        client,
        instructor,
        ["bn-eval"],
        opens_at=(now - timedelta(days=2)).isoformat(),
        due_at=(now - timedelta(days=1)).isoformat(),
        closes_at=(now + timedelta(days=1)).isoformat(),
        late_penalty=0.25,
    )
    result = take_quiz(client, student, {"bn-eval": "b"})
    assert result["score"] == pytest.approx(1.5)
    assert "late" in result["answers"][0]["feedback"].lower()


def test_best_or_latest_attempt_counts_in_the_gradebook(
    client: FlaskClient,
    instructor: dict[str, str],
    student: dict[str, str],
    choice: None,
) -> None:
    make_quiz(client, instructor, ["bn-eval"], score_policy="latest")
    take_quiz(client, student, {"bn-eval": "b"})
    take_quiz(client, student, {"bn-eval": "a"})
    book = client.get("/api/v1/courses/ml/gradebook", headers=instructor).get_json()
    assert book["students"][0]["scores"]["policy-quiz"] == 0.0
    # A quiz question counts its answer in the credited attempt, not the best one anywhere.
    assert book["students"][0]["question_scores"]["bn-eval"] == 0.0

    quiz = client.get("/api/v1/quizzes/policy-quiz", headers=instructor).get_json()
    update = {k: quiz[k] for k in ("slug", "title", "course")}
    update |= {"questions": ["bn-eval"], "score_policy": "best"}
    assert (
        client.put("/api/v1/quizzes/policy-quiz", json=update, headers=instructor).status_code
        == 200
    )
    book = client.get("/api/v1/courses/ml/gradebook", headers=instructor).get_json()
    assert book["students"][0]["scores"]["policy-quiz"] == 2.0
    assert book["students"][0]["question_scores"]["bn-eval"] == 2.0


def test_gradebook_exports_as_csv_that_a_spreadsheet_cannot_execute(
    client: FlaskClient,
    instructor: dict[str, str],
    token_for: Any,
    choice: None,
) -> None:
    make_quiz(client, instructor, ["bn-eval"])
    sneaky = {"Authorization": f"Bearer {token_for('student', '=HYPERLINK(1)')}"}
    take_quiz(client, sneaky, {"bn-eval": "b"})
    response = client.get("/api/v1/courses/ml/gradebook.csv", headers=instructor)
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == [
        "user_id", "name", "quiz:policy-quiz", "question:bn-eval", "total", "max_total"
    ]  # fmt: skip
    assert rows[1][1:] == ["'=HYPERLINK(1)", "2", "2", "2", "2"]


def test_code_submissions_wait_out_the_quiz_cooldown(
    dropout_app: Flask, client: FlaskClient, instructor: dict[str, str], student: dict[str, str]
) -> None:
    make_quiz(client, instructor, ["dropout"], cooldown_seconds=600)
    attempt = client.post("/api/v1/quizzes/policy-quiz/attempts", headers=student).get_json()
    url = f"/api/v1/attempts/{attempt['id']}/answers/dropout"
    first = client.put(url, json={"answer": read_answer("reference")}, headers=student)
    assert first.status_code == 200
    second = client.put(url, json={"answer": read_answer("reference")}, headers=student)
    assert_problem(second, 429, "wait")
    assert 590 <= int(second.headers["Retry-After"]) <= 600


def test_submissions_are_rate_limited_per_token(
    backend: str, database_url: str, tmp_path: Path, migrated_apps: dict[str, Flask], app: Flask
) -> None:
    settings = make_settings(database_url, tmp_path)
    limited = create_app(
        type(settings)(**{**settings.__dict__, "submit_rate_limit": "2 per minute"})
    )
    client = limited.test_client()
    from tests.helpers import bearer

    token_client = app.test_client()
    instructor = bearer(_token(app, "instructor"))
    student = bearer(_token(app, "student"))
    other = bearer(_token(app, "student"))
    assert (
        token_client.post("/api/v1/questions", json=CHOICE, headers=instructor).status_code == 201
    )
    url = "/api/v1/questions/bn-eval/submissions"
    for _ in range(2):
        assert client.post(url, json={"answer": "b"}, headers=student).status_code == 201
    assert_problem(client.post(url, json={"answer": "b"}, headers=student), 429, "limit")
    # Another token has its own budget, and reading is not limited by the submit limit.
    assert client.post(url, json={"answer": "b"}, headers=other).status_code == 201
    assert client.get("/api/v1/questions/bn-eval", headers=student).status_code == 200


def _token(app: Flask, role: str) -> str:
    import uuid

    from service.auth import get_or_create_user, issue_token
    from service.models import Role, db

    with app.app_context():
        user = get_or_create_user(f"{role}-{uuid.uuid4().hex[:6]}", Role(role))
        _, plain = issue_token(user, "test")
        db.session.commit()
        return plain


def test_a_regrade_after_fixing_the_key_keeps_old_and_new_scores(
    app: Flask,
    client: FlaskClient,
    instructor: dict[str, str],
    student: dict[str, str],
    other_student: dict[str, str],
    choice: None,
) -> None:
    url = "/api/v1/questions/bn-eval/submissions"
    mine = client.post(url, json={"answer": "a"}, headers=student).get_json()
    theirs = client.post(url, json={"answer": "a"}, headers=other_student).get_json()
    assert mine["score"] == theirs["score"] == 0

    # The instructor notices the key is wrong (eval mode uses the running averages) and fixes it.
    fixed = {**CHOICE, "data": {"choices": [
        {"id": "a", "text": "The running averages", "correct": True},
        {"id": "b", "text": "The current batch's", "correct": False},
    ]}}  # fmt: skip
    changed = client.put("/api/v1/questions/bn-eval", json=fixed, headers=instructor).get_json()
    assert changed["version"] == 2

    me = client.get("/api/v1/me", headers=student).get_json()
    started = client.post(
        "/api/v1/questions/bn-eval/regrades", json={"user": me["id"]}, headers=instructor
    )
    assert started.status_code == 202
    regrade = started.get_json()
    assert (regrade["total"], regrade["question_version"]) == (1, 2)
    jobs.start_embedded_executor(app)
    try:
        regraded = wait_settled(client, student, mine["id"])
        progress = client.get(started.headers["Location"], headers=instructor).get_json()
    finally:
        jobs.stop_embedded_executor(app, timeout=10)
    assert (regraded["score"], regraded["question_version"]) == (2.0, 2)
    assert (progress["status"], progress["done"], progress["changed"], progress["progress"]) == (
        "done", 1, 1, 1.0
    )  # fmt: skip
    history = client.get(f"/api/v1/submissions/{mine['id']}/grades", headers=student).get_json()
    assert [(g["score"], g["question_version"], g["regrade"]) for g in history] == [
        (0.0, 1, None),
        (2.0, 2, regrade["id"]),
    ]
    # Only the one student was regraded.
    untouched = client.get(f"/api/v1/submissions/{theirs['id']}", headers=other_student)
    assert (untouched.get_json()["score"], untouched.get_json()["question_version"]) == (0.0, 1)
    assert_problem(client.post("/api/v1/questions/bn-eval/regrades", json={}, headers=student), 403)


class Receiver:
    """An LMS-side HTTP endpoint on loopback that records what it is sent."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(statuses=[500])
    yield found
    found.server.shutdown()


def test_graded_submissions_reach_the_course_webhook_signed_with_retries(
    app: Flask,
    client: FlaskClient,
    instructor: dict[str, str],
    student: dict[str, str],
    choice: None,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_quiz(client, instructor, ["bn-eval"])
    created = client.post(
        "/api/v1/courses/ml/webhooks", json={"url": receiver.url}, headers=instructor
    ).get_json()
    secret = created["secret"]
    take_quiz(client, student, {"bn-eval": "b"})

    monkeypatch.setattr(webhooks, "BACKOFF_SECONDS", 0.0)
    assert webhooks.deliver_due(app) == 1  # the receiver answers 500 the first time
    log = client.get(f"/api/v1/webhooks/{created['id']}/deliveries", headers=instructor)
    first = log.get_json()["items"][0]
    assert (first["status"], first["tries"], first["last_status_code"]) == ("queued", 1, 500)
    assert webhooks.deliver_due(app) == 1
    delivered = client.get(
        f"/api/v1/webhooks/{created['id']}/deliveries", headers=instructor
    ).get_json()["items"][0]
    assert (delivered["status"], delivered["tries"], delivered["last_status_code"]) == (
        "done", 2, 200
    )  # fmt: skip
    assert webhooks.deliver_due(app) == 0  # nothing is sent twice

    headers, body = receiver.requests[-1]
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Holdout-Signature"], expected)
    event = json.loads(body)
    assert event["event"] == "submission.graded"
    assert (event["submission"]["question"], event["submission"]["score"]) == ("bn-eval", 2.0)
    assert len(receiver.requests) == 2
