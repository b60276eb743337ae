"""Every date and time the API takes in (bodies, query strings, forms) is an aware UTC datetime
or a 422: a value with no UTC equivalent (0001-01-01T00:00+14:00 is before year 1 in UTC,
9999-12-31T23:59:59-12:00 after year 9999) is invalid input, never an overflow when stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from marshmallow import Schema, ValidationError, fields

from tests.helpers import assert_problem
from tests.service.test_assessments_rules import csrf, page_client

NO_UTC_EQUIVALENT = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00")


def _fields_of(schema: Schema, path: str) -> Iterator[tuple[str, fields.Field]]:
    for name, field in schema.load_fields.items():
        yield from _walk(field, f"{path}.{name}")


def _walk(field: Any, path: str) -> Iterator[tuple[str, fields.Field]]:
    yield path, field
    if isinstance(field, fields.Nested):
        yield from _fields_of(field.schema, path)
    elif isinstance(field, fields.List):
        yield from _walk(field.inner, f"{path}[]")
    elif isinstance(field, fields.Tuple):
        for i, inner in enumerate(field.tuple_fields):
            yield from _walk(inner, f"{path}[{i}]")
    elif isinstance(field, fields.Dict) and field.value_field is not None:
        yield from _walk(field.value_field, f"{path}{{}}")


def loaded_datetime_fields(app: Flask) -> dict[str, fields.DateTime]:
    """Every date-time field of every schema an endpoint of the app loads, by where it is."""
    found: dict[str, fields.DateTime] = {}
    for endpoint, view in sorted(app.view_functions.items()):
        arguments = getattr(view, "_apidoc", {}).get("arguments") or {}
        for parameter in arguments.get("parameters", []):
            schema = parameter["schema"]
            schema = schema() if isinstance(schema, type) else schema
            where = f"{endpoint}:{parameter['in']}"
            for path, field in _fields_of(schema, where):
                if isinstance(field, fields.DateTime):
                    found[path] = field
    return found


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_every_date_time_input_is_utc_or_invalid(app: Flask) -> None:
    found = loaded_datetime_fields(app)
    # The walk sees the known ones (so it is not vacuous), and whatever is added later.
    for known in (
        "quizzes.create_quiz:json.closes_at",
        "quizzes.update_quiz:json.opens_at",
        "quizzes.put_extension:json.due_at",
    ):
        assert known in found, sorted(found)
    for path, field in found.items():
        for value in NO_UTC_EQUIVALENT:
            with pytest.raises(ValidationError):
                field.deserialize(value)
                pytest.fail(f"{path} took {value}")
        moment = field.deserialize("2030-06-01T12:00:00+02:00")
        assert moment == datetime(2030, 6, 1, 10, tzinfo=UTC), path
        assert moment.utcoffset() == timedelta(0), path
        with pytest.raises(ValidationError):  # naive: which zone would it be in?
            field.deserialize("2030-06-01T12:00:00")


@pytest.fixture
def quiz(client: FlaskClient, questions: Any, instructor: dict[str, str]) -> str:
    body = {"slug": "dq", "title": "Dates", "course": "reg-101", "questions": ["t-single"]}
    assert client.post("/api/v1/quizzes", json=body, headers=instructor).status_code == 201
    return "dq"


@pytest.mark.parametrize("value", NO_UTC_EQUIVALENT)
def test_an_extension_due_date_without_a_utc_equivalent_is_a_422(
    client: FlaskClient,
    quiz: str,
    instructor: dict[str, str],
    student: dict[str, str],
    value: str,
) -> None:
    me = client.get("/api/v1/me", headers=student).get_json()["id"]
    path = f"/api/v1/quizzes/{quiz}/extensions/{me}"
    problem = assert_problem(client.put(path, json={"due_at": value}, headers=instructor), 422)
    assert "due_at" in problem["errors"], problem
    assert client.get(f"/api/v1/quizzes/{quiz}/extensions", headers=instructor).get_json() == []
    # The same field as the quiz's own dates, with the same answer.
    body = {"slug": quiz, "title": "Dates", "course": "reg-101", "questions": ["t-single"]}
    put_quiz = client.put(
        f"/api/v1/quizzes/{quiz}", json={**body, "closes_at": value}, headers=instructor
    )
    assert_problem(put_quiz, 422)
    # An offset other than UTC is converted, not dropped.
    given = client.put(
        path, json={"due_at": "2099-01-01T12:00:00+05:00"}, headers=instructor
    ).get_json()
    assert datetime.fromisoformat(given["due_at"]) == datetime(2099, 1, 1, 7, tzinfo=UTC)


def test_the_extension_form_reads_its_date_as_the_api_does(
    app: Flask, client: FlaskClient, quiz: str, instructor: dict[str, str], student: dict[str, str]
) -> None:
    me = client.get("/api/v1/me", headers=student).get_json()["id"]
    browser = page_client(app, instructor)
    token = csrf(browser.get(f"/app/quizzes/{quiz}").get_data(as_text=True))
    for value in NO_UTC_EQUIVALENT:
        posted = browser.post(
            f"/app/quizzes/{quiz}/extensions", data={"csrf": token, "user": me, "due_at": value}
        )
        assert posted.status_code == 422, posted.get_data(as_text=True)[:300]
    # The form's own value has no offset: UTC; one with an offset is converted.
    for value, meant in (
        ("2099-01-01T12:00", datetime(2099, 1, 1, 12, tzinfo=UTC)),
        ("2099-01-01T12:00+05:00", datetime(2099, 1, 1, 7, tzinfo=UTC)),
    ):
        posted = browser.post(
            f"/app/quizzes/{quiz}/extensions", data={"csrf": token, "user": me, "due_at": value}
        )
        assert posted.status_code == 303
        listed = client.get(f"/api/v1/quizzes/{quiz}/extensions", headers=instructor).get_json()
        assert datetime.fromisoformat(listed[0]["due_at"]) == meant
