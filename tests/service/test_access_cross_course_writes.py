"""A standalone answer to a shared question counts in every course that holds the question and
enrols its student (a course linking it from its LMS, another listing it in a quiz). Each of
those courses' staff read it; changing its grade (override, regrade: grade events, webhooks, LMS
passback follow) needs authority over all of them (service.access._submissions_wholly_in)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.auth import make_member
from service.lti.models import LtiContext, LtiPlatform, LtiResourceLink
from service.models import Course, CourseRole, Submission, User, db
from service.quizzes import get_or_create_course
from tests.helpers import assert_problem, bearer
from tests.service.samples import QUIZZES


def _link_from_lms(app: Flask, course_slug: str, question: str) -> None:
    """Course A's LMS places the question as a resource link (what a deep-link launch makes)."""
    with app.app_context():
        platform = LtiPlatform(
            name="A LMS",
            issuer="https://lms-a.example.com",
            client_id="holdout",
            auth_login_url="https://lms-a.example.com/auth",
            auth_token_url="https://lms-a.example.com/token",
            jwks_url="https://lms-a.example.com/jwks",
        )
        db.session.add(platform)
        db.session.flush()
        course = db.session.scalar(select(Course).where(Course.slug == course_slug))
        assert course is not None
        context = LtiContext(
            platform_id=platform.id, context_id="ctx-a", course_id=course.id, title="A"
        )
        db.session.add(context)
        db.session.flush()
        db.session.add(
            LtiResourceLink(
                platform_id=platform.id,
                resource_link_id="link-1",
                context_id=context.id,
                question_slug=question,
                title="Q",
            )
        )
        db.session.commit()


def _score_in_gradebook(client: FlaskClient, headers: dict[str, str]) -> Any:
    book = client.get("/api/v1/courses/course-a/gradebook", headers=headers).get_json()
    return book["students"][0]["item_scores"]["question:t-single"]


def _stored_score(app: Flask, submission: int) -> float | None:
    with app.app_context():
        row = db.session.get(Submission, submission)
        assert row is not None
        return row.score


def test_one_course_cannot_rewrite_a_standalone_grade_another_course_credits(
    app: Flask,
    client: FlaskClient,
    questions: dict[str, Any],
    instructor: dict[str, str],
    token_for: Callable[..., str],
) -> None:
    a_prof = bearer(token_for("instructor", "a-prof", course="course-a"))
    b_prof = bearer(token_for("instructor", "b-prof", course="course-b"))
    alice = bearer(token_for("student", "alice", course="course-a"))
    with app.app_context():
        user = db.session.scalar(select(User).where(User.name == "alice"))
        assert user is not None
        make_member(user, get_or_create_course("course-b"), CourseRole.STUDENT)
        db.session.commit()
    _link_from_lms(app, "course-a", "t-single")
    answered = client.post(
        "/api/v1/questions/t-single/submissions", json={"answer": "b"}, headers=alice
    )
    submission = answered.get_json()["id"]
    assert _score_in_gradebook(client, a_prof) == 2.0
    # Course B puts the shared question in a quiz: alice's answer is course B's work too.
    drill = {"slug": "b-drill", "title": "B", "course": "course-b", "questions": ["t-single"]}
    assert client.post(QUIZZES, json={**drill, "practice": True}, headers=b_prof).status_code == 201

    # Course B's staff read it, as course A's do...
    assert client.get(f"/api/v1/submissions/{submission}", headers=b_prof).status_code == 200
    # ...but neither override nor regrade it: course A credits it.
    override = {"score": 0, "comment": "nope"}
    refused = client.post(
        f"/api/v1/submissions/{submission}/override", json=override, headers=b_prof
    )
    assert_problem(refused, 403, "instructor")
    regrade = client.post("/api/v1/questions/t-single/regrades", json={}, headers=b_prof)
    assert regrade.status_code == 202 and regrade.get_json()["total"] == 0
    one = client.post(
        "/api/v1/questions/t-single/regrades", json={"user": answered.get_json()["user"]["id"]},
        headers=b_prof,
    )  # fmt: skip
    assert one.status_code == 202 and one.get_json()["total"] == 0
    assert _stored_score(app, submission) == 2.0
    assert _score_in_gradebook(client, a_prof) == 2.0
    # Nor course A's instructor alone (course B counts it too); site staff, over every course, may.
    refused = client.post(
        f"/api/v1/submissions/{submission}/override", json=override, headers=a_prof
    )
    assert_problem(refused, 403)
    done = client.post(
        f"/api/v1/submissions/{submission}/override", json=override, headers=instructor
    )
    assert done.status_code == 200
    assert _score_in_gradebook(client, a_prof) == 0.0


def test_a_standalone_answer_only_one_course_counts_is_still_its_instructors_to_override(
    client: FlaskClient,
    questions: dict[str, Any],
    token_for: Callable[..., str],
) -> None:
    b_prof = bearer(token_for("instructor", "b-prof", course="course-b"))
    bob = bearer(token_for("student", "bob", course="course-b"))
    drill = {"slug": "b-drill", "title": "B", "course": "course-b", "questions": ["t-single"]}
    assert client.post(QUIZZES, json={**drill, "practice": True}, headers=b_prof).status_code == 201
    answered = client.post(
        "/api/v1/questions/t-single/submissions", json={"answer": "a"}, headers=bob
    )
    submission = answered.get_json()["id"]
    override = {"score": 1, "comment": "partly right"}
    done = client.post(f"/api/v1/submissions/{submission}/override", json=override, headers=b_prof)
    assert done.status_code == 200 and done.get_json()["score"] == 1.0
