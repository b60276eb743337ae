"""API tokens and the caller's identity."""

from __future__ import annotations

from typing import Any

from service import access
from service.access import Need
from service.api.common import BEARER, Blueprint, course_or_404, paginate
from service.auth import current_user, get_or_create_user, issue_token, make_member, require
from service.errors import Problem
from service.models import ApiToken, Role, User, db, utcnow
from service.schemas import (
    NewTokenSchema,
    PageArgs,
    TokenCreateSchema,
    TokenSchema,
    UserSchema,
    page_of,
)


class NewToken:
    """A token row as just issued, plus the plain token, which this answer shows once.
    (The response schema dumps it like the row; dumping a dumped dict again would fail.)"""

    def __init__(self, token: ApiToken, plain: str) -> None:
        self._token = token
        self.token = plain

    def __getattr__(self, name: str) -> Any:
        return getattr(self._token, name)


blp = Blueprint("tokens", __name__, url_prefix="/api/v1", description="Tokens and identity")


@blp.route("/me")
@require()
@blp.doc(security=BEARER)
@blp.response(200, UserSchema)
def me() -> User:
    """Who the bearer token belongs to."""
    return current_user()


@blp.route("/tokens")
@require()
@blp.doc(security=BEARER)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(TokenSchema))
def list_tokens(args: dict[str, Any]) -> dict[str, Any]:
    """Tokens, newest first: every one for a site administrator, else the caller's own (a
    credential limited to a course: its own of that course only). The tokens themselves are
    never shown again."""
    return paginate(access.query(ApiToken).order_by(ApiToken.id.desc()), args)


@blp.route("/tokens", methods=["POST"])
@require(Role.ADMIN)
@blp.doc(security=BEARER)
@blp.arguments(TokenCreateSchema)
@blp.response(201, NewTokenSchema)
def create_token(body: dict[str, Any]) -> NewToken:
    """Issue a token for a user (created if new; site administrators). The plain token is in the
    answer, once. An instructor token with `course` makes its user an instructor of that course.
    A name that an LMS gave a user is refused (409): a token never joins an LMS user by name.
    Only a site administrator, whose credentials are site-wide, issues tokens: a credential
    limited to a course never makes one."""
    access.require_site(Need.ADMIN)
    if body["role"] == Role.ADMIN and body.get("course"):
        raise Problem(422, "An admin token is site-wide: it takes no 'course'.")
    course = course_or_404(body["course"]) if body.get("course") else None
    user = get_or_create_user(body.get("user") or body["name"], body["role"])
    if course is not None:
        make_member(user, course)
    token, plain = issue_token(user, body["name"], course)
    db.session.commit()
    return NewToken(token, plain)


@blp.route("/tokens/<int:token_id>", methods=["DELETE"])
@require()
@blp.doc(security=BEARER)
@blp.response(204)
def revoke_token(token_id: int) -> None:
    """Revoke a token (one's own, or any for a site administrator; a credential limited to a
    course: its own of that course only, others are 404); it stops working at once, with its
    browser sessions and sign-in links. Revoking twice is harmless."""
    token = access.get(ApiToken, token_id, what="token with id")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()
