"""Per-course webhooks, and the log of what was delivered to them."""

from __future__ import annotations

import secrets
from typing import Any

from service import access, outbound
from service.access import Need
from service.api.common import BEARER, Blueprint, course_or_404, paginate
from service.auth import require
from service.models import Role, Webhook, WebhookDelivery, db
from service.schemas import (
    NewWebhookSchema,
    PageArgs,
    WebhookCreateSchema,
    WebhookDeliverySchema,
    WebhookSchema,
    page_of,
)

blp = Blueprint("webhooks", __name__, url_prefix="/api/v1", description="Webhooks")


def webhook_or_404(webhook_id: int) -> Webhook:
    return access.get(Webhook, webhook_id, Need.TEACH)


@blp.route("/courses/<slug>/webhooks", methods=["POST"])
@require(Role.INSTRUCTOR)
@blp.doc(security=BEARER)
@blp.arguments(WebhookCreateSchema)
@blp.response(201, NewWebhookSchema)
def create_webhook(body: dict[str, Any], slug: str) -> Webhook:
    """POST a signed `submission.graded` event to this URL for each graded submission of the
    course. The body's HMAC-SHA256 under the secret is in `X-Holdout-Signature: sha256=<hex>`."""
    course = course_or_404(slug, Need.TEACH)
    outbound.require_allowed({"url": body["url"]})
    secret = body.get("secret") or secrets.token_urlsafe(32)
    webhook = Webhook(course=course, url=body["url"], secret=secret)
    db.session.add(webhook)
    db.session.commit()
    return webhook  # the only answer that includes the secret


@blp.route("/courses/<slug>/webhooks")
@require(Role.INSTRUCTOR)
@blp.doc(security=BEARER)
@blp.response(200, WebhookSchema(many=True))
def list_webhooks(slug: str) -> list[Webhook]:
    """The course's webhooks (secrets are never shown again)."""
    course = course_or_404(slug, Need.TEACH)
    return list(db.session.scalars(access.query(Webhook).where(Webhook.course_id == course.id)))


@blp.route("/webhooks/<int:webhook_id>", methods=["DELETE"])
@require(Role.INSTRUCTOR)
@blp.doc(security=BEARER)
@blp.response(204)
def deactivate_webhook(webhook_id: int) -> None:
    """Stop sending events to a webhook; its delivery log is kept."""
    webhook_or_404(webhook_id).active = False
    db.session.commit()


@blp.route("/webhooks/<int:webhook_id>/deliveries")
@require(Role.INSTRUCTOR)
@blp.doc(security=BEARER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(WebhookDeliverySchema))
def list_deliveries(args: dict[str, Any], webhook_id: int) -> dict[str, Any]:
    """What was sent to a webhook, newest first: tries, last status code or error."""
    webhook_or_404(webhook_id)
    query = (
        access.query(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(WebhookDelivery.id.desc())
    )
    return paginate(query, args)
