"""Platforms and deployments listed, updated and deleted by API and CLI (site administrators),
both through one schema: the CLI takes the API's field names and refuses what the API refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.lti.cli import lti_group
from service.lti.models import LtiPlatform
from service.models import User, db
from tests.lti.conftest import launch
from tests.lti.platform import FakePlatform

BODY = {
    "name": "Campus LMS",
    "issuer": "https://lms.example.edu",
    "client_id": "c-1",
    "deployment_ids": ["d-1"],
    # The tests' allow list lets holdout call 127.0.0.1 (HOLDOUT_OUTBOUND_ALLOW_HOSTS).
    "auth_login_url": "http://127.0.0.1:9/auth",
    "auth_token_url": "http://127.0.0.1:9/token",
    "jwks_url": "http://127.0.0.1:9/jwks",
}
CLI_OPTIONS = {
    "name": "--name",
    "issuer": "--issuer",
    "client_id": "--client-id",
    "auth_login_url": "--auth-login-url",
    "auth_token_url": "--auth-token-url",
    "jwks_url": "--jwks-url",
}


def cli(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(lti_group, list(args))


def cli_args(body: dict[str, Any]) -> list[str]:
    args = [a for k, v in body.items() if k in CLI_OPTIONS for a in (CLI_OPTIONS[k], v)]
    return args + [a for d in body.get("deployment_ids", []) for a in ("--deployment-id", d)]


def test_list_get_update_and_delete_through_the_api(
    app: Flask, client: FlaskClient, admin: dict[str, str], platform: FakePlatform
) -> None:
    (listed,) = client.get("/api/v1/lti/platforms", headers=admin).get_json()["items"]
    path = f"/api/v1/lti/platforms/{listed['id']}"
    assert client.get(path, headers=admin).get_json()["client_id"] == platform.client_id
    changed = client.patch(
        path, json={"name": "Renamed", "deployment_ids": ["d-2", "d-3"]}, headers=admin
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["name"] == "Renamed"
    assert changed.get_json()["deployment_ids"] == ["d-2", "d-3"]  # replaced
    hint = platform.prepare(platform.claims("alice"))
    refused = client.post("/lti/login", data=platform.login_params(hint))
    assert refused.status_code == 403  # deployment-1 is no longer registered

    platform.deployment_id = "d-3"
    assert launch(client, platform, platform.claims("alice")).status_code in (303, 404)
    assert client.delete(path, headers=admin).status_code == 204
    assert client.get(path, headers=admin).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(LtiPlatform)) is None
        assert db.session.scalar(select(User).where(User.name == "Alice Learner")) is not None


@pytest.mark.parametrize(
    "change",
    [
        {"auth_token_url": "ftp://x"},
        {"jwks_url": "https://10.0.0.1/jwks"},
        {"deployment_ids": []},
        {"name": ""},
        {"nickname": "x"},
    ],
)
def test_bad_updates_are_422_problems(
    client: FlaskClient, admin: dict[str, str], platform: FakePlatform, change: dict[str, Any]
) -> None:
    (listed,) = client.get("/api/v1/lti/platforms", headers=admin).get_json()["items"]
    answer = client.patch(f"/api/v1/lti/platforms/{listed['id']}", json=change, headers=admin)
    assert answer.status_code == 422, answer.get_json()
    assert answer.mimetype == "application/problem+json"


def test_an_update_onto_another_platform_is_a_409(
    client: FlaskClient, admin: dict[str, str], platform: FakePlatform
) -> None:
    body = {**platform.registration(), "client_id": "another-client"}
    other = client.post("/api/v1/lti/platforms", json=body, headers=admin).get_json()
    answer = client.patch(
        f"/api/v1/lti/platforms/{other['id']}",
        json={"issuer": platform.issuer, "client_id": platform.client_id},
        headers=admin,
    )
    assert answer.status_code == 409
    assert answer.mimetype == "application/problem+json"


def test_only_a_site_administrator_manages_platforms(
    client: FlaskClient,
    admin: dict[str, str],
    instructor: dict[str, str],
    platform: FakePlatform,
) -> None:
    (listed,) = client.get("/api/v1/lti/platforms", headers=admin).get_json()["items"]
    path = f"/api/v1/lti/platforms/{listed['id']}"
    assert client.get(path, headers=instructor).status_code == 403
    assert client.patch(path, json={"name": "x"}, headers=instructor).status_code == 403
    assert client.delete(path, headers=instructor).status_code == 403
    assert client.get("/api/v1/lti/platforms/999999", headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("auth_token_url", "ftp://x"),
        ("auth_login_url", "not a url"),
        ("jwks_url", "https://127.0.0.2/jwks"),
        ("jwks_url", "http://127.0.0.1:9/" + "j" * 2000),
    ],
)
def test_the_cli_refuses_what_the_api_refuses(
    app: Flask, client: FlaskClient, admin: dict[str, str], field: str, value: str
) -> None:
    body = {**BODY, field: value}
    api = client.post("/api/v1/lti/platforms", json=body, headers=admin)
    assert api.status_code == 422
    result = cli(app, "register", *cli_args(body))
    assert result.exit_code == 2, result.output
    assert field in result.output
    with app.app_context():
        assert db.session.scalar(select(LtiPlatform)) is None


def test_the_cli_registers_lists_updates_and_deletes(app: Flask) -> None:
    registered = cli(app, "register", *cli_args(BODY))
    assert registered.exit_code == 0, registered.output
    (line,) = cli(app, "list", "--json").output.strip().splitlines()
    shown = json.loads(line)
    assert {k: shown[k] for k in BODY} == BODY  # the API's field names
    updated = cli(
        app, "update", str(shown["id"]), "--token-url", "http://127.0.0.1:9/t2",
        "--deployment-id", "d-9",
    )  # fmt: skip
    assert updated.exit_code == 0, updated.output
    refused = cli(app, "update", str(shown["id"]), "--jwks-url", "ftp://x")
    assert refused.exit_code == 2 and "jwks_url" in refused.output
    shown = json.loads(cli(app, "list", "--json").output)
    assert shown["auth_token_url"] == "http://127.0.0.1:9/t2"
    assert shown["deployment_ids"] == ["d-9"]
    assert cli(app, "delete", str(shown["id"]), "--yes").exit_code == 0
    assert cli(app, "list").output == ""
    assert cli(app, "delete", "12345", "--yes").exit_code == 2
