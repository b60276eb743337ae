"""Deep Linking (an instructor picks content; the platform gets a signed response it can verify
against the tool's JWKS), the tool's key rotation, and platform registration."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import jwt
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from service.lti import keys
from service.lti.models import LtiKey
from service.models import Course, db, utcnow
from service.quizzes import save_quiz
from tests.lti.conftest import QUIZ, csrf_of, launch, page_text
from tests.lti.platform import DL, LTI, FakePlatform, form_action, form_fields

pytestmark = pytest.mark.usefixtures("content")


def test_instructor_picks_a_quiz_and_the_platform_gets_a_signed_link(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    claims = platform.claims("prof", message_type="LtiDeepLinkingRequest")
    response = launch(client, platform, claims)
    assert response.status_code == 303
    assert response.headers["Location"] == "/lti/deep-link"
    # The launch made the LMS course's own course; its quiz is what the instructor may link,
    # never another course's (QUIZ belongs to "lti-bank").
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.slug.startswith("lti-ml-101")))
        assert course is not None
        save_quiz({**QUIZ, "slug": "course-101-quiz", "title": "Our quiz", "course": course.slug})
        db.session.commit()

    picker = client.get("/lti/deep-link")
    assert picker.status_code == 200
    assert "Our quiz" in page_text(picker)
    assert QUIZ["title"] not in page_text(picker)
    other_course = client.post(
        "/lti/deep-link", data={"csrf": csrf_of(picker), "item": f"quiz:{QUIZ['slug']}"}
    )
    assert other_course.status_code == 422
    chosen = client.post(
        "/lti/deep-link", data={"csrf": csrf_of(picker), "item": "quiz:course-101-quiz"}
    )
    assert chosen.status_code == 200
    page = chosen.get_data(as_text=True)
    return_url = claims[DL + "deep_linking_settings"]["deep_link_return_url"]
    assert form_action(page) == return_url

    # The browser posts it back; the platform verifies it with the tool's JWKS.
    answer = requests.post(return_url, data=form_fields(page), timeout=10)
    assert answer.status_code == 200, answer.text
    (response_claims,) = platform.recorded.deep_links
    assert response_claims["iss"] == platform.client_id
    assert response_claims["aud"] == platform.issuer
    assert response_claims[LTI + "message_type"] == "LtiDeepLinkingResponse"
    assert response_claims[LTI + "deployment_id"] == platform.deployment_id
    assert response_claims[DL + "data"] == claims[DL + "deep_linking_settings"]["data"]
    (item,) = response_claims[DL + "content_items"]
    assert item["type"] == "ltiResourceLink"
    assert item["url"] == "http://localhost/lti/launch"
    assert item["custom"] == {"quiz": "course-101-quiz"}
    assert item["lineItem"]["scoreMaximum"] == 3.0

    # A student launching the link the platform made from it lands on the quiz.
    student = app.test_client()
    made = platform.claims("alice", custom=item["custom"], resource_link="made-by-dl")
    landed = launch(student, platform, made)
    assert landed.headers["Location"] == "/app/quizzes/course-101-quiz"


def test_students_cannot_pick_content(client: FlaskClient, platform: FakePlatform) -> None:
    claims = platform.claims("alice", message_type="LtiDeepLinkingRequest")
    response = launch(client, platform, claims)
    assert response.status_code == 403
    assert "needs an instructor role" in page_text(response)
    assert client.get("/lti/deep-link").status_code == 400


def test_picking_nothing_asks_again(client: FlaskClient, platform: FakePlatform) -> None:
    launch(client, platform, platform.claims("prof", message_type="LtiDeepLinkingRequest"))
    picker = client.get("/lti/deep-link")
    again = client.post("/lti/deep-link", data={"csrf": csrf_of(picker), "item": "quiz:nope"})
    assert again.status_code == 422
    assert "Choose a quiz or an exercise first" in page_text(again)


def test_a_new_key_is_published_before_it_signs_and_the_old_one_kept_after(
    app: Flask, client: FlaskClient
) -> None:
    first = client.get("/lti/jwks").get_json()["keys"]
    assert len(first) == 1 and first[0]["kty"] == "RSA" and "d" not in first[0]
    old_kid = first[0]["kid"]

    with app.app_context():
        new_kid = keys.rotate().kid
        db.session.commit()
        assert jwt.get_unverified_header(keys.sign({"x": 1}))["kid"] == old_kid
    published = {k["kid"] for k in client.get("/lti/jwks").get_json()["keys"]}
    assert published == {old_kid, new_kid}

    with app.app_context():  # a day later: the new key signs, the old one is still published
        day = timedelta(days=1)
        for kid, started in ((old_kid, utcnow() - 2 * day), (new_kid, utcnow() - timedelta(1))):
            db.session.execute(update(LtiKey).where(LtiKey.kid == kid).values(active_from=started))
        db.session.commit()
        assert jwt.get_unverified_header(keys.sign({"x": 1}))["kid"] == new_kid
    published = {k["kid"] for k in client.get("/lti/jwks").get_json()["keys"]}
    assert published == {old_kid, new_kid}

    with app.app_context():  # once the old key's time is up, it is withdrawn
        db.session.execute(
            update(LtiKey)
            .where(LtiKey.kid == old_kid)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    assert [k["kid"] for k in client.get("/lti/jwks").get_json()["keys"]] == [new_kid]


def test_an_old_signing_key_is_rotated_by_the_background_loop(app: Flask) -> None:
    with app.app_context():
        key = keys.signing_key()
        assert keys.rotate_if_old() is None  # young
        key.active_from = utcnow() - keys.MAX_AGE - timedelta(hours=1)
        db.session.commit()
        pending = keys.rotate_if_old()
        assert pending is not None and pending.active_from > utcnow()
        db.session.commit()
        assert keys.rotate_if_old() is None  # a rotation is already under way


def test_registration_is_idempotent_and_adds_deployments(
    app: Flask,
    client: FlaskClient,
    admin: dict[str, str],
    student: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = app.extensions["holdout_settings"]
    allowed = replace(settings, outbound_allow_hosts=("moodle.example.edu",))
    monkeypatch.setitem(app.extensions, "holdout_settings", allowed)
    body = {
        "name": "Moodle",
        "issuer": "https://moodle.example.edu",
        "client_id": "abc123",
        "deployment_ids": ["1"],
        "auth_login_url": "https://moodle.example.edu/mod/lti/auth.php",
        "auth_token_url": "https://moodle.example.edu/mod/lti/token.php",
        "jwks_url": "https://moodle.example.edu/mod/lti/certs.php",
    }
    assert client.post("/api/v1/lti/platforms", json=body, headers=admin).status_code == 201
    again = client.post(
        "/api/v1/lti/platforms", json={**body, "deployment_ids": ["2"]}, headers=admin
    )
    assert again.status_code == 200
    assert again.get_json()["deployment_ids"] == ["1", "2"]
    tool = again.get_json()["tool"]
    assert tool["jwks"] == "http://localhost/lti/jwks"
    assert tool["login_initiation"] == "http://localhost/lti/login"
    listed = client.get("/api/v1/lti/platforms", headers=admin).get_json()
    assert listed["total"] == 1
    assert client.get("/api/v1/lti/platforms", headers=student).status_code == 403
    bad = client.post(
        "/api/v1/lti/platforms", json={**body, "jwks_url": "not a url"}, headers=admin
    )
    assert bad.status_code == 422
