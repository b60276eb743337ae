"""A first pass over the REST API: questions, answers, auth (extended in other modules)."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.helpers import assert_problem

SINGLE = {
    "slug": "dropout-inference",
    "type": "single_choice",
    "title": "Dropout at inference",
    "prompt": "What happens at inference with inverted dropout?",
    "explanation": "Survivors were already scaled in training.",
    "tags": ["dropout"],
    "data": {
        "choices": [
            {"id": "a", "text": "Scale by 1-p", "correct": False},
            {"id": "b", "text": "Nothing", "correct": True},
        ]
    },
}


def test_instructor_creates_and_student_answers(
    client: FlaskClient, instructor: dict[str, str], student: dict[str, str]
) -> None:
    created = client.post("/api/v1/questions", json=SINGLE, headers=instructor)
    assert created.status_code == 201, created.get_json()

    shown = client.get("/api/v1/questions/dropout-inference", headers=student).get_json()
    assert shown["data"] == {
        "choices": [{"id": "a", "text": "Scale by 1-p"}, {"id": "b", "text": "Nothing"}]
    }
    assert "explanation" not in shown

    wrong = client.post(
        "/api/v1/questions/dropout-inference/submissions", json={"answer": "a"}, headers=student
    )
    assert wrong.status_code == 201
    assert wrong.get_json()["score"] == 0
    right = client.post(
        "/api/v1/questions/dropout-inference/submissions", json={"answer": "b"}, headers=student
    )
    body = right.get_json()
    assert (body["status"], body["score"], body["max_score"]) == ("graded", 1.0, 1.0)
    assert body["explanation"] == SINGLE["explanation"]
    assert right.headers["Location"] == f"/api/v1/submissions/{body['id']}"


def test_no_token_is_401(client: FlaskClient) -> None:
    assert_problem(client.get("/api/v1/questions"), 401, "bearer")
