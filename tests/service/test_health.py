"""Probes, the OpenAPI document, the docs page and the request id."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient

from service.app import create_app
from tests.conftest import PG_ADMIN_URL, make_settings


def test_healthz_needs_no_token(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_when_the_database_answers(client: FlaskClient, backend: str) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["database"]["dialect"] == backend


def test_readyz_is_503_when_the_database_does_not_answer(tmp_path: Path) -> None:
    missing = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/holdout_missing_{uuid.uuid4().hex[:8]}"
    app = create_app(make_settings(missing, tmp_path))
    client = app.test_client()
    assert client.get("/healthz").status_code == 200  # the process is up all the same
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["database"]["error"]  # says why, e.g. the database does not exist


def test_readyz_is_503_for_an_unusable_sqlite_file(tmp_path: Path) -> None:
    app = create_app(make_settings(f"sqlite:///{tmp_path}/no/such/dir/x.db", tmp_path))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert "unable to open" in response.get_json()["checks"]["database"]["error"]


HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def _flask_to_openapi(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_openapi_lists_every_api_route(app: Flask, client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    expected = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/", "/healthz", "/readyz")):
            continue  # HTML pages, LTI launches, static files and the docs themselves
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            expected.add((method.lower(), _flask_to_openapi(rule.rule)))
    documented = {(m, path) for path, ops in paths.items() for m in ops if m in HTTP_METHODS}
    assert expected <= documented, expected - documented
    assert len(expected) >= 27
    # Every API operation says it takes a bearer token and answers errors as problem+json.
    for path, operations in paths.items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            if method not in HTTP_METHODS:
                continue
            assert operation.get("security") == [{"bearerAuth": []}], (method, path)
    problem = document["components"]["responses"]["DEFAULT_ERROR"]["content"]
    assert list(problem) == ["application/problem+json"]


def test_docs_are_served_with_local_assets(client: FlaskClient) -> None:
    response = client.get("/docs", follow_redirects=True)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "/openapi.json" in page
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), asset  # served here, not from a CDN
        fetched = client.get(asset)
        assert fetched.status_code == 200, asset
        assert len(fetched.get_data()) > 0
    for url in re.findall(r"""https?://[^\s"'<>]+""", page):
        assert urlsplit(url).hostname == "localhost", url  # only this server's own address


def test_request_id_is_echoed_or_made(client: FlaskClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    made = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    other = client.get("/healthz")
    assert other.headers["X-Request-ID"] != made.headers["X-Request-ID"]
    too_long = client.get("/healthz", headers={"X-Request-ID": "x" * 500})
    assert re.fullmatch(r"[0-9a-f]{32}", too_long.headers["X-Request-ID"])
