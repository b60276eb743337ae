"""What a launch or a roster stores is bounded at the boundary: an id that does not fit its column
(or holds a control character) refuses the launch with the readable page, status 400, and is
skipped (and logged) by a roster sync, never cut; names and titles lose control characters and are
cut to their column (fake LMS over HTTP, real JWTs; on SQLite and PostgreSQL, where an oversized
or NUL-holding value would otherwise fail the insert as a 500)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from service.lti import nrps
from service.lti.models import LtiContext, LtiResourceLink, LtiUser
from service.models import Course, User, db
from tests.lti.conftest import QUESTION, launch, page_text
from tests.lti.platform import FakePlatform

pytestmark = pytest.mark.usefixtures("content")

LTI = "https://purl.imsglobal.org/spec/lti/claim/"


def _context_id(value: str) -> Any:
    def tamper(claims: dict[str, Any]) -> None:
        claims[LTI + "context"]["id"] = value

    return tamper


def _link_id(value: str) -> Any:
    def tamper(claims: dict[str, Any]) -> None:
        claims[LTI + "resource_link"]["id"] = value

    return tamper


def _set(**changes: Any) -> Any:
    def tamper(claims: dict[str, Any]) -> None:
        claims.update(changes)

    return tamper


def _custom(**custom: str) -> Any:
    def tamper(claims: dict[str, Any]) -> None:
        claims[LTI + "custom"] = custom

    return tamper


UNUSABLE = [
    pytest.param(_set(sub="s" * 256), "subject", id="sub-too-long"),
    pytest.param(_set(sub="user\x00alice"), "subject", id="sub-with-nul"),
    pytest.param(_set(sub="   "), "subject", id="sub-blank"),
    pytest.param(_context_id("c" * 256), "context id", id="context-too-long"),
    pytest.param(_context_id("course\n101"), "context id", id="context-with-newline"),
    pytest.param(_link_id("r" * 3000), "resource link id", id="link-too-long"),
    pytest.param(_link_id("link\x001"), "resource link id", id="link-with-nul"),
    pytest.param(_custom(quiz="q" * 81), "question or quiz", id="quiz-too-long"),
    pytest.param(_custom(question="q\x00"), "question or quiz", id="question-with-nul"),
]


def stored(app: Flask) -> tuple[int, int, int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count(LtiUser.id))) or 0,
            db.session.scalar(select(func.count(LtiContext.id))) or 0,
            db.session.scalar(select(func.count(LtiResourceLink.id))) or 0,
            db.session.scalar(select(func.count(Course.id)).where(Course.slug.startswith("lti-m")))
            or 0,
        )


@pytest.mark.parametrize(("tamper", "what"), UNUSABLE)
def test_an_id_that_does_not_fit_refuses_the_launch_with_a_page(
    app: Flask, client: FlaskClient, platform: FakePlatform, tamper: Any, what: str
) -> None:
    claims = platform.claims("alice", custom={"question": QUESTION["slug"]})
    response = launch(client, platform, claims, tamper=tamper)

    assert response.status_code == 400, page_text(response)
    assert response.mimetype == "text/html"
    text = page_text(response)
    assert "Invalid launch" in text and what in text, text
    assert stored(app) == (0, 0, 0, 0)


def test_ids_that_fill_their_columns_exactly_are_taken_whole(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    sub, context, link = "s" * 255, "c" * 255, "r" * 255
    claims = platform.claims(
        "alice", context=context, resource_link=link, custom={"question": QUESTION["slug"]}
    )
    claims["sub"] = sub
    response = launch(client, platform, claims)

    assert response.status_code == 303, page_text(response)
    with app.app_context():
        assert db.session.scalar(select(LtiUser.sub)) == sub
        assert db.session.scalar(select(LtiContext.context_id)) == context
        assert db.session.scalar(select(LtiResourceLink.resource_link_id)) == link


def test_names_and_titles_lose_control_characters_and_are_cut_to_fit(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    claims = platform.claims("alice", custom={"question": QUESTION["slug"]})
    claims["name"] = "Eve\x00 \x1b[31mRed\x7f" + "e" * 500
    claims[LTI + "context"]["title"] = "Machine\x00Learning\n101" + "!" * 500
    claims[LTI + "resource_link"]["title"] = "Reg\x00ularization"
    response = launch(client, platform, claims)

    assert response.status_code == 303, page_text(response)
    with app.app_context():
        (name,) = db.session.scalars(select(User.name).where(User.name.startswith("Eve"))).all()
        assert name.startswith("Eve [31mRed ee") and len(name) <= 150
        context = db.session.scalar(select(LtiContext))
        assert context is not None
        assert context.title.startswith("Machine Learning 101!") and len(context.title) == 200
        assert context.course.title == context.title
        link = db.session.scalar(select(LtiResourceLink))
        assert link is not None and link.title == "Reg ularization"
        for text in (name, context.title, link.title):
            assert not any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in text)


def test_a_roster_skips_and_logs_members_whose_id_does_not_fit_never_cut(
    app: Flask,
    client: FlaskClient,
    platform: FakePlatform,
    caplog: pytest.LogCaptureFixture,
) -> None:
    response = launch(client, platform, platform.claims("prof", custom={"question": "x"}))
    assert response.status_code in (303, 404), page_text(response)
    long_sub = "u" * 300
    with platform.lock:
        platform.roster["course-101"] = [
            {"user_id": long_sub, "name": "Long Id", "roles": [], "status": "Active"},
            {"user_id": "nul\x00id", "name": "Nul Id", "roles": [], "status": "Active"},
            {"user_id": "user-ok", "name": "Ok\x00 Person\x07", "roles": [], "status": "Active"},
            {"user_id": "user-prof-9", "name": "Pat Professor", "status": "Active"},
        ]
    with app.app_context(), caplog.at_level(logging.WARNING, logger="holdout.lti"):
        (context,) = db.session.scalars(select(LtiContext)).all()
        result = nrps.sync_and_commit(context)
    assert (result.members, result.skipped) == (2, 2)
    assert [r for r in caplog.records if r.getMessage() == "roster member skipped"]
    with app.app_context():
        subs = set(db.session.scalars(select(LtiUser.sub)))
        assert subs == {"user-prof-9", "user-ok"}
        assert db.session.scalar(select(User.id).where(User.name == "Ok Person")) is not None

    # The same person's launch is refused, not stored under a cut id: one person, no user.
    claims = platform.claims("alice", custom={"question": QUESTION["slug"]})
    claims["sub"] = long_sub
    assert launch(client, platform, claims).status_code == 400
    with app.app_context():
        assert not any(s.startswith("uuu") for s in db.session.scalars(select(LtiUser.sub)))
