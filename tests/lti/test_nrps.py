"""Names and Role Provisioning Services against the fake LMS over HTTP: the roster pulled page by
page (Link rel="next") with an NRPS access token, members who never launched in the gradebook,
roles mapped to course roles, members who left marked (not deleted), on demand (API for the
course's staff, CLI) and daily (the background task)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from service.background import background
from service.lti.models import LtiContext, LtiMembership
from service.lti.nrps import MAX_PAGES, SCOPE, next_link
from service.models import CourseRole, Enrollment, User, db
from tests.helpers import bearer
from tests.lti.conftest import launch
from tests.lti.platform import INSTRUCTOR, TA, FakePlatform

CONTEXT = "course-101"


def course_slug(app: Flask) -> str:
    with app.app_context():
        context = db.session.scalar(select(LtiContext))
        assert context is not None
        return str(context.course.slug)


def staff_token(app: Flask, token_for: Callable[..., str], role: CourseRole) -> dict[str, str]:
    """A token of the LTI course, scoped to it, with this membership role."""
    slug = course_slug(app)
    token = token_for("instructor", f"staff-{role.value}", course=slug)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.name == f"staff-{role.value}"))
        assert user is not None
        db.session.execute(
            update(Enrollment).where(Enrollment.user_id == user.id).values(role=role)
        )
        db.session.commit()
    return bearer(token)


@pytest.fixture
def launched(app: Flask, client: FlaskClient, platform: FakePlatform) -> FakePlatform:
    """The instructor launched once: the course exists and holdout knows its roster URL."""
    platform.enrol(CONTEXT, "prof")
    platform.enrol(CONTEXT, "alice")
    platform.enrol(CONTEXT, "bob")
    platform.enrol(CONTEXT, "carol", roles=[TA])
    platform.enrol(CONTEXT, "dave")
    response = launch(client, platform, platform.claims("prof", custom={"question": "x"}))
    assert response.status_code in (303, 404), response.get_data(as_text=True)
    return platform


def test_link_header_next_is_found_among_other_relations() -> None:
    header = '<https://lms/m?p=1>; rel="differences", <https://lms/m?p=2>; rel="next"'
    assert next_link(header) == "https://lms/m?p=2"
    assert next_link('<https://lms/m?p=3>; rel="prev next"') == "https://lms/m?p=3"
    assert next_link('<https://lms/m?p=1>; rel="differences"') is None
    assert next_link(None) is None


def test_sync_pulls_every_page_and_the_gradebook_lists_who_never_launched(
    app: Flask, client: FlaskClient, launched: FakePlatform, token_for: Callable[..., str]
) -> None:
    headers = staff_token(app, token_for, CourseRole.TEACHING_ASSISTANT)
    slug = course_slug(app)
    response = client.post(f"/api/v1/courses/{slug}/roster/sync", headers=headers)
    assert response.status_code == 200, response.get_json()
    (synced,) = response.get_json()["synced"]
    assert synced["members"] == 5 and synced["pages"] == 3  # pages of 2: 2 + 2 + 1
    assert launched.recorded.roster_requests == [{}, {"page": "2"}, {"page": "3"}]
    assert [r.get("scope") for r in launched.recorded.token_requests] == [SCOPE]

    book = client.get(f"/api/v1/courses/{slug}/gradebook", headers=headers).get_json()
    names = sorted(s["user"]["name"] for s in book["students"])
    assert names == ["Alice Learner", "Bob Learner", "Dave"]  # none of them launched

    roster = client.get(f"/api/v1/courses/{slug}/roster", headers=headers).get_json()
    roles = {m["lms_user_id"]: m["course_role"] for m in roster["items"]}
    assert roles == {
        "user-prof-9": "instructor",
        "user-alice-1": "student",
        "user-bob-2": "student",
        "carol": "teaching_assistant",
        "dave": "student",
    }
    assert all(m["gone_at"] is None for m in roster["items"])

    # Carol, a TA on the roster, may act as staff once she launches: she is a member already.
    with app.app_context():
        carol = db.session.scalar(select(User).where(User.name == "Carol"))
        assert carol is not None
        enrolment = db.session.scalar(select(Enrollment).where(Enrollment.user_id == carol.id))
        assert enrolment is not None and enrolment.role == CourseRole.TEACHING_ASSISTANT


def test_members_who_left_are_marked_and_kept_and_come_back(
    app: Flask, client: FlaskClient, launched: FakePlatform, token_for: Callable[..., str]
) -> None:
    headers = staff_token(app, token_for, CourseRole.INSTRUCTOR)
    slug = course_slug(app)
    assert client.post(f"/api/v1/courses/{slug}/roster/sync", headers=headers).status_code == 200
    launched.unenrol(CONTEXT, "bob")
    launched.enrol(CONTEXT, "dave", status="Deleted")
    (synced,) = client.post(f"/api/v1/courses/{slug}/roster/sync", headers=headers).get_json()[
        "synced"
    ]
    assert synced["gone"] == 2 and synced["members"] == 3

    roster = client.get(f"/api/v1/courses/{slug}/roster", headers=headers).get_json()
    gone = {m["lms_user_id"] for m in roster["items"] if m["gone_at"]}
    assert gone == {"user-bob-2", "dave"}
    book = client.get(f"/api/v1/courses/{slug}/gradebook", headers=headers).get_json()
    assert "Bob Learner" in {s["user"]["name"] for s in book["students"]}  # kept, with his work

    launched.enrol(CONTEXT, "bob")
    client.post(f"/api/v1/courses/{slug}/roster/sync", headers=headers)
    roster = client.get(f"/api/v1/courses/{slug}/roster", headers=headers).get_json()
    assert {m["lms_user_id"] for m in roster["items"] if m["gone_at"]} == {"dave"}


def test_a_student_may_not_sync_and_a_course_without_roster_says_why(
    app: Flask,
    client: FlaskClient,
    launched: FakePlatform,
    student: dict[str, str],
    instructor: dict[str, str],
) -> None:
    slug = course_slug(app)
    assert client.post(f"/api/v1/courses/{slug}/roster/sync", headers=student).status_code == 403
    assert launched.recorded.roster_requests == []
    created = client.post(
        "/api/v1/courses", json={"slug": "plain", "title": "Plain"}, headers=instructor
    )
    assert created.status_code == 201, created.get_json()
    answer = client.post("/api/v1/courses/plain/roster/sync", headers=instructor)
    assert answer.status_code == 409
    assert answer.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    "breakage",
    ["status", "not-json", "loop", "other-context", "no-members", "huge"],
)
def test_a_bad_roster_is_a_502_problem_and_changes_nothing(
    app: Flask,
    client: FlaskClient,
    launched: FakePlatform,
    instructor: dict[str, str],
    breakage: str,
) -> None:
    from flask import Response, jsonify

    slug = course_slug(app)
    view = launched.app.view_functions["memberships"]

    def broken(context: str) -> Response | tuple[str, int]:
        if breakage == "status":
            return "down", 503
        if breakage == "not-json":
            return "<html>", 200
        if breakage == "no-members":
            return jsonify({"id": "x", "members": "everyone"})
        if breakage == "huge":  # past the cap on a page (4 MiB)
            return jsonify({"id": "x", "members": [{"user_id": "u", "name": "n" * 5_000_000}]})
        if breakage == "other-context":
            return jsonify({"id": "x", "context": {"id": "another"}, "members": []})
        answer: Response = view(context)
        answer.headers["Link"] = f'<{launched.base}/contexts/{context}/memberships>; rel="next"'
        return answer

    launched.app.view_functions["memberships"] = broken
    answer = client.post(f"/api/v1/courses/{slug}/roster/sync", headers=instructor)
    assert answer.status_code == 502, answer.get_json()
    assert answer.mimetype == "application/problem+json"
    with app.app_context():
        assert db.session.scalar(select(LtiMembership)) is None
        context = db.session.scalar(select(LtiContext))
        assert context is not None and context.roster_error


def test_a_roster_of_too_many_pages_is_refused(
    app: Flask, client: FlaskClient, launched: FakePlatform, instructor: dict[str, str]
) -> None:
    from flask import Response, jsonify

    def endless(context: str) -> Response:
        from flask import request

        page = int(request.args.get("page", "1"))
        answer = jsonify({"id": "x", "members": []})
        nxt = f"{launched.base}/contexts/{context}/memberships?page={page + 1}"
        answer.headers["Link"] = f'<{nxt}>; rel="next"'
        return answer

    launched.app.view_functions["memberships"] = endless
    answer = client.post(f"/api/v1/courses/{course_slug(app)}/roster/sync", headers=instructor)
    assert answer.status_code == 502
    assert f"more than {MAX_PAGES} pages" in answer.get_json()["detail"]


def test_the_daily_task_syncs_each_roster_once_a_day(app: Flask, launched: FakePlatform) -> None:
    tasks = background(app)
    assert tasks.run_once("lti-rosters") == 1
    assert len(launched.recorded.roster_requests) == 3
    assert tasks.run_once("lti-rosters") == 0  # done for today
    with app.app_context():
        assert len(db.session.scalars(select(LtiMembership)).all()) == 5
        db.session.execute(update(LtiContext).values(roster_due_at=None))
        db.session.commit()
    launched.unenrol(CONTEXT, "alice")
    assert tasks.run_once("lti-rosters") == 1
    with app.app_context():
        gone = db.session.scalars(select(LtiMembership).where(LtiMembership.gone_at.is_not(None)))
        assert len(gone.all()) == 1


def test_odd_members_are_skipped_or_taken_as_learners_never_a_crash(
    app: Flask, client: FlaskClient, launched: FakePlatform, instructor: dict[str, str]
) -> None:
    with launched.lock:
        launched.roster[CONTEXT] = [
            {"name": "no id"},
            {"user_id": True},
            {"user_id": 42, "roles": 7, "status": ["x"], "name": {"first": "x"}},
            {"user_id": "u-" + "x" * 400, "roles": "Instructor", "email": "e@example.com"},
        ]
    answer = client.post(f"/api/v1/courses/{course_slug(app)}/roster/sync", headers=instructor)
    assert answer.status_code == 200, answer.get_json()
    (synced,) = answer.get_json()["synced"]
    # An id longer than its column is skipped like one missing, never cut to fit.
    assert (synced["members"], synced["skipped"]) == (1, 3)
    roster = client.get(f"/api/v1/courses/{course_slug(app)}/roster", headers=instructor)
    assert {m["course_role"] for m in roster.get_json()["items"]} == {"student"}


def test_the_cli_syncs_rosters(app: Flask, launched: FakePlatform) -> None:
    from service.lti.cli import lti_group

    result = app.test_cli_runner().invoke(lti_group, ["roster", "sync"])
    assert result.exit_code == 0, result.output
    assert "5 members (5 new, 0 gone) in 3 page(s)" in result.output


def test_a_later_launch_without_roster_claim_keeps_the_url_and_a_new_one_wins(
    app: Flask, client: FlaskClient, launched: FakePlatform
) -> None:
    claims = launched.claims("alice", custom={"question": "x"}, roster=False)
    launch(client, launched, claims)
    with app.app_context():
        context = db.session.scalar(select(LtiContext))
        assert context is not None
        assert context.memberships_url == f"{launched.base}/contexts/{CONTEXT}/memberships"
    claims = launched.claims("alice", custom={"question": "x"})
    claims["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"][
        "context_memberships_url"
    ] = launched.base + "/contexts/course-101/memberships?role=Learner"
    launch(client, launched, claims)
    with app.app_context():
        context = db.session.scalar(select(LtiContext))
        assert context is not None and context.memberships_url.endswith("?role=Learner")


def test_the_ags_claim_of_the_latest_launch_wins_and_the_change_is_logged(
    app: Flask,
    client: FlaskClient,
    platform: FakePlatform,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from service.lti.models import LtiResourceLink

    first = platform.claims("alice", custom={"question": "x"}, lineitem=platform.base + "/li/1")
    launch(client, platform, first)
    second = platform.claims("bob", custom={"question": "x"})
    ags = second["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"]
    ags["scope"] = ags["scope"][-1:]
    ags["lineitems"] = platform.base + "/other-lineitems"
    with caplog.at_level(logging.INFO, logger="holdout.lti"):
        launch(client, platform, second)
    with app.app_context():
        link = db.session.scalar(select(LtiResourceLink))
        assert link is not None
        assert link.lineitems_url == platform.base + "/other-lineitems"
        assert link.lineitem_url is None
        assert link.ags_scopes == ags["scope"]
    (record,) = [r for r in caplog.records if r.getMessage() == "lti ags claim changed"]
    assert record.before["lineitem"] == platform.base + "/li/1"  # type: ignore[attr-defined]
    assert record.after["scope"] == ags["scope"]  # type: ignore[attr-defined]
    json.dumps(record.after)  # type: ignore[attr-defined]

    third = platform.claims("alice", custom={"question": "x"})
    del third["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"]
    launch(client, platform, third)
    with app.app_context():
        link = db.session.scalar(select(LtiResourceLink))
        assert link is not None
        assert (link.lineitems_url, link.lineitem_url, link.ags_scopes) == (None, None, [])


def test_instructor_roles_from_the_roster(app: Flask, launched: FakePlatform) -> None:
    from service.lti.cli import lti_group

    launched.enrol(CONTEXT, "erin", roles=[INSTRUCTOR])
    app.test_cli_runner().invoke(lti_group, ["roster", "sync"])
    with app.app_context():
        erin = db.session.scalar(select(User).where(User.name == "Erin"))
        assert erin is not None
        row = db.session.scalar(select(Enrollment).where(Enrollment.user_id == erin.id))
        assert row is not None and row.role == CourseRole.INSTRUCTOR
