"""Signing a browser in (after an LTI launch, or through a signed sign-in link) and out.

The session cookie is Flask's signed cookie. It holds the id of a BrowserSession row and the
plain API token the pages use to call the REST API; the row's expiry is the truth, and the
background loop revokes the tokens of expired sessions.
"""

from __future__ import annotations

import hmac
import secrets
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, session
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update

from service import config
from service.auth import issue_token
from service.errors import Problem
from service.models import ApiToken, Course, User, db, rows_changed, utcnow
from service.pages.models import BrowserSession

SESSION_HOURS = config.current().session_hours
LINK_SALT = "holdout-sign-in-link"
MAX_LINK_SECONDS = 7 * 24 * 3600


def public_url() -> str | None:
    """HOLDOUT_PUBLIC_URL: the address people and platforms reach holdout at (https in
    production); without it, URLs are built from each request."""
    url: str | None = config.read("HOLDOUT_PUBLIC_URL")  # at call time: tests change it
    return url


def configure_cookies(app: Flask) -> None:
    """An LMS launches holdout with a cross-site POST, often inside an iframe: over https the
    cookies must be SameSite=None, Secure and Partitioned (CHIPS) to come back at all."""
    secure = (public_url() or "").startswith("https://")
    app.config.update(
        SESSION_COOKIE_NAME="holdout_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_SAMESITE="None" if secure else "Lax",
        SESSION_COOKIE_PARTITIONED=secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
    )


def cookie_options() -> dict[str, Any]:
    """The same attributes for holdout's other cookies (the LTI state cookie)."""
    config = current_app.config
    return {
        "secure": config["SESSION_COOKIE_SECURE"],
        "samesite": config["SESSION_COOKIE_SAMESITE"],
        "httponly": True,
        "partitioned": config["SESSION_COOKIE_PARTITIONED"],
    }


def start_session(user: User, course: Course | None = None) -> BrowserSession:
    """Sign this browser in as the user, with a fresh API token for its pages. The caller
    commits."""
    token, plain = issue_token(user, name="browser session", course=None)
    db.session.flush()
    row = BrowserSession(
        user_id=user.id,
        token_id=token.id,
        course_id=course.id if course else None,
        expires_at=utcnow() + timedelta(hours=SESSION_HOURS),
    )
    db.session.add(row)
    db.session.flush()
    session.clear()
    session.permanent = True
    session["sid"] = row.id
    session["tok"] = plain
    session["csrf"] = secrets.token_urlsafe(24)
    return row


def current_session() -> BrowserSession | None:
    sid = session.get("sid")
    if not isinstance(sid, int):
        return None
    row = db.session.get(BrowserSession, sid)
    if row is None or row.expires_at <= utcnow() or row.token.revoked_at is not None:
        return None
    return row


def require_session() -> BrowserSession:
    row = current_session()
    if row is None:
        raise Problem(
            401,
            "You are not signed in, or your session has expired. Open holdout again from your "
            "course in the LMS, or ask for a new sign-in link.",
            title="Please sign in",
        )
    return row


def api_token() -> str:
    return str(session.get("tok", ""))


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


def check_csrf(sent: str | None) -> None:
    expected = session.get("csrf")
    if not isinstance(expected, str) or not sent or not hmac.compare_digest(expected, sent):
        raise Problem(400, "This form has expired; reload the page and try again.")


def sign_out() -> None:
    row = current_session()
    if row is not None:
        row.token.revoked_at = utcnow()
        row.expires_at = utcnow()
    session.clear()


def revoke_expired_sessions() -> int:
    """Revoke the API tokens of expired browser sessions; returns how many."""
    now = utcnow()
    token_ids = select(BrowserSession.token_id).where(BrowserSession.expires_at <= now)
    return rows_changed(
        update(ApiToken)
        .where(ApiToken.id.in_(token_ids), ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


# --- sign-in links -----------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=LINK_SALT)


def make_sign_in_token(user: User, next_path: str, seconds: int) -> str:
    """A signed link token that signs its holder in as the user, valid for `seconds`."""
    expires = int(time.time()) + min(seconds, MAX_LINK_SECONDS)
    return _serializer().dumps({"user": user.id, "next": safe_next(next_path), "exp": expires})


def read_sign_in_token(token: str) -> tuple[User, str]:
    expired = Problem(410, "This sign-in link has expired; ask for a new one.", title="Expired")
    try:
        data = _serializer().loads(token, max_age=MAX_LINK_SECONDS)
    except SignatureExpired as exc:
        raise expired from exc
    except BadSignature as exc:
        raise Problem(400, "This sign-in link is not valid.", title="Invalid link") from exc
    if not isinstance(data, dict) or not isinstance(data.get("exp"), int):
        raise Problem(400, "This sign-in link is not valid.", title="Invalid link")
    if data["exp"] <= time.time():
        raise expired
    user = db.session.get(User, data.get("user"))
    if user is None:
        raise Problem(400, "This sign-in link is not valid.", title="Invalid link")
    return user, safe_next(str(data.get("next", "")))


def safe_next(path: str) -> str:
    """Only a path on this site: never an open redirect."""
    try:
        parts = urlsplit(path)
    except ValueError:  # e.g. a broken IPv6 host
        return "/app/"
    if parts.scheme or parts.netloc or not path.startswith("/") or path.startswith(("//", "/\\")):
        return "/app/"
    return path
