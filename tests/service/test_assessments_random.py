"""Randomisation: choices shuffled per student and attempt (answers by choice id), question order
per attempt, pools drawn from a tagged set, and variants (parameters with a formula for the
answer) graded with each student's own values; through the API and the pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import assert_problem, bearer
from tests.service.test_assessments_rules import answer, make_quiz, page_client, start

SIX: dict[str, Any] = {
    "slug": "six-choices",
    "type": "single_choice",
    "title": "Six choices",
    "prompt": "Which one?",
    "explanation": "C.",
    "points": 1,
    "tags": ["pool-six"],
    "data": {
        "shuffle": True,
        "choices": [{"id": c, "text": f"Option {c}", "correct": c == "c"} for c in "abcdef"],
    },
}
CALCULATED: dict[str, Any] = {
    "slug": "survivors",
    "type": "numeric",
    "title": "Survivors",
    "prompt": "Dropout with $p = {p}$ on {n} units keeps how many on average?",
    "explanation": "n (1 - p).",
    "points": 2,
    "data": {
        "parameters": {
            "n": {"min": 10, "max": 200, "step": 10},
            "p": {"min": 0.1, "max": 0.9, "step": 0.1},
        },
        "answer_formula": "n * (1 - p)",
        "tolerance": {"abs": 0.001},
    },
}
CALC_CHOICE: dict[str, Any] = {
    "slug": "scaled-value",
    "type": "single_choice",
    "title": "Scaled value",
    "prompt": "Inverted dropout with keep probability 1/2 scales {k} to what?",
    "explanation": "Doubled.",
    "points": 1,
    "data": {
        "parameters": {"k": {"min": 1, "max": 50, "step": 1}},
        "choices": [
            {"id": "double", "text": "{=2 * k}", "correct": True},
            {"id": "same", "text": "{k}", "correct": False},
            {"id": "half", "text": "{=k / 2}", "correct": False},
        ],
    },
}


def create(client: FlaskClient, headers: dict[str, str], *bodies: dict[str, Any]) -> None:
    for body in bodies:
        response = client.post("/api/v1/questions", json=body, headers=headers)
        assert response.status_code == 201, response.get_json()


def students(token_for: Callable[..., str], count: int) -> list[dict[str, str]]:
    return [bearer(token_for("student", f"s{i:02d}")) for i in range(count)]


def questions_of(client: FlaskClient, headers: dict[str, str], attempt: int) -> list[Any]:
    view = client.get(f"/api/v1/attempts/{attempt}", headers=headers).get_json()
    return list(view["questions"])


def test_choices_and_questions_are_shuffled_per_attempt_and_stay_put(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    token_for: Callable[..., str],
) -> None:
    create(client, instructor, SIX)
    make_quiz(
        client,
        instructor,
        questions=["six-choices", "t-single", "t-true-false", "t-numeric"],
        shuffle_questions=True,
        attempt_limit=2,
    )
    orders, question_orders = set(), set()
    group = students(token_for, 8)
    for headers in group:
        attempt = start(client, headers).get_json()["id"]
        shown = questions_of(client, headers, attempt)
        assert shown == questions_of(client, headers, attempt)  # a reload shows the same
        six = next(q for q in shown if q["slug"] == "six-choices")
        orders.add(tuple(c["id"] for c in six["data"]["choices"]))
        question_orders.add(tuple(q["slug"] for q in shown))
        assert answer(client, headers, attempt, "six-choices", "c").status_code == 200
        done = client.post(f"/api/v1/attempts/{attempt}/submit", headers=headers).get_json()
        assert done["score"] == 1.0  # by choice id, whatever the order shown
    assert len(orders) > 1 and len(question_orders) > 1
    # The page shows the student's own order.
    headers = group[0]
    second = start(client, headers).get_json()["id"]
    order = [
        c["id"]
        for c in next(
            q for q in questions_of(client, headers, second) if q["slug"] == "six-choices"
        )["data"]["choices"]
    ]
    html = page_client(app, headers).get("/app/quizzes/t-quiz").get_data(as_text=True)
    assert re.findall(r'id="answer-six-choices-([a-f])"', html) == order


def test_a_pool_draws_questions_per_attempt(
    client: FlaskClient,
    instructor: dict[str, str],
    token_for: Callable[..., str],
) -> None:
    pool = [
        {
            **SIX,
            "slug": f"pool-{i}",
            "title": f"Pool {i}",
            "data": {**SIX["data"], "shuffle": False},
        }
        for i in range(4)
    ]
    create(client, instructor, *pool)
    uneven = {**pool[0], "slug": "pool-heavy", "points": 5}
    create(client, instructor, uneven)
    refused = client.post(
        "/api/v1/quizzes",
        json={"slug": "pq", "title": "P", "course": "reg-101", "questions": ["pool-0"],
              "pools": [{"tag": "pool-six", "draw": 2}], "attempt_limit": 1},
        headers=instructor,
    )  # fmt: skip
    assert_problem(refused, 422, "different points")
    client.delete("/api/v1/questions/pool-heavy", headers=instructor)
    assert_problem(
        client.post(
            "/api/v1/quizzes",
            json={"slug": "pq", "title": "P", "course": "reg-101", "questions": ["pool-0"],
                  "pools": [{"tag": "pool-six", "draw": 4}], "attempt_limit": 1},
            headers=instructor,
        ),
        422,
        "cannot draw 4",
    )  # fmt: skip
    created = client.post(
        "/api/v1/quizzes",
        json={"slug": "pq", "title": "P", "course": "reg-101", "questions": ["pool-0"],
              "pools": [{"tag": "pool-six", "draw": 2}], "attempt_limit": 1},
        headers=instructor,
    )  # fmt: skip
    assert created.status_code == 201, created.get_json()
    assert (created.get_json()["max_score"], created.get_json()["question_count"]) == (3.0, 3)
    drawn = set()
    for headers in students(token_for, 6):
        attempt = start(client, headers, "pq").get_json()
        slugs = [q["slug"] for q in attempt["questions"]]
        assert slugs[0] == "pool-0" and len(set(slugs)) == 3 and attempt["max_score"] == 3.0
        drawn.add(tuple(slugs[1:]))
        left_out = ({"pool-1", "pool-2", "pool-3"} - set(slugs)).pop()
        assert_problem(answer(client, headers, attempt["id"], left_out, "c"), 404, left_out)
        # A pool question belongs to the assessment too.
        alone = client.post(
            f"/api/v1/questions/{left_out}/submissions", json={"answer": "c"}, headers=headers
        )
        assert_problem(alone, 403, "pq")
    assert len(drawn) > 1


def test_variants_give_each_student_their_own_values_and_grade_with_them(
    app: Flask,
    client: FlaskClient,
    instructor: dict[str, str],
    token_for: Callable[..., str],
) -> None:
    create(client, instructor, CALCULATED, CALC_CHOICE)
    make_quiz(client, instructor, questions=["survivors", "scaled-value"], attempt_limit=1)
    values = []
    for headers in students(token_for, 6):
        attempt = start(client, headers).get_json()["id"]
        shown = {q["slug"]: q for q in questions_of(client, headers, attempt)}
        mine = shown["survivors"]["variant"]
        assert shown == {q["slug"]: q for q in questions_of(client, headers, attempt)}
        assert f"$p = {mine['p']:g}$ on {mine['n']:g} units" in shown["survivors"]["prompt"]
        k = shown["scaled-value"]["variant"]["k"]
        texts = {c["id"]: c["text"] for c in shown["scaled-value"]["data"]["choices"]}
        assert texts["double"] == f"{2 * k:g}" and texts["same"] == f"{k:g}"
        values.append((mine["n"], mine["p"]))
        page = page_client(app, headers).get("/app/quizzes/t-quiz").get_data(as_text=True)
        assert f"on {mine['n']:g} units" in page
        answer(client, headers, attempt, "survivors", mine["n"] * (1 - mine["p"]))
        answer(client, headers, attempt, "scaled-value", "double")
        done = client.post(f"/api/v1/attempts/{attempt}/submit", headers=headers).get_json()
        assert done["score"] == 3.0
        key = next(a for a in done["answers"] if a["question"] == "survivors")["correct_answer"]
        assert abs(key - mine["n"] * (1 - mine["p"])) < 1e-9
    assert len(set(values)) > 1
    # Someone else's answer is wrong for this student.
    other = bearer(token_for("student", "late"))
    make_quiz(client, instructor, slug="again", questions=["survivors"], attempt_limit=1)
    attempt = start(client, other, "again").get_json()["id"]
    mine = questions_of(client, other, attempt)[0]["variant"]
    wrong = next(
        (n * (1 - p) for n, p in values if abs(n * (1 - p) - mine["n"] * (1 - mine["p"])) > 0.01)
    )
    answer(client, other, attempt, "survivors", wrong)
    assert client.post(f"/api/v1/attempts/{attempt}/submit", headers=other).status_code == 200
    # t-quiz (an assessment with no close) still seals the question, so "again" shows this
    # student none of its review (tests/service/test_sealed_review.py); staff see the zero.
    assert client.get(f"/api/v1/attempts/{attempt}", headers=other).get_json()["score"] is None
    assert client.get(f"/api/v1/attempts/{attempt}", headers=instructor).get_json()["score"] == 0


def test_a_formula_that_fails_for_some_student_is_refused(
    client: FlaskClient, instructor: dict[str, str]
) -> None:
    create(client, instructor, CALCULATED)  # a sound one is taken
    body = {**CALCULATED, "slug": "bad-calc"}
    body["data"] = {**CALCULATED["data"], "answer_formula": "n / (p - 0.1)"}
    refused = client.post("/api/v1/questions", json=body, headers=instructor)
    assert_problem(refused, 422, "no value for", "'p': 0.1")
    body["data"] = {**CALCULATED["data"], "answer_formula": "__import__('os')"}
    assert_problem(client.post("/api/v1/questions", json=body, headers=instructor), 422)


def test_a_practice_variant_is_the_students_own_and_stable(
    client: FlaskClient, instructor: dict[str, str], student: dict[str, str]
) -> None:
    create(client, instructor, CALCULATED)
    shown = client.get("/api/v1/questions/survivors", headers=student).get_json()
    assert shown == client.get("/api/v1/questions/survivors", headers=student).get_json()
    mine = shown["variant"]
    assert f"on {mine['n']:g} units" in shown["prompt"]
    result = client.post(
        "/api/v1/questions/survivors/submissions",
        json={"answer": mine["n"] * (1 - mine["p"])},
        headers=student,
    ).get_json()
    assert (result["score"], result["variant"]) == (2.0, mine)


def test_a_pool_drawn_question_of_an_open_attempt_is_not_answered_on_its_own(
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    never = {part: "never" for part in ("score", "feedback", "correct_answer", "explanation")}
    quiz = {
        "slug": "drawn",
        "title": "Drawn",
        "course": "reg-101",
        "questions": ["t-true-false"],
        "pools": [{"tag": "inference", "draw": 1}],  # t-single alone has the tag
        "review": never,
    }
    assert client.post("/api/v1/quizzes", json=quiz, headers=instructor).status_code == 201
    attempt = start(client, student, "drawn").get_json()
    assert [q["slug"] for q in attempt["questions"]] == ["t-true-false", "t-single"]

    for slug, value in (("t-true-false", True), ("t-single", "b")):
        alone = client.post(
            f"/api/v1/questions/{slug}/submissions", json={"answer": value}, headers=student
        )
        assert_problem(alone, 409, "drawn", "still open")

    client.post(f"/api/v1/attempts/{attempt['id']}/submit", headers=student)
    after = client.post(
        "/api/v1/questions/t-single/submissions", json={"answer": "b"}, headers=student
    )
    assert after.status_code == 201, after.get_json()
