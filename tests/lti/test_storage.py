"""Cookie-free launches (LTI client-side postMessage storage), the server side over HTTP against
the fake LMS: with `lti_storage_target` the login page keeps the state in the platform's frame
before going on; a launch without the state cookie gets holdout's check page, whose post (from
holdout's own origin, with its proof) is accepted; anything else is refused. Without the
storage target, the cookie flow is unchanged."""

from __future__ import annotations

import html
import re

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.lti.models import LtiLogin
from service.models import db
from tests.lti.conftest import QUESTION, TOOL_BASE, page_text
from tests.lti.platform import FakePlatform, form_action, form_fields, query_of

pytestmark = pytest.mark.usefixtures("content")


def data_attributes(page: str) -> dict[str, str]:
    match = re.search(r"<[^>]*data-lti-storage=[^>]*>", page)
    assert match, page
    return {k: html.unescape(v) for k, v in re.findall(r'data-([\w-]+)="([^"]*)"', match.group(0))}


def start(client: FlaskClient, platform: FakePlatform, target: str | None = "_parent") -> str:
    """Login initiation; returns what the platform posts back to the launch URL (as HTML)."""
    hint = platform.prepare(platform.claims("alice", custom={"question": QUESTION["slug"]}))
    login = client.post("/lti/login", data=platform.login_params(hint, storage_target=target))
    if target is None:
        assert login.status_code == 302
        next_url = login.headers["Location"]
    else:
        assert login.status_code == 200, login.get_data(as_text=True)
        put = data_attributes(login.get_data(as_text=True))
        assert put["lti-storage"] == "put"
        assert put["target"] == target
        assert put["origin"] == platform.base  # the OIDC auth URL's origin, nobody else
        next_url = put["next"]
        state = query_of(next_url)["state"]
        assert put["key"] == "state_" + state and put["value"] == state
        assert query_of(next_url)["lti_storage_target"] == target
        assert "lti-storage.js" in login.get_data(as_text=True)
    auth = requests.get(next_url, timeout=10)
    assert auth.status_code == 200, auth.text
    assert form_action(auth.text) == TOOL_BASE + "/lti/launch"
    return auth.text


def test_without_the_cookie_the_storage_check_page_completes_the_launch(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    posted = form_fields(start(client, platform))
    assert posted["lti_storage_target"] == "_parent"
    browser = app.test_client()  # an iframe that dropped the state cookie
    check = browser.post("/lti/launch", data=posted)
    assert check.status_code == 200, page_text(check)
    get = data_attributes(check.get_data(as_text=True))
    assert get["lti-storage"] == "get" and get["origin"] == platform.base
    assert get["key"] == "state_" + posted["state"]
    assert "holdout-session" not in (check.headers.get("Set-Cookie") or "")
    with app.app_context():
        assert db.session.scalar(select(LtiLogin.used_at)) is None  # not consumed yet

    confirmed = form_fields(check.get_data(as_text=True))
    assert confirmed["id_token"] == posted["id_token"]
    launched = browser.post("/lti/launch", data=confirmed, headers={"Origin": TOOL_BASE})
    assert launched.status_code == 303, page_text(launched)
    assert launched.headers["Location"] == f"/app/questions/{QUESTION['slug']}"
    assert browser.get(launched.headers["Location"]).status_code == 200

    replay = browser.post("/lti/launch", data=confirmed, headers={"Origin": TOOL_BASE})
    assert replay.status_code == 400


@pytest.mark.parametrize(
    ("change", "headers"),
    [
        ({}, {"Origin": "http://127.0.0.1:9"}),  # posted from a page elsewhere
        ({}, {}),  # no Origin, no Sec-Fetch-Site
        ({}, {"Sec-Fetch-Site": "cross-site"}),
        ({"lti_storage_proof": "0" * 64}, {"Origin": TOOL_BASE}),
    ],
)
def test_a_storage_check_not_from_holdouts_page_is_refused(
    app: Flask,
    client: FlaskClient,
    platform: FakePlatform,
    change: dict[str, str],
    headers: dict[str, str],
) -> None:
    posted = form_fields(start(client, platform))
    browser = app.test_client()
    confirmed = form_fields(browser.post("/lti/launch", data=posted).get_data(as_text=True))
    refused = browser.post("/lti/launch", data={**confirmed, **change}, headers=headers)
    assert refused.status_code == 403, page_text(refused)
    assert "could not be tied to the browser" in page_text(refused)


def test_the_same_origin_fetch_metadata_is_enough_without_origin(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    posted = form_fields(start(client, platform))
    browser = app.test_client()
    confirmed = form_fields(browser.post("/lti/launch", data=posted).get_data(as_text=True))
    ok = browser.post("/lti/launch", data=confirmed, headers={"Sec-Fetch-Site": "same-origin"})
    assert ok.status_code == 303


def test_with_the_cookie_a_storage_launch_needs_no_check(
    client: FlaskClient, platform: FakePlatform
) -> None:
    posted = form_fields(start(client, platform))
    assert client.post("/lti/launch", data=posted).status_code == 303


def test_without_storage_target_the_cookie_flow_is_unchanged(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    posted = form_fields(start(client, platform, target=None))
    assert "lti_storage_target" not in posted
    refused = app.test_client().post("/lti/launch", data=posted)
    assert refused.status_code == 403
    assert "state cookie" in page_text(refused)
    assert client.post("/lti/launch", data=posted).status_code == 303


def test_a_storage_target_that_is_no_frame_name_falls_back_to_the_cookie(
    client: FlaskClient, platform: FakePlatform
) -> None:
    hint = platform.prepare(platform.claims("alice", custom={"question": QUESTION["slug"]}))
    login = client.post(
        "/lti/login", data=platform.login_params(hint, storage_target="<script>alert(1)")
    )
    assert login.status_code == 302
    assert "lti_storage_target" not in query_of(login.headers["Location"])
