"""Malformed requests: problem+json with a useful detail and the right 4xx, and nothing written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.helpers import PROBLEM_JSON, assert_problem
from tests.service.samples import SINGLE, quiz_body

QUESTIONS = "/api/v1/questions"


@pytest.fixture
def unchanged(
    questions: dict[str, Any], row_counts: Callable[[], dict[str, int]]
) -> Callable[[], None]:
    """Call at the end of a test: no table gained or lost a row since the fixture ran."""
    before = row_counts()

    def check() -> None:
        assert row_counts() == before

    return check


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"points": "many"}, ["points", "number"]),
        ({"points": -1}, ["points"]),
        ({"tags": "dropout"}, ["tags", "list"]),
        ({"tags": ["Not A Tag"]}, ["tags"]),
        ({"title": 42}, ["title", "string"]),
        ({"slug": "Bad Slug!"}, ["slug"]),
        ({"type": "essay"}, ["type"]),
        ({"data": "choices"}, ["data"]),
        ({"data": {"choices": [{"id": "a", "text": "A", "correct": "yes"}] * 2}}, ["correct"]),
        ({"data": {"choices": SINGLE["data"]["choices"][:1]}}, ["choices", "length"]),
        ({"data": {"choices": SINGLE["data"]["choices"], "hint": "b"}}, ["hint", "unknown"]),
        ({"colour": "red"}, ["colour", "unknown"]),
        ({"prompt": "tab\x00nul"}, ["nul"]),
    ],
)
def test_invalid_question_bodies_are_422(
    client: FlaskClient,
    instructor: dict[str, str],
    unchanged: Callable[[], None],
    change: dict[str, Any],
    words: list[str],
) -> None:
    body = {**SINGLE, "slug": "t-new", **change}
    assert_problem(client.post(QUESTIONS, json=body, headers=instructor), 422, *words)
    assert_problem(client.put(f"{QUESTIONS}/t-single", json=body, headers=instructor), 422)
    unchanged()


def test_missing_fields_are_named(
    client: FlaskClient, instructor: dict[str, str], unchanged: Callable[[], None]
) -> None:
    body = assert_problem(client.post(QUESTIONS, json={}, headers=instructor), 422, "slug", "title")
    assert {"slug", "type", "title", "prompt", "explanation", "data"} <= set(body["errors"])
    unchanged()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", QUESTIONS),
        ("POST", f"{QUESTIONS}/t-single/submissions"),
        ("POST", "/api/v1/quizzes"),
        ("PUT", f"{QUESTIONS}/t-single"),
        ("POST", "/api/v1/tokens"),
    ],
)
@pytest.mark.parametrize("text", ['{"answer": ', "{'answer': 'b'}", "[1, 2", "\xff\xfe", "nan"])
def test_invalid_json_is_400(
    client: FlaskClient,
    admin: dict[str, str],
    unchanged: Callable[[], None],
    method: str,
    path: str,
    text: str,
) -> None:
    response = client.open(
        path,
        method=method,
        data=text.encode("latin-1"),
        content_type="application/json",
        headers=admin,
    )
    assert_problem(response, 400, "invalid json")
    unchanged()


def test_a_huge_integer_is_bad_json_not_a_crash(
    client: FlaskClient, student: dict[str, str], unchanged: Callable[[], None]
) -> None:
    text = '{"answer": ' + "9" * 5000 + "}"
    response = client.post(
        f"{QUESTIONS}/t-numeric/submissions",
        data=text,
        content_type="application/json",
        headers=student,
    )
    assert_problem(response, 400, "invalid json")
    unchanged()


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_wrong_content_type_is_415(
    client: FlaskClient,
    student: dict[str, str],
    unchanged: Callable[[], None],
    content_type: str,
) -> None:
    response = client.post(
        f"{QUESTIONS}/t-single/submissions",
        data='{"answer": "b"}',
        content_type=content_type,
        headers=student,
    )
    assert_problem(response, 415, "application/json")
    unchanged()


def test_body_without_content_type_is_415(
    client: FlaskClient, student: dict[str, str], unchanged: Callable[[], None]
) -> None:
    response = client.post(
        f"{QUESTIONS}/t-single/submissions", data=b'{"answer": "b"}', headers=student
    )
    assert_problem(response, 415, "application/json")
    unchanged()


def test_five_mib_body_is_413(
    client: FlaskClient,
    instructor: dict[str, str],
    student: dict[str, str],
    unchanged: Callable[[], None],
) -> None:
    huge = '{"answer": "' + "x" * (5 * 1024 * 1024) + '"}'
    response = client.post(
        f"{QUESTIONS}/t-short-text/submissions",
        data=huge,
        content_type="application/json",
        headers=student,
    )
    assert_problem(response, 413, "larger than")
    big_question = {**SINGLE, "slug": "t-big", "prompt": "p" * (5 * 1024 * 1024)}
    assert_problem(client.post(QUESTIONS, json=big_question, headers=instructor), 413)
    unchanged()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (f"{QUESTIONS}/t-single/submissions", {"answer": "b", "user": 1}, "user"),
        (f"{QUESTIONS}/t-single/submissions", {"answr": "b"}, "answr"),
        ("/api/v1/quizzes", {**quiz_body(), "secret": True}, "secret"),
        ("/api/v1/tokens", {"name": "x", "role": "student", "admin": True}, "admin"),
        ("/api/v1/courses", {"slug": "c-1", "title": "C", "owner": "me"}, "owner"),
    ],
)
def test_unknown_fields_are_422(
    client: FlaskClient,
    admin: dict[str, str],
    unchanged: Callable[[], None],
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    assert_problem(client.post(path, json=body, headers=admin), 422, field)
    unchanged()


@pytest.mark.parametrize("body", [[], "b", None, 3, {"answer": None}, {}])
def test_answer_body_must_be_an_object_with_an_answer(
    client: FlaskClient, student: dict[str, str], unchanged: Callable[[], None], body: Any
) -> None:
    response = client.post(f"{QUESTIONS}/t-single/submissions", json=body, headers=student)
    assert_problem(response, 422)
    unchanged()


def test_unknown_slugs_are_404_and_named(
    client: FlaskClient, student: dict[str, str], unchanged: Callable[[], None]
) -> None:
    for path in (
        f"{QUESTIONS}/no-such-q",
        "/api/v1/quizzes/no-such-q",
        "/api/v1/courses/no-such-q",
    ):
        assert_problem(client.get(path, headers=student), 404, "no-such-q")
    answered = client.post(
        f"{QUESTIONS}/no-such-q/submissions", json={"answer": "b"}, headers=student
    )
    assert_problem(answered, 404, "no-such-q")
    unchanged()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/submissions/99999999999999999999",
        "/api/v1/attempts/99999999999999999999",
        f"{QUESTIONS}/a%00b",
        "/api/v1/quizzes/a%00b",
        "/api/v1/courses/a%00b/gradebook",
    ],
)
def test_ids_and_slugs_no_row_can_have_are_404(
    client: FlaskClient, instructor: dict[str, str], path: str
) -> None:
    assert_problem(client.get(path, headers=instructor), 404)


def test_out_of_range_query_values_are_422(client: FlaskClient, instructor: dict[str, str]) -> None:
    for query in ("user=99999999999999999999", "user=0", "page=0", "page_size=0", "page=x"):
        assert_problem(client.get(f"/api/v1/submissions?{query}", headers=instructor), 422)


def test_unknown_routes_and_methods_are_problems(
    client: FlaskClient, student: dict[str, str]
) -> None:
    assert_problem(client.get("/api/v1/nothing-here", headers=student), 404)
    response = client.patch(f"{QUESTIONS}/t-single", json={}, headers=student)
    assert_problem(response, 405)
    assert "PUT" in response.headers["Allow"]


def test_every_problem_names_its_request(client: FlaskClient) -> None:
    response = client.get("/api/v1/me", headers={"X-Request-ID": "trace-123"})
    assert response.mimetype == PROBLEM_JSON
    assert response.get_json()["request_id"] == "trace-123"
    assert response.get_json()["title"] == "Unauthorized"
