"""The pages: sign-in links and sessions, the question page, and the instructor's course page with
its statistics (difficulty, upper-lower discrimination, attempts)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from service.models import ApiToken, User, db, utcnow
from service.pages.models import BrowserSession
from service.pages.sessions import make_sign_in_token, revoke_expired_sessions
from tests.helpers import bearer
from tests.jobs.conftest import load_exercise_question
from tests.lti.conftest import OTHER, QUESTION, QUIZ, csrf_of, page_text

pytestmark = pytest.mark.usefixtures("content")


def sign_in(client: FlaskClient, headers: dict[str, str], next_path: str) -> Any:
    made = client.post("/api/v1/sign-in-links", json={"next": next_path}, headers=headers)
    assert made.status_code == 201, made.get_json()
    url = made.get_json()["url"]
    assert url.startswith("http://localhost/app/enter/")
    entered = client.get(url.removeprefix("http://localhost"))
    assert entered.status_code == 303
    return entered


def test_a_sign_in_link_opens_a_session_on_the_page_it_names(
    client: FlaskClient, student: dict[str, str]
) -> None:
    entered = sign_in(client, student, f"/app/questions/{QUESTION['slug']}")
    assert entered.headers["Location"] == f"/app/questions/{QUESTION['slug']}"
    page = client.get(entered.headers["Location"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "alice" in page_text(page)
    assert '<span class="math inline">1/(1-p)</span>' in html  # typeset by the bundled KaTeX
    assert 'name="holdout-token" content="hot_' in html
    assert "Content-Security-Policy" in page.headers


def test_a_sign_in_link_never_leads_off_site(client: FlaskClient, student: dict[str, str]) -> None:
    entered = sign_in(client, student, "//evil.example/app/")
    assert entered.headers["Location"] == "/app/"


def test_expired_and_forged_sign_in_links_are_refused(
    app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    with app.test_request_context():
        user = db.session.scalar(select(User).where(User.name == "alice"))
        assert user is not None
        expired = make_sign_in_token(user, "/app/", -1)
    response = client.get(f"/app/enter/{expired}")
    assert response.status_code == 410
    assert "expired" in page_text(response)
    forged = client.get(f"/app/enter/{expired[:-3]}xyz")
    assert forged.status_code == 400
    assert client.get("/app/").status_code == 401


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


def test_sign_out_revokes_the_page_token(
    app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    sign_in(client, student, "/app/")
    page = client.get("/app/")
    token = re.search(r'name="holdout-token" content="([^"]+)"', page.get_data(as_text=True))
    assert token is not None
    assert client.get("/api/v1/me", headers=bearer(token.group(1))).status_code == 200
    assert client.post("/app/sign-out", data={"csrf": csrf_of(page)}).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(token.group(1))).status_code == 401
    assert client.get("/app/").status_code == 401


def test_expired_sessions_lose_their_tokens(
    app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    sign_in(client, student, "/app/")
    with app.app_context():
        db.session.execute(update(BrowserSession).values(expires_at=utcnow()))
        assert revoke_expired_sessions() == 1
        db.session.commit()
        revoked = db.session.scalar(select(ApiToken).where(ApiToken.name == "browser session"))
        assert revoked is not None and revoked.revoked_at is not None
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
