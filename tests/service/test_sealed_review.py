"""An assessment seals its questions for the students it concerns until it closes: nothing outside
its own attempts shows them the question's score, feedback, correct answer or explanation. Another
quiz's attempt (a practice quiz holding the same question, in its list or a pool) still takes the
answer, but its review hides those parts of that question (and the attempt's total score) from
the student until the exam has closed for them (service.attempts.sealed_outside); staff see
everything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.models import Quiz, db
from tests.helpers import bearer, recorded_statements
from tests.service.samples import QUESTIONS, QUIZZES, RIGHT, put_answer, start
from tests.service.test_assessments_rules import page_client

SEALED = "t-single"  # the exam's question, also in the practice quiz
OPEN = "t-true-false"  # only in the practice quiz
IMMEDIATELY = {p: "immediately" for p in ("score", "feedback", "correct_answer", "explanation")}


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _quiz(client: FlaskClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    body = {"title": body["slug"], "course": "reg-101", "questions": [], **body}
    made = client.post(QUIZZES, json=body, headers=headers)
    assert made.status_code == 201, made.get_json()
    result: dict[str, Any] = made.get_json()
    return result


def _exam(client: FlaskClient, headers: dict[str, str], where: str, **rules: Any) -> dict[str, Any]:
    """The exam holding SEALED, in its list or in a pool ('inference' tags SEALED only)."""
    holds: dict[str, Any] = (
        {"questions": [SEALED]}
        if where == "list"
        else {"questions": ["t-multiple"], "pools": [{"tag": "inference", "draw": 1}]}
    )
    closes = datetime.now(UTC) + timedelta(days=1)
    body = {"slug": "exam", "attempt_limit": 1, "closes_at": _iso(closes), **holds, **rules}
    return _quiz(client, headers, **body)


def _practice(client: FlaskClient, headers: dict[str, str], where: str) -> dict[str, Any]:
    holds: dict[str, Any] = (
        {"questions": [SEALED, OPEN]}
        if where == "list"
        else {"questions": [OPEN], "pools": [{"tag": "inference", "draw": 1}]}
    )
    return _quiz(client, headers, slug="drill", practice=True, review=IMMEDIATELY, **holds)


def _close_exam(app: Flask) -> None:
    with app.app_context():
        exam = db.session.scalar(select(Quiz).where(Quiz.slug == "exam"))
        assert exam is not None
        exam.closes_at = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()


def _answers(client: FlaskClient, headers: dict[str, str], attempt: int) -> dict[str, Any]:
    view = client.get(f"/api/v1/attempts/{attempt}", headers=headers)
    assert view.status_code == 200, view.get_json()
    body = view.get_json()
    return {"total": body["score"], **{a["question"]: a for a in body["answers"]}}


def _submission(client: FlaskClient, headers: dict[str, str], submission: int) -> Any:
    view = client.get(f"/api/v1/submissions/{submission}", headers=headers)
    history = client.get(f"/api/v1/submissions/{submission}/grades", headers=headers)
    assert view.status_code == history.status_code == 200
    return view.get_json(), history.get_json()


def _hidden(answer: dict[str, Any]) -> bool:
    return all(answer[k] is None for k in ("score", "feedback", "explanation", "correct_answer"))


def _shown(answer: dict[str, Any], slug: str) -> bool:
    return (
        answer["score"] == QUESTIONS[slug].get("points", 1)
        and answer["explanation"] == QUESTIONS[slug]["explanation"]
        and answer["correct_answer"] is not None
    )


def _assert_sealed(client: FlaskClient, student: dict[str, str], attempt: int, ids: dict[str, int]):
    answers = _answers(client, student, attempt)
    assert _hidden(answers[SEALED]), answers[SEALED]
    assert answers[SEALED]["answered"] and answers[SEALED]["answer"] == RIGHT[SEALED]
    assert _shown(answers[OPEN], OPEN), answers[OPEN]  # the rest of the practice quiz reviews
    assert answers["total"] is None  # the total minus the others' scores would tell SEALED's
    view, history = _submission(client, student, ids[SEALED])
    assert view["score"] is None and view["feedback"] == "" and view["tests"] == []
    assert view["explanation"] is None
    assert history == []
    view, history = _submission(client, student, ids[OPEN])
    assert view["score"] == 1 and view["explanation"] == QUESTIONS[OPEN]["explanation"]
    assert [g["score"] for g in history] == [1]


def _assert_reviewed(
    client: FlaskClient, headers: dict[str, str], attempt: int, ids: dict[str, int]
):
    answers = _answers(client, headers, attempt)
    assert _shown(answers[SEALED], SEALED), answers[SEALED]
    assert answers[SEALED]["feedback"] is not None
    assert _shown(answers[OPEN], OPEN), answers[OPEN]
    assert answers["total"] == QUESTIONS[SEALED]["points"] + 1
    view, history = _submission(client, headers, ids[SEALED])
    assert view["score"] == QUESTIONS[SEALED]["points"]
    assert view["explanation"] == QUESTIONS[SEALED]["explanation"]
    assert [g["score"] for g in history] == [QUESTIONS[SEALED]["points"]]


def _take_practice(client: FlaskClient, student: dict[str, str]) -> tuple[int, dict[str, int]]:
    attempt = start(client, student, "drill")
    assert attempt.status_code == 201, attempt.get_json()
    attempt_id = attempt.get_json()["id"]
    ids = {}
    for slug in (SEALED, OPEN):
        answered = put_answer(client, student, attempt_id, slug, RIGHT[slug])
        assert answered.status_code == 200, answered.get_json()  # the practice quiz still works
        ids[slug] = answered.get_json()["id"]
        if slug == SEALED:  # nor does answering show it
            assert answered.get_json()["score"] is None
            assert answered.get_json()["explanation"] is None
    return attempt_id, ids


@pytest.mark.parametrize("where", ["list", "pool"])
def test_a_practice_attempt_hides_the_review_of_an_open_exams_question_until_it_closes(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
    where: str,
) -> None:
    _exam(client, instructor, where)
    _practice(client, instructor, where)
    attempt, ids = _take_practice(client, student)

    _assert_sealed(client, student, attempt, ids)
    assert client.post(f"/api/v1/attempts/{attempt}/submit", headers=student).status_code == 200
    _assert_sealed(client, student, attempt, ids)  # after the hand-in as well
    _assert_reviewed(client, instructor, attempt, ids)  # staff see all of it throughout

    _close_exam(app)
    _assert_reviewed(client, student, attempt, ids)  # the normal review rules again
    _assert_reviewed(client, instructor, attempt, ids)


def test_the_seal_lasts_while_an_extension_keeps_the_exam_open_and_after_its_attempts_are_used(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    _exam(client, instructor, "list")
    _practice(client, instructor, "list")
    # Her one exam attempt, handed in: the attempts used up do not end the seal (only the close
    # does, service.quizzes.sealing_quiz), nor does the exam's review of her own attempt.
    exam_attempt = start(client, student, "exam").get_json()["id"]
    assert (
        client.post(f"/api/v1/attempts/{exam_attempt}/submit", headers=student).status_code == 200
    )
    own = _answers(client, student, exam_attempt)  # the exam's own review follows its options
    assert own["total"] == 0 and own[SEALED]["explanation"] == QUESTIONS[SEALED]["explanation"]
    attempt, ids = _take_practice(client, student)
    assert client.post(f"/api/v1/attempts/{attempt}/submit", headers=student).status_code == 200
    _assert_sealed(client, student, attempt, ids)

    me = client.get("/api/v1/attempts/" + str(attempt), headers=student).get_json()["user"]["id"]
    later = datetime.now(UTC) + timedelta(hours=2)
    extended = client.put(
        f"{QUIZZES}/exam/extensions/{me}", json={"due_at": _iso(later)}, headers=instructor
    )
    assert extended.status_code == 200, extended.get_json()
    _close_exam(app)  # closed for everyone else; open for her until her due date
    _assert_sealed(client, student, attempt, ids)

    with app.app_context():
        from service.models import QuizExtension

        row = db.session.scalar(select(QuizExtension))
        assert row is not None
        row.due_at = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()
    _assert_reviewed(client, student, attempt, ids)


def test_an_answer_given_on_its_own_before_the_exam_held_it_is_sealed_too(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    alone = client.post(
        f"/api/v1/questions/{SEALED}/submissions", json={"answer": RIGHT[SEALED]}, headers=student
    )
    assert alone.status_code == 201, alone.get_json()
    submission = alone.get_json()["id"]
    assert _submission(client, student, submission)[0]["score"] == QUESTIONS[SEALED]["points"]

    _exam(client, instructor, "list")
    view, history = _submission(client, student, submission)
    assert view["score"] is None and view["feedback"] == "" and view["explanation"] is None
    assert history == []
    view, history = _submission(client, instructor, submission)
    assert view["score"] == QUESTIONS[SEALED]["points"] and len(history) == 1

    _close_exam(app)
    view, _ = _submission(client, student, submission)
    assert view["explanation"] == QUESTIONS[SEALED]["explanation"]


def test_the_attempt_page_hides_the_sealed_question_and_the_total(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    _exam(client, instructor, "list")
    _practice(client, instructor, "list")
    attempt, _ids = _take_practice(client, student)
    page = page_client(app, student).get(f"/app/attempts/{attempt}").get_data(as_text=True)
    assert QUESTIONS[OPEN]["explanation"] in page
    assert QUESTIONS[SEALED]["explanation"] not in page
    assert "points</span>" in page  # OPEN's score shows ...
    assert (
        f"/ {QUESTIONS[SEALED]['points']} points" not in page
    )  # ... neither SEALED's nor the total
    staff = page_client(app, instructor).get(f"/app/attempts/{attempt}").get_data(as_text=True)
    assert QUESTIONS[SEALED]["explanation"] in staff


def test_the_review_of_a_long_practice_attempt_asks_about_seals_in_a_few_queries(
    app: Flask,
    client: FlaskClient,
    instructor: dict[str, str],
    student: dict[str, str],
) -> None:
    slugs = [f"q-{n:02}" for n in range(20)]
    for slug in slugs:
        body = {
            "slug": slug,
            "type": "true_false",
            "title": slug,
            "prompt": f"Statement {slug}.",
            "explanation": f"Because {slug}.",
            "data": {"answer": True},
        }
        assert client.post("/api/v1/questions", json=body, headers=instructor).status_code == 201
    closes = _iso(datetime.now(UTC) + timedelta(days=1))
    _quiz(client, instructor, slug="exam", questions=slugs[:10], attempt_limit=1, closes_at=closes)
    _quiz(client, instructor, slug="drill", questions=slugs, practice=True, review=IMMEDIATELY)
    attempt = start(client, student, "drill").get_json()["id"]
    for slug in slugs:
        assert put_answer(client, student, attempt, slug, True).status_code == 200

    with recorded_statements(app) as statements:
        answers = _answers(client, student, attempt)
    assert [_hidden(answers[s]) for s in slugs] == [True] * 10 + [False] * 10
    assert answers["total"] is None
    assert len(statements) <= 20, len(statements)  # 12 now: a query per question would be 30+
    assert sum("FROM quiz_questions" in s for s in statements) <= 3, statements


def _save_again(
    client: FlaskClient,
    headers: dict[str, str],
    slug: str,
    keys: tuple[str, ...],
    *more: str,
    **changes: Any,
) -> dict[str, Any]:
    """PUT the quiz back as it reads (these fields of it), with `more` questions and changes."""
    quiz = client.get(f"{QUIZZES}/{slug}", headers=headers).get_json()
    body = {k: quiz[k] for k in ("slug", "title", "course", "pools", *keys)}
    body["questions"] = [*(q["slug"] for q in quiz["questions"]), *more]
    saved = client.put(f"{QUIZZES}/{slug}", json=body | changes, headers=headers)
    assert saved.status_code == 200, saved.get_json()
    result: dict[str, Any] = saved.get_json()
    return result


@pytest.mark.parametrize("where", ["list", "pool"])
def test_saving_a_quiz_warns_which_reviews_an_assessments_seal_withholds_elsewhere(
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    token_for: Any,
    where: str,
) -> None:
    """Never a refusal (the quiz is saved as before): the write's answer says what it costs."""
    assert _practice(client, instructor, where)["warnings"] == []
    exam = _exam(client, instructor, where)
    assert exam["warnings"] == [
        f"question {SEALED} is also in practice quiz drill: its review there is withheld from "
        "students while this assessment is open"
    ]
    assert "warnings" not in client.get(f"{QUIZZES}/drill", headers=instructor).get_json()
    again = _save_again(client, instructor, "drill", ("practice", "review"))
    assert again["warnings"] == [
        f"question {SEALED} is also in assessment exam: its review here is withheld from "
        "students while it is open"
    ]

    # More of the drill's questions in the exam: named together. Once the exam has closed for
    # everyone it seals nothing, and the warning goes.
    wider = _save_again(client, instructor, "exam", ("attempt_limit", "closes_at"), OPEN)
    assert wider["warnings"] == [
        f"questions {', '.join(sorted([SEALED, OPEN]))} are also in practice quiz drill: their "
        "review there is withheld from students while this assessment is open"
    ]
    past = _iso(datetime.now(UTC) - timedelta(minutes=1))
    closed = _save_again(client, instructor, "exam", ("attempt_limit",), closes_at=past)
    assert closed["warnings"] == []

    # A course's instructor is told only of the quizzes they may see.
    other = bearer(token_for("instructor", "b-prof", course="course-b"))
    theirs = _quiz(
        client, other, slug="b-exam", course="course-b", questions=[OPEN], attempt_limit=1
    )
    assert theirs["warnings"] == []
