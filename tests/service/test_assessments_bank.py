"""`bank load` seeds a database and never loses an instructor's edit; edits are revisions that
can be restored."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from question_bank.loader import BUNDLED_DIR, load_bank
from service.bank import LoadSummary, load_bank_into_db
from service.models import db
from tests.helpers import assert_problem


def load(app: Flask, force: bool = False) -> LoadSummary:
    bank = load_bank(BUNDLED_DIR)
    with app.app_context():
        summary = load_bank_into_db(bank, [], force=force)
        db.session.commit()
        return summary


QUIZ = "/api/v1/quizzes/regularization-final"
SLUG = "final-dropout-train-and-eval"  # a question of the final, and of no other quiz
QUESTION = f"/api/v1/questions/{SLUG}"


def edit_quiz(client: FlaskClient, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    quiz = client.get(QUIZ, headers=headers).get_json()
    keys = ("slug", "title", "course", "attempt_limit", "time_limit_minutes", "late_penalty")
    body = {k: quiz[k] for k in keys} | {"questions": [q["slug"] for q in quiz["questions"]]}
    response = client.put(QUIZ, json=body | changes, headers=headers)
    assert response.status_code == 200, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def test_bank_load_never_overwrites_an_edit_unless_forced(
    app: Flask, client: FlaskClient, instructor: dict[str, str]
) -> None:
    first = load(app)
    assert "quiz regularization-final" in first.created and not first.kept
    edit_quiz(
        client,
        instructor,
        title="Final (edited)",
        attempt_limit=5,
        due_at="2099-01-01T00:00:00+00:00",
        late_penalty=0.2,
    )
    question = client.get(QUESTION, headers=instructor).get_json()
    body = {k: question[k] for k in ("type", "prompt", "explanation", "tags", "data")}
    body |= {"title": "Edited title", "points": 3}
    assert client.put(QUESTION, json=body, headers=instructor).status_code == 200

    again = load(app)  # what `make serve` does on every start
    kept = dict(again.kept)
    assert "edited through the API" in kept["quiz regularization-final"]
    assert "edited through the API" in kept[f"question {SLUG}"]
    assert not again.updated and not again.overwritten
    quiz = client.get(QUIZ, headers=instructor).get_json()
    assert (quiz["title"], quiz["attempt_limit"], quiz["late_penalty"]) == (
        "Final (edited)",
        5,
        0.2,
    )
    assert quiz["due_at"].startswith("2099-01-01")
    shown = client.get(QUESTION, headers=instructor).get_json()
    assert (shown["title"], shown["points"]) == ("Edited title", 3.0)

    forced = load(app, force=True)
    assert {label for label, _ in forced.overwritten} == {
        "quiz regularization-final",
        f"question {SLUG}",
    }
    assert client.get(QUIZ, headers=instructor).get_json()["attempt_limit"] == 2


def test_items_made_through_the_api_are_not_the_banks(
    app: Flask, client: FlaskClient, instructor: dict[str, str]
) -> None:
    body = {
        "slug": SLUG,
        "type": "true_false",
        "title": "Mine",
        "prompt": "Mine?",
        "explanation": "Yes.",
        "data": {"answer": True},
    }
    assert client.post("/api/v1/questions", json=body, headers=instructor).status_code == 201
    summary = load(app)
    assert "not created by the bank" in dict(summary.kept)[f"question {SLUG}"]
    assert client.get(QUESTION, headers=instructor).get_json()["title"] == "Mine"


def test_edits_are_revisions_and_a_revision_can_be_restored(
    app: Flask, client: FlaskClient, instructor: dict[str, str], student: dict[str, str]
) -> None:
    load(app)
    edit_quiz(client, instructor, title="Second title")
    edit_quiz(client, instructor, title="Third title", attempt_limit=9)
    listed = client.get(f"{QUIZ}/revisions", headers=instructor).get_json()
    assert [(r["number"], r["source"], r["fields"]["title"]) for r in listed] == [
        (1, "bank", "Regularization final: choosing the right tools"),
        (2, "api", "Second title"),
        (3, "api", "Third title"),
    ]
    restored = client.post(f"{QUIZ}/revisions/2/restore", headers=instructor)
    assert restored.status_code == 200, restored.get_json()
    assert (restored.get_json()["title"], restored.get_json()["attempt_limit"]) == (
        "Second title",
        2,
    )
    assert client.get(f"{QUIZ}/revisions", headers=instructor).get_json()[-1]["source"] == (
        "restore"
    )
    assert_problem(client.post(f"{QUIZ}/revisions/99/restore", headers=instructor), 404)
    assert_problem(client.get(f"{QUIZ}/revisions", headers=student), 403)

    question = client.get(QUESTION, headers=instructor).get_json()
    body = {k: question[k] for k in ("type", "prompt", "explanation", "tags", "data", "points")}
    client.put(QUESTION, json=body | {"title": "Changed"}, headers=instructor)
    back = client.post(f"{QUESTION}/revisions/1/restore", headers=instructor).get_json()
    assert back["title"] == question["title"]
    # A restore is an edit too: the next `bank load` keeps it.
    assert f"question {SLUG}" in dict(load(app).kept)
