"""LTI Dynamic Registration 1.0 against the fake LMS over HTTP: a site administrator mints a
one-time link; the LMS opens it with its OpenID configuration and registration token; holdout
checks the configuration, registers itself, stores the platform and its deployment, and a
launch from the newly registered platform works."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.lti.models import LtiPlatform
from service.lti.platforms import jwks_cache
from service.lti.registration import within
from service.models import db
from tests.lti.conftest import TOOL_BASE, launch, page_text, tool_jwks
from tests.lti.platform import TOOL_CONFIGURATION, FakePlatform

pytestmark = pytest.mark.usefixtures("content")


@pytest.fixture
def lms(app: Flask) -> Iterator[FakePlatform]:
    """A fake LMS that holdout does not know yet."""
    jwks_cache.clear()
    fake = FakePlatform(TOOL_BASE, lambda: tool_jwks(app)).start()
    yield fake
    fake.stop()


def mint(client: FlaskClient, admin: dict[str, str], name: str = "Campus Moodle") -> str:
    made = client.post("/api/v1/lti/registration-links", json={"name": name}, headers=admin)
    assert made.status_code == 201, made.get_json()
    url: str = made.get_json()["url"]
    assert url.startswith(TOOL_BASE + "/lti/register/")
    return url.removeprefix(TOOL_BASE)


def platforms(app: Flask) -> list[dict[str, Any]]:
    with app.app_context():
        rows = db.session.scalars(select(LtiPlatform)).all()
        return [
            {
                "name": p.name,
                "issuer": p.issuer,
                "client_id": p.client_id,
                "deployments": [d.deployment_id for d in p.deployments],
                "urls": (p.auth_login_url, p.auth_token_url, p.jwks_url),
            }
            for p in rows
        ]


def test_within_the_issuer() -> None:
    assert within("https://lms.example/.well-known/openid-configuration", "https://lms.example")
    assert within("https://lms.example/moodle/mod/lti/openid.php", "https://lms.example/moodle/")
    assert not within("https://lms.example.evil/x", "https://lms.example")
    assert not within("https://lms.example/moodlex/x", "https://lms.example/moodle")
    assert not within("http://lms.example/x", "https://lms.example")


def test_registration_stores_the_platform_and_a_launch_works(
    app: Flask, client: FlaskClient, admin: dict[str, str], lms: FakePlatform
) -> None:
    path = mint(client, admin)
    page = client.get(lms.registration_start(path))
    assert page.status_code == 200, page_text(page)
    assert "data-lti-close" in page.get_data(as_text=True)  # posts org.imsglobal.lti.close
    assert "lti-storage.js" in page.get_data(as_text=True)
    assert lms.base in page.headers["Content-Security-Policy"]  # the LMS may frame it now

    (sent,) = lms.recorded.registrations
    assert sent["initiate_login_uri"] == TOOL_BASE + "/lti/login"
    assert sent["redirect_uris"] == [TOOL_BASE + "/lti/launch"]
    assert sent["jwks_uri"] == TOOL_BASE + "/lti/jwks"
    assert "contextmembership.readonly" in sent["scope"]
    assert "scope/score" in sent["scope"]
    tool = sent[TOOL_CONFIGURATION]
    assert tool["domain"] == "localhost"
    assert tool["target_link_uri"] == TOOL_BASE + "/lti/launch"
    assert {m["type"] for m in tool["messages"]} == {
        "LtiResourceLinkRequest",
        "LtiDeepLinkingRequest",
    }
    assert "email" in tool["claims"]
    (config_request,) = lms.recorded.configuration_requests
    assert config_request["Authorization"] == "Bearer " + lms.registration_token

    assert platforms(app) == [
        {
            "name": "Campus Moodle",
            "issuer": lms.issuer,
            "client_id": lms.client_id,
            "deployments": [lms.deployment_id],
            "urls": (lms.base + "/auth", lms.base + "/token", lms.base + "/jwks"),
        }
    ]
    response = launch(client, lms, lms.claims("alice", custom={"question": "lti-p-one"}))
    assert response.status_code == 303, page_text(response)


def test_a_link_registers_once_and_only_with_its_token(
    app: Flask, client: FlaskClient, admin: dict[str, str], lms: FakePlatform
) -> None:
    path = mint(client, admin)
    unknown = client.get(lms.registration_start("/lti/register/made-up-token"))
    assert unknown.status_code == 403
    assert client.get(lms.registration_start(path)).status_code == 200
    again = client.get(lms.registration_start(path))
    assert again.status_code == 409
    assert "used already" in page_text(again)
    assert len(lms.recorded.registrations) == 1
    assert len(platforms(app)) == 1


def test_only_an_administrator_mints_links(
    client: FlaskClient, instructor: dict[str, str], student: dict[str, str]
) -> None:
    for headers in (instructor, student):
        answer = client.post("/api/v1/lti/registration-links", json={"name": "x"}, headers=headers)
        assert answer.status_code == 403
        assert answer.mimetype == "application/problem+json"
    assert client.post("/api/v1/lti/registration-links", json={"name": "x"}).status_code == 401


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"issuer": "http://elsewhere.example"}, "not within the issuer"),
        ({"issuer": 7}, "no issuer URL"),
        ({"registration_endpoint": "ftp://x/register"}, "registration_endpoint"),
        ({"jwks_uri": None}, "jwks_uri"),
        ({"token_endpoint": "http://10.1.2.3/token"}, "token_endpoint is refused"),
        ({"id_token_signing_alg_values_supported": ["HS256"]}, "RS256"),
        ({"https://purl.imsglobal.org/spec/lti-platform-configuration": "x"}, "LTI platform"),
    ],
)
def test_a_bad_configuration_is_refused_and_the_link_stays_usable(
    app: Flask,
    client: FlaskClient,
    admin: dict[str, str],
    lms: FakePlatform,
    overrides: dict[str, Any],
    says: str,
) -> None:
    path = mint(client, admin)
    lms.configuration_overrides = overrides
    refused = client.get(lms.registration_start(path))
    assert 400 <= refused.status_code < 500, page_text(refused)
    assert says in page_text(refused)
    assert lms.base in refused.headers["Content-Security-Policy"]  # shown in the LMS's frame
    assert lms.recorded.registrations == [] and platforms(app) == []
    lms.configuration_overrides = {}
    assert client.get(lms.registration_start(path)).status_code == 200


def test_the_platform_refusing_or_answering_junk_is_a_page_not_a_500(
    app: Flask, client: FlaskClient, admin: dict[str, str], lms: FakePlatform
) -> None:
    path = mint(client, admin)
    lms.registration_token = "another"  # holdout's token is no longer accepted
    start = lms.registration_start(path).replace(
        "registration_token=another", "registration_token=x"
    )
    refused = client.get(start)
    assert refused.status_code == 502
    assert "refused the registration (HTTP 401" in page_text(refused)
    missing = client.get(path)
    assert missing.status_code == 400 and "openid_configuration" in page_text(missing)
    nowhere = client.get(path + "?openid_configuration=http://127.0.0.1:9/x")
    assert nowhere.status_code in (400, 502)
    assert platforms(app) == []


def test_the_cli_mints_a_link(app: Flask) -> None:
    from service.lti.cli import lti_group

    result = app.test_cli_runner().invoke(
        lti_group, ["registration-link", "--name", "Canvas", "--base-url", "http://localhost:8000"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("http://localhost:8000/lti/register/")
