"""An LMS identity (platform and subject) and a user an administrator names are never one account:
a token issued by name never joins a user that LMS launches or rosters made, a launch never joins
a user by its name (whatever role it comes back with, from whichever platform), and a session
limited to a course never lists or revokes its user's broader tokens. Launches go through the
fake LMS over HTTP (on SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.auth import issue_token
from service.lti.models import LtiContext, LtiPlatform, LtiUser
from service.lti.platforms import jwks_cache
from service.models import ApiToken, Course, Enrollment, Role, User, db
from tests.helpers import assert_problem, bearer
from tests.lti.conftest import QUESTION, TOOL_BASE, launch, page_text, tool_jwks
from tests.lti.platform import INSTRUCTOR, PEOPLE, TA, FakePlatform

pytestmark = pytest.mark.usefixtures("content")
TOKENS = "/api/v1/tokens"


def open_question(client: FlaskClient, platform: FakePlatform, person: str) -> None:
    response = launch(
        client, platform, platform.claims(person, custom={"question": QUESTION["slug"]})
    )
    assert response.status_code == 303, page_text(response)


def lms_user(app: Flask, platform: FakePlatform, sub: str, role: Role) -> tuple[int, str]:
    """(id, name) of the holdout user this platform's subject is in this role."""
    with app.app_context():
        row = db.session.execute(
            select(User.id, User.name)
            .join(LtiUser, LtiUser.user_id == User.id)
            .join(LtiPlatform, LtiPlatform.id == LtiUser.platform_id)
            .where(LtiPlatform.issuer == platform.issuer, LtiUser.sub == sub, LtiUser.role == role)
        ).one()
        return int(row.id), str(row.name)


def token_count(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count(ApiToken.id))) or 0)


def issue(client: FlaskClient, admin: dict[str, str], user: str, role: str, **body: Any) -> Any:
    return client.post(
        TOKENS, json={"name": f"for {user}", "user": user, "role": role, **body}, headers=admin
    )


def me(client: FlaskClient, headers: dict[str, str] | None = None) -> dict[str, Any]:
    answer = client.get("/api/v1/me", headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body: dict[str, Any] = answer.get_json()
    return body


def csrf_header(client: FlaskClient) -> dict[str, str]:
    found = re.search(r'name="holdout-csrf" content="([^"]+)"', client.get("/app/").get_data(True))
    assert found is not None
    return {"X-CSRF-Token": found.group(1)}


@pytest.fixture
def sam_the_ta(monkeypatch: pytest.MonkeyPatch) -> None:
    """An LMS teaching assistant whose display name is "prof", the name of the site's real
    instructor (the `instructor` fixture's user)."""
    monkeypatch.setitem(PEOPLE, "sam", {"sub": "user-sam", "name": "prof", "roles": [TA]})


@pytest.mark.usefixtures("sam_the_ta")
def test_a_token_by_name_never_joins_a_user_an_lms_launch_made(
    app: Flask, client: FlaskClient, platform: FakePlatform, admin: dict[str, str]
) -> None:
    open_question(client, platform, "alice")
    open_question(client, platform, "sam")
    alice_id, alice_name = lms_user(app, platform, "user-alice-1", Role.STUDENT)
    sam_id, sam_name = lms_user(app, platform, "user-sam", Role.INSTRUCTOR)
    assert (alice_name, sam_name) == ("Alice Learner", "prof")
    before = token_count(app)

    for name, role, user_id in (
        ("Alice Learner", "student", alice_id),
        ("prof", "instructor", sam_id),
    ):
        refused = issue(client, admin, name, role)
        body = assert_problem(refused, 409, name, "Fake LMS", "another name")
        assert body["conflicting_user"] == {"id": user_id, "name": name, "role": role}
        # The default user name is the token's name: the same rule.
        assert_problem(client.post(TOKENS, json={"name": name, "role": role}, headers=admin), 409)
    assert token_count(app) == before

    # The name is taken in that role only: a student "prof" is someone else, and is made.
    made = issue(client, admin, "prof", "student")
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["user"]["id"] not in (alice_id, sam_id)


def test_a_named_user_stays_apart_from_an_lms_namesake_and_keeps_getting_tokens(
    app: Flask, client: FlaskClient, platform: FakePlatform, admin: dict[str, str]
) -> None:
    first = issue(client, admin, "Alice Learner", "student")
    assert first.status_code == 201, first.get_json()
    local_id = first.get_json()["user"]["id"]

    open_question(client, platform, "alice")  # the LMS's Alice, after the local one
    seen = me(client)  # her LTI session
    assert seen["id"] != local_id and seen["name"].startswith("Alice Learner (")
    assert client.get(TOKENS).get_json()["items"] == []  # the local one's token is not hers

    again = issue(client, admin, "Alice Learner", "student")  # a second token, same person
    assert again.status_code == 201 and again.get_json()["user"]["id"] == local_id
    _, lms_name = lms_user(app, platform, "user-alice-1", Role.STUDENT)
    assert_problem(issue(client, admin, lms_name, "student"), 409, lms_name)


def test_a_relaunch_in_another_role_makes_its_own_lms_user_never_a_named_one(
    app: Flask,
    client: FlaskClient,
    platform: FakePlatform,
    admin: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    open_question(client, platform, "alice")  # as a learner
    named = issue(client, admin, "Alice Learner", "instructor")  # free among instructors
    assert named.status_code == 201, named.get_json()
    named_id = named.get_json()["user"]["id"]

    monkeypatch.setitem(PEOPLE, "alice", {**PEOPLE["alice"], "roles": [INSTRUCTOR]})
    open_question(client, platform, "alice")  # the same LMS person, now teaching the course
    teacher_id, teacher_name = lms_user(app, platform, "user-alice-1", Role.INSTRUCTOR)
    assert teacher_id != named_id and me(client)["id"] == teacher_id
    with app.app_context():
        # The named instructor got no membership of the LMS course from the launch.
        assert (
            db.session.scalar(select(Enrollment.id).where(Enrollment.user_id == named_id)) is None
        )
    assert_problem(issue(client, admin, teacher_name, "instructor"), 409, teacher_name)
    assert me(client, bearer(named.get_json()["token"]))["id"] == named_id


@pytest.fixture
def other_platform(
    app: Flask, client: FlaskClient, admin: dict[str, str]
) -> Iterator[FakePlatform]:
    """A second LMS, with the same people (the same display names and subjects)."""
    fake = FakePlatform(TOOL_BASE, lambda: tool_jwks(app)).start()
    registered = client.post("/api/v1/lti/platforms", json=fake.registration(), headers=admin)
    assert registered.status_code == 201, registered.get_json()
    yield fake
    fake.stop()
    jwks_cache.clear()


def test_the_same_person_on_another_platform_is_another_user(
    app: Flask, platform: FakePlatform, other_platform: FakePlatform
) -> None:
    open_question(app.test_client(), platform, "alice")
    open_question(app.test_client(), other_platform, "alice")
    here, _ = lms_user(app, platform, "user-alice-1", Role.STUDENT)
    there, _ = lms_user(app, other_platform, "user-alice-1", Role.STUDENT)
    assert here != there


def test_roster_members_who_never_launched_are_lms_users_too(
    app: Flask, client: FlaskClient, platform: FakePlatform, admin: dict[str, str]
) -> None:
    platform.enrol("course-101", "prof")
    platform.enrol("course-101", "rita")  # on the roster as "Rita", never launched
    open_question(client, platform, "prof")
    with app.app_context():
        slug = db.session.scalar(select(Course.slug).join(LtiContext))
    synced = client.post(f"/api/v1/courses/{slug}/roster/sync", headers=admin)
    assert synced.status_code == 200, synced.get_json()
    rita_id, _ = lms_user(app, platform, "rita", Role.STUDENT)
    body = assert_problem(issue(client, admin, "Rita", "student"), 409, "Rita", "Fake LMS")
    assert body["conflicting_user"]["id"] == rita_id


def test_a_launch_gets_a_name_of_its_own_when_namesakes_took_every_tag(
    app: Flask, client: FlaskClient, platform: FakePlatform, admin: dict[str, str]
) -> None:
    with app.app_context():
        platform_id = db.session.scalar(
            select(LtiPlatform.id).where(LtiPlatform.issuer == platform.issuer)
        )
    tag = hashlib.sha256(f"{platform_id}:user-alice-1".encode()).hexdigest()[:6]
    # Display names are anyone's to choose: these could be LMS users as well as named ones.
    squatted = [
        "Alice Learner",
        f"Alice Learner ({tag})",
        f"Alice Learner ({platform_id}:user-alice-1)",
    ]
    taken = {issue(client, admin, name, "student").get_json()["user"]["id"] for name in squatted}
    assert len(taken) == 3

    open_question(client, platform, "alice")
    alice_id, alice_name = lms_user(app, platform, "user-alice-1", Role.STUDENT)
    assert alice_id not in taken and alice_name not in squatted
    assert alice_name.startswith("Alice Learner (") and me(client)["id"] == alice_id


@pytest.mark.usefixtures("sam_the_ta")
def test_an_lms_session_lists_and_revokes_only_its_own_tokens_of_its_course(
    app: Flask, client: FlaskClient, platform: FakePlatform, admin: dict[str, str]
) -> None:
    open_question(client, platform, "sam")
    sam_id, _ = lms_user(app, platform, "user-sam", Role.INSTRUCTOR)
    assert (
        client.post(
            "/api/v1/courses", json={"slug": "elsewhere", "title": "Elsewhere"}, headers=admin
        ).status_code
        == 201
    )
    # Tokens on the LMS user's own row, as the name match gave them before it was refused (an
    # account merged then keeps them): site-wide, another course's, and the LMS course's own.
    with app.app_context():
        sam = db.session.get(User, sam_id)
        assert sam is not None
        lms_course = db.session.scalar(select(Course).join(LtiContext))
        elsewhere = db.session.scalar(select(Course).where(Course.slug == "elsewhere"))
        made = {
            scope: issue_token(sam, scope, course)
            for scope, course in (("site", None), ("elsewhere", elsewhere), ("lms", lms_course))
        }
        db.session.commit()
        ids = {scope: token.id for scope, (token, _) in made.items()}
        plain = {scope: secret for scope, (_, secret) in made.items()}

    headers = csrf_header(client)  # the TA's LTI session, limited to the LMS course
    listed = client.get(TOKENS).get_json()["items"]
    assert [t["id"] for t in listed] == [ids["lms"]]
    for broader in ("site", "elsewhere"):
        assert_problem(client.delete(f"{TOKENS}/{ids[broader]}", headers=headers), 404)
        assert me(client.application.test_client(), bearer(plain[broader]))["id"] == sam_id
    assert client.delete(f"{TOKENS}/{ids['lms']}", headers=headers).status_code == 204
    assert (
        client.application.test_client().get("/api/v1/me", headers=bearer(plain["lms"])).status_code
        == 401
    )
    # The site-wide token sees all three (the revoked one too).
    everything = client.application.test_client().get(TOKENS, headers=bearer(plain["site"]))
    assert sorted(t["id"] for t in everything.get_json()["items"]) == sorted(ids.values())
