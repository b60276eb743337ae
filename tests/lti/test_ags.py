"""Assignment and Grade Services against the fake LMS over HTTP: the line item made once per
resource link, a score for each grade with the AGS media type, access tokens from the platform's
token endpoint (cached), retries, and the delivery log."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from service.lti.ags import SCORE_TYPE, run_lti_background
from service.lti.models import LtiResourceLink, LtiScoreDelivery
from service.models import JobStatus, db, utcnow
from tests.lti.conftest import OTHER, QUESTION, QUIZ, csrf_of, launch
from tests.lti.platform import FakePlatform

pytestmark = pytest.mark.usefixtures("content")
ANSWER = f"answer-{QUESTION['slug']}"


def answer_question(client: FlaskClient, choice: str) -> None:
    page = client.get(f"/app/questions/{QUESTION['slug']}")
    response = client.post(
        f"/app/questions/{QUESTION['slug']}", data={"csrf": csrf_of(page), ANSWER: choice}
    )
    assert response.status_code == 303, response.get_data(as_text=True)


def deliveries(app: Flask) -> list[LtiScoreDelivery]:
    with app.app_context():
        rows = list(db.session.scalars(select(LtiScoreDelivery).order_by(LtiScoreDelivery.id)))
        db.session.expunge_all()
        return rows


def make_due(app: Flask) -> None:
    with app.app_context():
        db.session.execute(update(LtiScoreDelivery).values(next_try_at=utcnow()))
        db.session.commit()


def test_each_grade_posts_a_score_to_one_line_item(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    claims = platform.claims("alice", custom={"question": QUESTION["slug"]})
    assert launch(client, platform, claims).status_code == 303

    answer_question(client, "b")  # wrong: 0 points
    assert run_lti_background(app) == 1
    answer_question(client, "a")  # right: 2 points
    assert run_lti_background(app) == 1

    assert len(platform.recorded.lineitem_posts) == 1
    item = platform.recorded.lineitem_posts[0]
    assert item["scoreMaximum"] == QUESTION["points"]
    assert item["resourceLinkId"] == "link-1"
    assert item["resourceId"] == QUESTION["slug"]
    scores = platform.recorded.scores
    assert [s["content_type"] for s in scores] == [SCORE_TYPE, SCORE_TYPE]
    first, second = scores[0]["body"], scores[1]["body"]
    assert first["userId"] == second["userId"] == "user-alice-1"
    assert (first["scoreGiven"], second["scoreGiven"]) == (0.0, 2.0)
    assert first["scoreMaximum"] == 2.0
    assert first["activityProgress"] == "Completed"
    assert first["gradingProgress"] == "FullyGraded"
    assert first["timestamp"].endswith("Z") and first["timestamp"] <= second["timestamp"]
    # One token per scope, reused for the second score.
    scopes = sorted(r["scope"] for r in platform.recorded.token_requests)
    assert scopes == [
        "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
        "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    ]
    rows = deliveries(app)
    assert [r.status for r in rows] == [JobStatus.DONE, JobStatus.DONE]
    assert rows[0].sent_to == f"{platform.base}/lineitems/1/scores"
    with app.app_context():
        link = db.session.scalar(select(LtiResourceLink))
        assert link is not None and link.lineitem_url == f"{platform.base}/lineitems/1"


def test_best_score_counts_so_a_worse_answer_does_not_lower_it(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    claims = platform.claims("alice", custom={"question": QUESTION["slug"]})
    launch(client, platform, claims)
    answer_question(client, "a")
    answer_question(client, "b")
    assert run_lti_background(app) == 2
    assert [s["body"]["scoreGiven"] for s in platform.recorded.scores] == [2.0, 2.0]


def test_a_line_item_given_by_the_platform_is_used_as_it_is(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    platform.lineitems[1] = {"id": f"{platform.base}/lineitems/1", "resourceLinkId": "link-1"}
    claims = platform.claims(
        "alice", custom={"question": QUESTION["slug"]}, lineitem=f"{platform.base}/lineitems/1"
    )
    launch(client, platform, claims)
    answer_question(client, "a")
    run_lti_background(app)
    assert platform.recorded.lineitem_posts == []
    assert platform.recorded.scores[0]["lineitem"] == 1


def test_an_existing_line_item_is_found_not_made_twice(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    """A tool that crashed after creating the line item finds it on the platform."""
    platform.lineitems[7] = {
        "id": f"{platform.base}/lineitems/7",
        "resourceLinkId": "link-1",
        "tag": "holdout",
    }
    launch(client, platform, platform.claims("alice", custom={"question": QUESTION["slug"]}))
    answer_question(client, "a")
    run_lti_background(app)
    assert platform.recorded.lineitem_posts == []
    assert platform.recorded.scores[0]["lineitem"] == 7


def test_a_failed_post_is_retried_and_every_try_is_logged(
    app: Flask, client: FlaskClient, platform: FakePlatform, admin: dict[str, str]
) -> None:
    launch(client, platform, platform.claims("alice", custom={"question": QUESTION["slug"]}))
    platform.fail_next_scores = 1
    answer_question(client, "a")

    assert run_lti_background(app) == 1
    (row,) = deliveries(app)
    assert (row.status, row.tries, row.last_status_code) == (JobStatus.QUEUED, 1, 503)
    assert row.next_try_at > utcnow()  # backing off
    assert run_lti_background(app) == 0  # not due yet

    make_due(app)
    assert run_lti_background(app) == 1
    (row,) = deliveries(app)
    assert (row.status, row.tries, row.last_status_code) == (JobStatus.DONE, 2, 204)
    assert len(platform.recorded.scores) == 1

    log = client.get("/api/v1/lti/score-deliveries", headers=admin).get_json()
    (entry,) = log["items"]
    assert [t["status"] for t in entry["log"]] == [503, 204]
    assert "503" in entry["log"][0]["error"]
    assert entry["score"]["scoreGiven"] == 2.0
    assert entry["sent_to"].endswith("/lineitems/1/scores")


def test_a_link_without_grade_services_fails_with_a_reason(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    claims = platform.claims("alice", custom={"question": QUESTION["slug"]})
    del claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"]
    launch(client, platform, claims)
    answer_question(client, "a")
    run_lti_background(app)
    (row,) = deliveries(app)
    assert row.status == JobStatus.FAILED
    assert "Assignment and Grade Services" in (row.last_error or "")


def test_a_submitted_quiz_attempt_posts_the_quiz_score(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    response = launch(client, platform, platform.claims("alice", custom={"quiz": QUIZ["slug"]}))
    page = client.get(response.headers["Location"])
    started = client.post(f"/app/quizzes/{QUIZ['slug']}/attempts", data={"csrf": csrf_of(page)})
    assert started.status_code == 303
    page = client.get(f"/app/quizzes/{QUIZ['slug']}")
    form: dict[str, Any] = {
        "csrf": csrf_of(page),
        ANSWER: "a",  # right: 2 points
        f"answer-{OTHER['slug']}": "false",  # wrong: 0 of 1
        "action": "submit",
    }
    action = _attempt_action(page.get_data(as_text=True))
    submitted = client.post(action, data=form)
    assert submitted.status_code == 303
    result = client.get(submitted.headers["Location"])
    assert "2 / 3 points" in result.get_data(as_text=True)

    run_lti_background(app)
    (score,) = platform.recorded.scores
    assert score["body"]["scoreGiven"] == 2.0
    assert score["body"]["scoreMaximum"] == 3.0
    assert platform.recorded.lineitem_posts[0]["resourceId"] == QUIZ["slug"]


def _attempt_action(page: str) -> str:
    import re

    match = re.search(r'action="(/app/attempts/\d+)"', page)
    assert match, "no attempt form"
    return match.group(1)


def test_scores_of_students_who_never_launched_the_link_are_not_sent(
    app: Flask, client: FlaskClient, platform: FakePlatform, student: dict[str, str]
) -> None:
    launch(client, platform, platform.claims("alice", custom={"question": QUESTION["slug"]}))
    response = client.post(
        f"/api/v1/questions/{QUESTION['slug']}/submissions", json={"answer": "a"}, headers=student
    )
    assert response.status_code == 201
    assert deliveries(app) == []


def test_a_quiz_attempt_submitted_over_the_rest_api_posts_the_quiz_score(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    from service.auth import issue_token
    from service.lti.models import LtiLinkUser

    launch(client, platform, platform.claims("alice", custom={"quiz": QUIZ["slug"]}))
    with app.app_context():
        link_user = db.session.scalars(select(LtiLinkUser)).one()
        _, plain = issue_token(link_user.lti_user.user, "rest client")
        db.session.commit()
    rest = app.test_client()
    headers = {"Authorization": f"Bearer {plain}"}
    attempt = rest.post(f"/api/v1/quizzes/{QUIZ['slug']}/attempts", headers=headers).get_json()
    url = f"/api/v1/attempts/{attempt['id']}/answers/{QUESTION['slug']}"
    assert rest.put(url, json={"answer": "a"}, headers=headers).status_code == 200
    submitted = rest.post(f"/api/v1/attempts/{attempt['id']}/submit", headers=headers)
    assert submitted.get_json()["score"] == 2.0

    run_lti_background(app)
    (score,) = platform.recorded.scores
    assert (score["body"]["scoreGiven"], score["body"]["scoreMaximum"]) == (2.0, 3.0)
