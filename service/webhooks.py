"""Per-course webhooks: a signed event for each graded submission, retried, with a delivery log.

The body is JSON; `X-Holdout-Signature: sha256=<hex>` is the HMAC-SHA256 of the raw body under the
webhook's secret, so a receiver can check it came from holdout. Failed deliveries are retried with
exponential backoff, up to MAX_TRIES, and every try is recorded on the delivery: webhook
deliveries are one kind of row of the outbox (service.outbox), sent by its delivery loop.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from flask import Flask
from sqlalchemy import select

from service import config, events, outbox
from service.courses import submission_course_ids
from service.events import SubmissionGraded
from service.models import Submission, Webhook, WebhookDelivery, db
from service.outbox import (
    AnswerTooLarge,
    Kind,
    Outcome,
    http_exchange,
    origin,
    register_kind,
    wake_deliveries,
)

log = logging.getLogger("holdout.webhooks")
EVENT_GRADED = "submission.graded"
MAX_TRIES = config.current().webhook_max_tries
TIMEOUT_SECONDS = config.current().webhook_timeout
BACKOFF_SECONDS = config.current().webhook_backoff
SIGNATURE_HEADER = "X-Holdout-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event_payload(submission: Submission) -> dict[str, Any]:
    return {
        "event": EVENT_GRADED,
        "submission": {
            "id": submission.id,
            "question": submission.question.slug,
            "question_version": submission.question_version,
            "user": {"id": submission.user.id, "name": submission.user.name},
            "attempt": submission.attempt_id,
            "status": str(submission.status),
            "score": submission.score,
            "max_score": submission.max_score,
            "graded_at": submission.graded_at.isoformat() if submission.graded_at else None,
        },
    }


def enqueue_graded_event(event: SubmissionGraded) -> None:
    """Record one delivery per active webhook of the submission's courses (a listener in the
    grade's own transaction, so an event is never lost and never invented)."""
    if db.session.scalar(select(Webhook.id).where(Webhook.active.is_(True)).limit(1)) is None:
        return  # the common case: no webhooks at all, and no need to work out the courses
    submission = db.session.get(Submission, event.submission_id)
    assert submission is not None
    courses = submission_course_ids(submission)
    if not courses:
        return
    hooks = db.session.scalars(
        select(Webhook).where(Webhook.course_id.in_(courses), Webhook.active.is_(True))
    ).all()
    payload = event_payload(submission) if hooks else {}
    for hook in hooks:
        db.session.add(
            WebhookDelivery(
                webhook=hook, submission_id=submission.id, event=EVENT_GRADED, payload=payload
            )
        )


def send(delivery: WebhookDelivery) -> Outcome:
    """POST one event, signed (called by the delivery loop, outside any transaction)."""
    url, secret, payload = delivery.webhook.url, delivery.webhook.secret, delivery.payload
    db.session.rollback()
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "holdout-webhooks/1",
        "X-Holdout-Event": str(payload.get("event")),
        "X-Holdout-Delivery": str(delivery.id),
        SIGNATURE_HEADER: sign(secret, body),
    }
    try:
        answer = http_exchange(
            url, method="POST", body=body, headers=headers, timeout=TIMEOUT_SECONDS
        )
    except (OSError, AnswerTooLarge) as exc:
        return Outcome(error=f"{type(exc).__name__}: {exc}"[:500], url=url)
    error = "" if 200 <= answer.status < 300 else f"HTTP {answer.status}"
    return Outcome(status=answer.status, error=error, url=url)


KIND = Kind(
    name="webhook",
    model=WebhookDelivery,
    send=send,
    destination=lambda delivery: origin(delivery.webhook.url),
    max_tries=lambda: MAX_TRIES,
    backoff=lambda: BACKOFF_SECONDS,
    claim_seconds=TIMEOUT_SECONDS * 3,
)


def deliver_due(app: Flask, limit: int = 20) -> int:
    """Try every webhook delivery that is due, here and now; return how many were tried."""
    return outbox.deliver_due(app, KIND.name, limit=limit)


def init_webhooks(app: Flask) -> None:
    """Listen for grades (called by create_app)."""
    register_kind(KIND)
    events.bus(app).subscribe(SubmissionGraded, enqueue_graded_event)
    events.bus(app).subscribe(SubmissionGraded, wake_deliveries, "after_commit")
