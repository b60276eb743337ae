"""REST endpoints of the pages: sign-in links that open a browser session."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import url_for
from marshmallow import Schema, fields, validate

from service.api.common import BEARER, Blueprint
from service.auth import current_user, require
from service.errors import Problem
from service.models import utcnow
from service.pages.sessions import MAX_LINK_SECONDS, make_sign_in_token, public_url, safe_next
from service.schemas import StrictSchema

blp = Blueprint("pages_api", __name__, url_prefix="/api/v1", description="Pages")


class SignInLinkCreateSchema(StrictSchema):
    next = fields.String(
        load_default="/app/",
        validate=validate.Length(min=1, max=500),
        metadata={"description": "Where the link leads, a path such as /app/questions/dropout"},
    )
    expires_in = fields.Integer(
        load_default=3600,
        validate=validate.Range(min=60, max=MAX_LINK_SECONDS),
        metadata={"description": "Seconds the link stays valid"},
    )


class SignInLinkSchema(Schema):
    url = fields.String(required=True)
    expires_at = fields.DateTime(required=True)


@blp.route("/sign-in-links", methods=["POST"])
@require()
@blp.doc(security=BEARER)
@blp.arguments(SignInLinkCreateSchema)
@blp.response(201, SignInLinkSchema)
def create_sign_in_link(body: dict[str, Any]) -> dict[str, Any]:
    """A link that signs a browser in to the pages as the token's own user, for a while."""
    next_path = safe_next(body["next"])
    if not next_path.startswith("/app/"):
        raise Problem(422, "A sign-in link leads to a page under /app/.")
    token = make_sign_in_token(current_user(), next_path, body["expires_in"])
    path = url_for("pages.enter", token=token)
    base = public_url()
    return {
        "url": base + path if base else url_for("pages.enter", token=token, _external=True),
        "expires_at": utcnow() + timedelta(seconds=body["expires_in"]),
    }
