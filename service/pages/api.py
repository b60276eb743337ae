"""The REST endpoint that makes sign-in links to the pages."""

from __future__ import annotations

from typing import Any

from flask import url_for
from marshmallow import Schema, fields, validate

from service.api.common import BEARER, Blueprint
from service.auth import current_principal, require
from service.config import MAX_SIGN_IN_LINK_MINUTES
from service.errors import Problem
from service.pages.sessions import external_url, make_sign_in_link, safe_next
from service.schemas import StrictSchema

blp = Blueprint("pages_api", __name__, url_prefix="/api/v1", description="Pages")


class SignInLinkCreateSchema(StrictSchema):
    next = fields.String(
        load_default="/app/",
        validate=validate.Length(min=1, max=500),
        metadata={"description": "Where the link leads, a path such as /app/questions/dropout"},
    )
    expires_in = fields.Integer(
        validate=validate.Range(min=60, max=MAX_SIGN_IN_LINK_MINUTES * 60),
        metadata={
            "description": "Seconds the link stays valid; default and most: "
            "HOLDOUT_SIGN_IN_LINK_MINUTES (10 minutes unless configured)"
        },
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
    """A single-use link that signs a browser in to the pages as the token's user, with the
    token's role and course; it dies when the token is revoked."""
    from service.models import db

    principal = current_principal()
    if principal.token is None or principal.session is not None:
        raise Problem(403, "Sign-in links are made with an API token, not from a page.")
    next_path = safe_next(body["next"])
    if not next_path.startswith("/app/"):
        raise Problem(422, "A sign-in link leads to a page under /app/.")
    key, expires_at = make_sign_in_link(principal.token, next_path, body.get("expires_in"))
    url = external_url(url_for("pages.enter", key=key))
    db.session.commit()
    return {"url": url, "expires_at": expires_at}
