"""Per-course webhooks: a signed event for each graded submission, retried, with a delivery log.

The body is JSON; `X-Holdout-Signature: sha256=<hex>` is the HMAC-SHA256 of the raw body under the
webhook's secret, so a receiver can check it came from holdout. Failed deliveries are retried with
exponential backoff, up to MAX_TRIES, and every try is recorded on the delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select, update

from service import config
from service.courses import submission_course_ids
from service.models import (
    JobStatus,
    Submission,
    Webhook,
    WebhookDelivery,
    db,
    due_ids,
    rows_changed,
    utcnow,
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


def enqueue_graded_event(submission: Submission) -> None:
    """Record one delivery per active webhook of the submission's courses (same transaction as
    the result, so an event is never lost and never invented)."""
    if db.session.scalar(select(Webhook.id).where(Webhook.active.is_(True)).limit(1)) is None:
        return  # the common case: no webhooks at all, and no need to work out the courses
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


def _post(
    url: str, secret: str, delivery_id: int, payload: dict[str, Any]
) -> tuple[int | None, str]:
    body = json.dumps(payload, separators=(",", ":")).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "holdout-webhooks/1",
            "X-Holdout-Event": str(payload.get("event")),
            "X-Holdout-Delivery": str(delivery_id),
            SIGNATURE_HEADER: sign(secret, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]


def deliver_due(app: Flask, limit: int = 20) -> int:
    """Try every delivery that is due; return how many were tried."""
    tried = 0
    with app.app_context():
        try:
            for delivery_id in due_ids(WebhookDelivery, limit):
                tried += _deliver(delivery_id)
        finally:
            db.session.remove()
    return tried


def _deliver(delivery_id: int) -> int:
    # Claim by moving next_try_at forward: a second process looking at the same row skips it.
    lease_until = utcnow() + timedelta(seconds=TIMEOUT_SECONDS * 3)
    claimed = rows_changed(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == JobStatus.QUEUED,
            WebhookDelivery.next_try_at <= utcnow(),
        )
        .values(next_try_at=lease_until)
    )
    db.session.commit()
    if claimed != 1:
        return 0
    delivery = db.session.get(WebhookDelivery, delivery_id)
    assert delivery is not None
    url, secret, payload = delivery.webhook.url, delivery.webhook.secret, delivery.payload
    db.session.rollback()
    code, error = _post(url, secret, delivery_id, payload)
    delivery = db.session.get(WebhookDelivery, delivery_id)
    assert delivery is not None
    delivery.tries += 1
    delivery.last_status_code = code
    delivery.last_error = error or None
    if code is not None and 200 <= code < 300:
        delivery.status = JobStatus.DONE
        delivery.delivered_at = utcnow()
    elif delivery.tries >= MAX_TRIES:
        delivery.status = JobStatus.FAILED
        log.warning("webhook delivery failed for good", extra={"delivery_id": delivery_id})
    else:
        delivery.next_try_at = utcnow() + timedelta(
            seconds=BACKOFF_SECONDS * 2 ** (delivery.tries - 1)
        )
    db.session.commit()
    return 1
