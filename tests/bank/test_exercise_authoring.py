"""Instructors post code exercises over the API; each is proven in the sandbox before it is
accepted. Students see the prompt, starter code and visible tests, never the rest."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from grader import load_exercise
from question_bank.loader import BUNDLED_DIR
from tests.helpers import assert_problem

DROPOUT = load_exercise(BUNDLED_DIR / "exercises" / "dropout")


def exercise_question(slug: str, **changes: Any) -> dict[str, Any]:
    exercise = {**DROPOUT.to_dict(), "slug": slug, **changes}
    return {
        "slug": slug,
        "type": "code",
        "title": "Inverted dropout (my version)",
        "prompt": DROPOUT.prompt,
        "explanation": "Scale the survivors by 1/(1-p).",
        "points": DROPOUT.max_score,
        "data": {"exercise": exercise},
    }


def test_a_sound_exercise_is_accepted_and_students_see_only_what_they_may(
    app: Flask, client: FlaskClient, instructor: dict[str, str], student: dict[str, str]
) -> None:
    created = client.post(
        "/api/v1/questions", json=exercise_question("my-dropout"), headers=instructor
    )
    assert created.status_code == 201, created.get_json()

    shown = client.get("/api/v1/questions/my-dropout", headers=student)
    body = shown.get_json()
    assert body["data"]["starter_code"] == DROPOUT.starter
    assert body["data"]["entry"]["name"] == "dropout"
    hidden = [t for t in body["data"]["tests"] if t.get("hidden")]
    visible = [t for t in body["data"]["tests"] if not t.get("hidden")]
    assert hidden and all(set(t) == {"name", "points", "hidden"} for t in hidden)
    assert visible and all("steps" in t for t in visible)
    text = shown.get_data(as_text=True)
    assert DROPOUT.reference not in text
    assert "mutants" not in text and "equivalents" not in text
    for name in DROPOUT.mutants:
        assert name not in text


def test_an_exercise_whose_reference_is_wrong_is_refused_with_a_report(
    client: FlaskClient, instructor: dict[str, str]
) -> None:
    broken = DROPOUT.mutants["no_scaling.py"]
    response = client.post(
        "/api/v1/questions",
        json=exercise_question("broken-dropout", reference=broken),
        headers=instructor,
    )
    body = assert_problem(response, 422, "failed its own checks")
    assert any("reference" in p for p in body["errors"]["exercise"])
    assert client.get("/api/v1/questions/broken-dropout", headers=instructor).status_code == 404


def test_a_mutant_that_passes_is_refused(client: FlaskClient, instructor: dict[str, str]) -> None:
    # A "known-wrong" answer that is in fact the reference proves nothing about the tests.
    header = "# expect: survivors are scaled by 1/(1-p): x / (1 - p)\n"
    mutants = {"not_really_wrong.py": header + DROPOUT.reference}
    response = client.post(
        "/api/v1/questions",
        json=exercise_question("weak-dropout", mutants=mutants),
        headers=instructor,
    )
    body = assert_problem(response, 422)
    assert "not_really_wrong.py" in json.dumps(body["errors"])


def test_an_exercise_that_breaks_the_spec_is_refused_at_once(
    client: FlaskClient, instructor: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/questions",
        json=exercise_question("bad-spec", tests=[{"name": "x", "steps": [{"call": 5}]}]),
        headers=instructor,
    )
    assert_problem(response, 422, "invalid exercise")


def test_changing_only_the_prompt_keeps_the_version_but_new_tests_make_one(
    client: FlaskClient, instructor: dict[str, str]
) -> None:
    question = exercise_question("versioned-dropout")
    assert client.post("/api/v1/questions", json=question, headers=instructor).status_code == 201
    reworded = {**question, "data": {"exercise": {**question["data"]["exercise"], "prompt": "New"}}}
    response = client.put("/api/v1/questions/versioned-dropout", json=reworded, headers=instructor)
    assert response.get_json()["version"] == 1
    fewer = question["data"]["exercise"]["tests"][:-1]
    points = sum(t["points"] for t in fewer)
    retested = {
        **question,
        "points": points,
        "data": {"exercise": {**question["data"]["exercise"], "tests": fewer, "points": points}},
    }
    response = client.put("/api/v1/questions/versioned-dropout", json=retested, headers=instructor)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["version"] == 2
