"""The question list's per-process cache: writes and revocations here take effect at once,
changes made elsewhere within HOLDOUT_CACHE_SECONDS, and a token never gets another's answer."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from flask import Flask
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
