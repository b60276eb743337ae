"""REST endpoints for LTI administration (site administrators)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from service import access, outbound
from service.access import Need
from service.api.common import BEARER, Blueprint, paginate
from service.auth import require
from service.lti.models import LtiPlatform, LtiScoreDelivery
from service.lti.platforms import register_platform
from service.lti.views import tool_urls
from service.models import JobStatus, Role, db
from service.schemas import PageArgs, StrictSchema, page_of

blp = Blueprint("lti_admin", __name__, url_prefix="/api/v1", description="LTI 1.3")


def url_field(description: str) -> fields.Url:
    return fields.Url(
        required=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=validate.Length(max=2000),
        metadata={"description": description},
    )


class PlatformCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    issuer = fields.String(required=True, validate=validate.Length(min=1, max=500))
    client_id = fields.String(required=True, validate=validate.Length(min=1, max=255))
    deployment_ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=255)),
        required=True,
        validate=validate.Length(min=1),
    )
    auth_login_url = url_field("The platform's OIDC authorization endpoint")
    auth_token_url = url_field("The platform's OAuth 2 token endpoint")
    jwks_url = url_field("The platform's public keys (JWKS)")
    token_audience = fields.String(
        validate=validate.Length(max=2000),
        metadata={"description": "`aud` of the client assertion; default: the token URL"},
    )


class PlatformSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    issuer = fields.String(required=True)
    client_id = fields.String(required=True)
    deployment_ids = fields.Function(
        lambda p: [d.deployment_id for d in p.deployments], required=True
    )
    auth_login_url = fields.String(required=True)
    auth_token_url = fields.String(required=True)
    jwks_url = fields.String(required=True)
    token_audience = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    tool = fields.Function(
        lambda _: tool_urls(),
        metadata={"description": "The URLs to enter in the platform"},
    )


class DeliveryListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf([s.value for s in JobStatus]))


class ScoreDeliverySchema(Schema):
    id = fields.Integer(required=True)
    resource_link = fields.Function(lambda d: d.resource_link.resource_link_id, required=True)
    platform = fields.Function(lambda d: d.resource_link.platform.issuer, required=True)
    user = fields.Function(lambda d: d.lti_user.user_id, required=True)
    submission = fields.Integer(attribute="submission_id", allow_none=True)
    attempt = fields.Integer(attribute="attempt_id", allow_none=True)
    score = fields.Dict(required=True, metadata={"description": "The AGS score, as sent"})
    sent_to = fields.String(allow_none=True)
    status = fields.String(required=True, metadata={"description": "queued, done or failed"})
    tries = fields.Integer(required=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    log = fields.List(fields.Dict(), required=True, metadata={"description": "Every try"})
    next_try_at = fields.DateTime(required=True)
    created_at = fields.DateTime(required=True)
    delivered_at = fields.DateTime(allow_none=True)


@blp.route("/lti/platforms")
@require(Role.ADMIN)
@blp.doc(security=BEARER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(PlatformSchema))
def list_platforms(args: dict[str, Any]) -> dict[str, Any]:
    """Registered LMS platforms, and the tool URLs to enter in them (site administrators)."""
    access.require_site(Need.ADMIN)
    return paginate(select(LtiPlatform).order_by(LtiPlatform.id), args)


@blp.route("/lti/platforms", methods=["POST"])
@require(Role.ADMIN)
@blp.doc(security=BEARER)
@blp.arguments(PlatformCreateSchema)
@blp.response(201, PlatformSchema)
@blp.alt_response(200, schema=PlatformSchema, description="Updated (same issuer and client id)")
def create_platform(body: dict[str, Any]) -> tuple[LtiPlatform, int]:
    """Register an LMS (or update it, keyed by issuer and client id; deployment ids are added;
    site administrators). Its endpoints must be public https URLs (service.outbound)."""
    access.require_site(Need.ADMIN)
    outbound.require_allowed(
        {name: body[name] for name in ("auth_login_url", "auth_token_url", "jwks_url")}
    )
    platform, created = register_platform(**body)
    db.session.commit()
    return platform, 201 if created else 200


@blp.route("/lti/score-deliveries")
@require(Role.ADMIN)
@blp.doc(security=BEARER)
@blp.arguments(DeliveryListArgs, location="query")
@blp.response(200, page_of(ScoreDeliverySchema))
def list_deliveries(args: dict[str, Any]) -> dict[str, Any]:
    """The log of scores sent to platforms (Assignment and Grade Services), newest first."""
    access.require_site(Need.ADMIN)
    query = select(LtiScoreDelivery).order_by(LtiScoreDelivery.id.desc())
    if "status" in args:
        query = query.where(LtiScoreDelivery.status == args["status"])
    return paginate(query, args)
