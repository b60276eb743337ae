"""Bearer tokens and role checks."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from flask import g, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from service.errors import Problem
from service.models import ApiToken, Course, Role, User, db, utcnow

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


def get_or_create_user(name: str, role: Role) -> User:
    user = db.session.scalar(select(User).where(User.name == name, User.role == role))
    if user is None:
        user = User(name=name, role=role)
        db.session.add(user)
        db.session.flush()
    return user


def _authenticate() -> ApiToken:
    header = request.headers.get("Authorization", "")
    scheme, _, plain = header.partition(" ")
    if scheme.lower() != "bearer" or not plain.strip():
        raise Problem(
            401,
            "Authentication required: send 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = db.session.scalar(
        select(ApiToken)
        .options(joinedload(ApiToken.user))  # every view needs the user: one query, not two
        .where(ApiToken.token_hash == hash_token(plain.strip()))
    )
    if token is None or token.revoked_at is not None:
        raise Problem(401, "The bearer token is unknown or has been revoked.")
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        token.last_used_at = now
        db.session.commit()
    return token


def current_token() -> ApiToken:
    token = g.get("token")
    if token is None:
        token = _authenticate()
        g.token = token
        g.user_id = token.user_id
    return cast(ApiToken, token)


def current_user() -> User:
    return current_token().user


def require(*roles: Role) -> Callable[[F], F]:
    """Let the view run only for a valid token whose user has one of these roles."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if roles and user.role not in roles:
                allowed = " or ".join(r.value for r in roles)
                raise Problem(403, f"This needs a {allowed} token; yours is a {user.role.value}.")
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


ANY_ROLE = ()
STAFF = (Role.INSTRUCTOR, Role.LMS)
