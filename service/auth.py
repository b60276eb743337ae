"""Bearer tokens and role checks."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar, cast

from flask import g, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from service.errors import Problem
from service.models import ApiToken, Course, CourseRole, Enrollment, Role, User, db, utcnow

TOKEN_PREFIX = "hot_"
# Writing last_used_at on every request would make each read a write; a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)
F = TypeVar("F", bound=Callable[..., Any])


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, name: str, course: Course | None = None) -> tuple[ApiToken, str]:
    """Create a token row and return it with the plain token, which is shown only this once."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user, name=name, token_hash=hash_token(plain), prefix=plain[:10], course=course
    )
    db.session.add(token)
    return token, plain


# Who else makes users: each answers, for a user, who provisioned it and by what identity (e.g.
# "LMS launches from Campus Moodle"), or None. An LMS launch or roster makes users identified by
# platform and subject, named by a display name that whoever holds the LMS account chooses; the
# LTI tool registers its answer here (service.lti), so this module needs no LTI code.
PROVISIONED_ELSEWHERE: list[Callable[[User], str | None]] = []


def get_or_create_user(name: str, role: Role) -> User:
    """The user an administrator names (for a token, `POST /tokens` or `holdout token create`):
    the one named so before, else a new one. A name never finds a user provisioned elsewhere
    (409): matching an LMS display name would make two people share one account, its work,
    scores and tokens. The caller commits."""
    user = db.session.scalar(select(User).where(User.name == name, User.role == role))
    if user is None:
        user = User(name=name, role=role)
        db.session.add(user)
        db.session.flush()
        return user
    provisioned = next((who for find in PROVISIONED_ELSEWHERE if (who := find(user))), None)
    if provisioned is not None:
        raise Problem(
            409,
            f"The name {name!r} belongs to a user ({role.value}, id {user.id}) that "
            f"{provisioned} made: that user is identified by the LMS, and its name is the "
            "display name chosen there, so a token issued by name never joins it (that would "
            "be two people in one account). Issue the token under another name.",
            title="Name taken by an LMS user",
            conflicting_user={"id": user.id, "name": user.name, "role": user.role.value},
        )
    return user


@dataclass
class Principal:
    """Who is asking, and with what scope: a bearer token, or a browser session (which has the
    scope of the token or LTI launch that made it). service.access decides from this alone."""

    user: User
    role: Role
    course_id: int | None
    token: ApiToken | None = None
    session: Any = None  # a service.pages.models.BrowserSession

    @property
    def user_id(self) -> int:
        return self.user.id


MEMBER_ROLES = {Role.INSTRUCTOR: CourseRole.INSTRUCTOR, Role.STUDENT: CourseRole.STUDENT}


def make_member(user: User, course: Course, role: CourseRole | None = None) -> None:
    """Give the user a membership of the course: the given role, else the one their site role
    implies (instructor or student; an lms token's user is no member). The caller commits."""
    role = role or MEMBER_ROLES.get(user.role)
    if role is None:
        return
    row = db.session.scalar(
        select(Enrollment).where(Enrollment.user_id == user.id, Enrollment.course_id == course.id)
    )
    if row is None:
        db.session.add(Enrollment(user_id=user.id, course_id=course.id, role=role))
    else:
        row.role = role
    db.session.flush()


def _bearer(header: str) -> Principal:
    scheme, _, plain = header.partition(" ")
    if scheme.lower() != "bearer" or not plain.strip():
        raise Problem(
            401,
            "Authentication required: send 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = find_token(plain.strip())
    if token is None:
        raise Problem(401, "The bearer token is unknown or has been revoked.")
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now
        db.session.commit()
    return Principal(user=token.user, role=token.user.role, course_id=token.course_id, token=token)


def find_token(plain: str) -> ApiToken | None:
    """The live (unrevoked) token with this value, or None."""
    token = db.session.scalar(
        select(ApiToken)
        .options(joinedload(ApiToken.user))  # every view needs the user: one query, not two
        .where(ApiToken.token_hash == hash_token(plain))
    )
    return token if token is not None and token.revoked_at is None else None


# Other ways a request may carry credentials, without an Authorization header: the pages
# register their browser session here (service.pages), so this module needs no page code.
OTHER_CREDENTIALS: list[Callable[[], Principal | None]] = []


def _authenticate() -> Principal:
    header = request.headers.get("Authorization", "")
    if header:
        return _bearer(header)
    principal = next((p for find in OTHER_CREDENTIALS if (p := find()) is not None), None)
    if principal is None:
        raise Problem(
            401,
            "Authentication required: send 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is None:
        principal = _authenticate()
        g.principal = principal
        g.user_id = principal.user.id
    return cast(Principal, principal)


def current_user() -> User:
    return current_principal().user


def require(*roles: Role) -> Callable[[F], F]:
    """Let the view run only for a caller with one of these site roles (an administrator has
    every instructor's); what it may touch is service.access's to decide."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            role = current_principal().role
            granted = {role, Role.INSTRUCTOR} if role == Role.ADMIN else {role}
            if roles and not granted.intersection(roles):
                allowed = " or ".join(r.value for r in roles)
                raise Problem(403, f"This needs a {allowed} token; yours is a {role.value}.")
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


ANY_ROLE = ()
