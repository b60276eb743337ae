"""A course's own questions are its members': a student reads, lists and answers the shared
bank's questions and those of the courses they are enrolled in (a token limited to a course:
that course's only); any other course's question is not shown to exist (404), by any route
(service.access.question_courses)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.auth import make_member
from service.models import CourseRole, User, db
from service.quizzes import get_or_create_course
from tests.helpers import assert_problem, bearer
from tests.service.samples import SINGLE

SECRET: dict[str, Any] = {
    **SINGLE,
    "slug": "b-draft",
    "title": "B's draft",
    "tags": ["b-final"],
    "explanation": "B's draft explanation.",
}


def _enrol(app: Flask, name: str, course: str) -> None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.name == name))
        assert user is not None
        make_member(user, get_or_create_course(course), CourseRole.STUDENT)
        db.session.commit()


def _reach(client: FlaskClient, headers: dict[str, str]) -> dict[str, Any]:
    """What a caller gets of course B's draft by each route."""

    def listed(query: str) -> bool:
        page = client.get(f"/api/v1/questions{query}", headers=headers)
        assert page.status_code == 200
        return "b-draft" in [q["slug"] for q in page.get_json()["items"]]

    answered = client.post(
        "/api/v1/questions/b-draft/submissions", json={"answer": "a"}, headers=headers
    )
    return {
        "list": listed(""),
        "by tag": listed("?tag=b-final"),
        "by type": listed("?type=single_choice"),
        "read": client.get("/api/v1/questions/b-draft", headers=headers).status_code,
        "answer": answered.status_code,
        "answer problem": answered.mimetype,
    }


HIDDEN = {
    "list": False,
    "by tag": False,
    "by type": False,
    "read": 404,
    "answer": 404,
    "answer problem": "application/problem+json",
}
OPEN = {
    "list": True,
    "by tag": True,
    "by type": True,
    "read": 200,
    "answer": 201,
    "answer problem": "application/json",
}


def test_students_reach_only_the_questions_of_their_own_courses(
    app: Flask, client: FlaskClient, token_for: Callable[..., str]
) -> None:
    b_prof = bearer(token_for("instructor", "b-prof", course="course-b"))
    assert client.post("/api/v1/questions", json=SECRET, headers=b_prof).status_code == 201
    eve = bearer(token_for("student", "eve"))  # in no course
    oscar = bearer(token_for("student", "oscar", course="course-z"))  # another course's
    # In course B, but this token is limited to course Z: it reads course Z's (and shared) only.
    dana_z = bearer(token_for("student", "dana", course="course-z"))
    _enrol(app, "dana", "course-b")
    sock = bearer(token_for("student", "sock", course="course-b"))  # course B's, by its token
    pat = bearer(token_for("student", "pat"))  # enrolled in course B, unlimited token
    _enrol(app, "pat", "course-b")

    for outsider in (eve, oscar, dana_z):
        assert _reach(client, outsider) == HIDDEN
    detail = client.get("/api/v1/questions/b-draft", headers=eve)
    assert_problem(detail, 404, "b-draft")
    for member in (sock, pat):
        assert _reach(client, member) == OPEN
    # The shared bank stays open to every student.
    site = bearer(token_for("instructor", "prof"))
    assert client.post("/api/v1/questions", json=SINGLE, headers=site).status_code == 201
    assert client.get("/api/v1/questions/t-single", headers=oscar).status_code == 200


def test_the_question_page_is_not_found_for_a_student_outside_the_course(
    app: Flask, client: FlaskClient, token_for: Callable[..., str]
) -> None:
    b_prof = bearer(token_for("instructor", "b-prof", course="course-b"))
    assert client.post("/api/v1/questions", json=SECRET, headers=b_prof).status_code == 201
    eve = token_for("student", "eve")
    made = client.post("/api/v1/sign-in-links", json={}, headers=bearer(eve))
    path = made.get_json()["url"].removeprefix("http://localhost")
    page = client.get(path).get_data(as_text=True)
    nonce = page.split('name="nonce" value="', 1)[1].split('"', 1)[0]
    assert client.post(path, data={"nonce": nonce}).status_code == 303
    assert client.get("/app/questions/b-draft").status_code == 404
