"""Input that used to crash the server (500) is refused with a problem+json 4xx, and the headers
that keep responses from being misread or framed."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.models import QuizAttempt, db
from tests.helpers import assert_problem


def test_deeply_nested_json_is_400(
    client: FlaskClient, student: dict[str, str], questions: Any
) -> None:
    depth = 100_000
    body = '{"answer": ' + "[" * depth + "]" * depth + "}"
    response = client.post(
        "/api/v1/questions/t-single/submissions",
        data=body,
        content_type="application/json",
        headers=student,
    )
    assert_problem(response, 400, "json")


def test_lone_surrogates_are_refused_wherever_text_goes_in(
    client: FlaskClient,
    student: dict[str, str],
    instructor: dict[str, str],
    questions: Any,
    row_counts: Callable[[], dict[str, int]],
) -> None:
    before = row_counts()
    for path, text, who in (
        ("/api/v1/questions/t-single/submissions", '{"answer": "\\ud800"}', student),
        ("/api/v1/courses", '{"slug": "sur-1", "title": "x\\udfffy"}', instructor),
    ):
        response = client.post(path, data=text, content_type="application/json", headers=who)
        assert_problem(response, 422, "surrogate")
    assert row_counts() == before


def test_a_date_with_no_utc_equivalent_is_422(
    client: FlaskClient, instructor: dict[str, str], questions: Any
) -> None:
    body = {
        "slug": "early-quiz",
        "title": "Early",
        "course": "dates",
        "questions": ["t-single"],
        "opens_at": "0001-01-01T00:00:00+14:00",
    }
    assert_problem(client.post("/api/v1/quizzes", json=body, headers=instructor), 422, "opens_at")


def test_concurrent_starts_of_an_attempt_make_one_attempt(
    app: Flask,
    client: FlaskClient,
    instructor: dict[str, str],
    student: dict[str, str],
    questions: Any,
) -> None:
    quiz = {"slug": "race-quiz", "title": "Race", "course": "race", "questions": ["t-single"]}
    assert client.post("/api/v1/quizzes", json=quiz, headers=instructor).status_code == 201
    codes: list[int] = []
    barrier = threading.Barrier(6)

    def start() -> None:
        barrier.wait()
        codes.append(
            app.test_client()
            .post("/api/v1/quizzes/race-quiz/attempts", headers=student)
            .status_code
        )

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(code in (200, 201, 409) for code in codes), codes
    with app.app_context():
        assert db.session.scalar(select(func.count(QuizAttempt.id))) == 1


def test_json_is_never_sniffed_and_pages_are_framed_only_by_themselves(
    client: FlaskClient, student: dict[str, str]
) -> None:
    assert client.get("/api/v1/me", headers=student).headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/api/v1/nowhere").headers["X-Content-Type-Options"] == "nosniff"
    page = client.get("/app/")
    assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]


def test_links_are_built_on_trusted_hosts_only(
    client: FlaskClient, student: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/sign-in-links", json={}, headers={**student, "Host": "evil.example"}
    )
    assert_problem(response, 400, "trusted")
    made = client.post(
        "/api/v1/sign-in-links", json={"next": "/app/\r\nSet-Cookie: a=b"}, headers=student
    )
    path = made.get_json()["url"].removeprefix("http://localhost")
    page = client.get(path).get_data(as_text=True)
    nonce = re.search(r'name="nonce" value="([^"]+)"', page)
    assert nonce is not None
    entered = client.post(path, data={"nonce": nonce.group(1)})
    assert entered.status_code == 303 and entered.headers["Location"] == "/app/"
