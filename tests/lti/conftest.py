"""Fixtures for LTI tests: a fake LMS over real HTTP, registered with the app, and launches
through the whole OIDC flow (the app through Flask's test client, the LMS over HTTP)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service.lti.platforms import jwks_cache
from service.models import db
from service.questions import save_question
from service.quizzes import save_quiz
from tests.lti.platform import FakePlatform, SigningKey, form_action, form_fields

TOOL_BASE = "http://localhost"

QUESTION = {
    "slug": "lti-inverted-scaling",
    "type": "single_choice",
    "title": "Inverted dropout scaling",
    "prompt": "With inverted dropout, survivors are scaled by what during training, for $p$?",
    "explanation": "By $1/(1-p)$.",
    "points": 2.0,
    "tags": ["dropout"],
    "data": {
        "choices": [
            {"id": "a", "text": "$1/(1-p)$", "correct": True},
            {"id": "b", "text": "$1-p$", "correct": False},
        ]
    },
}
OTHER = {
    **QUESTION,
    "slug": "lti-p-one",
    "type": "true_false",
    "title": "Dropout with p = 1",
    "prompt": "With $p = 1$ the output is all zeros.",
    "points": 1.0,
    "data": {"answer": True},
}
QUIZ = {
    "slug": "lti-dropout-quiz",
    "title": "Dropout quiz",
    "course": "lti-bank",
    "questions": [QUESTION["slug"], OTHER["slug"]],
}


@pytest.fixture
def content(app: Flask) -> None:
    """Two quick questions and a quiz holding them."""
    with app.app_context():
        save_question(dict(QUESTION))
        save_question(dict(OTHER))
        db.session.flush()
        save_quiz(dict(QUIZ))
        db.session.commit()


def tool_jwks(app: Flask) -> dict[str, Any]:
    """The tool's JWKS, as the platform would fetch it."""
    from service.lti import keys

    with app.app_context():
        body = keys.jwks()
        if not body["keys"]:
            keys.signing_key()
            body = keys.jwks()
        db.session.remove()
        return body


@pytest.fixture
def platform(app: Flask, client: FlaskClient, admin: dict[str, str]) -> Iterator[FakePlatform]:
    """A fake LMS, running, and registered with holdout through the API."""
    # A new fake LMS may get the port (so the JWKS URL) of an earlier one, with other keys.
    jwks_cache.clear()
    fake = FakePlatform(TOOL_BASE, lambda: tool_jwks(app)).start()
    response = client.post("/api/v1/lti/platforms", json=fake.registration(), headers=admin)
    assert response.status_code == 201, response.get_json()
    yield fake
    fake.stop()


Tamper = Callable[[dict[str, Any]], None]


def launch(
    client: FlaskClient,
    platform: FakePlatform,
    claims: dict[str, Any],
    tamper: Tamper | None = None,
    sign_with: SigningKey | None = None,
) -> TestResponse:
    """The whole flow: login initiation at the tool, authorization at the platform (HTTP),
    the auto-posted id_token back at the tool."""
    hint = platform.prepare(claims, tamper, sign_with)
    login = client.post("/lti/login", data=platform.login_params(hint))
    assert login.status_code == 302, login.get_data(as_text=True)
    auth = requests.get(login.headers["Location"], timeout=10)
    assert auth.status_code == 200, auth.text
    assert form_action(auth.text) == TOOL_BASE + "/lti/launch"
    return client.post("/lti/launch", data=form_fields(auth.text))


def page_text(response: TestResponse) -> str:
    """The visible text of an HTML page, whitespace collapsed."""
    text = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(text))


def csrf_of(response: TestResponse) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', response.get_data(as_text=True))
    assert match, "no CSRF field on the page"
    return match.group(1)
