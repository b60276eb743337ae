"""An LMS role gives a membership of the launch's course only: an LMS teaching assistant (or
instructor) is staff of that course, never a holdout administrator or another course's staff."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.models import CourseRole, Enrollment, User, db
from tests.lti.conftest import QUESTION, launch, page_text
from tests.lti.platform import INSTRUCTOR, PEOPLE, FakePlatform

pytestmark = pytest.mark.usefixtures("content")
TA = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"


def csrf_header(client: FlaskClient) -> dict[str, str]:
    found = re.search(r'name="holdout-csrf" content="([^"]+)"', client.get("/app/").get_data(True))
    assert found is not None
    return {"X-CSRF-Token": found.group(1)}


@pytest.mark.parametrize(
    ("role", "expected"), [(TA, "teaching_assistant"), (INSTRUCTOR, "instructor")]
)
def test_lms_staff_are_staff_of_the_launched_course_only(
    app: Flask,
    client: FlaskClient,
    platform: FakePlatform,
    token_for: object,
    role: str,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(PEOPLE, "sam", {"sub": "user-sam", "name": "Sam Staff", "roles": [role]})
    # Another course, with a student's work in it, that Sam has nothing to do with.
    other = client.post(
        "/api/v1/courses",
        json={"slug": "elsewhere", "title": "Elsewhere"},
        headers={"Authorization": f"Bearer {token_for('admin', 'root2')}"},  # type: ignore[operator]
    )
    assert other.status_code == 201
    response = launch(
        client, platform, platform.claims("sam", custom={"question": QUESTION["slug"]})
    )
    assert response.status_code == 303, page_text(response)
    course = response.headers["Location"].rsplit("/", 1)[1]
    assert client.get(response.headers["Location"]).status_code == 200  # their course's page
    with app.app_context():
        sam = db.session.scalar(select(User).where(User.name == "Sam Staff"))
        assert sam is not None
        member = db.session.scalar(select(Enrollment).where(Enrollment.user_id == sam.id))
        assert member is not None and member.role == CourseRole(expected)
    headers = csrf_header(client)
    assert client.get(f"/api/v1/courses/{course}/gradebook").status_code == 200
    for method, path, body in (
        ("GET", "/api/v1/courses/elsewhere/gradebook", None),
        ("GET", "/app/courses/elsewhere", None),
        ("POST", "/api/v1/tokens", {"name": "x", "role": "instructor"}),
        ("GET", "/api/v1/lti/platforms", None),
        ("POST", "/api/v1/lti/platforms", {"name": "x"}),
        ("PUT", f"/api/v1/questions/{QUESTION['slug']}", dict(QUESTION, title="Mine now")),
        ("POST", "/api/v1/courses", {"slug": "mine", "title": "Mine"}),
    ):
        answered = client.open(path, method=method, json=body, headers=headers)
        assert answered.status_code in (403, 404), (method, path, answered.get_data(True))
    # The API refuses a change through the session cookie without its CSRF token.
    forged = client.post("/api/v1/questions", json=dict(QUESTION, slug="forged"))
    assert forged.status_code == 403
