"""One gradebook: credited attempts only (no practice answers, other courses or open attempts in
quiz grades), scores rounded for display only, the same numbers in JSON, CSV and on the page;
regrades count a change of fraction as a change; overrides with a comment."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import assert_problem, bearer
from tests.service.samples import quiz_body
from tests.service.test_assessments_rules import answer, make_quiz, page_client, start

BOOK = "/api/v1/courses/reg-101/gradebook"


def take(client: FlaskClient, headers: dict[str, str], slug: str, answers: dict[str, Any]) -> int:
    attempt = start(client, headers, slug).get_json()["id"]
    for question, value in answers.items():
        assert answer(client, headers, attempt, question, value).status_code == 200
    assert client.post(f"/api/v1/attempts/{attempt}/submit", headers=headers).status_code == 200
    return int(attempt)


def csv_rows(client: FlaskClient, headers: dict[str, str]) -> list[dict[str, str]]:
    text = client.get(BOOK + ".csv", headers=headers).get_data(as_text=True)
    return list(csv.DictReader(io.StringIO(text)))


def test_quiz_grades_hold_only_credited_attempts_of_the_course(
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    token_for: Callable[..., str],
) -> None:
    alice, carol = bearer(token_for("student", "alice")), bearer(token_for("student", "carol"))
    make_quiz(client, instructor, questions=["t-single", "t-true-false"])
    make_quiz(client, instructor, slug="elsewhere", course="other", questions=["t-single"])
    # Practice on its own (right), the other course's quiz (right), then this quiz (wrong).
    client.post("/api/v1/questions/t-single/submissions", json={"answer": "b"}, headers=alice)
    take(client, alice, "elsewhere", {"t-single": "b"})
    take(client, alice, "t-quiz", {"t-single": "a", "t-true-false": True})
    start(client, carol)  # open: counts for nothing yet
    answer(client, carol, start(client, carol).get_json()["id"], "t-single", "b")

    book = client.get(BOOK, headers=instructor).get_json()
    rows = {r["user"]["name"]: r for r in book["students"]}
    assert rows["alice"]["scores"] == {"t-quiz": 1.0}
    assert rows["alice"]["question_scores"] == {"t-single": 0.0, "t-true-false": 1.0}
    assert rows["carol"]["question_scores"] == {"t-single": None, "t-true-false": None}
    assert rows["carol"]["total"] == 0.0
    table = {r["name"]: r for r in csv_rows(client, instructor)}
    assert table["alice"]["question:t-single"] == "0" and table["carol"]["question:t-single"] == ""


def test_scores_are_rounded_where_they_are_shown(
    app: Flask,
    client: FlaskClient,
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    for slug, points in (("tenth", 0.1), ("fifth", 0.2)):
        body = {
            "slug": slug,
            "type": "true_false",
            "title": slug,
            "prompt": "True?",
            "explanation": "Yes.",
            "points": points,
            "data": {"answer": True},
        }
        assert client.post("/api/v1/questions", json=body, headers=instructor).status_code == 201
    make_quiz(client, instructor, questions=["tenth", "fifth"])
    take(client, student, "t-quiz", {"tenth": True, "fifth": True})
    row = client.get(BOOK, headers=instructor).get_json()["students"][0]
    assert (row["scores"]["t-quiz"], row["total"], row["max_total"]) == (0.3, 0.3, 0.3)
    (line,) = csv_rows(client, instructor)
    assert (line["quiz:t-quiz"], line["total"]) == ("0.3", "0.3")
    page = page_client(app, instructor).get("/app/courses/reg-101").get_data(as_text=True)
    assert "0.3 / 0.3" in page and "0.30000000000000004" not in page


def test_a_regrade_from_75_to_100_percent_is_a_change(
    app: Flask, client: FlaskClient, instructor: dict[str, str], student: dict[str, str]
) -> None:
    from service import jobs

    body = {
        "slug": "four-right",
        "type": "multiple_choice",
        "title": "Four right",
        "prompt": "Tick the right ones.",
        "explanation": "a, b, c (and d, before the fix).",
        "points": 4,
        "data": {
            "choices": [
                {"id": c, "text": c.upper(), "correct": c != "e"} for c in ("a", "b", "c", "d", "e")
            ]
        },
    }
    assert client.post("/api/v1/questions", json=body, headers=instructor).status_code == 201
    sent = client.post(
        "/api/v1/questions/four-right/submissions",
        json={"answer": ["a", "b", "c"]},
        headers=student,
    ).get_json()
    assert sent["score"] == 3.0  # 75%
    body["points"] = 3
    body["data"]["choices"][3]["correct"] = False
    assert (
        client.put("/api/v1/questions/four-right", json=body, headers=instructor).status_code == 200
    )
    regrade = client.post("/api/v1/questions/four-right/regrades", json={}, headers=instructor)
    jobs.start_embedded_executor(app)
    try:
        for _ in range(100):
            state = client.get(regrade.headers["Location"], headers=instructor).get_json()
            if state["status"] == "done":
                break
            time.sleep(0.1)
    finally:
        jobs.stop_embedded_executor(app, timeout=10)
    assert (state["status"], state["changed"]) == ("done", 1)
    after = client.get(f"/api/v1/submissions/{sent['id']}", headers=student).get_json()
    assert (after["score"], after["max_score"]) == (3.0, 3.0)  # 100%


def test_an_instructor_overrides_a_score_with_a_comment(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    make_quiz(client, instructor, attempt_limit=1)
    attempt = take(client, student, "t-quiz", {"t-single": "a", "t-true-false": True})
    view = client.get(f"/api/v1/attempts/{attempt}", headers=instructor).get_json()
    assert view["score"] == 1.0
    submissions = client.get("/api/v1/submissions", headers=instructor).get_json()["items"]
    single = next(s for s in submissions if s["question"] == "t-single")
    assert_problem(
        client.post(
            f"/api/v1/submissions/{single['id']}/override",
            json={"score": 2, "comment": "x"},
            headers=student,
        ),
        403,
    )
    assert_problem(
        client.post(
            f"/api/v1/submissions/{single['id']}/override",
            json={"score": 9, "comment": "too much"},
            headers=instructor,
        ),
        422,
        "between 0 and 2",
    )
    done = client.post(
        f"/api/v1/submissions/{single['id']}/override",
        json={"score": 1.5, "comment": "Option a is defensible."},
        headers=instructor,
    )
    assert done.status_code == 200, done.get_json()
    history = client.get(f"/api/v1/submissions/{single['id']}/grades", headers=student).get_json()
    assert [(g["score"], g["comment"]) for g in history] == [
        (0.0, None),
        (1.5, "Option a is defensible."),
    ]
    assert client.get(f"/api/v1/attempts/{attempt}", headers=student).get_json()["score"] == 2.5
    assert client.get(BOOK, headers=instructor).get_json()["students"][0]["total"] == 2.5

    # The pages: the instructor opens the student's attempt and submission, and overrides.
    browser = page_client(app, instructor)
    review = browser.get(f"/app/attempts/{attempt}")
    assert review.status_code == 200 and "alice" in review.get_data(as_text=True)
    as_student = browser.get(f"/app/attempts/{attempt}?view=student").get_data(as_text=True)
    assert "As the student sees it" in as_student
    sub_page = browser.get(f"/app/submissions/{single['id']}")
    html = sub_page.get_data(as_text=True)
    assert sub_page.status_code == 200 and "Option a is defensible." in html
    from tests.service.test_assessments_rules import csrf

    posted = browser.post(
        f"/app/submissions/{single['id']}/override",
        data={"csrf": csrf(html), "score": "2", "comment": "Full marks after all."},
    )
    assert posted.status_code == 303
    assert client.get(BOOK, headers=instructor).get_json()["students"][0]["total"] == 3.0
    # A student opens only their own submission page.
    assert page_client(app, student).get(f"/app/submissions/{single['id']}").status_code == 200


def test_quiz_bodies_round_trip(
    client: FlaskClient, questions: dict[str, Any], instructor: dict[str, str]
) -> None:
    body = quiz_body(
        practice=True,
        review={"score": "immediately", "explanation": "never"},
        shuffle_questions=True,
    )
    assert client.post("/api/v1/quizzes", json=body, headers=instructor).status_code == 201
    shown = client.get("/api/v1/quizzes/t-quiz", headers=instructor).get_json()
    assert shown["review"] == {
        "score": "immediately",
        "feedback": "after_submit",
        "correct_answer": "after_submit",
        "explanation": "never",
    }
    assert (shown["practice"], shown["shuffle_questions"], shown["assessment"]) == (
        True,
        True,
        False,
    )
    bad = quiz_body(review={"score": "sometimes"})
    assert_problem(client.put("/api/v1/quizzes/t-quiz", json=bad, headers=instructor), 422)
