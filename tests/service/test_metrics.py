"""/metrics in Prometheus format for operators only, and /readyz's details likewise."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app
from tests.conftest import make_settings
from tests.helpers import assert_problem, bearer

ELSEWHERE = {"REMOTE_ADDR": "203.0.113.7"}  # a client on another machine
VIA_PROXY = {"X-Forwarded-For": "203.0.113.7"}  # nginx on this machine, for someone else


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_requests_by_route_and_read_the_queue(
    client: FlaskClient, student: dict[str, str]
) -> None:
    for _ in range(3):
        assert client.get("/api/v1/questions", headers=student).status_code == 200
    assert client.get("/api/v1/questions/nope", headers=student).status_code == 404
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    found = samples(response.get_data(as_text=True))
    listed = (
        "holdout_http_requests_total",
        (("endpoint", "/api/v1/questions"), ("method", "GET"), ("status", "200")),
    )
    assert found[listed] >= 3  # the process's counters live as long as it does
    missing = (
        "holdout_http_requests_total",
        (("endpoint", "/api/v1/questions/<slug>"), ("method", "GET"), ("status", "404")),
    )
    assert found[missing] >= 1  # by route, never by raw path
    assert found[("holdout_queue_depth", ())] == 0
    assert found[("holdout_submissions", (("status", "queued"),))] == 0
    timed = ("holdout_http_request_duration_seconds_count", (("endpoint", "/api/v1/questions"),))
    assert found[timed] >= 3
    assert any(name == "holdout_oldest_queued_seconds" for name, _ in found)


def test_metrics_and_readiness_details_are_for_operators(app: Flask, tmp_path: Path) -> None:
    client = app.test_client()
    assert_problem(client.get("/metrics", environ_base=ELSEWHERE), 401, "HOLDOUT_METRICS_TOKEN")
    assert client.get("/metrics", headers=VIA_PROXY).status_code == 401
    assert client.get("/metrics").status_code == 200  # directly from this machine

    public = client.get("/readyz", environ_base=ELSEWHERE)
    assert public.status_code == 200 and public.get_json() == {"status": "ready"}
    assert client.get("/readyz", headers=VIA_PROXY).get_json() == {"status": "ready"}
    assert "database" in client.get("/readyz").get_json()["checks"]

    settings = dataclasses.replace(
        make_settings(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path), metrics_token="s3cret"
    )
    guarded = create_app(settings).test_client()
    token = bearer("s3cret")
    assert guarded.get("/metrics", headers=token, environ_base=ELSEWHERE).status_code == 200
    wrong = guarded.get("/metrics", headers=bearer("guess"), environ_base=ELSEWHERE)
    assert wrong.status_code == 401
    detailed = guarded.get("/readyz", headers={**token, **VIA_PROXY})
    assert detailed.get_json()["checks"]["database"]["ok"] is True
