"""Questions over the API: list, filter, get, create, update (versions), archive, and what a student
may see of them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from flask.testing import FlaskClient

from question_bank.loader import Bank
from tests.helpers import assert_problem
from tests.service.samples import ANSWER_KEYS, NUMERIC, QUESTIONS, SINGLE, quiz_body

URL = "/api/v1/questions"


def keys_in(document: Any) -> Iterator[str]:
    """Every object key anywhere in a JSON document."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield key
            yield from keys_in(value)
    elif isinstance(document, list):
        for value in document:
            yield from keys_in(value)


def assert_no_answer_keys(response: Any) -> None:
    assert response.status_code == 200, response.get_json()
    document = response.get_json()
    # A quiz's review options name the parts of a review ("explanation": "after_submit"): they
    # are settings, not the parts themselves.
    for quiz in document.get("items", [document]) if isinstance(document, dict) else []:
        if isinstance(quiz, dict):
            quiz.pop("review", None)
    text = json.dumps(document)
    for key in ANSWER_KEYS:
        assert f'"{key}":' not in text, f"{key} shown to a student: {text[:500]}"
    assert not set(keys_in(document)) & set(ANSWER_KEYS)


# --- list -------------------------------------------------------------------------------------


def test_list_is_paginated_by_slug(
    client: FlaskClient, questions: dict[str, Any], student: dict[str, str]
) -> None:
    slugs = sorted(QUESTIONS)
    first = client.get(f"{URL}?page_size=4", headers=student).get_json()
    assert (first["page"], first["page_size"], first["total"], first["pages"]) == (1, 4, 6, 2)
    assert [q["slug"] for q in first["items"]] == slugs[:4]
    second = client.get(f"{URL}?page=2&page_size=4", headers=student).get_json()
    assert [q["slug"] for q in second["items"]] == slugs[4:]
    assert second["page"] == 2
    beyond = client.get(f"{URL}?page=3&page_size=4", headers=student).get_json()
    assert beyond["items"] == [] and beyond["total"] == 6
    item = first["items"][0]
    assert {"slug", "type", "title", "points", "tags", "version"} <= set(item)


def test_list_default_page_size_is_20(
    client: FlaskClient, bank: Bank, student: dict[str, str]
) -> None:
    page = client.get(URL, headers=student).get_json()
    assert page["page_size"] == 20 and len(page["items"]) == 20
    assert page["total"] == len(bank.questions)
    assert page["pages"] == -(-len(bank.questions) // 20)


def test_list_filters_by_type_and_tag(
    client: FlaskClient, questions: dict[str, Any], student: dict[str, str]
) -> None:
    def slugs(query: str) -> list[str]:
        response = client.get(f"{URL}?{query}", headers=student)
        assert response.status_code == 200, response.get_json()
        return [q["slug"] for q in response.get_json()["items"]]

    assert slugs("type=numeric") == ["t-numeric", "t-numeric-rel"]
    assert slugs("type=true_false") == ["t-true-false"]
    assert slugs("tag=dropout") == ["t-numeric", "t-single"]
    assert slugs("tag=inference") == ["t-single"]
    assert slugs("tag=drop") == []  # a whole tag, not a prefix
    assert slugs("type=numeric&tag=dropout") == ["t-numeric"]
    assert slugs("type=code") == []


def test_list_rejects_unknown_type(client: FlaskClient, student: dict[str, str]) -> None:
    assert_problem(client.get(f"{URL}?type=essay", headers=student), 422, "type")
    assert_problem(client.get(f"{URL}?page_size=1000", headers=student), 422, "page_size")


# --- get, create, update, delete ---------------------------------------------------------------


def test_instructor_gets_the_question_in_full(
    client: FlaskClient, questions: dict[str, Any], instructor: dict[str, str]
) -> None:
    shown = client.get(f"{URL}/t-single", headers=instructor).get_json()
    assert shown["data"]["choices"] == SINGLE["data"]["choices"]
    assert shown["explanation"] == SINGLE["explanation"]
    assert (shown["prompt"], shown["points"], shown["version"]) == (SINGLE["prompt"], 2.0, 1)
    assert shown["tags"] == SINGLE["tags"]


def test_unknown_slug_is_404(client: FlaskClient, student: dict[str, str]) -> None:
    assert_problem(client.get(f"{URL}/no-such-question", headers=student), 404, "no-such-question")


def test_create_defaults_and_conflict(
    client: FlaskClient, instructor: dict[str, str], row_counts: Callable[[], dict[str, int]]
) -> None:
    body = {k: v for k, v in NUMERIC.items() if k not in ("points", "tags")}
    created = client.post(URL, json=body, headers=instructor)
    assert created.status_code == 201, created.get_json()
    shown = created.get_json()
    assert (shown["points"], shown["tags"], shown["version"]) == (1.0, [], 1)
    assert shown["data"]["tolerance"] == {"abs": 0.01, "rel": 0.0}
    before = row_counts()
    assert_problem(client.post(URL, json=body, headers=instructor), 409, "already exists")
    assert row_counts() == before


def test_students_and_lms_cannot_write_questions(
    client: FlaskClient,
    questions: dict[str, Any],
    student: dict[str, str],
    lms: dict[str, str],
    row_counts: Callable[[], dict[str, int]],
) -> None:
    before = row_counts()
    new = {**SINGLE, "slug": "t-new"}
    for who in (student, lms):
        assert_problem(client.post(URL, json=new, headers=who), 403, "instructor")
        assert_problem(client.put(f"{URL}/t-single", json=SINGLE, headers=who), 403, "instructor")
        assert_problem(client.delete(f"{URL}/t-single", headers=who), 403, "instructor")
    assert row_counts() == before
    assert client.get(f"{URL}/t-single", headers=student).status_code == 200


def put(client: FlaskClient, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = client.put(f"{URL}/t-single", json={**SINGLE, **changes}, headers=headers)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_versions_follow_grading_changes_only(
    client: FlaskClient, questions: dict[str, Any], instructor: dict[str, str]
) -> None:
    assert put(client, instructor)["version"] == 1  # unchanged
    typo = put(client, instructor, prompt="What happens at inference with inverted dropout??")
    assert typo["version"] == 1 and typo["prompt"].endswith("??")
    assert put(client, instructor, title="Renamed", tags=["x"], explanation="New.")["version"] == 1
    assert put(client, instructor, points=3)["version"] == 2
    flipped = [{**c, "correct": c["id"] == "c"} for c in SINGLE["data"]["choices"]]  # a new key
    changed = put(client, instructor, points=3, data={"choices": flipped})
    assert changed["version"] == 3
    assert client.get(f"{URL}/t-single", headers=instructor).get_json()["version"] == 3


def test_old_submissions_keep_their_version(
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    first = client.post(f"{URL}/t-single/submissions", json={"answer": "b"}, headers=student)
    assert first.get_json()["question_version"] == 1
    flipped = [{**c, "correct": c["id"] == "c"} for c in SINGLE["data"]["choices"]]
    put(client, instructor, data={"choices": flipped})
    second = client.post(f"{URL}/t-single/submissions", json={"answer": "b"}, headers=student)
    assert (second.get_json()["question_version"], second.get_json()["score"]) == (2, 0.0)
    again = client.get(f"/api/v1/submissions/{first.get_json()['id']}", headers=student)
    assert (again.get_json()["question_version"], again.get_json()["score"]) == (1, 2.0)


def test_put_checks_the_slug_and_the_data(
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    row_counts: Callable[[], dict[str, int]],
) -> None:
    before = row_counts()
    other = {**SINGLE, "slug": "t-other"}
    assert_problem(client.put(f"{URL}/t-single", json=other, headers=instructor), 422, "slug")
    bad = {**SINGLE, "data": {"choices": [{"id": "a", "text": "A", "correct": True}]}}
    assert_problem(client.put(f"{URL}/t-single", json=bad, headers=instructor), 422, "choices")
    missing = client.put(
        f"{URL}/t-missing", json={**SINGLE, "slug": "t-missing"}, headers=instructor
    )
    assert_problem(missing, 404, "t-missing")
    assert row_counts() == before
    assert client.get(f"{URL}/t-single", headers=instructor).get_json()["version"] == 1


def test_delete_archives_and_keeps_submissions(
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    answered = client.post(f"{URL}/t-single/submissions", json={"answer": "b"}, headers=student)
    submission = answered.get_json()["id"]

    assert client.delete(f"{URL}/t-single", headers=instructor).status_code == 204
    assert_problem(client.get(f"{URL}/t-single", headers=student), 404, "t-single")
    listed = client.get(URL, headers=student).get_json()
    assert "t-single" not in [q["slug"] for q in listed["items"]] and listed["total"] == 5
    late = client.post(f"{URL}/t-single/submissions", json={"answer": "b"}, headers=student)
    assert_problem(late, 404, "t-single")
    kept = client.get(f"/api/v1/submissions/{submission}", headers=student)
    assert kept.status_code == 200
    assert (kept.get_json()["question"], kept.get_json()["score"]) == ("t-single", 2.0)
    # The slug stays taken; replacing the question brings it back.
    assert_problem(client.post(URL, json=SINGLE, headers=instructor), 409, "t-single")
    assert client.put(f"{URL}/t-single", json=SINGLE, headers=instructor).status_code == 200
    assert client.get(f"{URL}/t-single", headers=student).status_code == 200


def test_archived_question_cannot_join_a_new_quiz(
    client: FlaskClient, questions: dict[str, Any], instructor: dict[str, str]
) -> None:
    client.delete(f"{URL}/t-single", headers=instructor)
    refused = client.post("/api/v1/quizzes", json=quiz_body(), headers=instructor)
    assert_problem(refused, 422, "t-single")


# --- what a student sees ------------------------------------------------------------------------


def test_student_sees_no_answer_keys_anywhere(
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
    lms: dict[str, str],
) -> None:
    assert client.post("/api/v1/quizzes", json=quiz_body(), headers=instructor).status_code == 201
    for who in (student, lms):
        for slug in QUESTIONS:
            assert_no_answer_keys(client.get(f"{URL}/{slug}", headers=who))
        assert_no_answer_keys(client.get(URL, headers=who))
        assert_no_answer_keys(client.get("/api/v1/quizzes/t-quiz", headers=who))
        assert_no_answer_keys(client.get("/api/v1/quizzes", headers=who))
    # What the student does need is there.
    shown = client.get(f"{URL}/t-single", headers=student).get_json()
    assert shown["data"] == {
        "choices": [{"id": c["id"], "text": c["text"]} for c in SINGLE["data"]["choices"]]
    }
    assert shown["prompt"] == SINGLE["prompt"]
    assert client.get(f"{URL}/t-numeric", headers=student).get_json()["data"] == {"unit": "units"}
    # And the check above can fail: an instructor does get the keys.
    full = json.dumps(client.get(f"{URL}/t-single", headers=instructor).get_json())
    assert '"correct":' in full and '"explanation":' in full


def test_student_sees_no_answer_keys_in_the_bundled_bank(
    client: FlaskClient, bank: Bank, student: dict[str, str]
) -> None:
    for quiz in bank.quizzes:
        assert_no_answer_keys(client.get(f"/api/v1/quizzes/{quiz['slug']}", headers=student))
    for question in bank.questions[:10]:
        assert_no_answer_keys(client.get(f"{URL}/{question['slug']}", headers=student))
