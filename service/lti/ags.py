"""Assignment and Grade Services: a line item per resource link, and a score for each grade.

A score delivery is enqueued in the transaction that writes the grade (a listener of the grade
writer's events, like a webhook) and sent by the outbox's delivery loop (service.outbox), on its
own threads, retried with backoff. Each delivery keeps what was sent, to where, every try and what
came back.

The score sent is the one holdout counts: for a question, the student's best graded score; for a
quiz, the attempt that counts under the quiz's policy. Its `timestamp` is when that grade was
written, so a platform ignores a late retry that is older than a score it already has.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select, update

from service import background, config, events, outbox
from service.events import AttemptHandedIn, AttemptRescored, SubmissionGraded
from service.lti import keys
from service.lti.models import (
    LtiLinkUser,
    LtiPlatform,
    LtiResourceLink,
    LtiScoreDelivery,
    LtiUser,
)
from service.lti.platforms import PlatformError, http_json, token_cache
from service.models import (
    Course,
    Question,
    Quiz,
    QuizAttempt,
    Submission,
    db,
    rows_changed,
    utcnow,
)
from service.outbox import Kind, Outcome, register_kind, wake_deliveries

log = logging.getLogger("holdout.lti")
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
LINEITEM_TYPE = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS_TYPE = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_TAG = "holdout"
MAX_TRIES = config.current().lti_max_tries
BACKOFF_SECONDS = config.current().lti_backoff
CLAIM_SECONDS = 60.0
HOUSEKEEPING_SECONDS = 60.0


class DeliveryError(Exception):
    """A try failed; `final` when trying again cannot help."""

    def __init__(self, message: str, status: int | None = None, final: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.final = final


# --- what to send ------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def score_body(
    sub: str, given: float, maximum: float, moment: datetime, pending: bool = False
) -> dict[str, Any]:
    return {
        "userId": sub,
        "scoreGiven": round(given, 6),
        "scoreMaximum": maximum,
        "activityProgress": "Completed",
        "gradingProgress": "Pending" if pending else "FullyGraded",
        "timestamp": _iso(moment),
    }


def _links_of(user_id: int, **target: str) -> list[LtiLinkUser]:
    query = (
        select(LtiLinkUser)
        .join(LtiResourceLink, LtiResourceLink.id == LtiLinkUser.resource_link_id)
        .join(LtiUser, LtiUser.id == LtiLinkUser.lti_user_id)
        .where(LtiUser.user_id == user_id)
    )
    if "question" in target:
        query = query.where(LtiResourceLink.question_slug == target["question"])
    else:
        query = query.where(LtiResourceLink.quiz_slug == target["quiz"])
    return list(db.session.scalars(query))


def enqueue_for_submission(submission: Submission) -> None:
    """After a question answered on its own is graded (same transaction): scores for the links
    that show it."""
    from service.gradebook import credited_standalone

    links = _links_of(submission.user_id, question=submission.question.slug)
    if not links:
        return
    best = credited_standalone(submission.question, submission.user_id)
    moment = submission.graded_at or utcnow()
    for link_user in links:
        body = score_body(link_user.lti_user.sub, best or 0.0, submission.question.points, moment)
        _enqueue(link_user, body, submission_id=submission.id)


def quiz_score(quiz: Quiz, user_id: int) -> tuple[float, bool] | None:
    """(the counted score, whether grading is still pending), or None before any attempt is
    submitted: the gradebook's own rule (service.gradebook), so the LMS gets what it shows."""
    from service.gradebook import counted_quiz_score

    return counted_quiz_score(quiz, user_id)


def enqueue_for_attempt(attempt: QuizAttempt) -> None:
    """After an attempt is submitted, or one of its code answers graded later."""
    links = _links_of(attempt.user_id, quiz=attempt.quiz.slug)
    if not links:
        return
    counted = quiz_score(attempt.quiz, attempt.user_id)
    if counted is None:
        return
    from service.quizzes import quiz_max_score

    score, pending = counted
    maximum = quiz_max_score(attempt.quiz)
    for link_user in links:
        body = score_body(link_user.lti_user.sub, score, maximum, utcnow(), pending=pending)
        _enqueue(link_user, body, attempt_id=attempt.id)


def _enqueue(link_user: LtiLinkUser, body: dict[str, Any], **source: int) -> None:
    db.session.add(
        LtiScoreDelivery(
            resource_link_id=link_user.resource_link_id,
            lti_user_id=link_user.lti_user_id,
            score=body,
            **source,
        )
    )


def course_links(course: Course) -> tuple[list[str], list[str]]:
    """The quizzes and questions the course's LMS links open, in the order they were made (the
    gradebook counts them as the course's items)."""
    from service.lti.models import LtiContext

    links = db.session.scalars(
        select(LtiResourceLink)
        .join(LtiContext, LtiContext.id == LtiResourceLink.context_id)
        .where(LtiContext.course_id == course.id)
        .order_by(LtiResourceLink.id)
    )
    quizzes: list[str] = []
    questions: list[str] = []
    for link in links:
        if link.quiz_slug and link.quiz_slug not in quizzes:
            quizzes.append(link.quiz_slug)
        if link.question_slug and link.question_slug not in questions:
            questions.append(link.question_slug)
    return quizzes, questions


def target_maximum(link: LtiResourceLink) -> tuple[float, str]:
    """(scoreMaximum, label) of the link's line item."""
    if link.question_slug:
        question = db.session.scalar(select(Question).where(Question.slug == link.question_slug))
        if question is not None:
            return question.points, link.title or question.title
    if link.quiz_slug:
        quiz = db.session.scalar(select(Quiz).where(Quiz.slug == link.quiz_slug))
        if quiz is not None:
            from service.quizzes import quiz_max_score

            return quiz_max_score(quiz), link.title or quiz.title
    return 1.0, link.title or "holdout"


# --- sending -----------------------------------------------------------------------------------


def send(delivery: LtiScoreDelivery) -> Outcome:
    """Send one score (called by the delivery loop): find or create the line item, then POST."""
    link, body = delivery.resource_link, dict(delivery.score)
    url = None
    try:
        lineitem = ensure_line_item(link)
        if lineitem is None:  # another process is creating it: come back soon, no try spent
            return Outcome(again_in=2.0)
        url = scores_url(lineitem)
        return Outcome(status=post_score(link.platform, url, body), url=url)
    except DeliveryError as exc:
        return Outcome(status=exc.status, error=str(exc), url=url, final=exc.final)
    except PlatformError as exc:
        return Outcome(error=str(exc), url=url)


def _sent_to(delivery: LtiScoreDelivery, outcome: Outcome) -> None:
    delivery.sent_to = outcome.url or delivery.sent_to


KIND = Kind(
    name="lti-score",
    model=LtiScoreDelivery,
    send=send,
    destination=lambda delivery: f"lti-platform:{delivery.resource_link.platform_id}",
    max_tries=lambda: MAX_TRIES,
    backoff=lambda: BACKOFF_SECONDS,
    claim_seconds=CLAIM_SECONDS,
    on_done=_sent_to,
)


def run_lti_background(app: Flask, limit: int = 20) -> int:
    """Send the score deliveries that are due, here and now (returns how many were tried)."""
    return outbox.deliver_due(app, KIND.name, limit=limit)


def housekeeping() -> int:
    """Forget old logins and rotate the tool's key when it is old (a background task)."""
    from service.lti.launch import expire_old_logins

    expire_old_logins()
    keys.rotate_if_old()
    db.session.commit()
    return 0


# --- listening ---------------------------------------------------------------------------------


def scores_for_submission(event: SubmissionGraded) -> None:
    """A question answered on its own was graded: its links get the student's best score.
    (A quiz's answers count through their attempt: AttemptHandedIn, AttemptRescored.)"""
    if event.attempt_id is not None:
        return
    submission = db.session.get(Submission, event.submission_id)
    assert submission is not None
    enqueue_for_submission(submission)


def scores_for_attempt(event: AttemptHandedIn | AttemptRescored) -> None:
    attempt = db.session.get(QuizAttempt, event.attempt_id)
    assert attempt is not None
    enqueue_for_attempt(attempt)


def listen(app: Flask) -> None:
    """Grade passback: the grade writer's events make score deliveries (called by init_lti)."""
    register_kind(KIND)
    bus = events.bus(app)
    bus.subscribe(SubmissionGraded, scores_for_submission)
    for event_type in (AttemptHandedIn, AttemptRescored):
        bus.subscribe(event_type, scores_for_attempt)
    for announced in (SubmissionGraded, AttemptHandedIn, AttemptRescored):
        bus.subscribe(announced, wake_deliveries, "after_commit")
    background.register(app, "lti-housekeeping", HOUSEKEEPING_SECONDS, housekeeping)


def scores_url(lineitem_url: str) -> str:
    """The line item's scores endpoint: `/scores` added to its path, its query kept."""
    parts = urllib.parse.urlsplit(lineitem_url)
    return urllib.parse.urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def _authorized(
    platform: LtiPlatform, scope: str, url: str, method: str, body: bytes | None, ctype: str
) -> tuple[int, Any]:
    headers = {"Authorization": "Bearer " + token_cache.get(platform, [scope])}
    if body is not None:
        headers["Content-Type"] = ctype
    else:
        headers["Accept"] = ctype
    status, answer = http_json(url, method=method, body=body, headers=headers)
    if status == 401:  # the token may have been revoked early: get a new one next time
        token_cache.forget(platform)
    return status, answer


def post_score(platform: LtiPlatform, url: str, body: dict[str, Any]) -> int:
    status, answer = _authorized(
        platform, SCOPE_SCORE, url, "POST", json.dumps(body).encode(), SCORE_TYPE
    )
    if not 200 <= status < 300:
        raise DeliveryError(f"score POST answered HTTP {status}: {_brief(answer)}", status)
    return status


def _brief(answer: Any) -> str:
    return json.dumps(answer)[:300] if answer is not None else "no JSON body"


def ensure_line_item(link: LtiResourceLink) -> str | None:
    """The link's line item URL, found or created once (None while another process holds the
    claim to create it)."""
    if link.lineitem_url:
        return link.lineitem_url
    if not link.lineitems_url or SCOPE_LINEITEM not in link.ags_scopes:
        raise DeliveryError(
            "the platform gave this link no line item and no permission to create one "
            "(enable Assignment and Grade Services for the tool)",
            final=True,
        )
    now = utcnow()
    claimed = rows_changed(
        update(LtiResourceLink)
        .where(
            LtiResourceLink.id == link.id,
            LtiResourceLink.lineitem_url.is_(None),
            (LtiResourceLink.lineitem_claimed_until.is_(None))
            | (LtiResourceLink.lineitem_claimed_until < now),
        )
        .values(lineitem_claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
    )
    db.session.commit()
    if claimed != 1:
        db.session.refresh(link)
        return link.lineitem_url
    try:
        url = _find_or_create_line_item(link)
    except Exception:
        db.session.rollback()
        rows_changed(
            update(LtiResourceLink)
            .where(LtiResourceLink.id == link.id)
            .values(lineitem_claimed_until=None)
        )
        db.session.commit()
        raise
    link.lineitem_url = url
    link.lineitem_claimed_until = None
    db.session.commit()
    return url


def _find_or_create_line_item(link: LtiResourceLink) -> str:
    """Look for our line item first (a crash after creating one must not make a second)."""
    platform, lineitems = link.platform, link.lineitems_url
    assert lineitems is not None
    query = urllib.parse.urlencode({"resource_link_id": link.resource_link_id})
    separator = "&" if "?" in lineitems else "?"
    status, found = _authorized(
        platform, SCOPE_LINEITEM, lineitems + separator + query, "GET", None, LINEITEMS_TYPE
    )
    if status == 200 and isinstance(found, list):
        for item in found:
            if (
                isinstance(item, dict)
                and item.get("resourceLinkId") == link.resource_link_id
                and item.get("id")
            ):
                return str(item["id"])
    maximum, label = target_maximum(link)
    item_body = {
        "scoreMaximum": maximum,
        "label": label,
        "resourceId": link.question_slug or link.quiz_slug or "",
        "resourceLinkId": link.resource_link_id,
        "tag": LINEITEM_TAG,
    }
    status, created = _authorized(
        platform, SCOPE_LINEITEM, lineitems, "POST", json.dumps(item_body).encode(), LINEITEM_TYPE
    )
    if status not in (200, 201) or not isinstance(created, dict) or not created.get("id"):
        raise DeliveryError(f"creating the line item answered HTTP {status}", status)
    log.info("line item created", extra={"link": link.id, "lineitem": created["id"]})
    return str(created["id"])
