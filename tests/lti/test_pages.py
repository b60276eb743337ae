"""The pages: sign-in links and sessions, the question page, and the instructor's course page with
its statistics (difficulty, upper-lower discrimination, attempts)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from service.app import create_app
from service.models import db, utcnow
from service.pages.models import BrowserSession, SignInLink
from service.pages.sessions import revoke_expired_sessions
from tests.helpers import bearer
from tests.jobs.conftest import load_exercise_question
from tests.lti.conftest import OTHER, QUESTION, QUIZ, csrf_of, page_text

pytestmark = pytest.mark.usefixtures("content")


def make_link(client: FlaskClient, headers: dict[str, str], next_path: str) -> str:
    made = client.post("/api/v1/sign-in-links", json={"next": next_path}, headers=headers)
    assert made.status_code == 201, made.get_json()
    url: str = made.get_json()["url"]
    assert url.startswith("http://localhost/app/enter/")
    return url.removeprefix("http://localhost")


def confirm(client: FlaskClient, path: str) -> Any:
    """Open the link's confirmation page and press 'Continue as ...'."""
    page = client.get(path)
    assert page.status_code == 200, page_text(page)
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.get_data(as_text=True))
    assert nonce is not None
    return client.post(path, data={"nonce": nonce.group(1)})


def sign_in(client: FlaskClient, headers: dict[str, str], next_path: str) -> Any:
    entered = confirm(client, make_link(client, headers, next_path))
    assert entered.status_code == 303, page_text(entered)
    return entered


def test_a_sign_in_link_opens_a_session_on_the_page_it_names(
    client: FlaskClient, student: dict[str, str]
) -> None:
    path = make_link(client, student, f"/app/questions/{QUESTION['slug']}")
    page = client.get(path)
    assert "Continue as alice" in page_text(page)
    assert client.get("/app/").status_code == 401  # opening the link signed no one in
    entered = confirm(client, path)
    assert entered.headers["Location"] == f"/app/questions/{QUESTION['slug']}"
    page = client.get(entered.headers["Location"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "alice" in page_text(page)
    assert '<span class="math inline">1/(1-p)</span>' in html  # typeset by the bundled KaTeX
    assert "hot_" not in html and 'name="holdout-token"' not in html  # no API token in a page
    assert "Content-Security-Policy" in page.headers
    # The cookie is a random key, nothing else.
    cookie = client.get_cookie("holdout_session")
    assert cookie is not None and "." not in cookie.value and len(cookie.value) >= 40


def test_a_sign_in_link_never_leads_off_site(client: FlaskClient, student: dict[str, str]) -> None:
    entered = sign_in(client, student, "//evil.example/app/")
    assert entered.headers["Location"] == "/app/"


def test_a_sign_in_link_works_once_and_dies_with_its_token(
    app: Flask, client: FlaskClient, admin: dict[str, str]
) -> None:
    made = client.post(
        "/api/v1/tokens", json={"name": "t", "role": "student", "user": "eve"}, headers=admin
    ).get_json()
    eve = bearer(made["token"])
    path = make_link(client, eve, "/app/")
    sign_in_page = client.get(path)
    nonce = re.search(r'name="nonce" value="([^"]+)"', sign_in_page.get_data(as_text=True))
    assert nonce is not None
    assert client.post(path, data={"nonce": nonce.group(1)}).status_code == 303
    again = client.post(path, data={"nonce": nonce.group(1)})
    assert again.status_code == 410 and "already been used" in page_text(again)
    other = app.test_client()
    assert other.get(path).status_code == 410  # a second browser gets nothing from it
    # A link of a token revoked since no longer works, and the token's sessions end.
    unused = make_link(client, eve, "/app/")
    assert client.get("/app/").status_code == 200
    assert client.delete(f"/api/v1/tokens/{made['id']}", headers=admin).status_code == 204
    assert client.get("/app/").status_code == 401
    assert other.get(unused).status_code == 410


def test_a_link_is_redeemed_only_from_its_confirmation_page(
    client: FlaskClient, student: dict[str, str]
) -> None:
    """Login CSRF: another site cannot post the form for a victim's browser (no nonce cookie)."""
    path = make_link(client, student, "/app/")
    forged = client.post(path, data={"nonce": "guessed"})
    assert forged.status_code == 400
    assert client.get("/app/").status_code == 401
    assert confirm(client, path).status_code == 303  # the link itself still works


def test_sign_in_links_are_short_lived_and_not_logged(
    app: Flask, client: FlaskClient, student: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    made = client.post("/api/v1/sign-in-links", json={}, headers=student).get_json()
    lifetime = datetime.fromisoformat(made["expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=9) < lifetime <= timedelta(minutes=10)
    too_long = client.post("/api/v1/sign-in-links", json={"expires_in": 7200}, headers=student)
    assert too_long.status_code == 422
    key = made["url"].rsplit("/", 1)[1]
    with caplog.at_level("INFO", logger="holdout.access"):
        client.get(made["url"].removeprefix("http://localhost"))
    assert "/app/enter/[redacted]" in [getattr(r, "path", None) for r in caplog.records]
    assert key not in caplog.text
    with app.app_context():
        db.session.execute(update(SignInLink).values(expires_at=utcnow()))
        db.session.commit()
    expired = client.get(made["url"].removeprefix("http://localhost"))
    assert expired.status_code == 410 and "expired" in page_text(expired)
    assert client.get("/app/enter/forged-key").status_code == 400


def test_pages_need_a_session(client: FlaskClient) -> None:
    response = client.get(f"/app/questions/{QUESTION['slug']}")
    assert response.status_code == 401
    assert response.mimetype == "text/html"
    assert "not signed in" in page_text(response)


def test_answering_on_the_page_shows_the_result_and_the_history(
    client: FlaskClient, student: dict[str, str]
) -> None:
    sign_in(client, student, "/app/")
    path = f"/app/questions/{QUESTION['slug']}"
    page = client.get(path)
    answer = f"answer-{QUESTION['slug']}"
    refused = client.post(path, data={"csrf": "forged", answer: "a"})
    assert refused.status_code == 400
    for choice in ("b", "a"):
        response = client.post(path, data={"csrf": csrf_of(page), answer: choice})
        assert response.status_code == 303
    shown = client.get(response.headers["Location"])
    text = page_text(shown)
    assert "2 / 2 points" in text
    assert re.search(r"#\d+ .* graded 0 / 2 .* graded 2 / 2", text) is None  # newest first
    assert re.search(r"graded 2 / 2 .* graded 0 / 2", text)


def test_sign_out_ends_the_session(client: FlaskClient, student: dict[str, str]) -> None:
    sign_in(client, student, "/app/")
    page = client.get("/app/")
    assert client.get("/api/v1/me").status_code == 200  # the page's scripts use the cookie
    assert client.post("/app/sign-out", data={"csrf": csrf_of(page)}).status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/app/").status_code == 401


def test_expired_sessions_are_forgotten(
    app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    sign_in(client, student, "/app/")
    with app.app_context():
        db.session.execute(update(BrowserSession).values(expires_at=utcnow()))
        assert revoke_expired_sessions() == 1
        db.session.commit()
    assert client.get("/app/").status_code == 401


def test_the_code_page_holds_the_starter_in_a_labelled_editor(
    app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    load_exercise_question(app)
    sign_in(client, student, "/app/")
    page = client.get("/app/questions/dropout")
    html = page.get_data(as_text=True)
    assert '<label for="answer-dropout">' in html
    assert 'id="answer-dropout"' in html and "data-code" in html
    assert "def dropout(x, p, training=True, rng=None):" in html
    assert 'data-api-submit="dropout"' in html
    assert 'role="status" aria-live="polite"' in html
    assert "What is tested" in html


def test_the_course_page_shows_gradebook_distribution_and_item_statistics(
    app: Flask,
    client: FlaskClient,
    token_for: Any,
    instructor: dict[str, str],
) -> None:
    answers = {"ann": ("a", True), "ben": ("a", False), "cat": ("b", False), "dan": ("b", True)}
    for name, (choice, truth) in answers.items():
        headers = bearer(token_for("student", name))
        # Practice on its own first (the quiz has no limits): it never enters the statistics.
        practice = client.post(
            f"/api/v1/questions/{QUESTION['slug']}/submissions",
            json={"answer": "b" if choice == "a" else "a"},
            headers=headers,
        )
        assert practice.status_code == 201
        started = client.post(f"/api/v1/quizzes/{QUIZ['slug']}/attempts", headers=headers)
        assert started.status_code == 201, started.get_json()
        attempt = started.get_json()["id"]
        given = [(QUESTION["slug"], choice), (OTHER["slug"], truth)]
        if name == "ann":  # a second answer to the first question
            given.append((QUESTION["slug"], "a"))
        for slug, answer in given:
            response = client.put(
                f"/api/v1/attempts/{attempt}/answers/{slug}",
                json={"answer": answer},
                headers=headers,
            )
            assert response.status_code == 200
        handed_in = client.post(f"/api/v1/attempts/{attempt}/submit", headers=headers)
        assert handed_in.status_code == 200

    sign_in(client, instructor, f"/app/courses/{QUIZ['course']}")
    page = client.get(f"/app/courses/{QUIZ['course']}")
    assert page.status_code == 200, page_text(page)
    html = page.get_data(as_text=True)
    text = page_text(page)
    assert all(name in text for name in answers)
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg"') == 4
    assert 'role="img"' in html and '<figcaption id="chart-title-' in html
    # Inverted scaling: ann and ben right (difficulty 50%), mean attempts (2+1+1+1)/4. Ranked
    # by total fraction over both questions, ann (2) is the top 27% and cat (0) the bottom:
    # ann answered it right and cat wrong, so its discrimination is 1 - 0.
    row = re.search(rf"{QUESTION['title']}</a></th>(.*?)</tr>", html, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    assert cells == ["4", "50%", "+1.00", "1.2"]
    assert 'data-regrade="lti-inverted-scaling"' in html
    assert 'data-export="lti-bank"' in html


def test_the_course_page_is_for_instructors(client: FlaskClient, student: dict[str, str]) -> None:
    sign_in(client, student, "/app/")
    response = client.get(f"/app/courses/{QUIZ['course']}")
    assert response.status_code == 403


def test_page_answers_share_the_submit_limit(
    app: Flask, tmp_path: Any, student: dict[str, str]
) -> None:
    settings = replace(
        app.extensions["holdout_settings"], submit_rate_limit="2 per minute", instance_dir=tmp_path
    )
    client = create_app(settings).test_client()
    sign_in(client, student, "/app/")
    path = f"/app/questions/{QUESTION['slug']}"
    csrf = csrf_of(client.get(path))
    answer = {"csrf": csrf, f"answer-{QUESTION['slug']}": "a"}
    assert [client.post(path, data=answer).status_code for _ in range(3)] == [303, 303, 429]
    # The same user's API answers draw on the same budget.
    api = client.post(
        f"/api/v1/questions/{QUESTION['slug']}/submissions", json={"answer": "a"}, headers=student
    )
    assert api.status_code == 429


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_text_stored_before_surrogates_were_refused_still_renders(
    app: Flask, client: FlaskClient, student: dict[str, str], instructor: dict[str, str]
) -> None:
    # The API now refuses lone surrogates; an answer saved by an older version may hold one (a
    # JSON column keeps the escape). The attempt page shows it again: it must render, with
    # U+FFFD in its place.
    from service.models import Submission
    from tests.service.samples import SHORT_TEXT

    assert client.post("/api/v1/questions", json=SHORT_TEXT, headers=instructor).status_code == 201
    quiz = {"slug": "old-text", "title": "Old", "course": "c-1", "questions": ["t-short-text"]}
    assert client.post("/api/v1/quizzes", json=quiz, headers=instructor).status_code == 201
    attempt = client.post("/api/v1/quizzes/old-text/attempts", headers=student).get_json()
    saved = client.put(
        f"/api/v1/attempts/{attempt['id']}/answers/t-short-text",
        json={"answer": "dropout"},
        headers=student,
    )
    assert saved.status_code == 200, saved.get_json()
    with app.app_context():
        db.session.execute(update(Submission).values(answer="\ud800 kept from before"))
        db.session.commit()
    sign_in(client, student, "/app/")
    page = client.get("/app/quizzes/old-text")
    assert page.status_code == 200, page_text(page)[:300]
    assert "\ufffd kept from before" in page.get_data(as_text=True)
