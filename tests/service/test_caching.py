"""The question list's per-process cache: writes and revocations here take effect at once,
changes made elsewhere within HOLDOUT_CACHE_SECONDS, and a token never gets another's answer."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy import text

from service.models import db
from tests.helpers import bearer, recorded_statements
from tests.service.samples import SINGLE


def single_choice(slug: str) -> dict[str, Any]:
    return {**SINGLE, "slug": slug}


def titles(client: FlaskClient, headers: dict[str, str]) -> list[str]:
    response = client.get("/api/v1/questions?page_size=100", headers=headers)
    assert response.status_code == 200, response.get_json()
    return [q["title"] for q in response.get_json()["items"]]


def test_writes_and_revocations_in_this_process_take_effect_at_once(
    client: FlaskClient,
    instructor: dict[str, str],
    student: dict[str, str],
    admin: dict[str, str],
) -> None:
    assert titles(client, student) == []
    created = client.post("/api/v1/questions", json=single_choice("fresh"), headers=instructor)
    assert created.status_code == 201, created.get_json()
    assert len(titles(client, student)) == 1  # not the cached empty list
    changed = {**single_choice("fresh"), "title": "Renamed"}
    renamed = client.put("/api/v1/questions/fresh", json=changed, headers=instructor)
    assert renamed.status_code == 200, renamed.get_json()
    assert titles(client, student) == ["Renamed"]

    token = client.post(
        "/api/v1/tokens", json={"name": "soon-revoked", "role": "student"}, headers=admin
    ).get_json()
    doomed = bearer(token["token"])
    assert titles(client, doomed) == ["Renamed"]  # now cached for this token
    assert client.delete(f"/api/v1/tokens/{token['id']}", headers=admin).status_code == 204
    assert client.get("/api/v1/questions", headers=doomed).status_code == 401
    assert client.get("/api/v1/questions", headers=bearer("hot_nonsense")).status_code == 401


def test_changes_made_elsewhere_show_within_the_cache_time(
    app: Flask, client: FlaskClient, instructor: dict[str, str], student: dict[str, str]
) -> None:
    settings = app.config["HOLDOUT_SETTINGS"]
    app.config["HOLDOUT_SETTINGS"] = dataclasses.replace(settings, cache_seconds=0.5)
    try:
        _changed_elsewhere(app, client, instructor, student)
    finally:
        app.config["HOLDOUT_SETTINGS"] = settings


def _changed_elsewhere(
    app: Flask, client: FlaskClient, instructor: dict[str, str], student: dict[str, str]
) -> None:
    client.post("/api/v1/questions", json=single_choice("elsewhere"), headers=instructor)
    assert titles(client, student) == [single_choice("elsewhere")["title"]]
    with app.app_context():  # as another process would: no event reaches this one
        db.session.execute(text("UPDATE questions SET title = 'Changed elsewhere'"))
        db.session.commit()
    assert titles(client, student) == [SINGLE["title"]]  # served from the cache, for now
    time.sleep(0.7)
    assert titles(client, student) == ["Changed elsewhere"]


def test_a_cached_answer_costs_no_query_at_all(
    app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    # The rate limiter must know whose budget a request spends: it may not undo the cache by
    # looking the token up on every request (which once cut the list's throughput by 3x).
    assert titles(client, student) == []
    with recorded_statements(app) as statements:
        assert titles(client, student) == []
        assert titles(client, student) == []
    assert statements == []


PRIVATE = "private, no-store"


def test_answers_to_someone_in_particular_are_never_stored(
    app: Flask,
    client: FlaskClient,
    instructor: dict[str, str],
    student: dict[str, str],
    questions: dict[str, Any],
) -> None:
    """Gradebooks, answer keys and the like say `private, no-store`, whoever is asking and
    however (token, session cookie, a cached answer), errors to them included."""
    client.post("/api/v1/courses", json={"slug": "cc-101", "title": "C"}, headers=instructor)
    for url in (
        "/api/v1/courses/cc-101/gradebook",
        "/api/v1/courses/cc-101/gradebook.csv",
        "/api/v1/questions/export?format=moodle-xml",
        "/api/v1/questions?page_size=5",
        "/api/v1/questions?page_size=5",  # now from the per-process cache: the same headers
        "/api/v1/courses/nope/gradebook",  # a 404 to someone is theirs too
    ):
        response = client.get(url, headers=instructor)
        assert response.status_code in (200, 404), (url, response.get_data(as_text=True))
        assert response.headers.get("Cache-Control") == PRIVATE, url
    denied = client.get("/api/v1/courses/cc-101/gradebook", headers=student)
    assert denied.status_code == 403
    assert denied.headers.get("Cache-Control") == PRIVATE

    # The pages call the API with the session cookie, no Authorization header.
    from service.auth import find_token
    from service.pages.sessions import SESSION_COOKIE, start_session

    with app.test_request_context():
        token = find_token(instructor["Authorization"].removeprefix("Bearer "))
        assert token is not None
        start_session(token.user, role=token.user.role, token=token)
        key = g.new_session_key
        db.session.commit()
    browser = app.test_client()
    browser.set_cookie(SESSION_COOKIE, key)
    response = browser.get("/api/v1/courses/cc-101/gradebook")
    assert response.status_code == 200, response.get_json()
    assert response.headers.get("Cache-Control") == PRIVATE


def test_public_answers_keep_their_caching(client: FlaskClient) -> None:
    for url in ("/healthz", "/openapi.json"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" not in (response.headers.get("Cache-Control") or ""), url
    jwks = client.get("/lti/jwks")
    assert jwks.headers["Cache-Control"] == "public, max-age=300"
    unknown = client.get("/api/v1/courses/cc-101/gradebook")  # no credentials: nobody's
    assert unknown.status_code == 401
    assert "private" not in (unknown.headers.get("Cache-Control") or "")


def test_an_endpoints_own_caching_is_kept_but_made_private(app: Flask) -> None:
    from flask import Response

    from service.caching import private_answers

    for own, expected in (
        ("public, max-age=300", "private, max-age=300"),
        ("no-cache", "private, no-cache"),
        ("private, max-age=5", "private, max-age=5"),
        (None, PRIVATE),
    ):
        with app.test_request_context():
            g.user_id = 1
            answer = Response("{}", headers={"Cache-Control": own} if own else {})
            assert private_answers(answer).headers["Cache-Control"] == expected
        with app.test_request_context():  # nobody's answer: left as it is
            answer = Response("{}", headers={"Cache-Control": own} if own else {})
            assert private_answers(answer).headers.get("Cache-Control") == own
