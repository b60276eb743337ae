"""LTI 1.3 (LTI Advantage) tool: launches from an LMS, Deep Linking, and grade passback (AGS);
and the pages people reach through it (service.pages)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request

# Blueprints whose POSTs are HTML forms (an LMS's launch, the pages), not JSON.
FORM_BLUEPRINTS = ("lti", "pages")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; object-src 'none'; base-uri 'none'"
)


def _page_headers(response: Response) -> Response:
    if request.blueprint in FORM_BLUEPRINTS and response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_lti(app: Flask, api: Any) -> None:
    """Register the LTI endpoints, the pages and their REST endpoints (called by create_app)."""
    from service.gradebook import register_linked_items
    from service.lti import api as lti_api
    from service.lti import models as _lti_models  # noqa: F401 - tables for Alembic
    from service.lti import views
    from service.lti.ags import course_links
    from service.pages import models as _page_models  # noqa: F401
    from service.pages import views as pages
    from service.pages.sessions import configure_cookies

    configure_cookies(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(pages.bp)
    api.register_blueprint(lti_api.blp)
    app.after_request(_page_headers)
    register_linked_items(course_links)  # the LMS's links are items of the course's gradebook
