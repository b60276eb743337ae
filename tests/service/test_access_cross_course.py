"""Courses keep to themselves: a course's instructor builds quizzes only from what they may use
(their course's questions, and shared ones no other course's open assessment holds), sees only
the answer keys they have authority over, seals shared questions only for their own course's
students, and pools never draw another course's questions (service.access.has_authority)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient

from tests.helpers import assert_problem, bearer
from tests.service.samples import ANSWER_KEYS, QUIZZES, SINGLE, put_answer, start

SECRET: dict[str, Any] = {
    **SINGLE,
    "slug": "b-secret",
    "title": "B's secret",
    "tags": ["b-final"],
    "explanation": "B's secret explanation.",
}
TOMORROW = (datetime.now(UTC) + timedelta(days=1)).isoformat()


def keys_in(question: dict[str, Any]) -> list[str]:
    """The answer-key fields a question as shown holds (choices' `correct` included)."""
    data = question.get("data", {})
    found = [k for k in ANSWER_KEYS if k in data or k in question]
    found += ["correct" for c in data.get("choices", []) if "correct" in c]
    return found


def course_b_exam(client: FlaskClient, b_teacher: dict[str, str]) -> None:
    """Course B's private question, and its live exam on it and on a shared question."""
    assert client.post("/api/v1/questions", json=SECRET, headers=b_teacher).status_code == 201
    exam = {
        "slug": "b-exam",
        "title": "B exam",
        "course": "course-b",
        "questions": ["t-single", "b-secret"],
        "attempt_limit": 1,
        "closes_at": TOMORROW,
    }
    response = client.post(QUIZZES, json=exam, headers=b_teacher)
    assert response.status_code == 201, response.get_json()


def test_a_course_instructor_takes_no_other_courses_exam_question_and_sees_no_keys(
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    token_for: Callable[..., str],
) -> None:
    b_teacher = bearer(token_for("instructor", "b-prof", course="course-b"))
    mallory = bearer(token_for("instructor", "mallory", course="sandbox"))
    course_b_exam(client, b_teacher)

    def quiz(slug: str, *listed: str) -> dict[str, Any]:
        return {"slug": slug, "title": slug, "course": "sandbox", "questions": list(listed)}

    # Course B's exam question, shared: refused while the exam is open, and named.
    taken = client.post(QUIZZES, json=quiz("m1", "t-single"), headers=mallory)
    assert_problem(taken, 422, "t-single", "open assessment of another course")
    # Course B's private question: not hers to see, let alone list.
    assert_problem(
        client.post(QUIZZES, json=quiz("m2", "b-secret"), headers=mallory), 422, "b-secret"
    )
    # A shared question no exam holds: hers to use, but its keys are the site staff's.
    made = client.post(QUIZZES, json=quiz("m3", "t-numeric"), headers=mallory)
    assert made.status_code == 201, made.get_json()
    assert keys_in(made.get_json()["questions"][0]) == []
    assert keys_in(client.get(f"{QUIZZES}/m3", headers=mallory).get_json()["questions"][0]) == []
    assert keys_in(client.get("/api/v1/questions/t-single", headers=mallory).get_json()) == []
    # Adding the exam's question to her quiz later is refused the same way.
    again = client.put(f"{QUIZZES}/m3", json=quiz("m3", "t-numeric", "t-single"), headers=mallory)
    assert_problem(again, 422, "t-single", "open assessment")

    # The authors see their keys; site staff add and see anything, as before; a shared question
    # put in her course's quiz by site staff shows her its keys (added with authority).
    own = client.get("/api/v1/questions/b-secret", headers=b_teacher).get_json()
    assert "correct" in keys_in(own)
    granted = client.post(QUIZZES, json=quiz("site-made", "t-single"), headers=instructor)
    assert granted.status_code == 201, granted.get_json()
    assert "correct" in keys_in(granted.get_json()["questions"][0])
    shown = client.get(f"{QUIZZES}/site-made", headers=mallory).get_json()["questions"][0]
    assert "correct" in keys_in(shown) and "explanation" in shown


def test_a_course_instructors_assessment_seals_shared_questions_only_for_their_course(
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    token_for: Callable[..., str],
) -> None:
    mallory = bearer(token_for("instructor", "mallory", course="sandbox"))
    member = bearer(token_for("student", "sock", course="sandbox"))
    bob = bearer(token_for("student", "bob"))  # never met mallory's course
    lock = {
        "slug": "lock",
        "title": "Lock",
        "course": "sandbox",
        "questions": ["t-multiple", "t-true-false"],
        "pools": [{"tag": "early-stopping", "draw": 1}],
        "attempt_limit": 1,  # no close: it would seal forever
    }
    assert client.post(QUIZZES, json=lock, headers=mallory).status_code == 201

    for slug, answer in (("t-multiple", ["a", "b"]), ("t-short-text", "early stopping")):
        read = client.get(f"/api/v1/questions/{slug}", headers=bob)
        assert read.status_code == 200, read.get_json()
        alone = client.post(
            f"/api/v1/questions/{slug}/submissions", json={"answer": answer}, headers=bob
        )
        assert alone.status_code == 201, alone.get_json()
        # Her own course's students are sealed out, as the assessment is theirs.
        assert_problem(client.get(f"/api/v1/questions/{slug}", headers=member), 403, "lock")

    # Site staff's assessments still seal the shared bank for every student.
    site_exam = {**lock, "slug": "site-exam", "course": "reg-101", "pools": []}
    assert client.post(QUIZZES, json=site_exam, headers=instructor).status_code == 201
    assert_problem(client.get("/api/v1/questions/t-multiple", headers=bob), 403, "site-exam")


def test_a_pool_never_draws_another_courses_private_questions(
    client: FlaskClient,
    questions: dict[str, Any],
    token_for: Callable[..., str],
) -> None:
    b_teacher = bearer(token_for("instructor", "b-prof", course="course-b"))
    mallory = bearer(token_for("instructor", "mallory", course="sandbox"))
    course_b_exam(client, b_teacher)

    # At creation: course B's private tag offers her nothing to draw, and says so.
    stolen = {
        "slug": "m-pool",
        "title": "m",
        "course": "sandbox",
        "questions": ["t-numeric"],
        "pools": [{"tag": "b-final", "draw": 1}],
    }
    assert_problem(client.post(QUIZZES, json=stolen, headers=mallory), 422, "b-final")
    # A pool that would draw course B's exam question is refused, naming both.
    sealed = {**stolen, "pools": [{"tag": "inference", "draw": 1}]}
    assert_problem(client.post(QUIZZES, json=sealed, headers=mallory), 422, "inference", "t-single")

    # At draw time: a private question tagged like the shared ones never enters her pool.
    pool = {**stolen, "pools": [{"tag": "regularization", "draw": 1}]}
    assert client.post(QUIZZES, json=pool, headers=mallory).status_code == 201
    lookalike = {**SECRET, "slug": "b-regularizer", "tags": ["regularization"], "points": 4}
    assert client.post("/api/v1/questions", json=lookalike, headers=b_teacher).status_code == 201
    for i in range(6):
        student = bearer(token_for("student", f"student-{i}", course="sandbox"))
        attempt = start(client, student, "m-pool").get_json()
        assert [q["slug"] for q in attempt["questions"]] == ["t-numeric", "t-multiple"]
        # Her staff view of the attempt shows no key of the shared question drawn.
        view = client.get(f"/api/v1/attempts/{attempt['id']}", headers=mallory).get_json()
        drawn = next(a for a in view["answers"] if a["question"] == "t-multiple")
        assert (drawn["correct_answer"], drawn["explanation"]) == (None, None)
    # Nor does her view of the student's answer to it.
    answered = put_answer(client, student, attempt["id"], "t-multiple", ["a", "b"])
    assert answered.status_code == 200, answered.get_json()
    seen = client.get(f"/api/v1/submissions/{answered.get_json()['id']}", headers=mallory)
    assert seen.status_code == 200 and seen.get_json()["explanation"] is None
