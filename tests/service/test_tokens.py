"""Tokens and auth: issuing (shown once, stored hashed), revoking, last use, and a role check on
every endpoint."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.models import ApiToken, db
from tests.helpers import assert_problem, bearer

TOKENS = "/api/v1/tokens"


def create(client: FlaskClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post(
        TOKENS, json={"name": "canvas sync", "role": "lms", **body}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    created: dict[str, Any] = response.get_json()
    return created


def test_issued_token_is_shown_once_and_works(client: FlaskClient, admin: dict[str, str]) -> None:
    created = create(client, admin, role="student", user="zoe", name="zoe laptop")
    plain = created["token"]
    assert plain.startswith(created["prefix"]) and len(plain) > 40
    assert created["user"]["name"] == "zoe" and created["user"]["role"] == "student"
    assert (created["name"], created["last_used_at"], created["revoked_at"]) == (
        "zoe laptop",
        None,
        None,
    )
    me = client.get("/api/v1/me", headers=bearer(plain))
    assert me.status_code == 200 and me.get_json()["name"] == "zoe"
    listed = client.get(TOKENS, headers=admin)
    assert plain not in listed.get_data(as_text=True)
    assert all("token" not in item for item in listed.get_json()["items"])
    shown = next(t for t in listed.get_json()["items"] if t["id"] == created["id"])
    assert shown["prefix"] == created["prefix"]


def test_tokens_are_stored_hashed(app: Flask, client: FlaskClient, admin: dict[str, str]) -> None:
    plain = create(client, admin)["token"]
    with app.app_context():
        rows = db.session.execute(select(ApiToken.__table__)).all()
    stored = " ".join(str(value) for row in rows for value in row)
    assert plain not in stored
    assert plain[len("hot_") + 8 :] not in stored  # not even most of it
    assert hashlib.sha256(plain.encode()).hexdigest() in stored


def test_revoked_token_is_refused(
    client: FlaskClient, admin: dict[str, str], row_counts: Callable[[], dict[str, int]]
) -> None:
    created = create(client, admin, role="student", user="mia")
    token = bearer(created["token"])
    assert client.get("/api/v1/me", headers=token).status_code == 200
    assert client.delete(f"{TOKENS}/{created['id']}", headers=admin).status_code == 204
    assert_problem(client.get("/api/v1/me", headers=token), 401, "revoked")
    assert client.delete(f"{TOKENS}/{created['id']}", headers=admin).status_code == 204
    listed = client.get(TOKENS, headers=admin).get_json()["items"]
    assert next(t for t in listed if t["id"] == created["id"])["revoked_at"]
    assert_problem(client.delete(f"{TOKENS}/987654", headers=admin), 404, "987654")


def test_last_used_at_is_recorded(client: FlaskClient, admin: dict[str, str]) -> None:
    created = create(client, admin)
    assert created["last_used_at"] is None
    assert client.get("/api/v1/questions", headers=bearer(created["token"])).status_code == 200
    listed = client.get(TOKENS, headers=admin).get_json()["items"]
    used = next(t for t in listed if t["id"] == created["id"])
    assert used["last_used_at"] is not None
    assert used["last_used_at"] >= created["created_at"]


def test_lms_token_scoped_to_a_course(client: FlaskClient, admin: dict[str, str]) -> None:
    assert_problem(create_raw(client, admin, course="no-such-course"), 404, "no-such-course")
    client.post("/api/v1/courses", json={"slug": "reg-101", "title": "Reg"}, headers=admin)
    assert create(client, admin, course="reg-101")["course"] == "reg-101"


def create_raw(client: FlaskClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post(TOKENS, json={"name": "x", "role": "lms", **body}, headers=headers)


def test_only_a_site_administrator_manages_other_users_tokens(
    client: FlaskClient,
    admin: dict[str, str],
    instructor: dict[str, str],
    student: dict[str, str],
    lms: dict[str, str],
    row_counts: Callable[[], dict[str, int]],
) -> None:
    victim = create(client, admin, role="student", user="zed")
    before = row_counts()
    for who in (instructor, student, lms):
        assert_problem(create_raw(client, who, role="instructor"), 403, "admin")
        # Each sees and may revoke only their own tokens.
        listed = client.get(TOKENS, headers=who).get_json()["items"]
        assert len(listed) == 1 and victim["id"] not in [t["id"] for t in listed]
        assert_problem(client.delete(f"{TOKENS}/{victim['id']}", headers=who), 404)
    assert row_counts() == before
    own = client.get(TOKENS, headers=student).get_json()["items"][0]["id"]
    assert client.delete(f"{TOKENS}/{own}", headers=student).status_code == 204
    assert_problem(client.get("/api/v1/me", headers=student), 401)


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer hot_not-a-real-token", "hot_x"],
)
def test_missing_or_bad_credentials_are_401(client: FlaskClient, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    assert_problem(client.get("/api/v1/me", headers=headers), 401)


def _api_routes(app: Flask) -> list[tuple[str, str]]:
    """Every (method, concrete path) under /api/v1, path parameters filled with plausible values."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<int:[^>]+>", "1", rule.rule)
        path = re.sub(r"<[^>]+>", "x-slug", path)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((method, path))
    return routes


def test_every_api_endpoint_needs_a_token(app: Flask, client: FlaskClient) -> None:
    routes = _api_routes(app)
    assert len(routes) >= 25
    for method, path in routes:
        response = client.open(path, method=method, json={} if method in ("POST", "PUT") else None)
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"] == "Bearer", (method, path)


def test_students_are_refused_every_staff_endpoint(
    app: Flask, client: FlaskClient, student: dict[str, str]
) -> None:
    staff_only = [
        ("POST", TOKENS),
        ("POST", "/api/v1/courses"),
        ("POST", "/api/v1/questions"),
        ("PUT", "/api/v1/questions/x-slug"),
        ("DELETE", "/api/v1/questions/x-slug"),
        ("POST", "/api/v1/quizzes"),
        ("PUT", "/api/v1/quizzes/x-slug"),
    ]
    assert set(staff_only) <= set(_api_routes(app))
    for method, path in staff_only:
        response = client.open(path, method=method, json={}, headers=student)
        assert_problem(response, 403, "student")


def test_a_course_token_lists_and_revokes_only_its_own_tokens_of_that_course(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    for slug in ("reg-101", "reg-202"):
        made = client.post("/api/v1/courses", json={"slug": slug, "title": slug}, headers=admin)
        assert made.status_code == 201, made.get_json()
    # One person with three tokens: site-wide, and one for each course.
    tokens = {
        scope: create(client, admin, role="instructor", user="dana", **course)
        for scope, course in (
            ("site", {}),
            ("reg-101", {"course": "reg-101"}),
            ("reg-202", {"course": "reg-202"}),
        )
    }
    assert len({t["user"]["id"] for t in tokens.values()}) == 1
    ids = {scope: t["id"] for scope, t in tokens.items()}
    course_token = bearer(tokens["reg-101"]["token"])

    listed = client.get(TOKENS, headers=course_token).get_json()["items"]
    assert [t["id"] for t in listed] == [ids["reg-101"]]
    for broader in ("site", "reg-202"):  # not shown to exist, and left working
        assert_problem(client.delete(f"{TOKENS}/{ids[broader]}", headers=course_token), 404)
        assert client.get("/api/v1/me", headers=bearer(tokens[broader]["token"])).status_code == 200
    site_token = bearer(tokens["site"]["token"])
    listed = client.get(TOKENS, headers=site_token).get_json()["items"]
    assert sorted(t["id"] for t in listed) == sorted(ids.values())
    assert client.delete(f"{TOKENS}/{ids['reg-101']}", headers=course_token).status_code == 204
    assert_problem(client.get("/api/v1/me", headers=course_token), 401)
    # A site-wide credential of the same user manages every token of theirs.
    assert client.delete(f"{TOKENS}/{ids['reg-202']}", headers=site_token).status_code == 204


def test_an_admin_token_takes_no_course(
    client: FlaskClient, admin: dict[str, str], row_counts: Callable[[], dict[str, int]]
) -> None:
    client.post("/api/v1/courses", json={"slug": "reg-101", "title": "Reg"}, headers=admin)
    before = row_counts()
    assert_problem(create_raw(client, admin, role="admin", course="reg-101"), 422, "site-wide")
    assert row_counts() == before
