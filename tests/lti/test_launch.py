"""LTI 1.3 launches through the whole OIDC flow against a fake LMS over HTTP: what a valid launch
creates, and each refused launch as a page that says why (on SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.lti.models import LtiContext, LtiLinkUser, LtiLogin, LtiUser
from service.models import Enrollment, Role, User, db
from tests.lti.conftest import QUESTION, QUIZ, TOOL_BASE, launch, page_text
from tests.lti.platform import FakePlatform, SigningKey, form_fields

pytestmark = pytest.mark.usefixtures("content")


def users(app: Flask) -> list[tuple[str, Role]]:
    with app.app_context():
        rows = db.session.execute(select(User.name, User.role).order_by(User.id)).all()
        return [(name, role) for name, role in rows]


def test_student_launch_signs_in_enrolls_and_opens_the_question(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    claims = platform.claims("alice", custom={"question": QUESTION["slug"]})
    response = launch(client, platform, claims)

    assert response.status_code == 303, page_text(response)
    assert response.headers["Location"] == f"/app/questions/{QUESTION['slug']}"
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert QUESTION["title"] in page_text(page)
    assert "Alice Learner" in page_text(page)
    with app.app_context():
        alice = db.session.scalar(select(User).where(User.name == "Alice Learner"))
        assert alice is not None and alice.role == Role.STUDENT
        link = db.session.scalar(select(LtiUser).where(LtiUser.user_id == alice.id))
        assert link is not None and link.sub == "user-alice-1"
        context = db.session.scalar(select(LtiContext))
        assert context is not None and context.context_id == "course-101"
        assert context.course.title == "Machine Learning 101"
        assert context.course.slug.startswith("lti-ml-101-")
        enrolled = db.session.scalar(select(Enrollment).where(Enrollment.user_id == alice.id))
        assert enrolled is not None and enrolled.course_id == context.course_id
        assert db.session.scalar(select(func.count(LtiLinkUser.id))) == 1


def test_the_platform_jwks_is_cached_and_fetched_again_after_it_rotates(
    client: FlaskClient, platform: FakePlatform
) -> None:
    for person in ("alice", "bob"):
        claims = platform.claims(person, custom={"question": QUESTION["slug"]})
        assert launch(client, platform, claims).status_code == 303
    assert platform.recorded.jwks_fetches == 1

    platform.rotate_key()
    claims = platform.claims("alice", custom={"question": QUESTION["slug"]})
    assert launch(client, platform, claims).status_code == 303
    assert platform.recorded.jwks_fetches == 2


def test_a_second_launch_reuses_the_user_and_the_course(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    for _ in range(2):
        claims = platform.claims("alice", custom={"quiz": QUIZ["slug"]})
        response = launch(client, platform, claims)
        assert response.headers["Location"] == f"/app/quizzes/{QUIZ['slug']}"
    assert users(app).count(("Alice Learner", Role.STUDENT)) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count(LtiContext.id))) == 1


def test_instructor_launch_maps_the_role_and_opens_the_course_page(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    response = launch(
        client, platform, platform.claims("prof", custom={"question": QUESTION["slug"]})
    )
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/app/courses/lti-ml-101-")
    assert ("Pat Professor", Role.INSTRUCTOR) in users(app)
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    text = page_text(page)
    assert "Machine Learning 101" in text and "Gradebook" in text


def test_namesakes_on_a_platform_become_two_users(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    first = platform.claims("alice", custom={"question": QUESTION["slug"]})
    second = {**first, "sub": "another-alice"}
    assert launch(client, platform, first).status_code == 303
    assert launch(client, platform, second).status_code == 303
    names = [name for name, role in users(app) if role == Role.STUDENT]
    assert len(names) == 2 and names[0] == "Alice Learner" and names[1] != names[0]


def _other_key_same_kid(platform: FakePlatform) -> SigningKey:
    return SigningKey(platform.key.kid, SigningKey.new().private)


def _set(**changes: Any) -> Any:
    def tamper(claims: dict[str, Any]) -> None:
        claims.update(changes)

    return tamper


REFUSED = [
    pytest.param({"sign_with": "other"}, 401, ["Invalid launch", "signature"], id="bad-signature"),
    pytest.param(
        {"tamper": _set(aud="some-other-tool")}, 401, ["another tool", "audience"], id="wrong-aud"
    ),
    pytest.param(
        {"tamper": _set(iss="https://impostor.example")}, 401, ["not issued by"], id="wrong-iss"
    ),
    pytest.param(
        {"tamper": _set(exp=int(time.time()) - 600, iat=int(time.time()) - 900)},
        401,
        ["Launch expired"],
        id="expired",
    ),
    pytest.param(
        {"tamper": _set(nonce="a-nonce-holdout-never-issued")},
        401,
        ["nonce"],
        id="foreign-nonce",
    ),
    pytest.param(
        {
            "tamper": _set(
                **{"https://purl.imsglobal.org/spec/lti/claim/deployment_id": "rogue-deployment"}
            )
        },
        403,
        ["Unknown deployment", "rogue-deployment"],
        id="unknown-deployment",
    ),
    pytest.param(
        {"tamper": _set(**{"https://purl.imsglobal.org/spec/lti/claim/version": "1.1"})},
        400,
        ["LTI 1.3.0"],
        id="wrong-version",
    ),
]


@pytest.mark.parametrize(("how", "status", "words"), REFUSED)
def test_refused_launches_show_a_page_that_says_why(
    app: Flask,
    client: FlaskClient,
    platform: FakePlatform,
    how: dict[str, Any],
    status: int,
    words: list[str],
) -> None:
    before = users(app)
    sign_with = _other_key_same_kid(platform) if how.get("sign_with") else None
    claims = platform.claims("alice", custom={"question": QUESTION["slug"]})
    response = launch(client, platform, claims, tamper=how.get("tamper"), sign_with=sign_with)

    assert response.status_code == status
    assert response.mimetype == "text/html"
    text = page_text(response)
    for word in words:
        assert word.lower() in text.lower(), text
    assert users(app) == before  # nobody was created or signed in
    assert client.get(f"/app/questions/{QUESTION['slug']}").status_code == 401


def test_a_replayed_launch_is_refused(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    hint = platform.prepare(platform.claims("alice", custom={"question": QUESTION["slug"]}))
    login = client.post("/lti/login", data=platform.login_params(hint))
    fields = form_fields(requests.get(login.headers["Location"], timeout=10).text)
    assert client.post("/lti/launch", data=fields).status_code == 303

    again = client.post("/lti/launch", data=fields)
    assert again.status_code == 400
    assert "already been used" in page_text(again)
    with app.app_context():
        assert db.session.scalar(select(func.count(LtiLogin.id))) == 1


def test_a_launch_that_comes_back_to_another_browser_is_refused(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    hint = platform.prepare(platform.claims("alice", custom={"question": QUESTION["slug"]}))
    login = client.post("/lti/login", data=platform.login_params(hint))
    fields = form_fields(requests.get(login.headers["Location"], timeout=10).text)

    elsewhere = app.test_client()  # no state cookie
    response = elsewhere.post("/lti/launch", data=fields)
    assert response.status_code == 403
    assert "did not come back to the browser that started it" in page_text(response)
    # The state was not spent: the right browser can still complete the launch.
    assert client.post("/lti/launch", data=fields).status_code == 303


def test_login_from_an_unknown_platform_is_refused(client: FlaskClient) -> None:
    response = client.get(
        "/lti/login", query_string={"iss": "https://unknown.example", "login_hint": "x"}
    )
    assert response.status_code == 400
    assert "No LMS with issuer 'https://unknown.example'" in page_text(response)


def test_login_initiation_sends_the_browser_to_the_platform_with_state_and_nonce(
    client: FlaskClient, platform: FakePlatform
) -> None:
    hint = platform.prepare(platform.claims("alice"))
    login = client.get("/lti/login", query_string=platform.login_params(hint))  # GET works too
    assert login.status_code == 302
    location = login.headers["Location"]
    assert location.startswith(platform.base + "/auth?")
    from tests.lti.platform import query_of

    query = query_of(location)
    assert query["redirect_uri"] == TOOL_BASE + "/lti/launch"
    assert query["client_id"] == platform.client_id
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    cookie = login.headers["Set-Cookie"]
    assert query["state"] in cookie and "HttpOnly" in cookie and "Path=/lti/launch" in cookie


def test_a_launch_without_state_is_refused(client: FlaskClient, platform: FakePlatform) -> None:
    token = platform.sign(platform.claims("alice"))
    response = client.post("/lti/launch", data={"id_token": token})
    assert response.status_code == 400
    assert "lacks 'id_token' or 'state'" in page_text(response)
