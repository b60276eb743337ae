"""A submission's grade history shows exactly what the submission itself shows: the quiz's review
options decide score, feedback and an override's comment (which may name the answer) in both."""

from __future__ import annotations

import itertools
from typing import Any

from flask.testing import FlaskClient

from tests.service.samples import QUIZZES, WRONG

TIMES = ("immediately", "after_submit", "never")
COMMENT = "The key is b: nothing changes at inference."


def _seen(client: FlaskClient, headers: dict[str, str], submission: int) -> tuple[Any, Any]:
    shown = client.get(f"/api/v1/submissions/{submission}", headers=headers)
    history = client.get(f"/api/v1/submissions/{submission}/grades", headers=headers)
    assert shown.status_code == history.status_code == 200
    return shown.get_json(), history.get_json()


def _agrees(view: dict[str, Any], history: list[dict[str, Any]], review: dict[str, bool]) -> None:
    """The history hides what the submission view hides, and shows the same where it shows."""
    if not review["score"]:
        assert view["score"] is None and history == [], (review, view, history)
        return
    assert [g["score"] for g in history] == [0.0, 1.5], (review, history)
    assert view["score"] == history[-1]["score"]
    if review["feedback"]:
        assert view["feedback"] == history[-1]["feedback"] == "Not quite."
        assert [g["comment"] for g in history] == [None, COMMENT]
    else:
        assert view["feedback"] == "" and view["tests"] == []
        assert [(g["feedback"], g["comment"]) for g in history] == [("", None), ("", None)], (
            review,
            history,
        )


def test_the_grade_history_follows_the_review_options_of_the_submission_view(
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    for number, (score, feedback) in enumerate(itertools.product(TIMES, TIMES)):
        slug = f"rv-{number}"
        review = {"score": score, "feedback": feedback, "explanation": feedback}
        body = {
            "slug": slug,
            "title": "Review",
            "course": "reg-101",
            "questions": ["t-single"],
            "attempt_limit": 1,
            "review": review,
        }
        assert client.post(QUIZZES, json=body, headers=instructor).status_code == 201
        attempt = client.post(f"{QUIZZES}/{slug}/attempts", headers=student).get_json()["id"]
        answered = client.put(
            f"/api/v1/attempts/{attempt}/answers/t-single",
            json={"answer": WRONG["t-single"]},
            headers=student,
        )
        submission = answered.get_json()["id"]
        overridden = client.post(
            f"/api/v1/submissions/{submission}/override",
            json={"score": 1.5, "comment": COMMENT},
            headers=instructor,
        )
        assert overridden.status_code == 200, overridden.get_json()
        for moment in ("during the attempt", "after hand-in"):
            if moment == "after hand-in":
                done = client.post(f"/api/v1/attempts/{attempt}/submit", headers=student)
                assert done.status_code == 200
            shows = client.get(f"/api/v1/attempts/{attempt}", headers=student).get_json()["review"]
            view, history = _seen(client, student, submission)
            _agrees(view, history, shows)
            # Staff see all of it, whatever the options say.
            view, history = _seen(client, instructor, submission)
            _agrees(view, history, {"score": True, "feedback": True})
        # The option never means never: not during the attempt, not after hand-in.
        if feedback == "never":
            assert not shows["feedback"]
        if score == "never":
            assert not shows["score"]
