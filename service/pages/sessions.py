"""Browser sessions (after an LTI launch, or through a sign-in link) and sign-in links.

The session cookie holds a random key and nothing else; the row (found by the key's SHA-256)
carries the user and the scope of what created it: the issuing token's role and course, or the
LTI launch's context. The pages, and their scripts calling the REST API, use the cookie plus the
session's CSRF token (a form field, or the X-CSRF-Token header); no API token reaches a page.
Revoking the token behind a session ends it at once.

A sign-in link is single use, valid a few minutes (HOLDOUT_SIGN_IN_LINK_MINUTES), dies with
its issuing token, and is redeemed by a POST from a confirmation page, so following a link
(a GET) never replaces anyone's session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from flask import Flask, current_app, g, request
from sqlalchemy import delete, or_, select, update
from werkzeug.wrappers import Response

from service import config
from service.auth import Principal
from service.errors import Problem
from service.models import ApiToken, Course, Role, User, db, rows_changed, utcnow
from service.pages.models import BrowserSession, SignInLink

SESSION_HOURS = config.current().session_hours
SESSION_COOKIE = "holdout_session"
ENTER_COOKIE = "holdout_enter"
LINK_PATH_COOKIE = "/app/enter/"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def public_url() -> str | None:
    """HOLDOUT_PUBLIC_URL: the address people and platforms reach holdout at (https in
    production)."""
    url: str | None = config.read("HOLDOUT_PUBLIC_URL")  # at call time: tests change it
    return url


def external_url(path: str) -> str:
    """An absolute URL of this site: on HOLDOUT_PUBLIC_URL, else on the request's host only if
    it is a trusted one (HOLDOUT_TRUSTED_HOSTS), never on whatever Host a client sent."""
    base = public_url()
    if base:
        return base + path
    host = (request.host or "").lower()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if name.strip("[]") not in config.of_app().trusted_hosts:
        raise Problem(
            400,
            f"Host {host!r} is not trusted: set HOLDOUT_PUBLIC_URL (or HOLDOUT_TRUSTED_HOSTS).",
        )
    return request.host_url.rstrip("/") + path


def configure_cookies(app: Flask) -> None:
    """An LMS launches holdout with a cross-site POST, often inside an iframe: over https the
    cookies must be SameSite=None, Secure and Partitioned (CHIPS) to come back at all."""
    secure = (public_url() or "").startswith("https://")
    app.config.update(
        SESSION_COOKIE_NAME="holdout_flask",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_SAMESITE="None" if secure else "Lax",
        SESSION_COOKIE_PARTITIONED=secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
    )
    app.after_request(_write_cookie)


def cookie_options() -> dict[str, Any]:
    """The same attributes for all of holdout's cookies."""
    config = current_app.config
    return {
        "secure": config["SESSION_COOKIE_SECURE"],
        "samesite": config["SESSION_COOKIE_SAMESITE"],
        "httponly": True,
        "partitioned": config["SESSION_COOKIE_PARTITIONED"],
    }


def _write_cookie(response: Response) -> Response:
    key = g.get("new_session_key")
    if key == "":
        response.delete_cookie(SESSION_COOKIE, path="/", **_deletion_options())
    elif key:
        response.set_cookie(
            SESSION_COOKIE, key, max_age=int(SESSION_HOURS * 3600), path="/", **cookie_options()
        )
    return response


def _deletion_options() -> dict[str, Any]:
    options = cookie_options()
    options.pop("httponly")
    return options


def start_session(
    user: User,
    *,
    role: Role,
    course: Course | None = None,
    token: ApiToken | None = None,
    deep_link: dict[str, Any] | None = None,
) -> BrowserSession:
    """Sign this browser in as the user with this scope (the caller commits). The response
    carries the new session's cookie."""
    key = secrets.token_urlsafe(32)
    row = BrowserSession(
        key_hash=_hash(key),
        user_id=user.id,
        token_id=token.id if token else None,
        role=role,
        course_id=course.id if course else None,
        csrf=secrets.token_urlsafe(24),
        deep_link=deep_link,
        expires_at=utcnow() + timedelta(hours=SESSION_HOURS),
    )
    db.session.add(row)
    db.session.flush()
    g.new_session_key = key
    g.pop("browser_session", None)
    g.browser_session = row
    return row


def current_session() -> BrowserSession | None:
    """The live session of this request's cookie: not expired, its token not revoked."""
    if "browser_session" in g:
        return cast(BrowserSession | None, g.browser_session)
    key = request.cookies.get(SESSION_COOKIE, "")
    row = None
    if key and len(key) <= 100:
        row = db.session.scalar(select(BrowserSession).where(BrowserSession.key_hash == _hash(key)))
        if row is not None and (
            row.expires_at <= utcnow() or (row.token is not None and row.token.revoked_at)
        ):
            row = None
    g.browser_session = row
    return row


def principal_of(row: BrowserSession) -> Principal:
    return Principal(
        user=row.user, role=row.role, course_id=row.course_id, token=row.token, session=row
    )


def session_principal() -> Principal | None:
    """The caller of an API request made with the session cookie (the pages' scripts): an
    unsafe method needs the session's CSRF token in X-CSRF-Token."""
    row = current_session()
    if row is None:
        return None
    # The pages' own forms carry the token as a field, checked by their views (check_csrf).
    if request.method not in SAFE_METHODS and request.blueprint not in ("pages", "lti"):
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent, row.csrf):
            raise Problem(403, f"A request with the session cookie needs its {CSRF_HEADER}.")
    return principal_of(row)


def require_session() -> BrowserSession:
    row = current_session()
    if row is None:
        raise Problem(
            401,
            "You are not signed in, or your session has expired. Open holdout again from your "
            "course in the LMS, or ask for a new sign-in link.",
            title="Please sign in",
        )
    g.principal = principal_of(row)
    g.user_id = row.user_id
    return row


def csrf_token() -> str:
    row = current_session()
    return row.csrf if row is not None else ""


def check_csrf(sent: str | None) -> None:
    row = current_session()
    if row is None or not sent or not hmac.compare_digest(row.csrf, sent):
        raise Problem(400, "This form has expired; reload the page and try again.")


def sign_out() -> None:
    row = current_session()
    if row is not None:
        row.expires_at = utcnow()
    g.new_session_key = ""


def revoke_expired_sessions() -> int:
    """Forget expired sessions and sign-in links, and those of revoked tokens; returns how many
    sessions."""
    now = utcnow()
    revoked = select(ApiToken.id).where(ApiToken.revoked_at.is_not(None))
    db.session.execute(
        delete(SignInLink).where(
            or_(SignInLink.expires_at <= now, SignInLink.token_id.in_(revoked))
        )
    )
    result = db.session.execute(
        delete(BrowserSession).where(
            or_(BrowserSession.expires_at <= now, BrowserSession.token_id.in_(revoked))
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- sign-in links -----------------------------------------------------------------------------


def link_minutes() -> int:
    return int(config.of_app().sign_in_link_minutes)


def make_sign_in_link(
    token: ApiToken, next_path: str, seconds: int | None = None
) -> tuple[str, Any]:
    """A new single-use link key for the token's user and scope; returns (key, expires_at). The
    caller commits."""
    limit = link_minutes() * 60
    seconds = limit if seconds is None else min(seconds, limit)
    key = secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(seconds=seconds)
    db.session.add(
        SignInLink(
            key_hash=_hash(key),
            token_id=token.id,
            next_path=safe_next(next_path),
            expires_at=expires_at,
        )
    )
    return key, expires_at


def find_sign_in_link(key: str) -> SignInLink:
    """The link, if it can still be used (else a 410 or 400 problem)."""
    row = None
    if key and len(key) <= 100:
        row = db.session.scalar(select(SignInLink).where(SignInLink.key_hash == _hash(key)))
    if row is None:
        raise Problem(400, "This sign-in link is not valid.", title="Invalid link")
    if row.used_at is not None:
        raise Problem(
            410, "This sign-in link has already been used; ask for a new one.", title="Used"
        )
    if row.expires_at <= utcnow() or row.token.revoked_at is not None:
        raise Problem(410, "This sign-in link has expired; ask for a new one.", title="Expired")
    return row


def _used() -> Problem:
    return Problem(410, "This sign-in link has already been used; ask for a new one.", title="Used")


def redeem_sign_in_link(key: str) -> tuple[BrowserSession, str]:
    """Use the link once: a session with its token's scope. Returns (session, next path)."""
    link = find_sign_in_link(key)
    used = rows_changed(
        update(SignInLink)
        .where(SignInLink.id == link.id, SignInLink.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if used != 1:
        db.session.rollback()
        raise Problem(
            410, "This sign-in link has already been used; ask for a new one.", title="Used"
        )
    token = link.token
    row = start_session(token.user, role=token.user.role, course=token.course, token=token)
    return row, safe_next(link.next_path)


def enter_nonce() -> str:
    """The confirmation page's anti-forgery value, also set as a cookie (double submit): a form
    posted from another site cannot know it, so no one can sign a victim in as themselves."""
    nonce = g.get("enter_nonce") or secrets.token_urlsafe(24)
    g.enter_nonce = nonce
    return str(nonce)


def check_enter_nonce(sent: str | None) -> None:
    cookie = request.cookies.get(ENTER_COOKIE, "")
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        raise Problem(
            400, "This sign-in form has expired; open the sign-in link again.", title="Expired"
        )


def safe_next(path: str) -> str:
    """Only a path on this site: never an open redirect, never a header break."""
    if any(c in path for c in "\r\n\t\\") or not path.isprintable():
        return "/app/"
    try:
        parts = urlsplit(path)
    except ValueError:  # e.g. a broken IPv6 host
        return "/app/"
    if parts.scheme or parts.netloc or not path.startswith("/") or path.startswith("//"):
        return "/app/"
    return path
