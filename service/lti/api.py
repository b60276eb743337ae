"""REST endpoints for LTI administration (site administrators)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from service import access
from service.access import Need
from service.api.common import BEARER, Blueprint, course_or_404, paginate
from service.auth import require
from service.errors import Problem
from service.lti import nrps, registration
from service.lti.launch import ROLES, course_role_of
from service.lti.models import (
    LtiContext,
    LtiMembership,
    LtiPlatform,
    LtiScoreDelivery,
    LtiUser,
)
from service.lti.platforms import (
    PlatformConflict,
    delete_platform,
    register_platform,
    update_platform,
)
from service.lti.schemas import (
    PlatformCreateSchema,
    PlatformSchema,
    PlatformUpdateSchema,
    checked_platform,
)
from service.models import CourseRole, JobStatus, Role, db
from service.schemas import PageArgs, StrictSchema, page_of

blp = Blueprint("lti_admin", __name__, url_prefix="/api/v1", description="LTI 1.3")


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
    platform, created = register_platform(**checked_platform(body))
    db.session.commit()
    return platform, 201 if created else 200


def platform_or_404(platform_id: int) -> LtiPlatform:
    access.require_site(Need.ADMIN)
    platform = db.session.get(LtiPlatform, platform_id) if 0 < platform_id < 2**31 else None
    if platform is None:
        raise Problem(404, f"No LTI platform {platform_id}.")
    return platform


@blp.route("/lti/platforms/<int:platform_id>")
@require(Role.ADMIN)
@blp.doc(security=BEARER)
@blp.response(200, PlatformSchema)
def get_platform(platform_id: int) -> LtiPlatform:
    """One registered platform (site administrators)."""
    return platform_or_404(platform_id)


@blp.route("/lti/platforms/<int:platform_id>", methods=["PATCH"])
@require(Role.ADMIN)
@blp.doc(security=BEARER)
@blp.arguments(PlatformUpdateSchema)
@blp.response(200, PlatformSchema)
def patch_platform(body: dict[str, Any], platform_id: int) -> LtiPlatform:
    """Change a platform's fields (the same as for registering); `deployment_ids` replaces its
    deployments (site administrators)."""
    platform = platform_or_404(platform_id)
    try:
        update_platform(platform, checked_platform(body, partial=True))
    except PlatformConflict as exc:
        db.session.rollback()
        raise Problem(409, f"Refused: {exc}.") from exc
    db.session.commit()
    return platform


@blp.route("/lti/platforms/<int:platform_id>", methods=["DELETE"])
@require(Role.ADMIN)
@blp.doc(security=BEARER)
@blp.response(204)
def remove_platform(platform_id: int) -> None:
    """Forget a platform: its deployments, courses' links, roster and score log. holdout's
    users, courses and their work stay (site administrators)."""
    delete_platform(platform_or_404(platform_id))
    db.session.commit()


class RegistrationLinkArgs(StrictSchema):
    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "The name the platform gets once it registered"},
    )
    hours = fields.Float(
        load_default=registration.DEFAULT_HOURS,
        validate=validate.Range(min=0.1, max=registration.MAX_HOURS),
        metadata={"description": "How long the link stays valid"},
    )


class RegistrationLinkSchema(Schema):
    url = fields.String(
        required=True,
        metadata={
            "description": "Paste it into the LMS (Moodle: Tool URL; Canvas: LTI Registration URL)"
        },
    )
    name = fields.String(required=True)
    expires_at = fields.DateTime(required=True)


@blp.route("/lti/registration-links", methods=["POST"])
@require(Role.ADMIN)
@blp.doc(security=BEARER)
@blp.arguments(RegistrationLinkArgs)
@blp.response(201, RegistrationLinkSchema)
def create_registration_link(body: dict[str, Any]) -> dict[str, Any]:
    """A one-time LTI Dynamic Registration URL (site administrators): the only way a platform
    registers itself with holdout."""
    access.require_site(Need.ADMIN)
    made = registration.mint_link(body["name"], body["hours"])
    db.session.commit()
    return made


class RosterMemberSchema(Schema):
    user = fields.Function(lambda m: m.lti_user.user_id, required=True)
    name = fields.Function(lambda m: m.lti_user.user.name, required=True)
    lms_user_id = fields.Function(lambda m: m.lti_user.sub, required=True)
    lms_roles = fields.List(fields.String(), attribute="roles", required=True)
    course_role = fields.Function(
        lambda m: str(course_role_of({ROLES: m.roles})),
        required=True,
        metadata={"enum": [r.value for r in CourseRole]},
    )
    status = fields.String(required=True, metadata={"description": "Active, Inactive or Deleted"})
    gone_at = fields.DateTime(
        allow_none=True, metadata={"description": "When they left the LMS roster (kept, marked)"}
    )
    synced_at = fields.DateTime(required=True)


class RosterSyncSchema(Schema):
    context = fields.String(required=True, metadata={"description": "The LMS's context id"})
    members = fields.Integer(required=True)
    enrolled = fields.Integer(required=True, metadata={"description": "New to the roster"})
    gone = fields.Integer(required=True, metadata={"description": "Marked gone by this sync"})
    skipped = fields.Integer(required=True)
    pages = fields.Integer(required=True)


class RosterSyncsSchema(Schema):
    synced = fields.List(fields.Nested(RosterSyncSchema), required=True)


def _roster_course(slug: str) -> Any:
    course = course_or_404(slug, Need.STAFF)
    contexts = nrps.course_contexts(course.id)
    if not any(c.memberships_url for c in contexts):
        raise Problem(
            409,
            f"The LMS has offered no roster for course '{slug}' yet: it is sent with a launch "
            "(enable Names and Role Provisioning Services for the tool in the LMS).",
        )
    return course, contexts


@blp.route("/courses/<slug>/roster")
@require()
@blp.doc(security=BEARER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(RosterMemberSchema))
def roster(args: dict[str, Any], slug: str) -> dict[str, Any]:
    """The course's LMS roster (NRPS), as last synced: members who left are marked `gone_at`
    (the course's staff)."""
    course, _ = _roster_course(slug)
    query = (
        select(LtiMembership)
        .join(LtiContext, LtiContext.id == LtiMembership.context_id)
        .join(LtiUser, LtiUser.id == LtiMembership.lti_user_id)
        .where(LtiContext.course_id == course.id)
        .order_by(LtiMembership.id)
    )
    return paginate(query, args)


@blp.route("/courses/<slug>/roster/sync", methods=["POST"])
@require()
@blp.doc(security=BEARER)
@blp.response(200, RosterSyncsSchema)
def sync_roster(slug: str) -> dict[str, Any]:
    """Pull the course's roster from the LMS now (the course's staff); also done daily."""
    _, contexts = _roster_course(slug)
    synced = []
    for context in contexts:
        if not context.memberships_url:
            continue
        try:
            synced.append(nrps.sync_and_commit(context).as_dict())
        except nrps.RosterError as exc:
            raise Problem(502, f"The LMS's roster could not be read: {exc}.") from exc
    return {"synced": synced}


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
