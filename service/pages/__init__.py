"""The pages people see: a student's question and quiz pages, an instructor's course page."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, Response, request
from markupsafe import Markup

from service import background

# Blueprints whose POSTs are HTML forms (an LMS's launch, the pages), not JSON.
FORM_BLUEPRINTS = ("lti", "pages")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; object-src 'none'; base-uri 'none'"
)
SESSION_SWEEP_SECONDS = 60.0


def frame_ancestors() -> str:
    """Who may frame the pages: holdout itself and the registered LMSs (LTI opens holdout in an
    iframe), nobody else (no clickjacking)."""
    from urllib.parse import urlsplit

    from sqlalchemy import select

    from service.lti.models import LtiPlatform
    from service.models import db

    origins = set()
    for issuer, login in db.session.execute(select(LtiPlatform.issuer, LtiPlatform.auth_login_url)):
        for url in (issuer, login):
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") and parts.netloc:
                origins.add(f"{parts.scheme}://{parts.netloc}")
    return "frame-ancestors " + " ".join(["'self'", *sorted(origins)])


def _page_headers(response: Response) -> Response:
    # No response is to be read as another type than it says (the API's JSON above all).
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.blueprint in FORM_BLUEPRINTS and response.mimetype == "text/html":
        response.headers.setdefault(
            "Content-Security-Policy", f"{CONTENT_SECURITY_POLICY}; {frame_ancestors()}"
        )
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _revoke_expired_sessions() -> int:
    from service.models import db
    from service.pages.sessions import revoke_expired_sessions

    revoke_expired_sessions()
    db.session.commit()
    return 0


LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _encodable(value: Any) -> Any:
    """What a template prints, with any lone UTF-16 surrogate as U+FFFD: the API refuses them now,
    but text saved by an older version may hold one, and a page must never fail to encode."""
    if isinstance(value, str) and not value.isascii() and LONE_SURROGATE.search(value):
        fixed = LONE_SURROGATE.sub("\ufffd", value)
        return Markup(fixed) if isinstance(value, Markup) else fixed
    return value


def init_pages(app: Flask, api: Any) -> None:
    """Register the pages, their REST endpoints and their periodic work (called by create_app)."""
    from service.auth import OTHER_CREDENTIALS
    from service.pages import api as pages_api
    from service.pages import models as _page_models  # noqa: F401 - tables for Alembic
    from service.pages import views
    from service.pages.sessions import configure_cookies, session_principal

    if session_principal not in OTHER_CREDENTIALS:
        OTHER_CREDENTIALS.append(session_principal)
    configure_cookies(app)
    app.jinja_env.finalize = _encodable
    app.register_blueprint(views.bp)
    api.register_blueprint(pages_api.blp)
    app.after_request(_page_headers)
    background.register(app, "expired-sessions", SESSION_SWEEP_SECONDS, _revoke_expired_sessions)
