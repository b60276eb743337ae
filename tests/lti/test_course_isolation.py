"""A course belongs to exactly one LMS context (platform and context id): a launch never takes
an existing course because its slug matches, not another platform's course (a slug digest
collision), not a course site staff named `lti-...` (two fake LMSs over HTTP, real JWTs; on
SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from service.lti import launch as launch_module
from service.lti import nrps
from service.lti.models import LtiContext
from service.lti.platforms import jwks_cache
from service.models import Course, Enrollment, User, db
from tests.helpers import bearer
from tests.lti.conftest import QUESTION, TOOL_BASE, launch, page_text, tool_jwks
from tests.lti.platform import FakePlatform

pytestmark = pytest.mark.usefixtures("content")


@pytest.fixture
def other_platform(
    app: Flask, client: FlaskClient, admin: dict[str, str], platform: FakePlatform
) -> Iterator[FakePlatform]:
    """A second LMS, registered with holdout as well (the one that would take a course)."""
    jwks_cache.clear()
    fake = FakePlatform(TOOL_BASE, lambda: tool_jwks(app)).start()
    body = {**fake.registration(), "name": "Other LMS"}
    response = client.post("/api/v1/lti/platforms", json=body, headers=admin)
    assert response.status_code == 201, response.get_json()
    yield fake
    fake.stop()


def platform_id(app: Flask, fake: FakePlatform) -> int:
    from service.lti.models import LtiPlatform

    with app.app_context():
        found = db.session.scalar(select(LtiPlatform.id).where(LtiPlatform.issuer == fake.issuer))
        assert found is not None
        return int(found)


def course_of(app: Flask, fake: FakePlatform, context: str) -> tuple[int, str]:
    """(id, slug) of the course holdout bound to this platform's context."""
    pid = platform_id(app, fake)
    with app.app_context():
        row = db.session.scalar(
            select(LtiContext).where(
                LtiContext.platform_id == pid, LtiContext.context_id == context
            )
        )
        assert row is not None
        return row.course_id, str(row.course.slug)


def members(app: Flask, course_id: int) -> set[str]:
    with app.app_context():
        names = db.session.scalars(
            select(User.name)
            .join(Enrollment, Enrollment.user_id == User.id)
            .where(Enrollment.course_id == course_id)
        )
        return set(names)


def instructor_launch(app: Flask, fake: FakePlatform, context: str) -> FlaskClient:
    """An Instructor launch from this platform's context, in a browser of its own."""
    browser = app.test_client()
    claims = fake.claims("prof", context=context, custom={"question": QUESTION["slug"]})
    response = launch(browser, fake, claims)
    assert response.status_code == 303, page_text(response)
    return browser


def colliding_digests(monkeypatch: pytest.MonkeyPatch, target: str, attacker: str) -> None:
    """Make the slug digest of the attacker's "platform id:context id" the target's (what a
    platform would get by brute-forcing a short digest), every other hash as it is."""
    real = hashlib.sha256

    def sha256(data: bytes = b"") -> Any:
        return real(target.encode() if data == attacker.encode() else data)

    monkeypatch.setattr(launch_module, "hashlib", SimpleNamespace(sha256=sha256))


def test_a_platform_whose_context_collides_gets_a_course_of_its_own(
    app: Flask,
    platform: FakePlatform,
    other_platform: FakePlatform,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    victim_browser = instructor_launch(app, platform, "course-101")
    victim_id, victim_slug = course_of(app, platform, "course-101")
    victim_members = members(app, victim_id)

    # The other platform's context gets the very slug the victim's course has.
    colliding_digests(
        monkeypatch,
        f"{platform_id(app, platform)}:course-101",
        f"{platform_id(app, other_platform)}:evil-context",
    )
    intruder = instructor_launch(app, other_platform, "evil-context")
    own_id, own_slug = course_of(app, other_platform, "evil-context")

    assert own_id != victim_id and own_slug != victim_slug
    assert own_slug.startswith(victim_slug + "-")  # the clash made another slug, never reused
    assert members(app, victim_id) == victim_members  # nobody joined the victim's course
    assert victim_browser.get(f"/api/v1/courses/{victim_slug}/gradebook").status_code == 200
    assert intruder.get(f"/api/v1/courses/{victim_slug}/gradebook").status_code in (403, 404)
    assert intruder.get(f"/api/v1/courses/{own_slug}/gradebook").status_code == 200
    with app.app_context():
        victim = db.session.get(Course, victim_id)
        assert victim is not None and victim.slug == victim_slug
        rows = db.session.scalars(select(LtiContext).where(LtiContext.course_id == victim_id))
        assert [r.context_id for r in rows] == ["course-101"]


def test_a_course_staff_named_like_an_lms_course_is_never_adopted(
    app: Flask, platform: FakePlatform, token_for: Callable[..., str]
) -> None:
    digest = hashlib.sha256(f"{platform_id(app, platform)}:course-101".encode()).hexdigest()
    # Staff courses with the slug the launch's context would get (8 or 16 hex digits).
    staff_slugs = [f"lti-ml-101-{digest[:8]}", f"lti-ml-101-{digest[:16]}"]
    staff = bearer(token_for("instructor", "site-prof"))
    for slug in staff_slugs:
        token_for("instructor", "staff-" + slug, course=slug)
    staff_ids = []
    with app.app_context():
        for slug in staff_slugs:
            course = db.session.scalar(select(Course).where(Course.slug == slug))
            assert course is not None
            staff_ids.append(course.id)
    before = {course_id: members(app, course_id) for course_id in staff_ids}

    browser = instructor_launch(app, platform, "course-101")
    course_id, slug = course_of(app, platform, "course-101")

    assert course_id not in staff_ids and slug not in staff_slugs
    assert slug.startswith("lti-ml-101-")
    for course_id_before, names in before.items():
        assert members(app, course_id_before) == names
        assert "Pat Professor" not in names
    for staff_slug in staff_slugs:
        assert browser.get(f"/api/v1/courses/{staff_slug}/gradebook").status_code in (403, 404)
    assert browser.get(f"/api/v1/courses/{slug}/gradebook").status_code == 200
    assert client_gradebook(app, staff, slug) == 200  # a site-wide instructor, as before


def client_gradebook(app: Flask, headers: dict[str, str], slug: str) -> int:
    return app.test_client().get(f"/api/v1/courses/{slug}/gradebook", headers=headers).status_code


def test_the_same_context_id_on_two_platforms_is_two_courses(
    app: Flask, platform: FakePlatform, other_platform: FakePlatform
) -> None:
    first = instructor_launch(app, platform, "course-101")
    second = instructor_launch(app, other_platform, "course-101")
    first_id, first_slug = course_of(app, platform, "course-101")
    second_id, second_slug = course_of(app, other_platform, "course-101")

    assert first_id != second_id
    assert first.get(f"/api/v1/courses/{second_slug}/gradebook").status_code in (403, 404)
    assert second.get(f"/api/v1/courses/{first_slug}/gradebook").status_code in (403, 404)
    # A later launch finds its course by its context, as before.
    instructor_launch(app, other_platform, "course-101")
    assert course_of(app, other_platform, "course-101") == (second_id, second_slug)


def test_a_roster_sync_enrols_only_in_its_contexts_course(
    app: Flask,
    platform: FakePlatform,
    other_platform: FakePlatform,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    instructor_launch(app, platform, "course-101")
    victim_id, _ = course_of(app, platform, "course-101")
    colliding_digests(
        monkeypatch,
        f"{platform_id(app, platform)}:course-101",
        f"{platform_id(app, other_platform)}:evil-context",
    )
    other_platform.enrol("evil-context", "mallory")
    instructor_launch(app, other_platform, "evil-context")
    own_id, _ = course_of(app, other_platform, "evil-context")

    with app.app_context():
        for context in nrps.course_contexts(own_id):
            assert nrps.sync_and_commit(context).members == 1
    assert "Mallory" in members(app, own_id)
    assert "Mallory" not in members(app, victim_id)
